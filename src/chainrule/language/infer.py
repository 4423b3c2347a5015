"""Text -> IR: shape inference by unification (re-kinding undeclared variables where use demands), then lowering."""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ParseError, ShapeError
from ..ir import Node, VarInfo
from ..simplify import build as b
from .parser import parse_syntax
from .rules import CONSTANTS, FUNCTIONS, OPERATORS, Ctx, Rule, TypeFailure
from .surface import Syntax, names_under, walk
from .types import SCALAR, DimVar, SType, Unifier, of_shape

KINDS = ("scalar", "vector", "matrix", "symmetric")
_ALTERNATIVES = {"scalar": ("scalar", "vector", "matrix"), "vector": ("vector", "scalar", "matrix"),
                 "matrix": ("matrix", "scalar", "vector")}
_DIM_NAMES = ("n", "m", "p", "q", "k", "l", "r", "s", "t", "u", "v", "w")


@dataclass(frozen=True)
class Compiled:
    node: Node
    stype: SType
    variables: dict            # name -> (shape, symmetric), in order of appearance
    syntax: Syntax | None = None
    lowered: dict | None = None  # id(syntax node) -> (IR node or spec string, resolved SType)


def default_kind(name: str) -> str:
    """matrixcalculus.org's convention: a-g scalars, other lower-case letters vectors, capitals matrices."""
    first = name[0]
    if first.isupper():
        return "matrix"
    return "scalar" if "a" <= first <= "g" else "vector"


def check_declarations(decls: Mapping[str, object]) -> dict[str, object]:
    checked = {}
    for name, decl in decls.items():
        if name in FUNCTIONS or name in CONSTANTS:
            raise ShapeError(f"'{name}' is a built-in {'function' if name in FUNCTIONS else 'constant'}, "
                             "not a variable that can be declared", hint="Choose another name for the variable.")
        if isinstance(decl, str) and decl in KINDS:
            checked[name] = decl
        elif isinstance(decl, (tuple, list)) and all(_is_dim(d) for d in decl):
            checked[name] = tuple(decl)
        else:
            raise ShapeError(f"cannot read the declaration {name}={decl!r}",
                             hint=f"Use one of {', '.join(KINDS)}, or a tuple of dimensions such as ('m', 'n'), "
                                  "(3, 4) or () for a scalar.")
    return checked


def _is_dim(d: object) -> bool:
    return (isinstance(d, int) and not isinstance(d, bool) and d > 0) or (isinstance(d, str) and d.isidentifier())


def compile_text(text: str, decls: Mapping[str, object], every_node: bool = False) -> Compiled:
    """Parse, infer shapes and lower to the IR. `every_node` lowers each operator of a long sum on its own too
    (explain needs them); otherwise a chain a+b-c+... is built as one n-ary sum, in linear time."""
    decls = check_declarations(decls)
    syntax = parse_syntax(text)
    names = _variable_names(syntax)
    kinds = {n: default_kind(n) for n in names if n not in decls}
    tried = {n: [k] for n, k in kinds.items()}
    first: TypeFailure | None = None
    for _ in range(3 * len(kinds) + 1):
        try:
            ctx, types, var_types = _infer(syntax, text, decls, kinds)
            return _lower(syntax, ctx, types, var_types, decls, every_node)
        except TypeFailure as failure:
            first = first or failure
            if not _rekind(failure, kinds, tried):
                break
    raise _as_error(first, text)


def _variable_names(syntax: Syntax) -> list[str]:
    seen: dict[str, None] = {}
    for node in walk(syntax):
        if node.op == "name" and node.value not in CONSTANTS and node.value not in FUNCTIONS:
            seen.setdefault(node.value)
    return list(seen)


def _rekind(failure: TypeFailure, kinds: dict, tried: dict) -> bool:
    for blamed in failure.blame:
        for name in names_under(blamed):
            if name in kinds:
                untried = [k for k in _ALTERNATIVES[tried[name][0]] if k not in tried[name]]
                if untried:
                    kinds[name] = untried[0]
                    tried[name].append(untried[0])
                    return True
    return False


def _as_error(failure: TypeFailure, text: str) -> Exception:
    kind = ParseError if getattr(failure, "unknown_name", False) else ShapeError
    return kind(failure.message, text, failure.node.start, failure.node.end, failure.hint)


def _variable_type(ctx: Ctx, decl: object) -> SType:
    if decl == "scalar":
        return SCALAR
    if decl == "vector":
        return SType((ctx.fresh(),), "col")
    if decl == "matrix":
        return SType((ctx.fresh(), ctx.fresh()))
    if decl == "symmetric":
        n = ctx.fresh()
        return SType((n, n))
    return of_shape(decl)


def _infer(syntax: Syntax, text: str, decls: dict, kinds: dict):
    ctx = Ctx(Unifier(), text)
    types: dict[int, SType | None] = {}
    var_types: dict[str, SType] = {}
    for node in walk(syntax):
        args = [types[id(a)] for a in node.args]
        types[id(node)] = _type_of(ctx, node, args, decls, kinds, var_types)
    return ctx, types, var_types


def _type_of(ctx: Ctx, node: Syntax, args: list, decls: dict, kinds: dict, var_types: dict) -> SType | None:
    if node.op == "number":
        return SCALAR
    if node.op == "string":
        return None
    if node.op == "name":
        return _name_type(ctx, node, decls, kinds, var_types)
    rule = _function(node) if node.op == "call" else OPERATORS[node.op]
    _check_arguments(node, rule, args)
    return rule.check(ctx, node, args)


def _name_type(ctx: Ctx, node: Syntax, decls: dict, kinds: dict, var_types: dict) -> SType:
    name = node.value
    if name in CONSTANTS:
        return SCALAR
    if name in FUNCTIONS:
        if name == "eye":
            return FUNCTIONS[name].check(ctx, node, [])
        raise TypeFailure(f"'{name}' is a function: write {name}(...)", node)
    if name not in var_types:
        var_types[name] = _variable_type(ctx, decls.get(name, kinds.get(name)))
    return var_types[name]


def _function(node: Syntax) -> Rule:
    if node.value in FUNCTIONS:
        return FUNCTIONS[node.value]
    close = difflib.get_close_matches(node.value, list(FUNCTIONS), n=1)
    failure = TypeFailure(f"unknown function '{node.value}'", node,
                          f"Did you mean '{close[0]}'?" if close else f"Known functions: {', '.join(sorted(FUNCTIONS))}.")
    failure.unknown_name = True
    raise failure


def _check_arguments(node: Syntax, rule: Rule, args: list) -> None:
    if rule.arity is not None and len(args) != rule.arity:
        what = node.value if node.op == "call" else node.op
        raise TypeFailure(f"{what} takes {rule.arity} argument(s), but {len(args)} are given", node)
    strings = [k for k, t in enumerate(args) if t is None]
    sized = node.value in ("eye", "vector", "matrix")
    if strings and not (node.value == "einsum" and strings == [0]) and not (sized and 0 not in strings[:1] or
                                                                           node.value == "eye"):
        raise TypeFailure("quoted text is only allowed as the spec of einsum", node.args[strings[0]])


# ---- lowering ------------------------------------------------------------------------------------------------------

class _Names:
    """Names for the dimensions left symbolic: n, m, p, ... in order of first appearance, avoiding declared names."""

    def __init__(self, unifier: Unifier, taken: set[str]):
        self.unifier, self.names = unifier, {}
        self.pool = iter([n for n in _DIM_NAMES if n not in taken] + [f"n{k}" for k in range(1, 10_000)])

    def resolve(self, t: SType) -> SType:
        return SType(tuple(self._dim(d) for d in t.dims), t.orient)

    def _dim(self, d):
        d = self.unifier.find(d)
        if not isinstance(d, DimVar):
            return d
        if d not in self.names:
            self.names[d] = next(self.pool)
        return self.names[d]


_CHAIN = ("add", "sub")


def _inner_chain_nodes(syntax: Syntax) -> set[int]:
    return {id(a) for n in walk(syntax) if n.op in _CHAIN for a in n.args if a.op in _CHAIN}


def _lower_chain(node: Syntax, lowered: dict, inner: set[int]) -> Node:
    terms, stack = [], [(node, False)]
    while stack:
        n, negated = stack.pop()
        if n is node or id(n) in inner:
            left, right = n.args
            stack.append((right, negated != (n.op == "sub")))
            stack.append((left, negated))
        else:
            term = lowered[id(n)][0]
            terms.append(b.neg(term) if negated else term)
    return b.add(*terms)


def _lower(syntax: Syntax, ctx: Ctx, types: dict, var_types: dict, decls: dict, every_node: bool) -> Compiled:
    taken = {d for decl in decls.values() if isinstance(decl, tuple) for d in decl if isinstance(d, str)}
    names = _Names(ctx.unifier, taken)
    variables = {name: VarInfo(names.resolve(t).dims, decls.get(name) == "symmetric")
                 for name, t in var_types.items()}
    # declared but unused: their values are still accepted, and size the dimensions they name
    variables.update({name: VarInfo(decl) for name, decl in decls.items()
                      if isinstance(decl, tuple) and name not in variables})
    lowered: dict[int, tuple] = {}
    inner = set() if every_node else _inner_chain_nodes(syntax)
    for node in walk(syntax):
        stype = names.resolve(types[id(node)]) if types[id(node)] is not None else None
        if id(node) in inner:
            lowered[id(node)] = (None, stype)
        elif node.op in _CHAIN and not every_node:
            lowered[id(node)] = (_lower_chain(node, lowered, inner), stype)
        else:
            args = [lowered[id(a)] for a in node.args]
            lowered[id(node)] = (_lower_node(node, args, stype, variables), stype)
    root, stype = lowered[id(syntax)]
    return Compiled(root, stype, variables, syntax, lowered)


def _lower_node(node: Syntax, args: list, stype: SType | None, variables: dict):
    if node.op == "number":
        return b.const(node.value)
    if node.op == "string":
        return node.value.replace(" ", "")
    if node.op == "name":
        if node.value in CONSTANTS:
            return b.const(CONSTANTS[node.value])
        if node.value in FUNCTIONS:
            return FUNCTIONS[node.value].lower([], stype)
        shape, symmetric = variables[node.value]
        return b.var(node.value, shape, symmetric)
    rule = FUNCTIONS[node.value] if node.op == "call" else OPERATORS[node.op]
    return rule.lower(args, stype)
