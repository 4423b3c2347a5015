"""Structural checks on the generated text: the planner's choices show in the code, and every file passes ruff."""
import operator
import re
import shutil
import subprocess
import symtable
import sys
from pathlib import Path

import numpy as np
import pytest
from corpus import CORPUS

import chainrule as cr
from chainrule.codegen.targets import TARGETS
from chainrule.ir.elementwise import ELEMENTWISE
from chainrule.plan.contract import derivative_of
from chainrule.simplify import build as b


def deep_network(layers: int) -> tuple[str, dict, list[str]]:
    """(a network of tanh layers with biases and a softmax cross-entropy loss, its declarations, every parameter)."""
    z, decls = "X", {"X": ("m", "n"), "Y": ("m", "k")}
    for k in range(1, layers + 1):
        decls[f"W{k}"] = ("n" if k == 1 else "h", "k" if k == layers else "h")
        decls[f"b{k}"] = ("k" if k == layers else "h",)
        z = f"{z}*W{k} + b{k}'" if k == layers else f"tanh({z}*W{k} + b{k}')"
    return (f"-sum(sum(Y.*logsoftmax({z}, 2)))/size(X, 1)", decls,
            [name for k in range(1, layers + 1) for name in (f"W{k}", f"b{k}")])


def body(source: str, function: str) -> str:
    """The statements of a generated function, without its comments and docstring."""
    match = re.search(rf"^def {function}\(.*?(?=^def |^class |\Z)", source, re.DOTALL | re.MULTILINE)
    assert match, function
    return "\n".join(line for line in match.group(0).split('"""')[-1].splitlines()
                     if not line.strip().startswith("#"))


def test_every_elementwise_function_has_a_form_in_every_target():
    for target in TARGETS.values():
        missing = sorted(set(ELEMENTWISE) - set(target.functions))
        assert not missing, f"{target.name} has no code for {missing}"


def test_a_targets_one_pass_derivatives_are_of_rules_written_from_the_value_alone():
    # the planner finds g .* f'(x) by applying f's rule to each y = f(x) (plan/contract.py derivative_of): a rule that
    # reads x besides y (sigmoid's y .* (1 - y), simplified to sigmoid(x) .* sigmoid(-x)) is not what the one-pass
    # operation computes from y
    x = b.var("x", ("n",))
    for target in TARGETS.values():
        assert set(target.derivatives) <= set(ELEMENTWISE), target.name
        for fn in target.derivatives:
            y = b.apply(fn, x)
            rule = ELEMENTWISE[fn].derivative(b, x, y)
            assert derivative_of(rule, frozenset({fn})) == (fn, y)
            reads, stack = set(), [rule]
            while stack:
                node = stack.pop()
                reads.add(node)
                stack += [] if node is y else list(node.args)
            assert x not in reads, f"{target.name}'s {fn}: its rule reads x, not only {fn}(x)"


def test_torchs_one_pass_derivatives_compute_the_gradient_through_the_function():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, g = 3 * rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    for fn, op in TARGETS["torch"].derivatives.items():
        operation = operator.attrgetter(op.removeprefix("torch."))(torch)
        expected = cr.derivative(cr.parse(f"sum(sum(G.*{fn}(X)))"), "X").evaluate({"G": g, "X": x})
        got = operation(torch.tensor(g), torch.tensor(ELEMENTWISE[fn].numpy(x)))
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-14)


def test_a_sum_of_a_broadcast_number_is_a_size_never_an_array_of_ones():
    # d/dx of sum(softplus(A*x) - x'*x) has sum(vector(1, "m")) = m: a size (an array of ones was filled and summed)
    f = cr.parse("sum(softplus(A*x) - x'*x)", A=("m", "n"))
    for target in ("numpy", "torch", "jax"):
        code = body(cr.codegen(f, "x", target), "_f_jvp" if target == "jax" else "grad")
        assert "full(" not in code and "ones(" not in code and 'size["m"]' in code, code


def test_the_numbers_of_a_product_meet_before_they_meet_an_array():
    # -g*s.*y is (-g)*s*y, 2*g*t is (2*g)*t: the numbers multiplied first, one pass over the array for all of them, not
    # -(g*s)*y or 2*(g*t), a pass per number
    for text, wrt, decls in CORPUS:
        src = cr.codegen(cr.parse(text, **decls), list(wrt), "torch")
        assert not re.search(r"(-|[0-9] \* )\(grad_output \* ", src), text


def test_a_matrix_chain_times_a_vector_is_multiplied_from_the_right():
    src = cr.codegen("sum(A*B*C*x)", "x", sizes={"n": 1000})
    code = body(src, "f")
    assert "C @ x" in code and "A @ B" not in code and "B @ C" not in code


def test_inv_times_a_vector_is_a_solve():
    src = cr.codegen(cr.parse("x'*inv(A)*b", b="vector"), "x")
    assert "np.linalg.solve(" in body(src, "grad") and "inv(" not in body(src, "grad")


def test_the_factorisation_gradient_never_forms_u_times_v_transposed():
    src = cr.codegen(cr.parse("norm2(T-U*V')^2", U=("n", "r"), V=("m", "r")), "U", sizes={"r": 10})
    code = body(src, "grad")
    assert "V.T @ V" in code and "U @ V.T" not in code
    assert "distributed" in src.split('"""')[1]


def test_identities_are_absorbed_and_einsum_has_a_path():
    src = cr.codegen("sum(exp(x))", "x", hessian=True)
    assert "np.eye" not in body(src, "hessian")
    for target in ("numpy", "torch", "jax"):
        code = cr.codegen(cr.parse("tr(X'*A*X) + sum(log(1+exp(-y.*(X*w))))", X=("n", "n")), ["X", "A", "w"], target)
        assert "eye(" not in body(code, "value_and_grad" if target == "numpy" else "f")
    sources = [cr.codegen(text, "A", hessian=True) for text in ("tr(A*B*A)", "sum((A*B).*(B*A))", "x'*A*A*x")]
    for call in re.findall(r"np\.einsum\([^\n]*", "".join(sources)):
        operands = call.count(",") - call.count("optimize") * 2
        assert "optimize=" in call or operands <= 1, call


def test_common_subexpressions_are_computed_once():
    src = cr.codegen("sum(log(1+exp(-y.*(X*w))))", "w")
    code = body(src, "value_and_grad")
    assert code.count("X @") + code.count("@ X") == 2      # X*w once for both, X' times the weights once


def test_hvp_never_forms_the_hessian():
    src = cr.codegen("sum(log(1+exp(-y.*(X*w))))", "w", hvp=True)
    code = body(src, "hvp")
    assert "X.T @ X" not in code and "[:, None] * X" not in code


def test_output_is_deterministic():
    args = ("norm2(T-U*V')^2 + sum(exp(U))", ["U", "V"])
    for target in TARGETS:
        assert cr.codegen(*args, target=target) == cr.codegen(*args, target=target)


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
                    reason="ruff is not installed")
def test_generated_files_pass_the_projects_linter(tmp_path):
    # the batched models and a deep network too: their guards, unpacked tuples, formulas and Hessian tuples grow with
    # the expression (an 8-layer network's backward tests 17 flags in one `if`), and once ran past the line width
    # and the complexity limit
    ruff = str(Path(sys.executable).parent / "ruff") if (Path(sys.executable).parent / "ruff").exists() else "ruff"
    cases = [("sum(log(1+exp(-y.*(X*w))))", {}, ["w"], True), ("norm2(T-U*V')^2", {}, ["U", "V"], True),
             ("logdet(A) + x'*inv(A)*x + sum(unit(x))", {}, ["A", "x"], True), ("max(0, w'*x+b)", {}, ["w", "b"], True),
             ("det(A)", {}, ["A"], True), ("sum(cofactor(A))", {}, ["A"], True),   # det's helpers, with and without jvp
             (*TWO_LAYER_MLP, ["W1", "b1", "W2", "b2"], True), (*SOFTMAX_REGRESSION, ["W", "b"], True),
             (*deep_network(8), False)]
    for k, (text, decls, wrt, second_order) in enumerate(cases):
        for target in TARGETS:
            extra = {"jvp": True} if target == "torch" and k % 2 else {}
            (tmp_path / f"m{k}_{target}.py").write_text(cr.codegen(cr.parse(text, **decls), wrt, target, **extra,
                                                                   hessian=second_order, hvp=second_order))
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([ruff, "check", "--config", str(root / "pyproject.toml"), str(tmp_path)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_command_line_writes_the_same_module(tmp_path):
    out = tmp_path / "loss.py"
    run = subprocess.run([sys.executable, "-m", "chainrule.cli", "codegen", "sum(log(1+exp(-y.*(X*w))))", "--wrt", "w",
                          "--target", "torch", "--size", "n=500", "-o", str(out)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert out.read_text() == cr.codegen("sum(log(1+exp(-y.*(X*w))))", "w", "torch", sizes={"n": 500})
    both = subprocess.run([sys.executable, "-m", "chainrule.cli", "codegen", "x'*A*x", "--wrt", "x", "--wrt", "A",
                           "--target", "torch", "--hessian", "--hvp", "--jvp"], capture_output=True, text=True,
                          check=False)
    assert both.returncode == 0, both.stderr
    assert both.stdout == cr.codegen("x'*A*x", ["x", "A"], "torch", hessian=True, hvp=True, jvp=True) + "\n" or \
        both.stdout == cr.codegen("x'*A*x", ["x", "A"], "torch", hessian=True, hvp=True, jvp=True)
    bad = subprocess.run([sys.executable, "-m", "chainrule.cli", "codegen", "x'*A*x", "--wrt", "x", "--target", "jax",
                          "--jvp"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "--target torch" in bad.stderr


def test_errors_are_usage_errors():
    with pytest.raises(cr.UsageError, match="scalar function"):
        cr.codegen("A*x", "x")
    with pytest.raises(cr.UsageError, match="unknown target"):
        cr.codegen("x'*x", "x", target="tensorflow")
    with pytest.raises(cr.UsageError, match="option of the torch target"):
        cr.codegen("x'*A*x", ["x", "A"], "numpy", jvp=True)
    with pytest.raises(cr.DerivativeError, match="not a variable"):
        cr.codegen("x'*x", "z")


def test_large_temporaries_are_deleted_after_their_last_use():
    f = cr.parse("norm2(T-U*V')^2", U=("n", "r"), V=("m", "r"))
    code = body(cr.codegen(f, "U", sizes={"r": 10}), "value_and_grad")
    lines = [line.strip() for line in code.splitlines()]
    residual = next(line.split(" = ")[0] for line in lines if line.endswith("= T - U @ V.T"))   # the n×m matrix T-U*V'
    deleted = lines.index(f"del {residual}")
    assert all(residual not in line for line in lines[deleted + 1:])                   # deleted after its last reader
    assert "del" not in " ".join(lines[-1:])                                           # never a returned value
    small = body(cr.codegen(f, "U", sizes={"n": 10, "m": 10, "r": 2}), "value_and_grad")
    assert "del " not in small                                                         # small arrays are left alone
    jax_code = body(cr.codegen(f, "U", "jax", sizes={"r": 10}, hvp=True), "hvp")
    assert "del " not in jax_code                                                      # XLA plans JAX's memory


def test_the_torch_function_stores_its_forward_signature():
    # Function.apply binds its arguments to forward's signature on every call; the module computes it once
    torch = pytest.importorskip("torch")
    m = cr.compile("x'*A*x", ["x"], "torch")
    forward = m.f.__globals__["Expression"].forward
    assert "__signature__" in vars(forward)
    assert list(forward.__signature__.parameters) == ["x", "A"]
    x, a = torch.randn(3, dtype=torch.float64, requires_grad=True), torch.randn(3, 3, dtype=torch.float64)
    (g,) = torch.autograd.grad(m.f(x, a), [x])
    assert torch.allclose(g, (a + a.T) @ x.detach())


def _counting_apply(monkeypatch, function):
    """Counts the calls of function.apply (torch.autograd.Function's Python layer), still applying it."""
    calls = []
    original = function.apply

    def apply(*args):
        calls.append(args)
        return original(*args)
    monkeypatch.setattr(function, "apply", apply)
    return calls


def test_the_torch_f_calls_torchs_own_apply_outside_transforms_and_function_apply_under_them(monkeypatch):
    # Function.apply's Python layer costs about 10 µs a call; f skips it where nothing needs it, and goes through it
    # under torch.func transforms (vmap, grad) and torch.compile, which it hands the call to
    torch = pytest.importorskip("torch")
    m = cr.compile("x'*A*x", ["x"], "torch")
    function = m.f.__globals__["Expression"]
    calls = _counting_apply(monkeypatch, function)
    x, a = torch.randn(3, dtype=torch.float64, requires_grad=True), torch.randn(3, 3, dtype=torch.float64)
    value = m.f(x, a)
    assert not calls and type(value.grad_fn).__name__ == "ExpressionBackward"     # the same autograd node
    (g,) = torch.autograd.grad(value, [x])
    assert torch.allclose(g, (a + a.T) @ x.detach())
    batch = torch.randn(4, 3, dtype=torch.float64)
    grads = torch.func.vmap(torch.func.grad(m.f), in_dims=(0, None))(batch, a)
    assert len(calls) == 1                                                         # vmap of grad: through apply
    assert torch.allclose(grads, batch @ (a + a.T))
    compiled = torch.compile(m.f, fullgraph=True, backend="eager")               # no graph break: dynamo
    (compiled_g,) = torch.autograd.grad(compiled(x, a), [x])                    # traces function.apply
    assert torch.allclose(compiled_g, g)


def test_the_torch_f_unwraps_a_tensor_left_over_from_a_finished_transform_as_function_apply_does():
    # a tensor that escaped a torch.func transform is a dead wrapper: Function.apply unwraps it, and so must f, or its
    # value would carry a gradient node of the transform's finished level
    torch = pytest.importorskip("torch")
    m = cr.compile("x'*A*x", ["x"], "torch")
    leaked = []

    def escape(x):
        leaked.append(x)
        return (x * x).sum()
    torch.func.grad(escape)(torch.randn(3, dtype=torch.float64))
    a = torch.randn(3, 3, dtype=torch.float64)
    through_apply = m.f.__globals__["Expression"].apply(leaked[0], a)[0]
    value = m.f(leaked[0], a)
    assert value.grad_fn is None and through_apply.grad_fn is None
    assert torch.equal(value, through_apply)


def test_the_torch_f_uses_function_apply_where_torch_lacks_the_internals_it_skips_to(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.delattr(torch._C, "_are_functorch_transforms_active")    # a torch without it, while the module loads
    m = cr.compile("x'*A*x", ["x"], "torch")
    monkeypatch.undo()                                                      # torch's own apply needs it back
    function = m.f.__globals__["Expression"]
    assert m.f.__globals__["_apply"] == function.apply
    x, a = torch.randn(3, dtype=torch.float64, requires_grad=True), torch.randn(3, 3, dtype=torch.float64)
    (g,) = torch.autograd.grad(m.f(x, a), [x])
    assert torch.allclose(g, (a + a.T) @ x.detach())


def test_the_torch_backward_reads_the_partial_product_its_forward_saved():
    # x'*A*x: the forward computes A*x as a statement of its own and returns it; the backward's (A+A')*x then needs
    # one matrix-vector product, A'*x, as torch.autograd's does
    src = cr.codegen("x'*A*x", ["x"], "torch", sizes={"n": 1000})
    klass = src[src.index("class Expression"):src.index("# computed once")]
    forward = klass[klass.index("def forward"):klass.index("def setup_context")]
    backward = klass[klass.index("def backward"):]
    assert forward.count(" @ ") == 2 and "return value, A_x" in forward
    gradient = backward[backward.index("needs[0]:"):backward.rindex("return (")]
    assert gradient.count("@ A") + gradient.count("A @") == 1


def test_temporaries_are_named_after_what_they_are_where_a_short_name_says_it():
    # the roots after what they are, matrix products after their factors as @ writes them (t: transposed), functions
    # after themselves and their operand; the rest numbered, the matrix notation above each one saying what it is
    code = body(cr.codegen("sum(log(1+exp(-y.*(X*w))))", "w"), "value_and_grad")
    assert re.search(r"^\s*softplus = np\.logaddexp\(", code, re.MULTILINE) and "value = np.sum(softplus)" in code
    assert "sigmoid = _sigmoid(" in code and "grad_w = " in code and code.rstrip().endswith("return value, grad_w")
    code = body(cr.codegen("sum(tanh(A*x)) + sum(sum(exp(A'*B))) + sum(sum(exp(B*C')))", ["x", "B"]), "grad")
    for statement in ("A_x = A @ x", "tanh_A_x = np.tanh(A_x)", "At_B = A.T @ B", "exp_B_Ct = np.exp(B_Ct)",
                      "B_Ct = B @ C.T", "return (grad_x, grad_B)"):
        assert statement in code, code
    assert re.search(r"^\s*t\d+ = tanh_A_x \*\* 2\.0$", code, re.MULTILINE)    # the others numbered
    # a root keeps its name however long its variable's; a name that is taken (a variable's) is never given: the
    # statement is numbered instead
    assert "grad_hidden_weights = " in body(cr.codegen("sum(exp(hidden_weights*x))", "hidden_weights"), "grad")
    code = body(cr.codegen("sum(exp(A*x)) + sum(A_x)", "x", "numpy"), "value_and_grad")
    assert "A_x = A @ x" not in code and "exp = np.exp(" in code


def test_value_and_grad_computes_a_shared_partial_product_once():
    for target in ("numpy", "jax"):
        code = body(cr.codegen("x'*A*x", "x", target), "value_and_grad" if target == "numpy" else "_f_jvp")
        assert code.count("A @ x") == 1 and code.count(" @ ") == 3      # A*x, x'*(A*x), x'*A


def test_a_negation_that_only_sums_read_is_a_subtraction():
    code = body(cr.codegen("sum((W2*tanh(W1*x) - y).^2)", "W1"), "grad")
    assert "- y" in code and "= -y" not in code and "= 1.0 - " in code
    lse = body(cr.codegen("log(sum(exp(A*x)))", "x", "torch"), "grad")
    assert "= A_x - logsumexp" in lse and "= -" not in lse


SOFTMAX_REGRESSION = ("-sum(sum(Y.*logsoftmax(X*W + b', 2)))/size(X, 1)",
                      {"X": ("m", "n"), "W": ("n", "k"), "b": ("k",), "Y": ("m", "k")})


def test_the_log_softmax_reads_the_logits_with_their_bias():
    text, decls = SOFTMAX_REGRESSION
    code = body(cr.codegen(cr.parse(text, **decls), ["W", "b"], sizes={"m": 100, "n": 100, "k": 10}), "grad")
    logits = re.search(r"^\s*(\w+) = \w+ \+ b\[None, :\]$", code, re.MULTILINE)
    assert logits and code.count("b[None, :]") == 1                      # X*W + b' added once
    assert re.search(rf"= {logits.group(1)} - \w+\[:, None\]$", code, re.MULTILINE)


def test_a_negated_product_read_by_one_sum_is_subtracted_and_a_scalar_scales_the_reduced_operand():
    text, decls = SOFTMAX_REGRESSION
    code = body(cr.codegen(cr.parse(text, **decls), ["W", "b"], sizes={"m": 100, "n": 100, "k": 10}), "grad")
    assert "-(" not in code and re.search(r"= \w+ - \w+ \* Y$", code, re.MULTILINE)
    assert re.search(r"\(\w+ \* np\.sum\(Y, axis=\(1,\)\)\)", code)      # 1/m times the row sums, not times Y


TWO_LAYER_MLP = ("-sum(sum(Y.*logsoftmax(tanh(X*W1 + b1')*W2 + b2', 2)))/size(X, 1)",
                 {"X": ("m", "n"), "W1": ("n", "h"), "b1": ("h",), "W2": ("h", "k"), "b2": ("k",), "Y": ("m", "k")})
MLP_SIZES = {"m": 1000, "n": 1000, "h": 1000, "k": 10}


def test_a_layers_weights_and_bias_read_one_backpropagated_signal():
    # G1 = ((softmax - Y)/m*W2').*(1-A.^2) is computed once: the gradient by W1 is X'*G1, the one by b1 its column
    # sums (before, the bias's gradient contracted (softmax - Y)'*(1-A.^2) with W2 anew)
    text, decls = TWO_LAYER_MLP
    code = body(cr.codegen(cr.parse(text, **decls), ["W1", "b1", "W2", "b2"], sizes=MLP_SIZES), "grad")
    signal = re.search(r"^\s*(\w+) = \(\w+ @ W2\.T\) \* \w+$", code, re.MULTILINE)
    assert signal, code
    assert re.search(rf"= X\.T @ {signal.group(1)}$", code, re.MULTILINE)
    assert re.search(rf"= np\.sum\({signal.group(1)}, axis=\(0,\)\)$", code, re.MULTILINE)
    assert code.count("W2.T") == 1 and "einsum" not in code


def test_the_torch_backward_scales_the_shared_signal_where_it_is_small():
    # the upstream gradient multiplies the m×k matrix before it meets W2', never an m×h or n×h one
    text, decls = TWO_LAYER_MLP
    src = cr.codegen(cr.parse(text, **decls), ["W1", "b1", "W2", "b2"], "torch", sizes=MLP_SIZES)
    backward = src[src.index("def backward"):src.index("# computed once")]
    # and the derivative of tanh is applied in torch's one pass from the saved A = tanh(...): no (1 - A.^2) built
    signal = re.search(r"^\s*(\w+) = torch\.ops\.aten\.tanh_backward\(\(grad_output \* \w+\) @ W2\.T, tanh\)$",
                       backward, re.MULTILINE)
    assert signal, backward
    assert "** 2.0" not in backward and "1.0 -" not in backward
    assert re.search(rf"= X\.T @ {signal.group(1)}$", backward, re.MULTILINE)
    assert re.search(rf"= torch\.sum\({signal.group(1)}, dim=\(0,\)\)$", backward, re.MULTILINE)


def test_the_torch_forward_frees_what_it_does_not_return_and_no_zero_gradients_are_filled():
    text, decls = TWO_LAYER_MLP
    src = cr.codegen(cr.parse(text, **decls), ["W1", "b1", "W2", "b2"], "torch", sizes=MLP_SIZES)
    forward = src[src.index("def forward"):src.index("def setup_context")]
    lines = [line.strip() for line in forward.splitlines()]
    returned = set(re.findall(r"\w+", lines[-1].removeprefix("return ")))
    deleted = {name for line in lines if line.startswith("del ") for name in re.findall(r"\w+", line[4:])}
    assert deleted and not deleted & returned                     # X*W1 and X*W1+b1' freed; tanh(...) returned
    setup = src[src.index("def setup_context"):src.index("def backward")]
    assert "ctx.set_materialize_grads(False)" in setup and "mark_non_differentiable" in setup


def test_the_torch_autograd_function_reads_sizes_off_its_arguments_without_checking_their_shapes_again():
    # f checks the shapes before the function applies; forward and backward once checked all six arguments again, each,
    # to read the batch size, and a full reduction reshaped its operand first (a copy where it is not contiguous)
    text, decls = TWO_LAYER_MLP
    src = cr.codegen(cr.parse(text, **decls), ["W1", "b1", "W2", "b2"], "torch", sizes=MLP_SIZES, jvp=True)
    klass = src[src.index("class Expression"):src.index("def f(")]
    assert "_sizes(" not in klass and "Y.shape[0]" in klass
    assert "reshape" not in cr.codegen("log(sum(exp(A*x))) + max(max(A))", "x", "torch")


def test_a_deep_network_backpropagates_each_signal_once():
    # four layers: every gradient by a weight matrix or a bias reads its layer's signal, and each signal is the next
    # one's times that layer's weights, computed once (as a hand-written backward pass does)
    text = "-sum(sum(Y.*logsoftmax(tanh(tanh(tanh(X*W1 + b1')*W2 + b2')*W3 + b3')*W4 + b4', 2)))/size(X, 1)"
    decls = {"X": ("m", "n"), "Y": ("m", "k"), "W4": ("h", "k"), "b4": ("k",),
             **{f"W{k}": ("n" if k == 1 else "h", "h") for k in (1, 2, 3)}, **{f"b{k}": ("h",) for k in (1, 2, 3)}}
    wrt = [f"{p}{k}" for k in (1, 2, 3, 4) for p in "Wb"]
    code = body(cr.codegen(cr.parse(text, **decls), wrt, sizes={"m": 1000, "n": 1000, "h": 1000, "k": 10}), "grad")
    assert [code.count(f"@ W{k}.T") for k in (2, 3, 4)] == [1, 1, 1], code
    assert code.count(" @ ") == 4 + 3 + 4 and "einsum" not in code   # forward, signals, weight gradients


def test_the_torch_backward_reaches_the_inputs_in_reverse_order_of_the_forward():
    # as autograd does: the gradient by W2 (reading the hidden layer the forward computed last) before the one by W1
    text, decls = TWO_LAYER_MLP
    src = cr.codegen(cr.parse(text, **decls), ["W1", "b1", "W2", "b2"], "torch", sizes=MLP_SIZES)
    backward = src[src.index("def backward"):src.index("# computed once")]
    assert backward.index("tanh.T @ ") < backward.index("@ W2.T") < backward.index("X.T @ ")
    returned = [backward.index(f"if needs[{k}] else None") for k in range(6)]
    assert returned == sorted(returned)                                   # still returned in the inputs' order


def _global_reads(source: str) -> set[str]:
    """The names the module's functions read that are not their own: modules, constants, helpers, builtins."""
    found, tables = set(), [symtable.symtable(source, "module", "exec")]
    while tables:
        table = tables.pop()
        tables += table.get_children()
        if table.get_type() == "function":
            found |= {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
    return found


def test_no_variable_can_take_a_name_the_generated_functions_read():
    # a variable is a parameter of f, grad, forward, backward, ...: named isinstance or Expression it hid the builtin
    # or the autograd function those read, and the module failed when called
    for target in ("numpy", "torch", "jax"):
        reads = set()
        for text in ("sum(log(1+exp(-y.*(X*w))))", "log(sum(exp(A*x)))", "x'*inv(A)*x", "logdet(A)",
                     "norm2(T-U*V')^2"):
            f = cr.parse(text)
            for options in ({"hessian": True, "hvp": True}, {"jvp": True} if target == "torch" else {}):
                reads |= _global_reads(cr.codegen(f, list(f.variables)[-1:], target, **options))
        assert {"SHAPES", TARGETS[target].lib} <= reads                # the reads are found
        for name in sorted(reads):
            try:
                g = cr.parse(f"sum(exp({name}))", **{name: "vector"})
            except cr.ChainruleError:
                continue                                # not a variable's name in the language (sum, exp, _x)
            with pytest.raises(cr.UsageError, match="would hide"):
                cr.codegen(g, name, target)
