"""Text -> IR: shape inference by unification (re-kinding undeclared variables where use demands), then lowering."""
from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from ..boundary import is_name
from ..errors import ChainruleError, ParseError, ShapeError
from ..ir import Node, VarInfo
from ..limits import current_limits
from ..simplify import build as b
from .parser import parse_syntax
from .rules import (
    CONSTANTS,
    FUNCTIONS,
    OPERATORS,
    Ctx,
    Rule,
    TypeFailure,
    expand,
    index_calls,
    lower_elementwise_chain,
    lower_product_chain,
    selection,
)
from .surface import Syntax, names_under, walk
from .types import SCALAR, DimVar, SType, Unifier, of_shape

KINDS = ("scalar", "vector", "matrix", "symmetric")
_ALTERNATIVES = {"scalar": ("scalar", "vector", "matrix"), "vector": ("vector", "scalar", "matrix"),
                 "matrix": ("matrix", "scalar", "vector")}
_DIM_NAMES = ("n", "m", "p", "q", "k", "l", "r", "s", "t", "u", "v", "w")
# Names the deep-learning literature uses for scalars (rates, weights of penalties, temperatures, small constants):
# scalars whatever their first letter, unless declared otherwise.
SCALAR_NAMES = frozenset({"alpha", "beta", "gamma", "lambda", "eta", "mu", "sigma", "eps", "epsilon", "tau", "rho"})
# Where a variable's kind came from.
DECLARED, BY_NAME, BY_USE = "declared", "name", "use"
_NOTE_TRIALS = 8         # letter guesses tried as scalars when the result is not a scalar
_NOTE_MAX_NODES = 2_000  # beyond this size the trials are skipped (each is one more inference)


@dataclass(frozen=True)
class Compiled:
    node: Node
    stype: SType
    variables: dict            # name -> (shape, symmetric), in order of appearance
    syntax: Syntax | None = None
    lowered: dict | None = None  # id(syntax node) -> (IR node or spec string, resolved SType)
    origins: dict | None = None  # name -> DECLARED, BY_NAME (first letter or SCALAR_NAMES) or BY_USE (re-kinded)
    notes: tuple[str, ...] = ()  # what the user should know about the reading: a result non-scalar by a guess


def default_kind(name: str) -> str:
    """matrixcalculus.org's convention: a-g scalars, other lower-case letters vectors, capitals matrices; the names
    in SCALAR_NAMES are scalars."""
    if name in SCALAR_NAMES:
        return "scalar"
    first = name[0]
    if first.isupper():
        return "matrix"
    return "scalar" if "a" <= first <= "g" else "vector"


def check_declarations(decls: Mapping[str, object]) -> dict[str, object]:
    checked: dict[str, object] = {}
    for name, decl in decls.items():
        if not is_name(name):
            raise ShapeError(f"cannot declare {name!r}: it is not a variable name of the input language",
                             hint="Names start with a letter or _, followed by letters, digits or _ (ASCII).")
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


def compile_text(text: str, decls: Mapping[str, object], every_node: bool = False, notes: bool = True) -> Compiled:
    """Parse, infer shapes and lower to the IR. `every_node` lowers each operator of a long sum on its own too
    (explain needs them); otherwise a chain a+b-c+... is built as one n-ary sum, in linear time. `notes` looks for
    a result that is not a scalar only because of a guessed kind."""
    decls = check_declarations(decls)
    syntax = index_calls(parse_syntax(text))
    order = walk(syntax)
    kinds = {n: default_kind(n) for n in _variable_names(order) if n not in decls}
    tried = {n: [k] for n, k in kinds.items()}
    inference = _Inference(order, text, decls, kinds)
    first: TypeFailure | None = None
    for _ in range(3 * len(kinds) + 1):
        try:
            inference.run()
            compiled = _lower(syntax, order, inference, decls, every_node)
            break
        except TypeFailure as failure:
            failure.clash = inference.ctx.unifier.clash
            first = failure if first is None or _refines(first, failure) else first
            name = _rekind(failure, kinds, tried, inference, decls)
            if name is None:
                raise _as_error(_with_declarations(first, decls), text) from None
            inference.back_to(name)
    else:
        assert first is not None       # the loop runs at least once, and only a failure keeps it going
        raise _as_error(first, text)
    origins = {n: DECLARED if n in decls else BY_USE if len(tried[n]) > 1 else BY_NAME for n in compiled.variables}
    found = _guess_notes(text, decls, compiled, origins, len(order)) if notes else ()
    return replace(compiled, origins=origins, notes=found)


def _refines(first: TypeFailure, later: TypeFailure) -> bool:
    """The later failure is inside the indexing that failed first, reached after its operand was re-kinded: with b
    guessed a scalar, b(2) is told what it now lacks (b's size as a number), not that b is a scalar."""
    return first.node.op == "index" and first.node.start <= later.node.start and later.node.end <= first.node.end


def _with_declarations(failure: TypeFailure, decls: dict) -> TypeFailure:
    """The failure, its hint naming the declared variables it involves (they were not re-read)."""
    involved = (n for blamed in failure.blame for n in names_under(blamed) if n in decls)
    declared = list(dict.fromkeys(involved)) if failure.clash else []
    if declared:
        shown = ", ".join(f"'{n}' ({_shown_declaration(decls[n])})" for n in declared)
        note = f"Declared: {shown}; a declaration is never re-read, so the other uses must fit it."
        failure.hint = f"{failure.hint} {note}" if failure.hint else note
    return failure


def _shown_declaration(decl: object) -> str:
    if isinstance(decl, str):
        return decl
    dims = tuple(decl) if isinstance(decl, (tuple, list)) else ()
    return "×".join(map(str, dims)) if dims else "scalar"


def _guess_notes(text: str, decls: dict, compiled: Compiled, origins: dict, size: int) -> tuple[str, ...]:
    """A non-scalar result that a guessed vector or matrix makes so: each such variable, read as a scalar instead,
    gives a scalar result (`k*norm2(w)^2` with k a vector by its letter)."""
    if compiled.stype.rank == 0 or size > _NOTE_MAX_NODES:
        return ()
    guessed = [n for n, origin in origins.items() if origin == BY_NAME and len(compiled.variables[n].shape) > 0]
    found = []
    for name in guessed[:_NOTE_TRIALS]:
        try:
            alternative = compile_text(text, {**decls, name: "scalar"}, notes=False)
        except ChainruleError:
            continue
        if alternative.stype.rank == 0:
            kind = "vector" if len(compiled.variables[name].shape) == 1 else "matrix"
            found.append(f"the result is a {compiled.stype.kind} because '{name}' was read as a {kind} from its "
                         f"name; declared a scalar, it gives a scalar result")
    return tuple(found)


def _variable_names(order: list[Syntax]) -> list[str]:
    seen: dict[str, None] = {}
    for node in order:
        if node.op == "name" and node.value not in CONSTANTS and node.value not in FUNCTIONS:
            seen.setdefault(node.value)
    return list(seen)


def _rekind(failure: TypeFailure, kinds: dict, tried: dict, inference: _Inference, decls: dict) -> str | None:
    """The undeclared variable to read as another kind, now of that kind; None when the failure stands.

    A declaration always wins: two fixed sizes that clash where a declared variable is involved (x'*A*x with A
    declared 3×4) are the user's to see, never resolved by re-reading another variable (x as a scalar). Otherwise
    the weakest guesses go first (a-g read as scalars by their letter), then the others in order of appearance,
    each to the first kind not tried yet.
    """
    names = []
    for blamed in failure.blame:
        under = names_under(blamed)
        inference.count_rework(len(under))
        names += under
    if inference.ctx.unifier.clash is not None and any(name in decls for name in names):
        return None
    weak_first = sorted(dict.fromkeys(n for n in names if n in kinds), key=lambda n: tried[n][0] != "scalar")
    for name in weak_first:
        untried = [k for k in _ALTERNATIVES[tried[name][0]] if k not in tried[name]]
        if untried:
            kinds[name] = untried[0]
            tried[name].append(untried[0])
            return name
    return None


class _Inference:
    """The type of every syntax node, in evaluation order.

    When an undeclared variable changes kind, typing resumes at that variable's first use: no node before it can
    depend on it, and the unifier is undone to its state there. So a long expression whose variables are re-kinded
    one by one (x1*x1 + x2*x2 + ..., each x a scalar) is typed in linear time, not once per variable. The nodes
    typed again are counted against `Limits.nodes`.
    """

    def __init__(self, order: list[Syntax], text: str, decls: dict, kinds: dict):
        self.order, self.decls, self.kinds = order, decls, kinds
        self.ctx = Ctx(Unifier(), text)
        self.types: dict[int, SType | None] = {}
        self.var_types: dict[str, SType] = {}
        # name -> (position in order, unifier mark and number of deferred checks before it)
        self.first_use: dict[str, tuple[int, int, int]] = {}
        self.position = 0
        self.rework = 0

    def run(self) -> None:
        ctx, types, order = self.ctx, self.types, self.order
        for k in range(self.position, len(order)):
            node = order[k]
            if node.op == "name" and node.value not in self.var_types:
                self.first_use.setdefault(node.value, (k, ctx.unifier.mark(), len(ctx.deferred)))
            types[id(node)] = _type_of(ctx, node, [types[id(a)] for a in node.args], self.decls, self.kinds,
                                       self.var_types)
            self.position = k + 1
        for check in ctx.deferred:     # every use has now fixed what it can
            check()

    def back_to(self, name: str) -> None:
        start, mark, checks = self.first_use[name]
        self.count_rework(self.position - start)
        self.ctx.unifier.undo(mark)
        del self.ctx.deferred[checks:]
        uses = self.first_use            # in order of position: the names first used from `start` on are the last
        while uses and next(reversed(uses.values()))[0] >= start:
            self.var_types.pop(uses.popitem()[0], None)
        self.position = start

    def count_rework(self, nodes: int) -> None:
        self.rework += nodes
        current_limits().check("nodes", self.rework, "syntax nodes typed again after undeclared variables changed "
                                                     "kind (declare the variables' kinds to avoid it)")


def _as_error(failure: TypeFailure, text: str) -> Exception:
    kind = ParseError if failure.unknown_name else ShapeError
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
    assert isinstance(decl, tuple), decl       # check_declarations leaves only kinds and dimension tuples
    return of_shape(decl)


def _type_of(ctx: Ctx, node: Syntax, args: list, decls: dict, kinds: dict, var_types: dict) -> SType | None:
    if node.op == "number":
        return SCALAR
    if node.op in ("string", "empty", "colon", "range"):     # arguments that are not values
        return None
    if node.op == "name":
        return _name_type(ctx, node, decls, kinds, var_types)
    rule = _function(node) if node.op == "call" else OPERATORS[node.op]
    check_arguments(node, rule, args)
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
    hint = f"Did you mean '{close[0]}'?" if close else f"Known functions: {', '.join(sorted(FUNCTIONS))}."
    failure = TypeFailure(f"unknown function '{node.value}'", node, hint)
    failure.unknown_name = True
    raise failure


def check_arguments(node: Syntax, rule: Rule, args: list) -> None:
    """The number of arguments, and quoted text only where the function takes it (also for Python calls)."""
    if rule.arity is not None and len(args) != rule.arity:
        what = node.value if node.op == "call" else node.op
        raise TypeFailure(f"{what} takes {rule.arity} argument(s), but {len(args)} are given", node)
    if all(t is not None for t in args):      # no quoted text and no []: nothing below applies
        return
    empty = [k for k, a in enumerate(node.args) if a.op == "empty"]
    if empty and not (node.value in ("max", "min") and empty == [1] and len(args) == 3):
        raise TypeFailure("[] is only an argument of max(X, [], d) and min(X, [], d) (along dimension d)",
                          node.args[empty[0]])
    if node.op == "index":
        return
    strings = [k for k, t in enumerate(args) if t is None and k not in empty]
    sized = node.value in ("eye", "vector", "matrix")
    if strings and not (node.value == "einsum" and strings == [0]) and not ((sized and 0 not in strings[:1]) or
                                                                            node.value == "eye"):
        raise TypeFailure("quoted text is only allowed as the spec of einsum", node.args[strings[0]])


# ---- lowering ------------------------------------------------------------------------------------------------------

class _Names:
    """Names for the dimensions left symbolic: n, m, p, ... in order of first appearance, avoiding declared names."""

    def __init__(self, unifier: Unifier, taken: set[str]):
        self.unifier = unifier
        self.names: dict[DimVar, str] = {}
        every = itertools.chain(_DIM_NAMES, (f"n{k}" for k in itertools.count(1)))    # never runs out
        self.pool = (n for n in every if n not in taken)

    def resolve(self, t: SType) -> SType:
        return SType(tuple(self._dim(d) for d in t.dims), t.orient) if t.dims else t

    def _dim(self, d):
        d = self.unifier.find(d)
        if not isinstance(d, DimVar):
            return d
        if d not in self.names:
            self.names[d] = next(self.pool)
        return self.names[d]


_CHAIN = ("add", "sub")
_PRODUCTS = ("mul", "emul")   # chains of * and of .*, lowered as lists of factors (rules.py lower_*_chain)
_INVOLUTIONS = ("neg", "transpose")    # -(-y) is y and (y')' is y: a chain of 500,000 signs lowers in linear time


def _inner_chain_nodes(order: list[Syntax]) -> set[int]:
    """The links of sum chains and the left operands of product chains: their parent lowers them."""
    sums = {id(a) for n in order if n.op in _CHAIN for a in n.args if a.op in _CHAIN}
    return sums | {id(n.args[0]) for n in order if n.op in _PRODUCTS and n.args[0].op == n.op}


def lower_link(node: Syntax, lowered: dict) -> Node:
    """The value of an inner link of a chain (which the compiler lowers only as part of the whole chain)."""
    if node.op in _PRODUCTS:
        return _lower_products(node, lowered, lowered[id(node)][1])
    return lower_chain(node, lowered, lambda n: n.op in _CHAIN and lowered[id(n)][0] is None, lowered[id(node)][1])


def _lower_products(node: Syntax, lowered: dict, stype: SType) -> Node:
    """((f1*f2)*f3)*... (or .*) as one chain of factors (only the left operands are links: f1*(f2*f3) keeps its
    grouping); `stype` is the whole chain's type."""
    op, rights, links = node.op, [], [stype]
    while node.op == op:
        rights.append(node.args[1])
        node = node.args[0]
        if node.op == op:
            links.append(lowered[id(node)][1])      # the type of the product up to this link
    factors = [lowered[id(node)]] + [lowered[id(r)] for r in reversed(rights)]
    if op == "mul":
        return lower_product_chain(factors)
    return lower_elementwise_chain(factors, links[::-1])


def _lower_chain(node: Syntax, lowered: dict, inner: set[int], stype: SType) -> Node:
    return lower_chain(node, lowered, lambda n: n is node or id(n) in inner, stype)


def lower_chain(node: Syntax, lowered: dict, is_link: Callable[[Syntax], bool], stype: SType) -> Node:
    """A chain a+b-c+... as one n-ary sum: the links (`is_link`) are walked, the other nodes are its terms, each
    broadcast to the sum's type `stype` (a row over a matrix's rows, ...)."""
    terms, stack = [], [(node, False)]
    while stack:
        n, negated = stack.pop()
        if is_link(n):
            left, right = n.args
            stack.append((right, negated != (n.op == "sub")))
            stack.append((left, negated))
        else:
            value, its_type = lowered[id(n)]
            term = expand(value, its_type, stype)
            terms.append(b.neg(term) if negated else term)
    return b.add(*terms)


def _lower(syntax: Syntax, order: list[Syntax], inference: _Inference, decls: dict, every_node: bool) -> Compiled:
    taken = {d for decl in decls.values() if isinstance(decl, tuple) for d in decl if isinstance(d, str)}
    names = _Names(inference.ctx.unifier, taken)
    types = inference.types
    variables = {name: VarInfo(names.resolve(t).dims, decls.get(name) == "symmetric")
                 for name, t in inference.var_types.items()}
    # declared but unused: their values are still accepted, and size the dimensions they name
    variables.update({name: VarInfo(decl) for name, decl in decls.items()
                      if isinstance(decl, tuple) and name not in variables})
    lowered: dict[int, tuple] = {}
    inner = set() if every_node else _inner_chain_nodes(order)
    resolved: dict[int, SType | None] = {id(None): None}  # by id: every use of x shares x's type object
    leaves: dict[str, Node] = {}
    for node in order:
        t = types[id(node)]
        stype = resolved.get(id(t), t)
        if stype is t and t is not None:
            stype = resolved[id(t)] = names.resolve(t)
        if id(node) in inner:
            lowered[id(node)] = (None, stype)
        elif node.op in _CHAIN and not every_node:
            lowered[id(node)] = (_lower_chain(node, lowered, inner, _typed(stype)), stype)
        elif node.op in _PRODUCTS and not every_node:
            lowered[id(node)] = (_lower_products(node, lowered, _typed(stype)), stype)
        elif node.op in _INVOLUTIONS and node.args[0].op == node.op:
            lowered[id(node)] = (lowered[id(node.args[0].args[0])][0], stype)
        elif node.op == "name" and node.value in leaves:      # a variable's every use is one node (and one type)
            lowered[id(node)] = (leaves[node.value], stype)
        else:
            args = [lowered[id(a)] for a in node.args]
            lowered[id(node)] = (_lower_node(node, args, stype, variables), stype)
            if node.op == "name" and node.value in variables:
                leaves[node.value] = lowered[id(node)][0]
    root, stype = lowered[id(syntax)]
    return Compiled(root, stype, variables, syntax, lowered)


def _lower_node(node: Syntax, args: list, stype: SType | None, variables: dict):
    if node.op == "number":
        return b.const(node.value)
    if node.op in ("colon", "range"):
        return selection(node)
    if node.op == "string":
        return node.value.replace(" ", "")
    if node.op == "empty":
        return None
    if node.op == "name":
        if node.value in CONSTANTS:
            return b.const(CONSTANTS[node.value])
        if node.value in FUNCTIONS:
            return FUNCTIONS[node.value].lower([], _typed(stype))
        shape, symmetric = variables[node.value]
        return b.var(node.value, shape, symmetric)
    rule = FUNCTIONS[node.value] if node.op == "call" else OPERATORS[node.op]
    return rule.lower(args, _typed(stype))


def _typed(stype: SType | None) -> SType:
    assert stype is not None       # only quoted strings have no type, and they are not lowered by a rule
    return stype
