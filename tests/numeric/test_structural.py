"""Products with Kronecker deltas and unit vectors are evaluated without materialising them (the product on the
diagonal, or at the selected index, scattered into zeros): the same numbers as the dense einsum."""
import numpy as np
import pytest

from chainrule.ir import make
from chainrule.numeric.evaluate import _LETTERS, Plan
from chainrule.simplify import build as b

N, M = 3, 2
X = b.var("X", ("n", "n"))
Y = b.var("Y", ("n", "m"))
x = b.var("x", ("n",))
a = b.var("a", ())
EYE = b.delta("n")
E0, E2 = b.basis(0, "n"), b.basis(2, "n")   # unit vectors of the same length as x (the shape rules ask it)
SIZES = {"n": N, "m": M}


def _dense(node, values):
    return {"delta": np.eye(N), "basis": np.eye(N)[node.params.k if node.op == "basis" else 0]}.get(
        node.op, values.get(node.params.name) if node.op == "var" else None)


CASES = [
    ((EYE, X), ((0, 1), (0, 1)), (0, 1)),          # diag of X as a matrix
    ((EYE, X), ((0, 1), (1, 2)), (0, 2)),          # I*X
    ((EYE,), ((0, 1),), (0, 1)),                   # I
    ((EYE,), ((0, 1),), ()),                       # sum of I's entries: n
    ((EYE,), ((0, 1),), (0,)),                     # row sums: ones
    ((EYE,), ((0, 0),), ()),                       # tr(I)
    ((EYE, EYE), ((0, 1), (2, 3)), (0, 2, 1, 3)),  # the identity map on matrices
    ((EYE, x), ((0, 1), (1,)), (0,)),              # I*x
    ((EYE, x), ((0, 1), (1,)), (0, 1)),            # diag(x)
    ((EYE, x, Y), ((0, 1), (1,), (1, 2)), (0, 1, 2)),
    ((E2, X), ((0,), (0, 1)), (1,)),               # row 2 of X
    ((E2, X), ((0,), (0, 1)), (0, 1)),             # row 2 of X in a zero matrix
    ((E2,), ((0,),), ()),                          # sum of e_2: 1
    ((E2, E2), ((0,), (0,)), ()),                  # e_2'*e_2 = 1
    ((E0, E2), ((0,), (0,)), ()),                  # e_0'*e_2 = 0
    ((E0, E2), ((0,), (1,)), (0, 1)),              # e_0*e_2'
    ((E0, EYE, X), ((0,), (0, 1), (1, 2)), (2,)),  # e_0'*I*X
    ((a, EYE), ((), (0, 1)), (0, 1)),              # a*I
    ((EYE,), ((0, 1),), (0, 2, 1)),                # I broadcast along m
    ((EYE, X), ((0, 1), (0, 1)), ()),              # tr(X)
]


@pytest.mark.parametrize("args, specs, out", CASES)
def test_structural_products_agree_with_the_dense_einsum(rng, args, specs, out):
    labels = {label: (args[k].shape[j]) for k, spec in enumerate(specs) for j, label in enumerate(spec)}
    labels.setdefault(2, "m")
    node = make("contract", args, (specs, out), tuple(labels[label] for label in out))
    values = {"X": rng.standard_normal((N, N)), "Y": rng.standard_normal((N, M)), "x": rng.standard_normal(N),
              "a": np.float64(1.5)}
    got = Plan(node, SIZES).run(values)
    dense = [_dense(arg, values) for arg in args]
    equation = ",".join("".join(_LETTERS[i] for i in s) for s in specs) + "->" + "".join(_LETTERS[i] for i in out)
    operands = [d for d, spec in zip(dense, specs, strict=True)]
    expected = np.einsum(equation, *operands) if 2 not in out or any(2 in s for s in specs) else \
        np.broadcast_to(np.expand_dims(np.einsum(equation.replace("c", ""), *operands), out.index(2)),
                        tuple(N if label != 2 else M for label in out))
    np.testing.assert_allclose(got, expected)
    assert got.shape == tuple(SIZES.get(d, d) for d in node.shape)


def test_the_structural_factor_is_never_evaluated():
    node = make("contract", (EYE, X), (((0, 1), (0, 1)), (0, 1)), ("n", "n"))
    plan = Plan(node, {"n": 10**5})
    assert not plan.needed[plan.order.index(EYE)]
