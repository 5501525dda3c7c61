"""Shared fixtures: every test starts from fixed seeds; runs go to a temporary folder. Inside a pytest-xdist
worker (``make test``: one per CPU) torch runs one thread."""

import os
import random

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
