"""The name of the rule that gives each local derivative, in the words of Parr & Howard's tables.

The derivative itself always comes from the engine; this table only says which textbook rule it is an instance of,
so a reader can match each step with the paper. One entry per operator or function, chosen by the operands' shapes.
"""
from __future__ import annotations

from collections.abc import Callable

from ..expr import Expr
from ..ir.elementwise import ELEMENTWISE
from ..language.steps import Intermediate
from ..notation.formula import formula

DIAGONAL = "so the Jacobian is diagonal"
Namer = Callable[[Intermediate, int], str]


def _ranks(u: Intermediate) -> list[int]:
    return [a.stype.rank for a in u.inputs if a.stype is not None]


def _other_is_constant(u: Intermediate, k: int) -> bool:
    return any(v is None for j, v in enumerate(u.operand_vars) if j != k)


def _shape_case(u: Intermediate, k: int) -> str:
    """'scalar' (all scalars), 'expand_by_scalar', 'expand_by_tensor' (scalar expansion) or 'elementwise'."""
    ranks = _ranks(u)
    if u.local.rank == 0:
        return "scalar"
    if ranks[k] == 0:
        return "expand_by_scalar"
    return "expand_by_tensor" if 0 in ranks else "elementwise"


def _binary(scalar: str, by_scalar: str, by_tensor: str, elementwise: str) -> Namer:
    words = {"scalar": scalar, "expand_by_scalar": by_scalar, "expand_by_tensor": by_tensor,
             "elementwise": elementwise}
    return lambda u, k: _broadcast_words(u, k) or words[_shape_case(u, k)]


def _broadcast_words(u: Intermediate, k: int) -> str | None:
    """Broadcasting (MATLAB's implicit expansion): a vector operand of a matrix result is repeated over the other
    dimension; as in scalar expansion, each copy contributes, so the Jacobian sums the copies."""
    operand = u.inputs[k].stype if k < len(u.inputs) else None
    if operand is None or operand.rank != 1 or u.local.rank != 2:
        return None
    kind, over = ("row", "rows") if operand.orient == "row" else ("column", "columns")
    total = "column sum" if kind == "row" else "row sum"
    return (f"broadcasting (scalar expansion, generalised): the {kind} is repeated over the matrix's {over}, so the "
            f"Jacobian sums the copies: the derivative by it is a {total} of the upstream gradient")


def _elementwise_words(what: str) -> str:
    return f"element-wise binary operation ({what}): y_i depends only on w_i and x_i, {DIAGONAL}"


def _add(u: Intermediate, k: int) -> str:
    return _binary("sum rule: d(a+b)/da = 1", "scalar expansion: z is added to every element, so the derivative "
                   "is a vector of ones", "scalar expansion: each y_i = x_i + z, so the Jacobian is the identity",
                   _elementwise_words("sum"))(u, k)


def _sub(u: Intermediate, k: int) -> str:
    sign = "+1" if k == 0 else "-1"
    return _binary(f"difference rule: the derivative is {sign}", f"scalar expansion with a difference ({sign} in "
                   "every element)", f"scalar expansion: the Jacobian is {sign} times the identity",
                   _elementwise_words("difference"))(u, k)


def _emul(u: Intermediate, k: int) -> str:
    if _shape_case(u, k) == "scalar":
        return "constant multiple rule: d(c*a)/da = c" if _other_is_constant(u, k) else "product rule"
    return _binary("", "scalar expansion: d(x*z)/dz = x", "scalar expansion: each y_i = x_i*z, so the Jacobian is "
                   "z times the identity", _elementwise_words("product"))(u, k)


def _ediv(u: Intermediate, k: int) -> str:
    if _shape_case(u, k) == "scalar":
        return "quotient rule: d(a/b)/da = 1/b" if k == 0 else "quotient rule: d(a/b)/db = -a/b^2"
    return _binary("", "scalar expansion of a quotient", "scalar expansion: each y_i = x_i/z, so the Jacobian is "
                   "1/z times the identity", _elementwise_words("quotient"))(u, k)


def _power(u: Intermediate, k: int) -> str:
    if k == 1:
        return "exponential rule: d(a^b)/db = ln(a)*a^b"
    if u.local.rank == 0:
        return "power rule: d(x^n)/dx = n*x^(n-1)"
    if u.op == "pow":
        return "matrix power: a product of copies of the matrix (product rule for each factor)"
    return f"element-wise power: y_i depends only on x_i, {DIAGONAL}"


def _product(u: Intermediate, k: int) -> str:
    ranks = _ranks(u)
    if 0 in ranks:
        return _emul(u, k)
    if u.local.rank == 0:
        return "dot product: d(u'x)/du = x' (and d(u'x)/dx = u')"
    if all(r == 1 for r in ranks):
        return "outer product: each entry is a product of one element of each vector"
    if u.local.rank == 1 and ranks[k] == 2:
        return "matrix-vector product by the matrix: a tensor with one copy of the vector per row"
    if u.local.rank == 1:
        return "matrix-vector product: d(Ax)/dx = A"
    return "matrix product: Y_ij = sum_k A_ik B_kj, a generalized (tensor) Jacobian"


def _map(u: Intermediate, k: int) -> str:
    name = "ln" if u.op in ("ln", "log") else u.op
    if u.local.rank == 0:
        return f"derivative of {name} (scalar rule)"
    return f"element-wise function {name}: y_i depends only on x_i, {DIAGONAL} (diag of {name}')"


def _piecewise(u: Intermediate, k: int) -> str:
    if len(u.inputs) != 2:       # max(x), max(X, [], d): a reduction
        which = "largest" if u.op == "max" else "smallest"
        along = "" if len(u.inputs) == 1 else " of each row or column"
        return (f"{which} entry{along}: the derivative is 1 at the {which} entry and 0 elsewhere, split equally "
                f"among tied entries")
    broadcast = _broadcast_words(u, k)
    if broadcast is not None:
        return f"piecewise ({u.op}) with {broadcast}"
    if not _other_is_constant(u, k):   # ties between two operands split 1/2-1/2 (calculus/rules.py)
        larger = "larger" if u.op == "max" else "smaller"
        shape = "" if u.local.rank == 0 else f", element-wise: {DIAGONAL}"
        return (f"piecewise ({u.op}): the derivative is 1 where this operand is the {larger}, 0 where the other is, "
                f"1/2 at a tie{shape}")
    where = "z > 0" if u.op == "max" else "z < 0"
    shape = "" if u.local.rank == 0 else f", element-wise: {DIAGONAL}, diag(step)"
    return f"piecewise ({u.op}): the derivative is 1 where {where} and 0 elsewhere{shape}"


def _transpose(u: Intermediate, k: int) -> str:
    if u.local.rank == 1:
        return "transpose of a vector: the same numbers, only the orientation changes (identity Jacobian)"
    return "transpose: a permutation of the entries (a tensor of Kronecker deltas)"


def _stacking(u: Intermediate, k: int, where: str) -> str:
    if all(r == 0 for r in _ranks(u)):
        return f"stacking: operand {k + 1} becomes entry {k + 1}, so its derivative is a unit vector"
    return (f"stacking: operand {k + 1} fills its own {where} of the result, so its derivative is the identity there "
            f"and zero elsewhere ([0; I; 0])")


NAMES: dict[str, Namer] = {
    "add": _add,
    "sub": _sub,
    "neg": lambda u, k: "negation: the derivative is -1" + ("" if u.local.rank == 0 else f" (-I, {DIAGONAL})"),
    "emul": _emul,
    "mul": _product,
    "ediv": _ediv,
    "div": _ediv,
    "pow": _power,
    "epow": _power,
    "transpose": _transpose,
    "max": _piecewise,
    "min": _piecewise,
    "sum": lambda u, k: ("sum reduction: every element counts once, so the derivative is a vector of ones (the row 1' "
                         "in the numerator layout)" if len(u.inputs) == 1 else "sum along a dimension: each entry "
                         "counts once in its row's (column's) sum, so the Jacobian is ones along that dimension"),
    "mean": lambda u, k: ("mean: the sum divided by the number of entries, so the derivative is 1/numel in every "
                          "element" if len(u.inputs) == 1 else "mean along a dimension: each entry counts 1/size "
                          "in its row's (column's) mean"),
    "size": lambda u, k: "size: a number that does not depend on the entries, so the derivative is 0",
    "numel": lambda u, k: "numel: a number that does not depend on the entries, so the derivative is 0",
    "logsoftmax": lambda u, k: ("log-softmax: d(x - logsumexp(x)) = I - 1 softmax(x)'" +
                                ("" if len(u.inputs) == 1 else ", for each row (column) on its own")),
    "stack": lambda u, k: _stacking(u, k, "rows"),
    "row": lambda u, k: _stacking(u, k, "columns"),
    "index": lambda u, k: ("indexing: the result is entries of the operand, so its derivative picks them: rows of the "
                           "identity (a unit vector e_k for one entry), zero elsewhere"),
    "tr": lambda u, k: "trace: d tr(A)/dA = I",
    "det": lambda u, k: "determinant: d det(A)/dA = cofactor(A) (= det(A) inv(A)' where A is invertible)",
    "cofactor": lambda u, k: "derivative of det: d cofactor(A, k)/dA = cofactor(A, k+1), signed minors (a tensor)",
    "logdet": lambda u, k: "log-determinant: d logdet(A)/dA = inv(A)'",
    "inv": lambda u, k: "inverse: d inv(A) = -inv(A) dA inv(A), a tensor",
    "diag": lambda u, k: "diag: picks or places the diagonal (a tensor of Kronecker deltas)",
    "norm1": lambda u, k: "1-norm: sum of |x_i|, derivative sign(x)'",
    "norm2": lambda u, k: "2-norm: derivative unit(x)' = x'/norm2(x) (0 at x = 0)",
    "unit": lambda u, k: "unit vector: d unit(x) = (I - unit(x) unit(x)') dx/norm2(x)",
    "softmax": lambda u, k: "softmax: Jacobian diag(s) - s s'" + ("" if len(u.inputs) == 1 else
                                                                   ", for each row (column) on its own"),
    "ismax": lambda u, k: ("ismax: 1 at the largest entries, 0 elsewhere, constant between ties, so its derivative "
                           "is 0"),
    "logsumexp": lambda u, k: "log-sum-exp: derivative softmax(x)'" + ("" if len(u.inputs) == 1 else
                                                                        ", for each row (column) on its own"),
    "einsum": lambda u, k: "einsum: a generalized product, linear in each operand",
    "vector": lambda u, k: "filled vector: every element equals the scalar",
    "matrix": lambda u, k: "filled matrix: every element equals the scalar",
    **dict.fromkeys((*ELEMENTWISE, "ln"), _map),
}


def rule_name(u: Intermediate, k: int) -> str:
    """The textbook rule behind d u / d (operand k).

    >>> from chainrule.language.steps import intermediates
    >>> rule_name(intermediates("x^3", {"x": "scalar"}).intermediates[0], 0)
    'power rule: d(x^n)/dx = n*x^(n-1)'
    """
    if u.fused:
        return _fused(u)
    namer = NAMES.get(u.op)
    return namer(u, k) if namer is not None else f"the engine's rule for {u.op}"


def _fused(u: Intermediate) -> str:
    """A step the engine rewrote as a whole (language/steps.py `_fused`): its one rule is its stable form's."""
    built = Expr(u.local).text()
    return (f"one step, as the engine builds it: {formula(u).text()} = {built}, so its local derivative is that of "
            f"{built}")
