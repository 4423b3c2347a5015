"""The generated PyTorch and JAX modules run on a GPU unchanged: the same corpus as test_frameworks.py, its values
placed on the device, every value and gradient compared with chainrule's evaluate on the CPU. Skipped where no GPU is
available (the development machine has none: these run only where one is)."""
import pytest
from corpus import CORPUS, ident
from test_frameworks import _expected, close

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)


def _jax_gpu():
    try:
        return jax.devices("gpu")[0]
    except RuntimeError:        # no GPU backend in this JAX installation, or no device
        return None


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU for torch")
needs_jax_gpu = pytest.mark.skipif(_jax_gpu() is None, reason="needs a GPU backend for JAX")


@needs_cuda
@pytest.mark.parametrize("row", CORPUS, ids=[ident(r) for r in CORPUS])
def test_torch_module_on_cuda(generated, row):
    text, wrt, decls = row
    f, at, grads = _expected(text, wrt, decls)
    m = generated(text, wrt, decls, "torch")
    tensors = {k: torch.tensor(v, dtype=torch.float64, device="cuda", requires_grad=True) for k, v in at.items()}
    value = m.f(**tensors)
    assert value.device.type == "cuda"
    close(value.detach().cpu(), f.evaluate(at))
    for name, g in zip(f.variables, torch.autograd.grad(value, list(tensors.values())), strict=True):
        assert g.device.type == "cuda"
        close(g.cpu(), grads[name])
    direct = m.grad(**tensors)
    for name, g in zip(wrt, direct if len(wrt) > 1 else (direct,), strict=True):
        close(g.detach().cpu(), grads[name])


@needs_jax_gpu
@pytest.mark.parametrize("row", CORPUS, ids=[ident(r) for r in CORPUS])
def test_jax_module_on_gpu(generated, row):
    text, wrt, decls = row
    f, at, grads = _expected(text, wrt, decls)
    m = generated(text, wrt, decls, "jax")
    device = _jax_gpu()
    arrays = {k: jax.device_put(jax.numpy.asarray(v, dtype=jax.numpy.float64), device) for k, v in at.items()}
    value = jax.jit(m.f)(**arrays)
    assert device in value.devices()
    close(jax.device_get(value), f.evaluate(at))
    direct = jax.jit(m.grad)(**arrays)
    for name, g in zip(wrt, direct if len(wrt) > 1 else (direct,), strict=True):
        assert device in g.devices()
        close(jax.device_get(g), grads[name])
