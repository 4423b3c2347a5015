"""Normalising constructors: the only way nodes are built outside `ir`.

Each constructor applies the local algebra of its primitive (constant folding, identities, flattening) so that
derivatives come out compact and evaluation never meets the forms removed here.
"""
from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

from ..ir import Dim, Node, Op, Shape, make, topological
from ..ir.elementwise import ELEMENTWISE
from ..ir.ops import (
    BasisParams,
    CofactorParams,
    ConstParams,
    ContractParams,
    IndexParams,
    MapParams,
    ReduceParams,
    StackParams,
    VarParams,
)
from . import stable as stable_forms
from .constructors import Constructors
from .contract import normal_form

_digest = operator.attrgetter("digest")     # the order of Node.__lt__, without a Python call per comparison

__all__ = [
    "add",
    "amax",
    "apply",
    "basis",
    "broadcast",
    "broadcast_to",
    "cofactor",
    "const",
    "contract",
    "delta",
    "det",
    "div",
    "identity",
    "index",
    "inv",
    "is_const",
    "ismax",
    "logdet",
    "logsumexp",
    "maximum",
    "minimum",
    "mul",
    "neg",
    "norm2",
    "power",
    "scale",
    "size",
    "stack",
    "sub",
    "sum_all",
    "transpose",
    "unit",
    "var",
    "zeros",
]


def var(name: str, shape: Shape, symmetric: bool = False) -> Node:
    return make(Op.VAR, (), VarParams(name, symmetric), tuple(shape))


def const(value: float, shape: Shape = ()) -> Node:
    return make(Op.CONST, (), ConstParams(float(value)), tuple(shape))


def zeros(shape: Shape) -> Node:
    return const(0.0, shape)


def delta(dim: Dim) -> Node:
    """The identity matrix (Kronecker delta) of size dim."""
    return make(Op.DELTA, (), (), (dim, dim))


def contract(operands: Sequence[tuple[Node, tuple]], out: Sequence, dims: dict | None = None) -> Node:
    """The tensor sum_{labels not in out} prod_k operands[k][labels_k] (one einsum), in the normal form of
    simplify/contract.py. An output label that no operand carries broadcasts (its size must be in `dims`)."""
    relabelled = _through_delta(operands, out)
    if relabelled is not None:
        return relabelled
    return normal_form(_without_unit_sums(operands, out), out, dims, CONSTRUCTORS)


def _through_delta(operands: Sequence[tuple[Node, tuple]], out: Sequence) -> Node | None:
    """x where the product is sum_j delta[i, j] x[..j..] and renaming j to i gives x's labels exactly `out`: what the
    normal form would return (the delta eliminated, one operand left in order), found without it. This is the VJP of
    every linear step whose cotangent is an identity (one per entry of a stack of scalars). None where it does not
    apply: x a product or a constant (which the normal form may still rewrite), or an axis of size 1."""
    if len(operands) != 2:
        return None
    delta_at = 0 if operands[0][0].op is Op.DELTA else 1 if operands[1][0].op is Op.DELTA else None
    if delta_at is None:
        return None
    (d, (i, j)), (x, ix) = (operands[0], operands[1]) if delta_at == 0 else (operands[1], operands[0])
    if x.op in (Op.CONTRACT, Op.CONST, Op.DELTA) or 1 in x.shape or 1 in d.shape:
        return None
    renamed = tuple(i if label == j else label for label in ix)
    if i == j or i in ix or ix.count(j) != 1 or j in out or renamed != tuple(out) or len(set(ix)) != len(ix):
        return None
    return x


def _without_unit_sums(operands: Sequence[tuple[Node, tuple]], out: Sequence) -> Sequence[tuple[Node, tuple]]:
    # A sum over an index of size 1 that one computed operand alone carries is that operand's only entry there,
    # u(1): the selection then moves into u (a scalar part of a stack [x; a] comes back out as a, not sum(...)).
    if not any(1 in node.shape and node.op is not Op.VAR for node, _ in operands):
        return operands
    count: dict = dict.fromkeys(out, 1)
    for _, ix in operands:
        for label in ix:
            count[label] = count.get(label, 0) + 1
    rewritten = []
    for node, ix in operands:
        lone = [k for k, (label, d) in enumerate(zip(ix, node.shape, strict=True)) if d == 1 and count[label] == 1]
        if lone and node.op is not Op.VAR:
            rewritten.append((index(node, [0 if k in lone else FULL for k in range(node.rank)]),
                              tuple(label for k, label in enumerate(ix) if k not in lone)))
        else:
            rewritten.append((node, ix))
    return rewritten


def identity(shape: Shape) -> Node:
    """The identity map on tensors of this shape, as a tensor of shape shape + shape."""
    r = len(shape)
    if r == 0:
        return const(1.0)
    return contract([(delta(d), (k, k + r)) for k, d in enumerate(shape)], range(2 * r))


def basis(k: int, n: int) -> Node:
    """The k-th unit vector of length n (used to stack scalars into a column)."""
    return make(Op.BASIS, (), BasisParams(k), (n,))


def is_const(node: Node, value: float | None = None) -> bool:
    return node.op is Op.CONST and (value is None or node.params.value == value)


def _labels(node: Node) -> tuple[int, ...]:
    return tuple(range(node.rank))


def _elementwise_shape(*args: Node) -> Shape:
    shapes = {a.shape for a in args if a.shape != ()}
    if len(shapes) > 1:
        raise ValueError(f"element-wise operands of shapes {sorted(shapes, key=str)}")
    return shapes.pop() if shapes else ()


def broadcast_to(node: Node, shape: Shape) -> Node:
    """A scalar repeated over shape (a view, never materialised by the evaluator)."""
    if node.shape == tuple(shape):
        return node
    labels = tuple(range(len(shape)))
    return contract([(node, ())], labels, dict(zip(labels, shape, strict=True)))


def broadcast(node: Node, shape: Shape, axes: Sequence[int]) -> Node:
    """node repeated over shape, its k-th axis placed at axis axes[k] of the result (the other axes repeat it): a
    contract whose output labels the operand does not carry broadcast. broadcast(b, (m, n), (1,)) is b' added to every
    row of an m×n matrix (MATLAB's implicit expansion); its derivative sums the copies (contract's rule)."""
    labels = tuple(range(len(shape)))
    if tuple(axes) == labels and node.shape == tuple(shape):
        return node
    return contract([(node, tuple(axes))], labels, dict(zip(labels, shape, strict=True)))


def size(dim: Dim) -> Node:
    """The size of a dimension as a scalar: the number itself, or sum(vector(1, dim)) for a symbolic one (its value
    is known at evaluation; it is a constant, so its derivative is 0)."""
    if isinstance(dim, int):
        return const(float(dim))
    return sum_all(const(1.0, (dim,)))


def apply(fn: str, x: Node) -> Node:
    axes = _sum_of_exp_axes(x) if fn == "log" else None
    if axes is not None:
        return logsumexp(x.args[0].args[0], axes)   # log(sum(exp(z), d)) = logsumexp(z, d), without overflow
    stable = stable_forms.log_of(x, CONSTRUCTORS) if fn == "log" else None   # softplus, log-sigmoid
    if stable is not None:
        return stable
    squared = _sum_of_squares(x) if fn == "sqrt" else None
    if squared is not None:
        return norm2(squared)      # sqrt(sum(x.^2)) = sqrt(x'*x) = norm2(x), computed without overflow
    if x.op == "const":
        with np.errstate(all="ignore"):
            return const(float(ELEMENTWISE[fn].numpy(np.asarray(x.params.value))), x.shape)
    return make(Op.MAP, (x,), MapParams(fn), x.shape)


def _sum_of_squares(x: Node) -> Node | None:
    """u where x is the sum of every entry of u.^2 (or of u.*u), else None."""
    if x.op is not Op.CONTRACT or x.params.out != ():
        return None
    specs, args = x.params.specs, x.args
    whole = all(len(set(spec)) == len(spec) for spec in specs)
    if len(args) == 1 and whole and args[0].op is Op.POW and is_const(args[0].args[1], 2.0):
        return args[0].args[0]
    if len(args) == 2 and whole and args[0] is args[1] and specs[0] == specs[1]:
        return args[0]
    return None


def _sum_of_exp_axes(x: Node) -> tuple[int, ...] | None:
    """The summed axes where x is sum(exp(z)) over some axes of z (the others kept in order), else None."""
    if not (x.op is Op.CONTRACT and len(x.args) == 1 and x.args[0].op is Op.MAP and x.args[0].params.fn == "exp"):
        return None
    spec, out = x.params.specs[0], x.params.out
    kept = [label for label in spec if label in out]
    if len(set(spec)) != len(spec) or tuple(kept) != out or not len(kept) < len(spec):
        return None
    return tuple(k for k, label in enumerate(spec) if label not in out)


def mul(a: Node, b: Node) -> Node:
    """Element-wise product, a scalar operand expanding to the other's shape."""
    scaled = _scalar_times_basis(a, b)
    if scaled is not None:
        return scaled
    shape = _elementwise_shape(a, b)
    labels = tuple(range(len(shape)))
    return contract([(a, labels if a.shape else ()), (b, labels if b.shape else ())], labels)


def _scalar_times_basis(a: Node, b: Node) -> Node | None:
    """x*e_k for a scalar x and a unit vector e_k (one entry of a stack of scalars), built without the normal form,
    which leaves it as it is: no rule applies to two distinct operands of which neither is a number, a product or a
    delta. None where x is one of those (or e_k has one entry) and the normal form may rewrite it."""
    scalar, unit = (a, b) if b.op is Op.BASIS else (b, a)
    if unit.op is not Op.BASIS or scalar.shape != () or scalar.op in (Op.CONST, Op.CONTRACT) or unit.shape[0] == 1:
        return None
    if unit.digest < scalar.digest:        # _canonical's order
        return make(Op.CONTRACT, (unit, scalar), _UNIT_FIRST, unit.shape)
    return make(Op.CONTRACT, (scalar, unit), _SCALAR_FIRST, unit.shape)


_UNIT_FIRST = ContractParams(((0,), ()), (0,))      # e_k * x
_SCALAR_FIRST = ContractParams(((), (0,)), (0,))    # x * e_k


def scale(c: float, x: Node) -> Node:
    return x if c == 1.0 else mul(const(c), x)


def neg(x: Node) -> Node:
    return scale(-1.0, x)


def sub(a: Node, b: Node) -> Node:
    return add(a, neg(b))


def div(a: Node, b: Node) -> Node:
    return mul(a, power(b, const(-1.0)))


def sum_all(x: Node) -> Node:
    return contract([(x, _labels(x))], ())


def transpose(x: Node, perm: Sequence[int]) -> Node:
    return contract([(x, _labels(x))], tuple(perm))


def power(a: Node, b: Node) -> Node:
    shape = _elementwise_shape(a, b)
    if is_const(b, 1.0):
        return broadcast_to(a, shape)
    if is_const(b, 0.0):
        return const(1.0, shape)
    if a.op == "const" and b.op == "const":
        with np.errstate(all="ignore"):
            return const(float(np.power(a.params.value, b.params.value)), shape)
    if a.op is Op.POW and is_const(a.args[1]) and is_const(b) and float(b.params.value).is_integer():
        # (x^p)^n = x^(p*n) for an integer n
        return power(a.args[0], const(a.args[1].params.value * b.params.value))
    if a.op is Op.NORM2 and is_const(b) and float(b.params.value / 2).is_integer():
        # norm2(x)^(2m) = (x'x)^m: no square root, and the derivative of norm2(x)^2 stays 2x
        return power(sum_all(mul(a.args[0], a.args[0])), const(b.params.value / 2))
    stable = stable_forms.reciprocal_of(a, CONSTRUCTORS) if is_const(b, -1.0) else None   # 1/(1+exp(-x)) = sigmoid(x)
    if stable is not None:
        return broadcast_to(stable, shape)
    return make(Op.POW, (a, b), (), shape)


def _extremum(op: Op, a: Node, b: Node) -> Node:
    shape = _elementwise_shape(a, b)
    if a.op == "const" and b.op == "const":
        pick = max if op == "max" else min
        return const(pick(a.params.value, b.params.value), shape)
    if a is b:
        return broadcast_to(a, shape)
    return make(op, (a, b), (), shape)


def maximum(a: Node, b: Node) -> Node:
    return _extremum(Op.MAX, a, b)


def minimum(a: Node, b: Node) -> Node:
    return _extremum(Op.MIN, a, b)


def _reduced(op: Op, x: Node, axes: Sequence[int] | None) -> Node:
    axes = tuple(range(x.rank)) if axes is None else tuple(sorted(axes))
    if not axes:
        return x
    shape = tuple(d for k, d in enumerate(x.shape) if k not in axes)
    return make(op, (x,), ReduceParams(axes), shape)


def logsumexp(x: Node, axes: Sequence[int] | None = None) -> Node:
    """log(sum(exp(x))) over `axes` (default: all, a scalar), evaluated with the largest entry shifted out."""
    return _reduced(Op.LOGSUMEXP, x, axes)


def amax(x: Node, axes: Sequence[int] | None = None) -> Node:
    """The largest entry of x over `axes` (default: all, a scalar)."""
    if x.op is Op.CONST:
        return const(x.params.value, tuple(d for k, d in enumerate(x.shape) if axes is not None and k not in axes))
    return _reduced(Op.AMAX, x, axes)


def ismax(x: Node, axes: Sequence[int] | None = None) -> Node:
    """1 where an entry of x is the largest over `axes` (default: all), else 0, shaped like x. It compares x with
    amax(x) computed from the same numbers, so every maximum is marked exactly: step(amax(x) - x) instead lost them
    when x is a sum, whose terms the sum amax(x) - x takes apart and adds up in another order."""
    axes = tuple(range(x.rank)) if axes is None else tuple(sorted(axes))
    if not axes or x.op is Op.CONST:
        return const(1.0, x.shape)     # over no axis, or of equal entries: every entry is a largest one
    return make(Op.ISMAX, (x,), ReduceParams(axes), x.shape)


def inv(a: Node) -> Node:
    if a.op == "inv":
        return a.args[0]
    return make(Op.INV, (a,), (), a.shape)


def det(a: Node) -> Node:
    return make(Op.DET, (a,), (), ())


def logdet(a: Node) -> Node:
    return make(Op.LOGDET, (a,), (), ())


def cofactor(a: Node, k: int = 1) -> Node:
    """The k-th derivative tensor of det(a), shape a.shape * k (k = 1: the cofactor matrix, the transposed adjugate)."""
    shape = a.shape * k
    if isinstance(a.shape[0], int) and k > a.shape[0]:
        return zeros(shape)   # det is a polynomial of degree n
    return make(Op.COFACTOR, (a,), CofactorParams(k), shape)


def norm2(x: Node) -> Node:
    """The 2-norm (Frobenius for a matrix), evaluated without overflow."""
    if is_const(x, 0.0):
        return const(0.0)
    return make(Op.NORM2, (x,), (), ())


def unit(x: Node) -> Node:
    """x/norm2(x), and 0 at x = 0: the gradient of norm2."""
    if is_const(x, 0.0):
        return x
    return make(Op.UNIT, (x,), (), x.shape)


# ---- sums ----------------------------------------------------------------------------------------------------------

def add(*terms: Node) -> Node:
    """n-ary sum with scalar expansion: flattened, like terms collected, constants folded, zeros dropped, and f(-u)
    written through f(u) where that makes the sum smaller (_reflected)."""
    if len(terms) == 1 and terms[0].op is not Op.ADD and terms[0].op is not Op.CONST:
        # nothing to flatten, collect or fold (the one cotangent of most reverse-mode steps); a product is never
        # zero (its normal form makes a zero product the constant 0) and has no other term to collect with
        return terms[0]
    column = _column_of_scalars(terms)
    if column is not None:
        return column
    shape = _elementwise_shape(*terms)
    flat = _flatten(terms)
    parts = _sum_parts(flat)
    reflected = _reflected(flat)
    if reflected is not None:
        alternative = _sum_parts(*reflected)
        if len(topological(alternative)) < len(topological(parts)):
            parts = alternative
    factored = _factored_reflections(parts, shape)
    if factored is not None:
        return factored
    if not parts:
        return zeros(shape)
    if len(parts) == 1:
        return broadcast_to(parts[0], shape)
    # the terms of the node's shape may have cancelled (a + 1 + 0*x): then a scalar sum, repeated over the shape
    scalar = all(p.shape == () for p in parts)
    node = make(Op.ADD, tuple(sorted(parts, key=_digest)), (), () if scalar else shape)
    stable = stable_forms.sum_of(node, CONSTRUCTORS)        # 1 - sigmoid(u) = sigmoid(-u)
    return broadcast_to(node if stable is None else stable, shape)


def _column_of_scalars(terms: Sequence[Node]) -> Node | None:
    """sum_k f_k e_k, how a column of scalars [f1; f2; ...] is stored, for three or more terms each at its own k,
    built without the sum's normal form, which leaves such a sum as it is: nothing to flatten, collect (the e_k
    differ), merge (a scalar times a unit vector is never merged), fold or reflect (no f_k is a number, a product or
    f(-u) of a function with a reflection), and a sum of three or more terms has no factored reflection. None where
    a term is not such an entry: then the full normal form decides."""
    if len(terms) < 3:
        return None
    shape, seen = terms[0].shape, set()
    for term in terms:
        k = _entry_slot(term)
        if k is None or k in seen or term.shape != shape:
            return None
        seen.add(k)
    node = make(Op.ADD, tuple(sorted(terms, key=_digest)), (), shape)
    stable = stable_forms.sum_of(node, CONSTRUCTORS)
    return node if stable is None else stable


def _entry_slot(term: Node) -> int | None:
    """k for e_k, and for f*e_k as _scalar_times_basis builds it (f not a number, a product or f(-u) for a function
    with a reflection)."""
    if term.op is Op.BASIS:
        return term.params.k
    if term.op is not Op.CONTRACT or len(term.args) != 2:
        return None
    if term.params == _UNIT_FIRST:
        unit, scalar = term.args
    elif term.params == _SCALAR_FIRST:
        scalar, unit = term.args
    else:
        return None
    if unit.op is not Op.BASIS:
        return None
    # f(-u) might reflect onto an f(u) of another entry (_reflected); f(u) alone never moves
    reflects = scalar.op is Op.MAP and scalar.params.fn in stable_forms.REFLECTIONS and \
        stable_forms.is_negated(scalar.args[0])
    return None if reflects or scalar.op in (Op.CONST, Op.CONTRACT) else unit.params.k


def _sum_parts(flat: list[Node], common: frozenset[int] = frozenset()) -> list[Node]:
    """The terms of a flattened sum, like terms collected, products that differ in one factor merged (first those
    that share a factor whose id is in `common`), constants folded into one, zeros dropped."""
    constant = sum(t.params.value for t in flat if t.op is Op.CONST)
    collected = _collect(t for t in flat if t.op != "const")
    collected = _merge_products(collected, common)
    parts = [scale(c, core) for core, c in collected if c != 0.0]
    if constant != 0.0:
        parts.append(const(constant))
    return [p for p in parts if not is_const(p, 0.0)]


def _reflected(terms: list[Node]) -> tuple[list[Node], frozenset[int]] | None:
    """The terms with f(-u) written through f(u) (stable.REFLECTIONS) in each term that has a factor f(-u) while
    another term has the factor f(u), one factor per term, and the ids of those f(u); None where no term has. The f(u)
    terms then collect, by f(u) first:
    (1-y).*sigmoid(z) - y.*sigmoid(-z) = (1-y).*sigmoid(z) - y + y.*sigmoid(z) = sigmoid(z) - y."""
    factors = [t.args if t.op is Op.CONTRACT else (t,) for t in terms]
    if not any(f.op is Op.MAP and f.params.fn in stable_forms.REFLECTIONS for fs in factors for f in fs):
        return None     # the usual case, decided without building anything
    holders: dict = {}  # (fn, id(argument)) -> the terms with that factor
    for i, fs in enumerate(factors):
        for f in fs:
            if f.op is Op.MAP:
                holders.setdefault((f.params.fn, id(f.args[0])), set()).add(i)
    rewritten, common = [], set()
    for i, (t, fs) in enumerate(zip(terms, factors, strict=True)):
        k = next((k for k, f in enumerate(fs) if _has_partner(f, i, holders)), None)
        if k is None:
            rewritten.append(t)
            continue
        pieces = stable_forms.reflected(fs[k], CONSTRUCTORS)
        assert pieces is not None, "a factor with a partner is reflectable"
        rewritten.extend(pieces if t.op is not Op.CONTRACT else (_replace_factor(t, k, p) for p in pieces))
        # f(u), the factor another term holds
        common.add(id(apply(fs[k].params.fn, stable_forms.negation(fs[k].args[0], CONSTRUCTORS))))
    return (_flatten(rewritten), frozenset(common)) if common else None


def _factored_reflections(parts: list[Node], shape: Shape) -> Node | None:
    """a + b as c .* (a/c + b/c), where the products a and b share powers of both f(u) and f(-u) (f in
    stable.REFLECTIONS; c holds the operands the two share, to their common power), so that inside f(-u) and f(u) meet
    as terms and reflect: s.*t.^2 - s.^2.*t = s.*t.*(t - s) = s.*t.*(1 - 2*s) for s = sigmoid(u), t = sigmoid(-u)
    (the second derivative of sigmoid). Kept unless the result is larger; None where it is, or where this does not
    apply (the two differ in anything but operands on one common set of labels)."""
    if len(parts) != 2 or any(p.op is not Op.CONTRACT or p.shape != shape for p in parts):
        return None
    if parts[0].params.out != parts[1].params.out:
        return None
    first, second = _powers(parts[0]), _powers(parts[1])
    if first is None or second is None:
        return None
    (c0, powers0), (c1, powers1) = first, second
    shared = {key: min(powers0[key][1], powers1[key][1]) for key in powers0.keys() & powers1.keys()
              if powers0[key][1] > 0 and powers1[key][1] > 0}
    bases = [powers0[key][0] for key in shared]
    if not any(_reflects_onto(base, bases) for base in bases):
        return None
    rests = [[(power(base, const(e - shared.get(key, 0.0))), key[1]) for key, (base, e) in powers.items()
              if e != shared.get(key, 0.0)] for powers in (powers0, powers1)]
    inner_labels = {spec for rest in rests for _, spec in rest}
    if len(inner_labels) != 1:
        return None
    labels = inner_labels.pop()
    if len(set(labels)) != len(labels):
        return None
    dims = dict(zip(labels, next(n.shape for rest in rests for n, _ in rest), strict=True))
    inner = add(*(scale(c, contract(rest, labels, dims)) for c, rest in ((c0, rests[0]), (c1, rests[1]))))
    out = parts[0].params.out
    common = [(power(powers0[key][0], const(e)), key[1]) for key, e in shared.items()]
    result = contract([*common, (inner, labels)], out, dict(zip(out, shape, strict=True)))
    return result if len(topological([result])) <= len(topological(parts)) else None


def _powers(t: Node) -> tuple[float, dict] | None:
    """(constant coefficient, {(id(base), labels): (base, exponent)}) of a product; None where two operands share a
    key (not in the normal form of contract.py)."""
    coefficient, powers = 1.0, {}
    for arg, spec in zip(t.args, t.params.specs, strict=True):
        if arg.op is Op.CONST and not spec:
            coefficient *= arg.params.value
            continue
        base, e = (arg.args[0], arg.args[1].params.value) if arg.op is Op.POW and is_const(arg.args[1]) else (arg, 1.0)
        if (id(base), spec) in powers:
            return None
        powers[(id(base), spec)] = (base, e)
    return coefficient, powers


def _reflects_onto(base: Node, others) -> bool:
    # base = f(-u) and f(u) is among the others
    if base.op is not Op.MAP or base.params.fn not in stable_forms.REFLECTIONS:
        return False
    if not stable_forms.is_negated(base.args[0]):
        return False
    partner = apply(base.params.fn, stable_forms.negation(base.args[0], CONSTRUCTORS))
    return any(o is partner for o in others)


def _has_partner(f: Node, term: int, holders: dict) -> bool:
    # f = f(-u) and some other term has the factor f(u)
    if f.op is not Op.MAP or f.params.fn not in stable_forms.REFLECTIONS or not stable_forms.is_negated(f.args[0]):
        return False
    return bool(holders.get((f.params.fn, id(stable_forms.negation(f.args[0], CONSTRUCTORS))), set()) - {term})


def _replace_factor(t: Node, k: int, factor: Node) -> Node:
    # the product t with its k-th operand replaced (a product is linear in each factor, so a sum of replacements is)
    specs, out = t.params.specs, t.params.out
    operands = [(factor if j == k else arg, spec) for j, (arg, spec) in enumerate(zip(t.args, specs, strict=True))]
    return contract(operands, out, dict(zip(out, t.shape, strict=True)))


def _flatten(terms: Sequence[Node]) -> list[Node]:
    flat: list[Node] = []
    stack = list(reversed(terms))
    while stack:
        t = stack.pop()
        if t.op == "add":
            stack.extend(reversed(t.args))
        else:
            flat.append(t)
    return flat


def _split_coefficient(t: Node) -> tuple[float, Node]:
    if t.op == "contract":
        specs, out = t.params.specs, t.params.out
        for k, (arg, spec) in enumerate(zip(t.args, specs, strict=True)):
            if spec == () and arg.op == "const":
                rest = [(a, s) for j, (a, s) in enumerate(zip(t.args, specs, strict=True)) if j != k]
                return arg.params.value, contract(rest, out, dict(zip(out, t.shape, strict=True)))
    return 1.0, t


def _collect(terms) -> list[tuple[Node, float]]:
    coefficients: dict[int, list] = {}
    for t in terms:
        c, core = _split_coefficient(t)
        entry = coefficients.setdefault(id(core), [core, 0.0])
        entry[1] += c
    return [(core, c) for core, c in coefficients.values()]


def _merge_products(terms: list[tuple[Node, float]], common: frozenset[int] = frozenset()) -> list[tuple[Node, float]]:
    # A*B*C + A*D*C = A*(B+D)*C, and a.*s + c.*s = (a+c).*s: products that differ in one factor share the rest (keeps
    # Hessians to one product). Products are bucketed by everything but one factor; a whole bucket merges at once,
    # and one pass merges every bucket before the first that shares a term with a merged one: linear in the terms
    # for independent groups. Buckets whose shared operands include a node of `common` go first.
    terms = list(terms)
    while True:
        groups = _disjoint_groups(_buckets(terms), common)
        if not groups:
            return terms
        merged = {i for members in groups for i, _ in members}
        joined = [_join([(terms[i], k) for i, k in members]) for members in groups]
        terms = [t for i, t in enumerate(terms) if i not in merged] + joined


def _buckets(terms: list[tuple[Node, float]]) -> dict:
    # A product's key leaving out operand k: the output labels and shape, operand k's labels and shape, and the other
    # operands with their labels in any order (the normal form orders operands by digest, so a.*s and c.*s may list
    # s first in one and last in the other). Equal keys: the same einsum but for operand k. A scalar times a unit
    # vector is an entry of a column of scalars: a*e_1 + a*e_3 is how [a; 0; a] is built, and stays so.
    buckets: dict = {}
    for index, (x, _) in enumerate(terms):
        if x.op != "contract":
            continue
        operands = list(zip(x.args, x.params.specs, strict=True))
        # the operands sorted once; leaving one out of a sorted list keeps it sorted
        ranked = sorted(range(len(operands)), key=lambda j: (id(operands[j][0]), operands[j][1]))
        keys = [(id(operands[j][0]), operands[j][1]) for j in ranked]
        position = {k: p for p, k in enumerate(ranked)}
        for k, (arg, spec) in enumerate(operands):
            if arg.op is Op.BASIS and len(operands) == 2 and not operands[1 - k][1]:
                continue
            rest = tuple(keys[:position[k]] + keys[position[k] + 1:])
            members = buckets.setdefault((x.params.out, x.shape, spec, arg.shape, rest), {})
            members.setdefault(index, k)      # a term with two equal operands joins a bucket once
    return buckets


def _disjoint_groups(buckets: dict, common: frozenset[int]) -> list[list[tuple[int, int]]]:
    groups: list[list[tuple[int, int]]] = []
    used: set[int] = set()
    order = sorted(buckets, key=lambda key: not common.intersection(i for i, _ in key[4])) if common else buckets
    for members in (buckets[key] for key in order):
        if len(members) < 2:
            continue
        if used.intersection(members):
            break        # merged in a later pass, after the terms it shares are joined
        groups.append(list(members.items()))
        used.update(members)
    return groups


def _join(group: list[tuple[tuple[Node, float], int]]) -> tuple[Node, float]:
    # sum_i c_i * (the product with operand k_i = B_i) = the first product with operand k_0 = sum_i c_i B_i; where
    # every c_i is one c, c * (the product with sum_i B_i) if that sum has fewer terms: c*(a + b) is not distributed,
    # so -y - (1-y) does not collect where y + (1-y) = 1 does (-y.*s - (1-y).*s = -(y + 1 - y).*s = -s)
    (first, _), k0 = group[0]
    specs, out = first.params.specs, first.params.out
    inner, common = add(*(scale(c, x.args[k]) for (x, c), k in group)), 1.0
    c0 = group[0][0][1]
    if c0 != 1.0 and all(c == c0 for (_, c), _ in group):
        factored = add(*(x.args[k] for (x, _), k in group))
        if _term_count(factored) < _term_count(inner):
            inner, common = factored, c0
    operands = [(inner if j == k0 else arg, spec) for j, (arg, spec) in enumerate(zip(first.args, specs, strict=True))]
    return contract(operands, out, dict(zip(out, first.shape, strict=True))), common


def _term_count(x: Node) -> int:
    return len(x.args) if x.op is Op.ADD else int(not is_const(x, 0.0))


# The constructors the rewrite rules of contract.py and stable.py build their results with (passed in: they cannot
# import this module, which calls them).
CONSTRUCTORS = Constructors(apply=apply, broadcast_to=broadcast_to, const=const, neg=neg, power=power)


# ---- building and taking apart: [x; y], [X, Y], x(2), X(2, :) ------------------------------------------------------

FULL = (0, None)       # the whole axis, ':'
_PUSH_DEPTH = 32       # index(f(g(...))) moves the selection at most this many operations down (no deep recursion)


def stack(parts: Sequence[Node], axis: int) -> Node:
    """The parts one after another along `axis` (vectors: [x; y] is axis 0; matrices: [X; Y] axis 0, [X, Y] axis 1).
    Each part has the result's rank and a number of entries along the axis."""
    parts = _joined_zeros(parts, axis)
    if len(parts) == 1:
        return parts[0]
    first = parts[0].shape
    shape = first[:axis] + (sum(_extent(p, axis) for p in parts),) + first[axis + 1:]
    if all(is_const(p, 0.0) for p in parts):
        return zeros(shape)
    return make(Op.STACK, tuple(parts), StackParams(axis), shape)


def _extent(part: Node, axis: int) -> int:
    """The number of entries of a stacked part along the axis (a number: the language's rule makes it one)."""
    n = part.shape[axis]
    assert isinstance(n, int), "a stacked part has a number of entries along its axis"
    return n


def _joined_zeros(parts: Sequence[Node], axis: int) -> list[Node]:
    # [0; 0; x] = [0; x] with one block of zeros as long as both
    joined: list[Node] = []
    for p in parts:
        if joined and is_const(p, 0.0) and is_const(joined[-1], 0.0):
            last = joined.pop()
            shape = list(p.shape)
            shape[axis] = _extent(last, axis) + _extent(p, axis)
            joined.append(zeros(tuple(shape)))
        else:
            joined.append(p)
    return joined


def index(x: Node, select: Sequence, depth: int = _PUSH_DEPTH) -> Node:
    """x with, per axis, one entry kept (an int k: the axis goes) or a range (start, stop), (0, None) the whole axis.

    The selection moves towards the leaves where that makes the result smaller, never larger: into the operands of
    element-wise operations and products (A*B)(2, :) = A(2, :)*B, and into a stack, where it picks the part it falls
    in ([x; y](1:n) = x), so indexing a stack and the derivatives of stacking come out without stacks."""
    select = tuple(_normal_pick(p, d) for p, d in zip(select, x.shape, strict=True))
    if all(p == FULL for p in select):
        return x
    shape = tuple(_picked_size(p, d) for p, d in zip(select, x.shape, strict=True) if type(p) is not int)
    if x.op is Op.CONST:
        return const(x.params.value, shape)
    pushed = _PUSH.get(x.op)
    if depth > 0 and pushed is not None:
        moved = pushed(x, select, depth - 1)
        if moved is not None:
            return moved
    return make(Op.INDEX, (x,), IndexParams(select), shape)


def _normal_pick(pick, dim):
    if isinstance(pick, tuple) and pick[0] == 0 and pick[1] in (None, dim):
        return FULL
    return pick


def _picked_size(pick, dim):
    return dim if pick == FULL else pick[1] - pick[0]


def _range(pick) -> tuple:
    """(start, stop) of an axis' selection (an int k is k..k+1; the whole axis has stop None)."""
    return (pick, pick + 1) if type(pick) is int else pick


def _index_of_index(x: Node, select: tuple, depth: int) -> Node:
    # x(a:b)(k) = x(a+k): the outer selection reads the inner one's kept axes
    outer = iter(select)
    composed: list = []
    for inner in x.params.select:
        if type(inner) is int:
            composed.append(inner)
            continue
        pick = next(outer)
        if inner == FULL:
            composed.append(pick)
        elif type(pick) is int:
            composed.append(inner[0] + pick)
        else:
            start, stop = pick
            composed.append((inner[0] + start, inner[0] + (inner[1] - inner[0] if stop is None else stop)))
    return index(x.args[0], composed, depth)


def _index_of_stack(x: Node, select: tuple, depth: int) -> Node | None:
    # [x1; x2; ...](s:e) keeps, of each part it overlaps, the entries it covers
    axis = x.params.axis
    start, stop = _range(select[axis])
    stop = x.shape[axis] if stop is None else stop
    pieces, offset = [], 0
    for part in x.args:
        n = part.shape[axis]
        low, high = max(start, offset), min(stop, offset + n)
        if low < high:
            own = (low - offset) if type(select[axis]) is int else (low - offset, high - offset)
            pieces.append(index(part, select[:axis] + (own,) + select[axis + 1:], depth))
        offset += n
    if len(pieces) == 1:
        return pieces[0]
    return stack(pieces, axis - sum(type(p) is int for p in select[:axis]))


def _index_of_elementwise(x: Node, select: tuple, depth: int) -> Node:
    # f(u, v)(s) = f(u(s), v(s)) entry by entry (a scalar operand stays as it is)
    args = [a if not a.shape else index(a, select, depth) for a in x.args]
    if x.op is Op.MAP:
        return apply(x.params.fn, args[0])
    if x.op is Op.ADD:
        return add(*args)
    return {Op.POW: power, Op.MAX: maximum, Op.MIN: minimum}[x.op](args[0], args[1])


def _index_of_product(x: Node, select: tuple, depth: int) -> Node | None:
    # (A*B)(2, :) = A(2, :)*B: each operand takes the selection of the output labels it carries (not on a diagonal)
    specs, out = x.params.specs, x.params.out
    chosen = {label: pick for label, pick in zip(out, select, strict=True) if pick != FULL}
    if any(out.count(label) > 1 or any(spec.count(label) > 1 for spec in specs) for label in chosen):
        return None
    operands = []
    for arg, spec in zip(x.args, specs, strict=True):
        own = tuple(chosen.get(label, FULL) for label in spec)
        kept = tuple(label for label, pick in zip(spec, own, strict=True) if type(pick) is not int)
        operands.append((index(arg, own, depth), kept))
    new_out = tuple(label for label in out if type(chosen.get(label)) is not int)
    dims = {label: _picked_size(select[out.index(label)], x.shape[out.index(label)]) for label in new_out}
    return contract(operands, new_out, dims)


def _index_of_basis(x: Node, select: tuple, depth: int) -> Node:
    # e_k(j) is 1 where j = k; e_k(s:t) is e_(k-s) of length t-s, or zeros where k is outside s..t-1
    k, (start, stop) = x.params.k, _range(select[0])
    if type(select[0]) is int:
        return const(float(select[0] == k))
    return basis(k - start, stop - start) if start <= k < stop else zeros((stop - start,))


def _index_of_delta(x: Node, select: tuple, depth: int) -> Node | None:
    # I(:, k) = e_k; I(:, s:t) = [0; I; 0], the identity of size t-s at rows s+1..t (the Jacobian of a stacked part)
    if FULL not in select:
        return None
    pick = select[1] if select[0] == FULL else select[0]
    n = x.shape[0]
    if type(pick) is int:
        return basis(pick, n) if isinstance(n, int) else None
    start, stop = pick
    size = stop - start
    axis = 0 if select[0] == FULL else 1
    blocks = [zeros((start, size)[::1 - 2 * axis]) if start else None, delta(size),
              zeros((_extent(x, 0) - stop, size)[::1 - 2 * axis]) if _extent(x, 0) > stop else None]
    return stack([p for p in blocks if p is not None], axis)


_PUSH = {Op.INDEX: _index_of_index, Op.BASIS: _index_of_basis, Op.DELTA: _index_of_delta, Op.STACK: _index_of_stack,
         Op.CONTRACT: _index_of_product,
         **dict.fromkeys((Op.MAP, Op.ADD, Op.POW, Op.MAX, Op.MIN), _index_of_elementwise)}
