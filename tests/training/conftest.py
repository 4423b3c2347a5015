import pytest


@pytest.fixture(scope="module", autouse=True)
def torch_on_one_thread():
    """PyTorch on one thread while the training tests compare against it, as before them afterwards.

    Their tensors hold a few hundred numbers: handing them between threads costs far more than the arithmetic (on a
    busy two-core machine, 21 ms per backward pass instead of 0.2 ms)."""
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
