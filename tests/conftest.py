import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's torch work on one thread.

    The tensors of the in-context-transformer tests are tiny, and on a loaded 2-core machine
    OpenMP's spin-waiting threads made the training test 10x slower (2.7 s against 26 s measured
    beside one busy process). Modules opt in with ``pytestmark = pytest.mark.usefixtures(...)``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
