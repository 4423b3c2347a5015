"""Derivation time per derivative over a corpus, side by side with SymPy's MatrixSymbol `.diff`.

Run: .venv/bin/python benchmarks/derivation_time.py
"""

import itertools
import signal
import statistics
import sys
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import sympy as sp
from common import code, markdown_table, median_time, ms

import chainrule as cr

REPEAT = 15
SYMPY_REPEAT = 3
SYMPY_TIMEOUT_S = 10
TARGET_S = 5e-3
SIZES = {"n": 3, "m": 4, "k": 2}
KIND_DIMS = {"scalar": (), "vector": ("n",), "matrix": ("n", "n"), "symmetric": ("n", "n")}

S, N, M = (), ("n",), ("m",)
NN, MM, MN, NM = ("n", "n"), ("m", "m"), ("m", "n"), ("n", "m")
NK, KN, KM, MK = ("n", "k"), ("k", "n"), ("k", "m"), ("m", "k")


def ew(fn: Callable, X: sp.MatrixExpr) -> sp.MatrixExpr:
    return X.applyfunc(fn)


def total(X: sp.MatrixExpr) -> sp.MatrixExpr:
    left = sp.OneMatrix(1, X.shape[0]) * X
    return left if X.shape[1] == 1 else left * sp.OneMatrix(X.shape[1], 1)


def sigmoid(t: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-t))


def softmax(v: sp.MatrixExpr) -> sp.MatrixExpr:
    e = ew(sp.exp, v)
    return e * total(e) ** -1


def sqnorm(v: sp.MatrixExpr) -> sp.MatrixExpr:
    return v.T * v


@dataclass(frozen=True)
class Case:
    group: str
    text: str
    wrt: str
    decls: dict
    sympy: Callable[[SimpleNamespace], sp.Basic] | None = None


CASES = [
    Case("linear", "b'*x", "x", {"b": N, "x": N}, lambda s: s.b.T * s.x),
    Case("quadratic", "x'*A*x", "x", {"x": N, "A": NN}, lambda s: s.x.T * s.A * s.x),
    Case("quadratic", "x'*A*x", "x", {"x": "vector", "A": "symmetric"}, lambda s: s.x.T * s.A * s.x),
    Case("quadratic", "x'*A*x", "A", {"x": N, "A": NN}, lambda s: s.x.T * s.A * s.x),
    Case("quadratic", "x'*A*y", "A", {"x": N, "A": NM, "y": M}, lambda s: s.x.T * s.A * s.y),
    Case("quadratic", "(A*x-b)'*(A*x-b)", "x", {"A": MN, "x": N, "b": M}, lambda s: sqnorm(s.A * s.x - s.b)),
    Case("quadratic", "(A*x-b)'*(A*x-b)", "A", {"A": MN, "x": N, "b": M}, lambda s: sqnorm(s.A * s.x - s.b)),
    Case("quadratic", "norm2(A*x-b)^2 + c*x'*x", "x", {"A": MN, "x": N, "b": M, "c": S},
         lambda s: sqnorm(s.A * s.x - s.b) + s.c * s.x.T * s.x),
    Case("quadratic", "(x'*A*x)/(x'*x)", "x", {"x": N, "A": NN},
         lambda s: s.x.T * s.A * s.x * (s.x.T * s.x) ** -1),
    Case("quadratic", "exp(-x'*A*x)", "x", {"x": N, "A": NN}, lambda s: ew(sp.exp, -s.x.T * s.A * s.x)),
    Case("quadratic", "x'*inv(A)*x", "x", {"x": N, "A": NN}, lambda s: s.x.T * s.A.I * s.x),
    Case("quadratic", "x'*inv(A)*x", "A", {"x": N, "A": NN}, lambda s: s.x.T * s.A.I * s.x),
    Case("trace", "tr(A*X)", "X", {"A": MN, "X": NM}, lambda s: sp.Trace(s.A * s.X)),
    Case("trace", "tr(X'*A*X)", "X", {"X": NM, "A": NN}, lambda s: sp.Trace(s.X.T * s.A * s.X)),
    Case("trace", "tr(A*X*B)", "X", {"A": MN, "X": NK, "B": KM}, lambda s: sp.Trace(s.A * s.X * s.B)),
    Case("trace", "tr(X*X)", "X", {"X": NN}, lambda s: sp.Trace(s.X * s.X)),
    Case("trace", "tr(A*X*B*X')", "X", {"A": NN, "X": NM, "B": MM}, lambda s: sp.Trace(s.A * s.X * s.B * s.X.T)),
    Case("trace", "tr(inv(X)*A)", "X", {"X": NN, "A": NN}, lambda s: sp.Trace(s.X.I * s.A)),
    Case("trace", "tr(X'*X)", "X", {"X": MN}, lambda s: sp.Trace(s.X.T * s.X)),
    Case("det", "det(X)", "X", {"X": NN}, lambda s: sp.Determinant(s.X)),
    Case("det", "logdet(X)", "X", {"X": NN}, lambda s: sp.log(sp.Determinant(s.X))),
    Case("det", "logdet(X'*A*X)", "X", {"X": MN, "A": MM}, lambda s: sp.log(sp.Determinant(s.X.T * s.A * s.X))),
    Case("det", "logdet(A + x*x')", "x", {"A": NN, "x": N}, lambda s: sp.log(sp.Determinant(s.A + s.x * s.x.T))),
    Case("ML", "sum(log(1+exp(-y.*(X*w))))", "w", {"X": MN, "y": M, "w": N},
         lambda s: total(ew(sp.log, sp.OneMatrix(*s.y.shape) + ew(sp.exp, -sp.hadamard_product(s.y, s.X * s.w))))),
    Case("ML", "sum(log(1+exp(-y.*(X*w))))", "w", {"X": NN, "y": N, "w": N},
         lambda s: total(ew(sp.log, sp.OneMatrix(*s.y.shape) + ew(sp.exp, -sp.hadamard_product(s.y, s.X * s.w))))),
    Case("ML", "sum((W2*tanh(W1*x) - y).^2)", "W1", {"W1": KN, "W2": MK, "x": N, "y": M},
         lambda s: total(sp.HadamardPower(s.W2 * ew(sp.tanh, s.W1 * s.x) - s.y, 2))),
    Case("ML", "sum((W2*tanh(W1*x) - y).^2)", "W2", {"W1": KN, "W2": MK, "x": N, "y": M},
         lambda s: total(sp.HadamardPower(s.W2 * ew(sp.tanh, s.W1 * s.x) - s.y, 2))),
    Case("ML", "sum(sigmoid(W*x))", "W", {"W": MN, "x": N}, lambda s: total(ew(sigmoid, s.W * s.x))),
    Case("ML", "norm2(W*x - y)^2", "W", {"W": MN, "x": N, "y": M}, lambda s: sqnorm(s.W * s.x - s.y)),
    Case("ML", "sum(relu(W*x + b))", "W", {"W": MN, "x": N, "b": M},
         lambda s: total(ew(lambda t: sp.Max(0, t), s.W * s.x + s.b))),
    Case("ML", "-y'*log(softmax(W*x))", "W", {"W": MN, "x": N, "y": M},
         lambda s: -s.y.T * ew(sp.log, softmax(s.W * s.x))),
    Case("norm", "norm2(x)", "x", {"x": N}, lambda s: sp.sqrt(s.x.T * s.x)),
    Case("norm", "norm2(A*x-b)", "x", {"A": MN, "x": N, "b": M}, lambda s: sp.sqrt(sqnorm(s.A * s.x - s.b))),
    Case("norm", "norm1(x)", "x", {"x": N}, lambda s: total(ew(sp.Abs, s.x))),
    Case("norm", "sum(X.^2)", "X", {"X": MN}, lambda s: total(sp.HadamardPower(s.X, 2))),
    Case("norm", "sum((T-U*V').^2)", "U", {"T": NN, "U": NK, "V": NK},
         lambda s: total(sp.HadamardPower(s.T - s.U * s.V.T, 2))),
    Case("softmax", "logsumexp(x)", "x", {"x": N}, lambda s: ew(sp.log, total(ew(sp.exp, s.x)))),
    Case("softmax", "log(sum(exp(A*x)))", "x", {"A": MN, "x": N}, lambda s: ew(sp.log, total(ew(sp.exp, s.A * s.x)))),
    Case("softmax", "softmax(x)", "x", {"x": N}, lambda s: softmax(s.x)),
    Case("elementwise", "sum(exp(x).*sin(x))", "x", {"x": N},
         lambda s: total(sp.hadamard_product(ew(sp.exp, s.x), ew(sp.sin, s.x)))),
    Case("elementwise", "sum(tanh(A*x))", "x", {"A": MN, "x": N}, lambda s: total(ew(sp.tanh, s.A * s.x))),
    Case("elementwise", "exp(A*x)", "x", {"A": MN, "x": N}, lambda s: ew(sp.exp, s.A * s.x)),
    Case("elementwise", "x.*y", "x", {"x": N, "y": N}, lambda s: sp.hadamard_product(s.x, s.y)),
    Case("elementwise", "A*x", "x", {"A": MN, "x": N}, lambda s: s.A * s.x),
    Case("elementwise", "sum(sqrt(x.^2+1))", "x", {"x": N},
         lambda s: total(ew(sp.sqrt, sp.HadamardPower(s.x, 2) + sp.OneMatrix(*s.x.shape)))),
    Case("elementwise", "sigmoid(w'*x)", "w", {"w": N, "x": N}, lambda s: ew(sigmoid, s.w.T * s.x)),
    Case("elementwise", "log(x'*x)", "x", {"x": N}, lambda s: ew(sp.log, s.x.T * s.x)),
    Case("elementwise", "sum(exp(c*x))", "c", {"c": S, "x": N}, lambda s: total(ew(sp.exp, s.c * s.x))),
    Case("matrix-valued", "A*X*B", "X", {"A": MN, "X": NK, "B": KM}, lambda s: s.A * s.X * s.B),
    Case("matrix-valued", "inv(X)", "X", {"X": NN}, lambda s: s.X.I),
]


# ---- values -------------------------------------------------------------------------------------

def dims_of(decl: str | tuple) -> tuple:
    return KIND_DIMS[decl] if isinstance(decl, str) else decl


def random_value(decl: str | tuple, rng: np.random.Generator) -> np.ndarray | float:
    shape = tuple(SIZES.get(d, d) for d in dims_of(decl))
    if shape == ():
        return float(rng.uniform(0.5, 1.5))
    value = rng.standard_normal(shape)
    if len(shape) == 2 and shape[0] == shape[1]:
        value = shape[0] * np.eye(shape[0]) + 0.3 * value
    return (value + value.T) / 2 if decl == "symmetric" else value


def random_values(case: Case, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {name: random_value(decl, rng) for name, decl in sorted(case.decls.items())}


# ---- chainrule ----------------------------------------------------------------------------------

def derive(case: Case):
    return cr.derivative(cr.parse(case.text, **case.decls), case.wrt)


def fd_jacobian(f, values: dict, wrt: str, h: float = 1e-6) -> np.ndarray:
    """Central differences of `f.evaluate`, shaped f.shape + wrt.shape (numerator layout)."""
    x0 = np.asarray(values[wrt], dtype=float)
    columns = []
    for idx in np.ndindex(x0.shape):
        step = np.zeros_like(x0)
        step[idx] = h
        plus = np.asarray(f.evaluate(**{**values, wrt: x0 + step}), dtype=float)
        minus = np.asarray(f.evaluate(**{**values, wrt: x0 - step}), dtype=float)
        columns.append((plus - minus) / (2 * h))
    return np.stack(columns, axis=-1).reshape(columns[0].shape + x0.shape)


def close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-6)


def chainrule_row(case: Case) -> dict:
    f = cr.parse(case.text, **case.decls)
    values = random_values(case)
    reference = fd_jacobian(f, values, case.wrt)
    derivative = cr.derivative(f, case.wrt)
    ok = close(np.asarray(derivative.evaluate(**values), dtype=float), reference)
    return {
        "total": median_time(lambda: derive(case), REPEAT),
        "derive_only": median_time(lambda: cr.derivative(f, case.wrt), REPEAT),
        "check": "ok" if ok else "WRONG",
        "printed": str(derivative),
        "f": f,
        "values": values,
        "reference": reference,
    }


# ---- SymPy --------------------------------------------------------------------------------------

class SympyTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: int):
    def expire(*_):
        raise SympyTimeout(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def sympy_dim(d: str | int) -> sp.Expr | int:
    return sp.Symbol(d, integer=True, positive=True) if isinstance(d, str) else d


def sympy_symbol(name: str, decl: str | tuple) -> sp.Basic:
    dims = [sympy_dim(d) for d in dims_of(decl)]
    if not dims:
        return sp.Symbol(name, real=True)
    return sp.MatrixSymbol(name, dims[0], dims[1] if len(dims) == 2 else 1)


def sympy_symbols(case: Case) -> dict:
    return {name: sympy_symbol(name, decl) for name, decl in case.decls.items()}


def sympy_function(case: Case) -> tuple[sp.Basic, dict]:
    symbols = sympy_symbols(case)
    return case.sympy(SimpleNamespace(**symbols)), symbols


def sympy_derive(case: Case) -> sp.Basic:
    f, symbols = sympy_function(case)
    return f.diff(symbols[case.wrt])


def sympy_value(value: np.ndarray | float) -> sp.Basic:
    if np.ndim(value) == 0:
        return sp.Float(value)
    return sp.ImmutableMatrix(np.reshape(value, (np.shape(value)[0], -1)))


def sympy_numeric(expr: sp.Basic, symbols: dict, values: dict) -> np.ndarray:
    """Substitute sizes, then numbers, into a SymPy matrix expression and evaluate it."""
    sizes = {sympy_dim(d): size for d, size in SIZES.items()}
    numbers = {sym.subs(sizes): sympy_value(values[name]) for name, sym in symbols.items()}
    result = expr.subs(sizes).xreplace(numbers).doit()
    result = result.as_explicit() if hasattr(result, "as_explicit") else result
    result = result.evalf() if hasattr(result, "evalf") else result
    return np.array(result.tolist() if hasattr(result, "tolist") else result, dtype=complex)


def matches_up_to_layout(candidate: np.ndarray, reference: np.ndarray) -> bool:
    """Equal values after dropping unit axes and permuting axes (SymPy uses denominator layout)."""
    candidate, reference = np.squeeze(candidate), np.squeeze(reference)
    if candidate.size != reference.size or np.abs(candidate.imag).max(initial=0) > 1e-9:
        return False
    candidate = candidate.real
    permutations = itertools.permutations(range(candidate.ndim))
    return any(close(np.transpose(candidate, p), reference) for p in permutations)


def sympy_status(case: Case, values: dict, cr_f, reference: np.ndarray) -> tuple[str, str]:
    try:
        f, symbols = sympy_function(case)
    except Exception as error:
        return "not expressible", f"{type(error).__name__}: {error}"
    try:
        with time_limit(SYMPY_TIMEOUT_S):
            d = f.diff(symbols[case.wrt])
    except Exception as error:
        return f"error ({type(error).__name__})", str(error)
    if "Derivative" in sp.srepr(d):
        return "unevaluated", str(d)
    try:
        with time_limit(SYMPY_TIMEOUT_S):
            f_value = sympy_numeric(f, symbols, values)
            d_value = sympy_numeric(d, symbols, values)
    except Exception as error:
        return "unchecked", f"{d}  [could not evaluate: {type(error).__name__}]"
    if not matches_up_to_layout(f_value, np.asarray(cr_f.evaluate(**values), dtype=float)):
        return "unchecked", f"{d}  [SymPy and chainrule disagree on the function value]"
    return ("ok" if matches_up_to_layout(d_value, reference) else "WRONG"), str(d)


def sympy_time(case: Case) -> float | None:
    try:
        with time_limit(SYMPY_TIMEOUT_S):
            return median_time(lambda: sympy_derive(case), SYMPY_REPEAT)
    except Exception:
        return None


def sympy_row(case: Case, row: dict) -> dict:
    if case.sympy is None:
        return {"sympy_time": None, "sympy": "not expressible", "sympy_detail": ""}
    status, detail = sympy_status(case, row["values"], row["f"], row["reference"])
    elapsed = None if status == "not expressible" else sympy_time(case)
    return {"sympy_time": elapsed, "sympy": status, "sympy_detail": detail}


# ---- report -------------------------------------------------------------------------------------

def measure(cases: list[Case] = CASES) -> list[dict]:
    derive(cases[0])
    rows = []
    for case in cases:
        row = dict(case=case, **chainrule_row(case))
        rows.append({**row, **sympy_row(case, row)})
    return rows


def case_label(case: Case) -> str:
    return f"{code(case.text)} by {code(case.wrt)}"


def shapes(case: Case) -> str:
    return ", ".join(f"{name}: {decl if isinstance(decl, str) else '×'.join(decl) or 'scalar'}"
                     for name, decl in case.decls.items())


def table(rows: list[dict]) -> str:
    header = ["#", "group", "expression", "declarations", "chainrule parse+derive ms", "derive only ms",
              "chainrule check", "SymPy ms", "SymPy result"]
    body = [[i, r["case"].group, case_label(r["case"]), shapes(r["case"]), ms(r["total"]), ms(r["derive_only"]),
             r["check"], ms(r["sympy_time"]), r["sympy"]] for i, r in enumerate(rows, 1)]
    return markdown_table(header, body)


def summary(rows: list[dict]) -> str:
    total = statistics.median(r["total"] for r in rows)
    derive_only = statistics.median(r["derive_only"] for r in rows)
    worst = max(rows, key=lambda r: r["total"])
    sympy_ok = sum(r["sympy"] == "ok" for r in rows)
    wrong = sum(r["check"] != "ok" for r in rows)
    verdict = "meets" if total < TARGET_S else "MISSES"
    return (f"Overall median over {len(rows)} derivatives: parse+derive {ms(total)} ms, derive only "
            f"{ms(derive_only)} ms ({verdict} the {ms(TARGET_S)} ms target); slowest "
            f"{case_label(worst['case'])} at {ms(worst['total'])} ms. chainrule derivatives that "
            f"fail the finite-difference check: {wrong}. SymPy correct on {sympy_ok} of {len(rows)}.")


def sympy_notes(rows: list[dict]) -> str:
    failures = [r for r in rows if r["sympy"] not in ("ok", "not expressible")]
    lines = [f"- {case_label(r['case'])}: **{r['sympy']}** — {code(r['sympy_detail'][:160])}" for r in failures]
    return "SymPy cases that did not give a verified answer:\n\n" + "\n".join(lines)


def report(rows: list[dict]) -> str:
    return "\n\n".join([table(rows), summary(rows), sympy_notes(rows)])


def main() -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    print("## Derivation time\n")
    print(report(measure()))


if __name__ == "__main__":
    main()
