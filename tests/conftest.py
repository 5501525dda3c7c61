"""Shared fixtures: every test starts from fixed seeds; runs go to a temporary folder. Inside a pytest-xdist
worker (``make test``: one per CPU) torch runs one thread. ``bench_module`` imports a benchmark script's module."""

import importlib
import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test`: one worker per CPU, so one thread each
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.fixture
def bench_module(monkeypatch, request):
    """``bench_module(name)``: ``benchmarks/<name>.py`` imported afresh, with ``benchmarks/`` on the path (as the
    scripts run), for this test only: after it, the module leaves ``sys.modules`` (an earlier import of it comes
    back)."""

    def load(name: str):
        monkeypatch.syspath_prepend(str(BENCHMARKS))
        monkeypatch.delitem(sys.modules, name, raising=False)  # a fresh import, not an earlier test's module
        request.addfinalizer(lambda: sys.modules.pop(name, None))  # before monkeypatch restores an earlier one
        return importlib.import_module(name)

    return load
