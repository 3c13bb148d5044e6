"""Penalty tests run single-threaded: their tensors are small, and on a loaded 2-core machine
OpenMP barriers made each elementwise op ~100x slower with 2 threads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
