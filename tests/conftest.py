"""Shared test set-up: small thread count (CI has 2 cores), fast mode for notebooks, isolated dirs."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("SLOWFAST_LAB_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(min(2, os.cpu_count() or 1))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA: no GPU on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)
