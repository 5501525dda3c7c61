"""Seeding and the capture/restore of every random number generator, for bit-exact resume.

All states are returned as JSON-serialisable values so that checkpoints never need pickle.
"""

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _tensor_to_list(state: torch.Tensor) -> list[int]:
    return state.to(torch.uint8).tolist()


def capture_rng_state() -> dict[str, Any]:
    """Every global RNG state as plain lists and numbers."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": _tensor_to_list(torch.get_rng_state()),
    }
    if torch.cuda.is_available():
        state["cuda"] = [_tensor_to_list(s) for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


def generator_state(generator: torch.Generator) -> list[int]:
    """A ``torch.Generator``'s state as a list of bytes."""
    return _tensor_to_list(generator.get_state())


def set_generator_state(generator: torch.Generator, state: list[int]) -> None:
    generator.set_state(torch.tensor(state, dtype=torch.uint8))
