"""The source of a generated module: NumPy, PyTorch or JAX, for a scalar expression and its gradients.

Every module takes the expression's variables as arguments, in order of first appearance (by keyword too), checks
their shapes at entry, and exposes `f`, `grad` (a tuple when there are several variables to differentiate by) and
`value_and_grad`; when asked, also `hessian` and `hvp` (every target; for several variables a tuple of rows of blocks,
and a tuple of directions: see _second_order). The NumPy module also has `check_grad()` (finite differences at
random values) and a `__main__` that runs it. The PyTorch module's `f` is a `torch.autograd.Function` whose backward
chainrule wrote (and, opt-in, a forward-mode `jvp`, which torch.compile cannot trace); the JAX module's `f` is a
`jax.custom_jvp` function whose JVP chainrule wrote. The module needs only its library (and NumPy): never chainrule.

All three are written from one Program per function (codegen/emit.py): the same plan, the same temporaries.
"""
from __future__ import annotations

import keyword
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version

from ..calculus import jacobian
from ..calculus.layout import arrange
from ..expr import Expr
from ..ir import Node, Op, VarInfo, topological
from ..plan.contract import DEFAULT_SIZE
from ..plan.rewrite import distribute
from ..simplify import build as b
from .code import atom
from .emit import CodegenError, Program
from .lines import fit_module
from .targets import HELPER_IMPORTS, TARGETS, TORCH_JVP_HELPERS, Target, Writer

# The names the generated functions read beyond their own (modules, constants, builtins): a variable, which is a
# parameter of those functions, may not take one (tests/codegen/test_structure.py reads them off generated modules)
RESERVED = frozenset({"np", "torch", "jax", "jnp", "math", "inspect", "SymbolicZero", "size", "f", "grad",
                      "value_and_grad", "hessian", "hvp", "check_grad", "ctx", "grad_output", "primals", "tangents",
                      "active", "tangent", "needs", "SHAPES", "SYMMETRIC", "WRT", "CHECK_SIZES", "float", "int",
                      "complex", "str", "range", "tuple", "slice", "max", "abs", "all", "len", "zip", "map", "next",
                      "enumerate", "getattr", "isinstance", "super", "print", "type", "ValueError",
                      "ArithmeticError", "AssertionError", "AttributeError", "ImportError"})


@dataclass
class Request:
    """What to generate: the expression, the variables to differentiate by, the target and the options."""
    f: Expr
    wrt: tuple[str, ...]
    target: Target
    name: str | None = None
    hessian: bool = False
    hvp: bool = False
    sizes: dict = field(default_factory=dict)
    jvp: bool = False          # torch: a forward-mode jvp on the autograd.Function (see _torch_jvp)

    @property
    def variables(self) -> dict[str, VarInfo]:
        return dict(self.f.variables)

    def var(self, name: str) -> Node:
        info = self.f.variables[name]
        return b.var(name, info.shape, info.symmetric)

    def plan_sizes(self) -> dict:
        dims = {d for info in self.f.variables.values() for d in info.shape if isinstance(d, str)}
        return {d: int(self.sizes.get(d, DEFAULT_SIZE)) for d in sorted(dims)}


def generate(request: Request) -> str:
    """The module's source."""
    _check_names(request)
    writers = {"numpy": _numpy_module, "torch": _torch_module, "jax": _jax_module}
    return fit_module(writers[request.target.name](request))


def _check_names(r: Request) -> None:
    for name in r.variables:
        if name in RESERVED or name.startswith("_") or keyword.iskeyword(name):
            raise CodegenError(f"the variable {name!r} would hide a name the generated code uses",
                               hint="Rename the variable in the expression.")
    if r.target.name == "torch" and _class_name(r) in r.variables:
        raise CodegenError(f"the variable {_class_name(r)!r} would hide the torch module's autograd function",
                           hint="Rename the variable, or name the function (--name) so that its class differs.")
    if r.name is not None and (not r.name.isidentifier() or keyword.iskeyword(r.name) or r.name in RESERVED
                               or r.name in r.variables):
        raise CodegenError(f"cannot name the function {r.name!r}",
                           hint="Give a Python identifier that is not a variable or a name the module defines.")
    if r.f.node.shape:
        raise CodegenError(f"code generation needs a scalar function, and this one has shape {r.f.node.shape}",
                           hint="Reduce it to a number first: sum(...), norm2(...)^2, a loss.")


# ---- derivatives --------------------------------------------------------------------------------------------------

def gradients(r: Request) -> list[Node]:
    return [jacobian(r.f.node, r.var(w)) for w in r.wrt]


def hvp_nodes(r: Request, directions: Sequence[Node]) -> list[Node]:
    """H*v without H, one block per wrt variable: the derivatives of the directional derivative
    sum_k <df/dx_k, v_k> by each x_j (reverse over reverse on the IR)."""
    xs = [r.var(w) for w in r.wrt]
    terms = []
    for x, v in zip(xs, directions, strict=True):
        labels = tuple(range(x.rank))
        terms.append(b.contract([(jacobian(r.f.node, x), labels), (v, labels)], ()))
    directional = terms[0] if len(terms) == 1 else b.add(*terms)
    return [jacobian(directional, x) for x in xs]


def hessian_blocks(r: Request) -> dict[tuple[int, int], Node]:
    """The blocks d2f/dx_i dx_j for i <= j (the others are their transposes), each of shape x_i.shape + x_j.shape."""
    xs = [r.var(w) for w in r.wrt]
    grads = gradients(r)
    return {(i, j): jacobian(grads[i], xs[j]) for i in range(len(xs)) for j in range(i, len(xs))}


def _direction_name(r: Request) -> str:
    return "v" if "v" not in r.variables else "direction"


def _direction_names(r: Request) -> list[str]:
    """The names of the directions inside hvp: the argument itself for one wrt variable, else one per variable."""
    v = _direction_name(r)
    if len(r.wrt) == 1:
        return [v]
    return [f"{v}_{w}" if f"{v}_{w}" not in r.variables else f"_{v}_{w}" for w in r.wrt]


# ---- the docstring --------------------------------------------------------------------------------------------

def _dims(shape: Sequence) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


def _docstring(r: Request, rewrites: set[str], extra: Sequence[tuple[str, Expr]] = ()) -> str:
    f = r.f
    lines = [(f"{r.name or 'f'}: generated by chainrule {_version()} ({r.target.name}); edit freely, it needs only "
              f"{_needs(r.target)}."), "", "Expression:", "", f"    f = {f.text()}", "",
             "Variables (in argument order):", ""]
    for name, info in f.variables.items():
        lines.append(f"    {name}: {_dims(info.shape)}{', symmetric' if info.symmetric else ''}")
    symmetric = [name for name, info in f.variables.items() if info.symmetric]
    if symmetric:
        trusted = _TRUSTED.format(names=", ".join(symmetric), first=symmetric[0])
        lines += ["", *textwrap.wrap(trusted, width=120, break_long_words=False)]
    lines += ["", "Derivatives (matrix notation, numerator layout):", ""]
    for w, g in zip(r.wrt, gradients(r), strict=True):
        node, orient = arrange(g, 0, g.rank, 1, "numerator")
        lines += _wrapped(f"    df/d{w} = {_one_line(Expr(node, orient, f.variables).text())}")
    for label, e in extra:
        lines += _wrapped(f"    {label} = {_one_line(e.text())}")
    sizes = ", ".join(f"{d} = {n}" for d, n in r.plan_sizes().items()) or "none (every size is fixed)"
    applied = f"Rewrites applied: {'; '.join(sorted(rewrites)) if rewrites else 'none'}."
    lines += ["", f"Sizes assumed when ordering products (by flop count): {sizes}.",
              *textwrap.wrap(applied, width=120, break_long_words=False, break_on_hyphens=False)]
    return '"""' + "\n".join(lines).replace("\\", "\\\\") + '\n"""'


# A symmetry check costs more than the derivatives it guards: np.allclose(A, A.T) takes about 9 ms at n = 1000, A @ x
# 0.3 ms; on a GPU it would wait for the device, and under jax.jit it cannot raise. chainrule's evaluate checks.
_TRUSTED = ("Trusted to be symmetric, as declared, and not checked: {names}. The derivatives use {first}' = {first}: a "
            "value that is not symmetric gets the derivative of another function. chainrule's evaluate refuses such a "
            "value; a check here would cost more than the derivatives.")


def _version() -> str:
    try:
        return version("chainrule")
    except PackageNotFoundError:                # a source tree that is not installed
        return "0+unknown"


def _wrapped(line: str) -> list[str]:
    return textwrap.wrap(line, width=116, subsequent_indent="        ", break_long_words=False,
                         break_on_hyphens=False) or [line]


def _one_line(text: str, width: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _needs(target: Target) -> str:
    return {"numpy": "NumPy", "torch": "PyTorch", "jax": "JAX"}[target.name]


# ---- shared pieces of every module ----------------------------------------------------------------------------

def _constants(r: Request) -> list[str]:
    shapes = ", ".join(f"{name!r}: {tuple(info.shape)!r}" for name, info in r.variables.items())
    symmetric = [name for name, info in r.variables.items() if info.symmetric]
    return [f"SHAPES = {{{shapes}}}", f"SYMMETRIC = {tuple(symmetric)!r}", f"WRT = {r.wrt!r}"]


_SHAPE_CHECK = '''def _real_only(name, value):
    """value, unless it holds complex numbers: the expression and its derivatives are taken over the reals, and
    converting to a real dtype would keep the real parts alone, silently."""
    dtype = getattr(value, "dtype", None)
    if isinstance(value, complex) or getattr(dtype, "kind", "") == "c" or getattr(dtype, "is_complex", False) is True:
        raise ValueError(f"{name} has complex entries: the expression and its derivatives are taken over the reals")
    return value


def _bind(size, name, value, dims):
    """Check value's shape against the dimensions `dims`, recording the sizes of those seen first here."""
    shape = tuple(_real_only(name, value).shape)
    if len(shape) != len(dims):
        kind = {0: "a scalar", 1: "a vector", 2: "a matrix"}.get(len(dims), f"an array of {len(dims)} dimensions")
        raise ValueError(f"{name} must be {kind}, not an array of shape {shape}")
    if 0 in shape:  # a max or logsumexp over nothing has no value, and a mean of nothing divides by zero
        raise ValueError(f"{name} is empty (shape {shape}): every dimension needs at least one entry")
    for axis, (dim, n) in enumerate(zip(dims, shape, strict=True)):
        if isinstance(dim, str) and dim not in size:
            size[dim] = n
            size["_seen_" + dim] = (name, shape, axis)
            continue
        expected = dim if isinstance(dim, int) else size[dim]
        if n != expected:
            part = _axis(axis, len(dims))
            if isinstance(dim, int):
                raise ValueError(f"{name} must have {expected} {part} (its declared size), not shape {shape}")
            owner, owner_shape, owner_axis = size["_seen_" + dim]
            if owner == name:
                raise ValueError(f"{name} must have {expected} {part}, as many as its {_axis(owner_axis, len(dims))} "
                                 f"(dimension {dim}), not shape {shape}")
            seen = "×".join(map(str, owner_shape))
            raise ValueError(f"{owner} is {seen}, so {name} must have {expected} {part} (dimension {dim}), "
                             f"not shape {shape}")


def _axis(axis, rank):
    """An axis's name in an error message."""
    return "entries" if rank == 1 else ("rows", "columns")[axis] if rank == 2 else f"entries along axis {axis}"'''


def _names(r: Request) -> str:
    return ", ".join(r.variables)


def _program(r: Request, roots: list[Node], w: Writer, rewrites: set[str], **options) -> Program:
    """The program of `roots`; in NumPy and torch code, large temporaries are deleted after their last use (in an
    autograd function's forward, those it returns for backward excepted), not under JAX, where XLA plans memory."""
    known = {name: name for name in r.variables}
    known.update(options.pop("known", {}))
    options.setdefault("release", _releases(r))
    program = Program(roots, w, known, r.plan_sizes(), taken=_taken(r), **options)
    rewrites |= w.notes
    return program


def _taken(r: Request) -> set[str]:
    """The names a temporary may not take: the variables', and those the module's functions read."""
    return set(r.variables) | RESERVED | {_class_name(r)}


def _grad_names(variables: Sequence[str]) -> list[str]:
    """What the gradients are called where a statement computes them."""
    return [f"grad_{x}" for x in variables]


def _releases(r: Request) -> bool:
    return r.target.name in ("numpy", "torch")


def _return(codes: Sequence[str]) -> str:
    return codes[0] if len(codes) == 1 else f"({', '.join(codes)})"


def _body(program: Program, indent: str = "    ") -> list[str]:
    return program.lines(indent)


def _function(signature: str, doc: str, prologue: list[str], program: Program, result: str) -> list[str]:
    if not any('size["' in s.code for s in program.statements) and not any("(size," in p for p in prologue):
        prologue = [p.replace(", size = _arrays(", ", _ = _arrays(").replace("size = _sizes(", "_sizes(")
                    for p in prologue]
    return [f"def {signature}:", f'    """{doc}"""', *prologue, *_body(program), f"    return {result}"]


# ---- NumPy ----------------------------------------------------------------------------------------------------

def _numpy_writer() -> Writer:
    return Writer(TARGETS["numpy"], dim=lambda d: repr(d) if isinstance(d, int) else f'size["{d}"]')


def _numpy_module(r: Request) -> str:
    names, rewrites = _names(r), set[str]()
    w = _numpy_writer()
    entry = [f"    {names}, size = _arrays({names})"]
    grads = gradients(r)
    value = _program(r, [r.f.node], w, rewrites, root_names=["value"])
    functions = [_function(f"f({names})", "The value of the expression.", entry, value, value.roots[0])]
    grad = _program(r, grads, w, rewrites, root_names=_grad_names(r.wrt))
    functions.append(_function(f"grad({names})", _grad_doc(r), entry, grad, _return(grad.roots)))
    both = _program(r, [r.f.node, *grads], w, rewrites, root_names=["value", *_grad_names(r.wrt)])
    functions.append(_function(f"value_and_grad({names})", "The value and the gradient, sharing their work.", entry,
                               both, f"{both.roots[0]}, {_return(both.roots[1:])}"))
    second, extra = _second_order(r, w, rewrites, entry, lambda v: f'_float("{v}", {v})')
    functions += second
    helpers = [TARGETS["numpy"].helpers[h] for h in sorted(w.helpers)]
    imports = [f"import {m}" for m in sorted({HELPER_IMPORTS[h] for h in w.helpers if h in HELPER_IMPORTS})]
    header = [_docstring(r, rewrites, extra), *(["\n".join(imports)] if imports else []), "import numpy as np",
              "\n".join([*_constants(r), f"CHECK_SIZES = {_check_sizes(r)!r}", _FLOAT64])]
    parts = ["\n\n".join(header), *helpers, _SHAPE_CHECK, _NUMPY_FLOAT,
             _CHECKED_FUNCTION.replace("{names}", names),
             _arrays_function(r),
             *["\n".join(fn) for fn in functions], _check_grad(r), _MAIN]
    if r.name:
        parts.insert(-2, f"{r.name} = f")
    return "\n\n\n".join(parts) + "\n"


# ---- second order (every target): hessian and hvp ---------------------------------------------------------------

def _second_order(r: Request, w: Writer, rewrites: set[str], entry: list[str],
                  as_array) -> tuple[list[list[str]], list[tuple[str, Expr]]]:
    """hessian(...) and hvp(..., v) as asked, and their matrix notation for the docstring. `entry` converts and checks
    the arguments (binding `size`); `as_array(name)` is the code converting a direction to the target's array.

    Layout with several wrt variables (that of jax.hessian with a tuple of argnums): hessian returns a tuple of rows,
    row i a tuple of blocks, block (i, j) = d2f/dx_i dx_j of shape x_i.shape + x_j.shape; hvp takes v as a tuple of
    directions shaped like x_1, x_2, ... and returns a tuple shaped the same, (H v)_i = sum_j block(i, j) . v_j."""
    names, functions, extra = _names(r), [], []
    several = len(r.wrt) > 1
    if r.hessian:
        blocks = hessian_blocks(r)
        keys = list(blocks)
        for (i, j), h in blocks.items():
            label = f"d2f/d{r.wrt[i]}2" if i == j else f"d2f/d{r.wrt[i]}d{r.wrt[j]}"
            extra.append((label, Expr(h, None, r.f.variables)))
        hp = _program(r, list(blocks.values()), w, rewrites)
        codes = dict(zip(keys, hp.roots, strict=True))
        if several:
            rows = [_return([codes[i, j] if i <= j else _transposed(w, r, codes[j, i], j, i)
                             for j in range(len(r.wrt))]) for i in range(len(r.wrt))]
            result, doc = _return(rows), (f"The Hessian by {', '.join(r.wrt)}: a tuple of rows of blocks, block "
                                          "[i][j] = d2f/dx_i dx_j of shape x_i.shape + x_j.shape.")
        else:
            result, doc = codes[0, 0], f"The Hessian by {r.wrt[0]} (shape {r.wrt[0]}.shape * 2)."
        functions.append(_function(f"hessian({names})", doc, entry, hp, result))
    if r.hvp:
        functions.append(_hvp_function(r, w, rewrites, entry, as_array, extra))
    return functions, extra


def _transposed(w: Writer, r: Request, code: str, i: int, j: int) -> str:
    """Block (j, i) from block (i, j): the axes of x_i and of x_j swapped."""
    ri, rj = r.var(r.wrt[i]).rank, r.var(r.wrt[j]).rank
    perm = tuple(range(ri, ri + rj)) + tuple(range(ri))
    return code if perm == tuple(range(ri + rj)) else w.transpose(atom(code), perm).text


def _hvp_function(r: Request, w: Writer, rewrites: set[str], entry: list[str], as_array,
                  extra: list[tuple[str, Expr]]) -> list[str]:
    v, inner = _direction_name(r), _direction_names(r)
    infos = [r.variables[x] for x in r.wrt]
    hv = hvp_nodes(r, [b.var(d, info.shape, info.symmetric) for d, info in zip(inner, infos, strict=True)])
    for x, node in zip(r.wrt, hv, strict=True):
        extra.append((f"hvp(..., {v})" + (f" by {x}" if len(r.wrt) > 1 else ""),
                      Expr(node, None, {**r.f.variables, **dict(zip(inner, infos, strict=True))})))
    hp = Program(hv, w, {**{n: n for n in r.variables}, **{d: d for d in inner}}, r.plan_sizes(),
                 taken=_taken(r) | set(inner) | {v}, release=_releases(r))
    rewrites |= w.notes
    check = [f"    {', '.join(inner)} = {v}"] if len(inner) > 1 else []
    for d, x in zip(inner, r.wrt, strict=True):
        check += [f"    {d} = {as_array(d)}", f'    _bind(size, "{d}", {d}, SHAPES["{x}"])']
    doc = (f"The Hessian by {r.wrt[0]} times {v}, without forming the Hessian." if len(inner) == 1 else
           f"The Hessian by ({', '.join(r.wrt)}) times {v} = ({', '.join(inner)}), a tuple shaped like "
           f"({', '.join(r.wrt)}), without forming the Hessian.")
    return _function(f"hvp({_names(r)}, {v})", doc, entry + check, hp, _return(hp.roots))


def _grad_doc(r: Request) -> str:
    if len(r.wrt) == 1:
        return f"The gradient by {r.wrt[0]}, shaped like {r.wrt[0]}."
    return f"The gradients by {', '.join(r.wrt)}: a tuple, each shaped like its variable."


_FLOAT64 = "_FLOAT64 = np.dtype(float)   # float64 arrays share this dtype (one that does not is converted)"

_NUMPY_FLOAT = '''def _float(name, value):
    """value as a float64 array, refusing complex entries (np.asarray would keep their real parts alone)."""
    return np.asarray(_real_only(name, np.asarray(value)), dtype=float)'''


def _arrays_function(r: Request) -> str:
    names = _names(r)
    lines = [f"def _arrays({names}):",
             ('    """The arguments as float arrays (float64 arrays as they are: np.asarray would return them, at a '
              'cost), checked\n    against the expression\'s shapes, and the sizes of its dimensions."""')]
    for name in r.variables:
        lines += [f"    if type({name}) is not np.ndarray or {name}.dtype is not _FLOAT64:",
                  f'        {name} = _float("{name}", {name})']
    lines += [*_mismatch(r, "    "), f"        return {names}, _checked({names})",
              f"    return {names}, {_sizes_code(r)}"]
    return "\n".join(lines)


def _check_sizes(r: Request) -> dict:
    return {d: 3 + k for k, d in enumerate(r.plan_sizes())}


def _check_grad(r: Request) -> str:
    second = ""
    if r.hvp:
        second = "\n    errors.append(_check_second(values, hvp, rng, tol))"
    elif r.hessian:
        second = "\n    errors.append(_check_second(values, _hessian_times, rng, tol))"
    hessian_times = '''

def _hessian_times(*args):
    # the Hessian's blocks times the directions, as hvp would return it
    *values, v = args
    h = hessian(*values)
    if len(WRT) == 1:
        return np.tensordot(h, v, axes=np.ndim(v))
    return tuple(sum(np.tensordot(block, vj, axes=np.ndim(vj)) for block, vj in zip(row, v, strict=True))
                 for row in h)''' if r.hessian and not r.hvp else ""
    return _CHECK_GRAD.replace("{second}", second) + hessian_times


_CHECK_GRAD = '''def _random_values(rng, attempt):
    """Random values of the shapes of CHECK_SIZES: standard normal (square matrices + 2I, which keeps inv, det and
    logdet well conditioned), and after 10 attempts uniform in [0.2, 0.9] (inside the domain of log, sqrt, arcsin)."""
    values = {}
    for name, dims in SHAPES.items():
        shape = tuple(d if isinstance(d, int) else CHECK_SIZES[d] for d in dims)
        if attempt < 10:
            x = rng.standard_normal(shape)
            if len(shape) == 2 and shape[0] == shape[1]:
                x = x + 2 * np.eye(shape[0])
        else:
            x = rng.uniform(0.2, 0.9, shape)
        values[name] = (x + x.T) / 2 if name in SYMMETRIC else x
    return values


def _direction(rng, like, symmetric):
    d = rng.standard_normal(np.shape(like))
    d = (d + d.T) / 2 if symmetric else d
    return d / max(np.sqrt(np.sum(d * d)), 1e-300)


def _along(function, values, directions):
    """t -> function at the values moved by t times the directions (by name), its results in one flat array."""
    def at(t):
        out = function(**{**values, **{name: values[name] + t * d for name, d in directions.items()}})
        return np.concatenate([np.ravel(part) for part in (out if isinstance(out, tuple) else (out,))])
    return at


def _difference_error(at, exact, step, tol):
    """(the error, the error beyond what the differences' own error explains): max |difference - exact| relative to
    max(1, max |exact|), for the closest difference estimate of at's derivative at t = 0. The error beyond: against
    the central difference, beyond the rounding of at's values (16 units of roundoff of their size, over the step: a
    large f); where that exceeds tol, beyond at's noise as measured (twice its largest fourth difference at spacing
    step/64, over the step: a value that is rounding alone), and then the smallest of it and the errors of the
    Richardson estimates (4 D(s/2) - D(s)) / 3 for s = step, step/2, whose s² terms cancel: a large third derivative
    is not mistaken for a wrong derivative, which stays as far from each."""
    scale = max(1.0, float(np.max(np.abs(exact), initial=0.0)))

    def central(s):
        up, down = at(s), at(-s)
        return (up - down) / (2 * s), 16 * np.finfo(float).eps * np.maximum(np.abs(up), np.abs(down)) / s

    def beyond(numeric, allowed):
        return float(np.max(np.maximum(np.abs(numeric - exact) - allowed, 0.0), initial=0.0)) / scale

    coarse, rounding = central(step)
    error, judged = beyond(coarse, 0.0), beyond(coarse, rounding)
    if judged > tol:
        fourth = sum(c * at(k * step / 64) for k, c in zip((-2, -1, 0, 1, 2), (1, -4, 6, -4, 1), strict=True))
        judged = min(judged, beyond(coarse, 2 * float(np.max(np.abs(fourth), initial=0.0)) / step))
    for s in (step / 2, step / 4):
        if not judged > tol:
            break
        fine = central(s)[0]
        estimate = beyond((4 * fine - coarse) / 3, 0.0)
        error, judged = min(error, estimate), min(judged, estimate)
        coarse = fine
    return error, judged


def _step(values, names, h):
    return h * max(1.0, *(float(np.max(np.abs(values[name]), initial=0.0)) for name in names))


def _check_direction(values, name, g, rng, tol, h=1e-6):
    """The gradient along a random direction d against the finite differences of f along d."""
    d = _direction(rng, values[name], name in SYMMETRIC)
    return _difference_error(_along(f, values, {name: d}), np.sum(g * d), _step(values, [name], h), tol)


def _check_second(values, product, rng, tol, h=1e-6):
    """The Hessian times v (one direction per WRT variable) against the finite differences of the gradients along v."""
    v = {name: _direction(rng, values[name], name in SYMMETRIC) for name in WRT}
    exact = product(*values.values(), tuple(v.values()) if len(WRT) > 1 else v[WRT[0]])
    exact = np.concatenate([np.ravel(part) for part in (exact if len(WRT) > 1 else (exact,))])
    return _difference_error(_along(_grads, values, v), exact, _step(values, WRT, h), tol)


def _grads(*args, **kwargs):
    g = grad(*args, **kwargs)
    return g if len(WRT) > 1 else (g,)


def check_grad(seed=0, tol=1e-5):
    """Compare the derivatives with central finite differences at random values (sizes CHECK_SIZES); return the
    largest relative error, or raise AssertionError when it exceeds tol by more than the differences' own error
    explains."""
    rng = np.random.default_rng(seed)
    for attempt in range(20):
        values = _random_values(rng, attempt)
        with np.errstate(all="ignore"):
            value, grads = f(**values), _grads(**values)
        if np.isfinite(value) and all(np.all(np.isfinite(g)) for g in grads):
            break
    else:
        raise ArithmeticError("no point where f and its gradient are finite was found in 20 random tries")
    errors = [_check_direction(values, name, g, rng, tol) for name, g in zip(WRT, grads, strict=True)]{second}
    worst, judged = np.max(errors, axis=0)
    if not judged <= tol:
        raise AssertionError(f"the derivatives differ from finite differences: relative error {worst:.2e} > {tol:g}")
    return float(worst)'''

_MAIN = '''if __name__ == "__main__":
    print(f"check_grad: ok (largest relative error {check_grad():.1e})")'''


# ---- PyTorch --------------------------------------------------------------------------------------------------

def _torch_writer(like: str) -> Writer:
    return Writer(TARGETS["torch"], like=like, dim=lambda d: repr(d) if isinstance(d, int) else f'size["{d}"]')


def _class_name(r: Request) -> str:
    base = r.name or "Expression"
    return "".join(part[:1].upper() + part[1:] for part in base.split("_")) or "Expression"


def _torch_module(r: Request) -> str:
    names, rewrites = _names(r), set[str]()
    variables = list(r.variables)
    w = _torch_writer(variables[0])
    # forward, backward and jvp read a size straight off an argument: f checked the shapes (and under vmap each
    # function sees one sample's, as a check there would)
    reads = _shape_test(r)[1]
    inside = replace(w, dim=lambda d: repr(d) if isinstance(d, int) else reads[str(d)])
    # every partial product of the forward is a statement of its own, which backward may read rather than recompute
    forward_value = _program(r, [r.f.node], inside, rewrites, split=True, root_names=["value"])
    upstream = b.var("grad_output", ())
    # the gradients in the order autograd reaches the inputs, the one the forward reads last first: what the forward
    # computed last, still in the caches, is read first (the last layer's weights before the first's)
    owners = _read_last_first(r)
    backward_roots = []
    for k in owners:
        x = r.var(variables[k])
        j = jacobian(r.f.node, x)
        labels = tuple(range(x.rank))
        backward_roots.append(b.contract([(upstream, ()), (j, labels)], labels))
    guards = [f"needs[{k}]" for k in owners]       # needs = ctx.needs_input_grad, read once
    grad_names = _grad_names([variables[k] for k in owners])
    saveable = {id(s.node): s.name for s in forward_value.statements
                if not _is_view(s.node) and not _from_sizes(s.node)}
    nodes = {s.name: s.node for s in forward_value.statements}
    backward = _program(r, backward_roots, inside, rewrites, guards=guards, prefix="u", release=False,
                        root_names=grad_names,
                        known={**saveable, "grad_output": "grad_output"},
                        reusable=[nodes[name] for name in saveable.values()])
    used = backward.used()
    value = forward_value.roots[0]
    # the value is output 0 (saved when backward reads it); the other temporaries backward reads are extra outputs
    saved = [s.name for s in forward_value.statements
             if s.name in used and id(s.node) in saveable and s.name != value]
    kept = [value] if value in used and value in saveable.values() else []
    backward = _program(r, backward_roots, inside, rewrites, guards=guards, prefix="u", root_names=grad_names,
                        known={**{k: v for k, v in saveable.items() if v in saved + kept},
                               "grad_output": "grad_output"}, reusable=[nodes[name] for name in saved + kept])
    cls = _class_name(r)
    # an input returned as it is would be saved as an output too, which a setup_context function may not do: the
    # value is then a view of it
    returned = f"{value}.view_as({value})" if value in variables else value
    outputs = ", ".join([returned, *saved]) + ("," if not saved else "")   # always a tuple
    forward = ["    @staticmethod", f"    def forward({names}):",
               *forward_value.lines("        ", keep=saved), f"        return {outputs}"]
    setup = ["    @staticmethod", "    def setup_context(ctx, inputs, output):",
             *(["        # the saved temporaries are extra outputs: they need no gradient of their own, and autograd",
                "        # fills no tensor of zeros for them (backward reads grad_output alone)",
                "        ctx.mark_non_differentiable(*output[1:])",
                "        ctx.set_materialize_grads(False)"] if saved else []),
             f"        ctx.save_for_backward(*inputs, *output{'' if kept else '[1:]'})"]
    unpack = ", ".join(variables + kept + saved)
    back = ["    @staticmethod", "    def backward(ctx, grad_output, *unused):",
            *(["        if grad_output is None:     # no gradient reached the value: none reaches the inputs",
               f"            return {_return(['None'] * len(variables))}"] if saved else []),
            f"        {unpack}{',' if len(variables + kept + saved) == 1 else ''} = ctx.saved_tensors",
            "        needs = ctx.needs_input_grad     # which inputs want a gradient"]
    if saved or kept:
        recomputed = ", ".join([kept[0] if kept else "_", *saved]) + ("," if not saved else "")
        back += ["        if torch.is_grad_enabled():",
                 "            # double backward: the forward temporaries again, "
                 "as differentiable functions of the inputs",
                 f"            {recomputed} = {cls}.forward({names})"]
    back += backward.lines("        ")
    gradient_of = dict(zip(owners, backward.roots, strict=True))
    back += ["        return ("] + [f"            {gradient_of[k]} if needs[{k}] else None,"
                                     for k in range(len(variables))] + ["        )"]
    if r.jvp:
        setup.append("        ctx.save_for_forward(*inputs)")
        back += ["", *_torch_jvp(r, inside, rewrites, len(saved))]
    doc = ('    """The expression as an autograd function whose backward chainrule derived (double backward and vmap '
           'work)."""')
    if r.jvp:
        doc = ('    """The expression as an autograd function whose backward and jvp chainrule derived (double '
               'backward, vmap and\n    forward mode work; torch.compile cannot trace a custom jvp, so it '
               'graph-breaks here)."""')
    klass = [f"class {cls}(torch.autograd.Function):", doc,
             "", "    generate_vmap_rule = True", "", *forward, "", *setup, "", *back, "", "", *_signature_once(cls)]
    grads = gradients(r)
    grad = _program(r, grads, w, rewrites, root_names=_grad_names(r.wrt))
    both = _program(r, [r.f.node, *grads], w, rewrites, root_names=["value", *_grad_names(r.wrt)])
    # tensors pass as they are, without the call (isinstance: about 0.1 µs an argument, _tensors about 2 µs)
    converted = [*_condition([f"not isinstance({v}, torch.Tensor)" for v in variables], "    "),
                 f"        {names}{',' if len(variables) == 1 else ''} = _tensors({names})"]
    functions = [
        [f"def f({names}):", '    """The value; differentiable by torch.autograd (backward written by chainrule)."""',
         *converted, f"    _sizes({names})", f"    return _apply({names})[0]"],
        _function(f"grad({names})", _grad_doc(r), converted + _size_line(grad, names, "    ", True), grad,
                  _return(grad.roots)),
        _function(f"value_and_grad({names})", "The value and the gradient, sharing their work.",
                  converted + _size_line(both, names, "    ", True), both,
                  f"{both.roots[0]}, {_return(both.roots[1:])}"),
    ]
    second, extra = _second_order(r, w, rewrites, [*converted, f"    size = _sizes({names})"],
                                  lambda v: f'torch.as_tensor(_real_only("{v}", {v}), dtype={variables[0]}.dtype, '
                                            f"device={variables[0]}.device)")
    functions += second
    helpers = [TORCH_JVP_HELPERS.get(h, TARGETS["torch"].helpers[h]) if r.jvp else TARGETS["torch"].helpers[h]
               for h in sorted(w.helpers)]
    parts = ["\n\n".join([_docstring(r, rewrites, extra), "import inspect\n\nimport torch", "\n".join(_constants(r))]),
             *helpers,
             _SHAPE_CHECK,
             _CHECKED_FUNCTION.replace("{names}", names), _sizes_function(r), _TORCH_TENSORS, _TORCH_DIRECT_APPLY,
             "\n".join(klass),
             *["\n".join(fn) for fn in functions]]
    if r.name:
        parts.append(f"{r.name} = f")
    return "\n\n\n".join(parts) + "\n"


def _read_last_first(r: Request) -> list[int]:
    """The variables' positions, the one the expression reads last (depth first, operands in order) first."""
    order = {n.params.name: k for k, n in enumerate(topological([r.f.node])) if n.op is Op.VAR}
    names = list(r.variables)
    return sorted(range(len(names)), key=lambda k: -order.get(names[k], -1))


def _signature_once(cls: str) -> list[str]:
    """Function.apply binds its arguments to forward's signature on every call (a setup_context-style function);
    inspect reads a stored __signature__ instead of rebuilding it, about 20 µs a call. f applies the function through
    _direct_apply, which skips that binding where it can."""
    return ["# computed once: torch.autograd.Function.apply looks the signature up on every call",
            f"{cls}.forward.__signature__ = inspect.signature({cls}.forward)",
            f"_apply = _direct_apply({cls})"]


def _torch_jvp(r: Request, w: Writer, rewrites: set[str], extra_outputs: int) -> list[str]:
    """The `jvp` staticmethod (forward mode: torch.func.jvp, torch.autograd.forward_ad): the tangent of the value is
    the sum over the inputs that have a tangent of <df/dx, dx>, from the gradients chainrule derived. The saved
    temporaries (extra outputs, not differentiable) get no tangent."""
    variables = list(r.variables)
    names = _names(r)
    roots = [jacobian(r.f.node, r.var(name)) for name in variables]
    program = _program(r, roots, w, rewrites, guards=[f"active[{k}]" for k in range(len(variables))], prefix="d",
                       release=False)
    lines = ["    @staticmethod", "    def jvp(ctx, *tangents):",
             "        # d f = sum over the inputs of <df/dx, dx>, skipping inputs without a tangent",
             f"        {names}{',' if len(variables) == 1 else ''} = ctx.saved_tensors[:{len(variables)}]",
             "        active = [t is not None for t in tangents]", *program.lines("        "),
             f"        tangent = torch.zeros((), dtype={variables[0]}.dtype, device={variables[0]}.device)"]
    for k, root in enumerate(program.roots):
        lines += [f"        if active[{k}]:", f"            tangent = tangent + torch.sum({root} * tangents[{k}])"]
    return lines + [f"        return tangent{', None' * extra_outputs}{',' if not extra_outputs else ''}"]


def _size_line(program: Program, names: str, indent: str, check: bool = False) -> list[str]:
    """size = _sizes(...) where the code reads a dimension's size; else, if asked, the shape check alone."""
    if any('size["' in s.code for s in program.statements):
        return [f"{indent}size = _sizes({names})"]
    return [f"{indent}_sizes({names})"] if check else []


def _from_sizes(node: Node) -> bool:
    # a value that reads no variable (1/size(X, 1)) is a number made from the sizes: recomputed in backward, where
    # save_for_backward takes tensors only
    return not any(n.op is Op.VAR for n in topological([node]))


def _is_view(node: Node) -> bool:
    # a transpose of one operand is a view of it: recomputed in backward rather than returned from forward
    return node.op is Op.CONTRACT and len(node.args) == 1 and len(set(node.params.out)) == len(node.params.out) \
        and sorted(node.params.out) == sorted(node.params.specs[0])


_CHECKED_FUNCTION = '''def _checked({names}):
    """The sizes of the dimensions, checking the arguments' shapes one dimension at a time: slower than the test in
    _sizes, but its error names the dimension that disagrees and the argument that fixed it."""
    size = {}
    for name, value in zip(SHAPES, ({names},), strict=True):
        _bind(size, name, value, SHAPES[name])
    return size'''


def _shape_test(r: Request) -> tuple[list[str], dict[str, str]]:
    """(the tests of a shape that disagrees with the expression's, to be joined by `or`; each named dimension's size
    as the code that reads it) for the arguments as arrays. Each dimension's size is read where it first appears; an
    argument whose dimensions are all known by then is compared whole (`A.shape != (x.shape[0], x.shape[0])`), else
    its rank first, so that every axis read exists; each size read is then tested for zero (`not x.shape[0]`). About
    0.3 µs for a few arguments, against a few µs for the loop of _bind in _checked."""
    where: dict[str, str] = {}
    tests = []
    for name, info in r.variables.items():
        known = [str(d) if isinstance(d, int) else where.get(d) for d in info.shape]
        if all(k is not None for k in known):
            tests.append(f"{name}.shape != {_tuple_text(known)}")
            continue
        tests.append(f"{name}.ndim != {len(known)}")
        for axis, d in enumerate(info.shape):
            # a dimension met before, in an earlier argument or on an earlier axis of this one (a square matrix's
            # columns), is compared with where it was first read; the first reading is recorded
            if isinstance(d, int) or d in where:
                tests.append(f"{name}.shape[{axis}] != {d if isinstance(d, int) else where[d]}")
            else:
                where[d] = f"{name}.shape[{axis}]"
    # every size is read once, and a size of zero is refused (any other axis of that dimension equals it)
    tests += [f"not {code}" for code in where.values()]
    if r.target.complex_test:
        tests += [r.target.complex_test.format(name) for name in r.variables]
    return tests, where


def _tuple_text(items: Sequence) -> str:
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(map(str, items))})"


def _mismatch(r: Request, indent: str) -> list[str]:
    """`if <some shape disagrees>:`."""
    return _condition(_shape_test(r)[0], indent)


def _condition(tests: Sequence[str], indent: str) -> list[str]:
    """`if <test> or <test> ...:`, one line (lines.py breaks it where it is longer than the project's)."""
    return [f"{indent}if {' or '.join(tests)}:"]


def _sizes_function(r: Request) -> str:
    names = _names(r)
    return "\n".join([f"def _sizes({names}):",
                      '    """The sizes of the dimensions, after checking every argument\'s shape."""',
                      *_mismatch(r, "    "), f"        return _checked({names})",
                      f"    return {_sizes_code(r)}"])


def _sizes_code(r: Request) -> str:
    """The code of the sizes dict, each size read off the argument where its dimension first appears."""
    return "{" + ", ".join(f'"{d}": {code}' for d, code in _shape_test(r)[1].items()) + "}"


# Function.apply is a Python layer over torch's own (C++) apply: it binds the arguments to forward's signature and,
# under torch.func transforms, hands the call to functorch. Outside transforms and torch.compile that layer costs about
# 10 µs a call at n = 4 and 25 µs at n = 1000 (torch 2.13, CPU: 4% of the quadratic form's forward and backward), and
# f's arguments are forward's already.
_TORCH_DIRECT_APPLY = '''def _direct_apply(function):
    """function.apply without its Python layer where nothing needs it: under torch.compile and torch.func transforms
    (vmap, grad, jacrev) the call goes through function.apply; otherwise straight to torch's own apply, which records
    the same autograd node. Binding the arguments to forward's signature, Function.apply's main work, is skipped: f
    passes exactly forward's arguments. Where this torch lacks the internals it relies on, function.apply itself."""
    try:
        from torch._functorch.utils import unwrap_dead_wrappers
        transforms_active = torch._C._are_functorch_transforms_active
        compiling = torch.compiler.is_compiling
        apply = super(torch.autograd.Function, function).apply
    except (ImportError, AttributeError):
        return function.apply

    def direct(*args):
        if compiling() or transforms_active():
            return function.apply(*args)
        return apply(*unwrap_dead_wrappers(args))  # a tensor left over from a finished transform, unwrapped
    return direct'''


_TORCH_TENSORS = '''def _tensors(*values):
    """The arguments as tensors of the first tensor argument's dtype and device; without one, of the first floating
    NumPy array's dtype (torch.as_tensor keeps it: float64 stays float64), else of torch's default dtype."""
    values = tuple(_real_only(name, v) for name, v in zip(SHAPES, values, strict=True))
    like = next((v for v in values if isinstance(v, torch.Tensor)), None)
    if like is None:
        floating = next((v for v in values if getattr(getattr(v, "dtype", None), "kind", "") == "f"), None)
        dtype = torch.get_default_dtype() if floating is None else torch.as_tensor(floating).dtype
        return tuple(torch.as_tensor(v, dtype=dtype) for v in values)
    return tuple(v if isinstance(v, torch.Tensor) else torch.as_tensor(v, dtype=like.dtype, device=like.device)
                 for v in values)'''


# ---- JAX ------------------------------------------------------------------------------------------------------

_JAX_IMPORTS = "import jax\nimport jax.numpy as jnp\nfrom jax.custom_derivatives import SymbolicZero"


def _jax_module(r: Request) -> str:
    names, rewrites = _names(r), set[str]()
    variables = list(r.variables)
    w = Writer(TARGETS["jax"], like=variables[0], dim=lambda d: repr(d) if isinstance(d, int) else f'size["{d}"]')
    value = _program(r, [r.f.node], w, rewrites, root_names=["value"])
    # Under jit, jax.grad drops the value that it does not return, computes only the gradients whose variables it
    # differentiates (`active`), and XLA merges the operations that these share: each gradient is planned as if it
    # were computed alone, so a sum that it reads is distributed where that is cheaper even though the value reads it
    # too ((T-U*V')*V is T*V - U*(V'*V)).
    all_grads = []
    for name in variables:
        [alone], applied = distribute([jacobian(r.f.node, r.var(name))], r.plan_sizes())
        all_grads.append(alone)
        rewrites |= applied
    guards = [None] + [f"active[{k}]" for k in range(len(variables))]
    jvp = _program(r, [r.f.node, *all_grads], w, rewrites, guards=guards,
                   root_names=["value", *_grad_names(variables)])
    unpack = f"{names}{',' if len(variables) == 1 else ''}"
    tangent = [f"    tangent = jnp.zeros_like({jvp.roots[0]})"]
    for k, root in enumerate(jvp.roots[1:]):
        tangent += [f"    if active[{k}]:", f"        tangent = tangent + jnp.sum({root} * tangents[{k}])"]
    argnums = tuple(variables.index(x) for x in r.wrt)
    argnums_text = str(argnums[0]) if len(argnums) == 1 else str(argnums)
    functions = [
        ["@jax.custom_jvp", *_function(f"f({names})", "The value; jax.grad, jit, vmap and hessian use the JVP "
                                                      "chainrule derived.", _size_line(value, names, "    ", True),
                                       value, value.roots[0])],
        ["def _f_jvp(primals, tangents):",
         '    """d f = sum over the variables of <df/dx, dx>, skipping the variables JAX does not differentiate."""',
         f"    {unpack} = primals", *_size_line(jvp, names, "    ", True),
         "    active = [not isinstance(t, SymbolicZero) for t in tangents]", *jvp.lines("    "), *tangent,
         f"    return {jvp.roots[0]}, tangent"],
        ["f.defjvp(_f_jvp, symbolic_zeros=True)"],
        [f"def grad({names}):", f'    """{_grad_doc(r)}"""',
         f"    return jax.grad(f, argnums={argnums_text})({names})"],
        [f"def value_and_grad({names}):", '    """The value and the gradient."""',
         f"    return jax.value_and_grad(f, argnums={argnums_text})({names})"],
    ]
    second, extra = _second_order(r, w, rewrites, [f"    size = _sizes({names})"],
                                  lambda v: f'jnp.asarray(_real_only("{v}", {v}), dtype={variables[0]}.dtype)')
    functions += second
    helpers = [TARGETS["jax"].helpers[h] for h in sorted(w.helpers)]
    parts = ["\n\n".join([_docstring(r, rewrites, extra), _JAX_IMPORTS, "\n".join(_constants(r))]), *helpers,
             _SHAPE_CHECK,
             _CHECKED_FUNCTION.replace("{names}", names), _sizes_function(r), *["\n".join(fn) for fn in functions]]
    if r.name:
        parts.append(f"{r.name} = f")
    return "\n\n\n".join(parts) + "\n"


def request(f: Expr, wrt: Sequence[str], target: str, name: str | None, hessian: bool, hvp: bool,
            sizes: Mapping[str, int] | None, jvp: bool = False) -> Request:
    if target not in TARGETS:
        raise CodegenError(f"unknown target {target!r}", hint=f"Use one of {', '.join(TARGETS)}.")
    if jvp and target != "torch":
        raise CodegenError(f"jvp is an option of the torch target, not {target}",
                           hint="JAX's f is a custom_jvp function already; NumPy has no forward mode.")
    return Request(f, tuple(wrt), TARGETS[target], name, hessian, hvp, dict(sizes or {}), jvp)
