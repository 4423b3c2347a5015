"""The intermediate variables of an expression, one per operator or function application, in evaluation order.

This is the numbering shared by `explain` and `trace`: u1, u2, ... as in Parr & Howard's four-step procedure. Each
intermediate carries its IR twice: in the original variables (to evaluate it, to differentiate the whole by it) and
applied to fresh variables named after its operands (to take its local derivative with the same engine).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..ir import Node
from ..simplify import build as b
from .infer import FUNCTIONS, OPERATORS, compile_text
from .surface import Syntax, walk
from .types import SType

SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "emul": ".*", "ediv": "./", "pow": "^", "epow": ".^",
           "neg": "-", "transpose": "'", "stack": "[;]"}


@dataclass(frozen=True)
class Intermediate:
    name: str                    # "u1"
    op: str                      # the operator ("mul", "add", ...) or the function's name ("sin", "sum", ...)
    source: str                  # the subexpression as typed, e.g. "x^2"
    operands: tuple[str, ...]    # operand names: "u1", a variable "x", or a constant's text "3"
    node: Node                   # this subexpression in the original variables
    local: Node                  # the operation applied to fresh variables named after its operands
    operand_vars: tuple          # the fresh variable node of each operand (None for a constant)
    stype: SType                 # its shape and orientation

    @property
    def symbol(self) -> str:
        return SYMBOLS.get(self.op, self.op)


@dataclass(frozen=True)
class Steps:
    intermediates: tuple[Intermediate, ...]
    variables: dict              # name -> (shape, symmetric)
    output: str                  # the name of the last intermediate, or the variable/constant the text is
    node: Node                   # the whole expression


def intermediates(text: str, declarations: Mapping[str, object] | None = None) -> Steps:
    """Break `text` into intermediate variables, in evaluation order.

    >>> [u.source for u in intermediates("sin(x^2)", {"x": "scalar"}).intermediates]
    ['x^2', 'sin(x^2)']
    """
    compiled = compile_text(text, declarations or {}, every_node=True)
    names: dict[int, str] = {}
    found: list[Intermediate] = []
    for node in walk(compiled.syntax):
        if node.op in ("number", "name", "string"):
            names[id(node)] = text[node.start:node.end] if node.op != "string" else node.value
            continue
        name = f"u{len(found) + 1}"
        names[id(node)] = name
        found.append(_intermediate(name, node, text, names, compiled.lowered))
    root = compiled.lowered[id(compiled.syntax)][0]
    return Steps(tuple(found), compiled.variables, names[id(compiled.syntax)], root)


def _intermediate(name: str, node: Syntax, text: str, names: dict, lowered: dict) -> Intermediate:
    own, stype = lowered[id(node)]
    fresh_args, fresh_vars = [], []
    for arg in node.args:
        value, arg_type = lowered[id(arg)]
        if arg.op in ("number", "string") or (arg.op == "name" and not isinstance(value, Node)) or arg.op == "name" and value.op == "const":
            fresh_args.append((value, arg_type))
            fresh_vars.append(None)
        else:
            symmetric = value.op == "var" and value.params[1]
            v = b.var(names[id(arg)], value.shape, symmetric)
            fresh_args.append((v, arg_type))
            fresh_vars.append(v)
    rule = FUNCTIONS[node.value] if node.op == "call" else OPERATORS[node.op]
    local = rule.lower(fresh_args, stype)
    operands = tuple(names[id(a)] for a in node.args if a.op != "string")
    op = node.value if node.op == "call" else node.op
    return Intermediate(name, op, text[node.start:node.end], operands, own, local,
                        tuple(v for a, v in zip(node.args, fresh_vars, strict=True) if a.op != "string"), stype)
