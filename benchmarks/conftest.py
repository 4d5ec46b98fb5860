"""Fixtures of the benchmarks."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """One torch thread: on a shared 2-core machine two OpenMP threads spin against the other jobs
    and measure the thread pool rather than the code."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
