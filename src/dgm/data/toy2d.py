"""Generated 2-D sets for mode coverage and GAN stability.

- ``grid25``: 25 Gaussians, means on {−4, −2, 0, 2, 4}², σ = 0.05 (PacGAN, Lin et al. 2018).
- ``ring8``: 8 Gaussians on a circle of radius 2, σ = 0.02.
- ``spiral``: a noisy two-turn spiral; ``moons``: scikit-learn's two moons.

Every set is drawn once with a fixed seed: 20,000 training and 2,500 test points.
"""

import math

import torch
from sklearn.datasets import make_moons

from .base import Dataset

NUM_TRAIN, NUM_TEST = 20_000, 2_500


def _mixture(name: str, modes: torch.Tensor, std: float) -> Dataset:
    generator = torch.Generator().manual_seed(0)
    n = NUM_TRAIN + NUM_TEST
    component = torch.randint(len(modes), (n,), generator=generator)  # (n,)
    points = modes[component] + std * torch.randn(n, 2, generator=generator)  # (n, 2)
    return Dataset(
        name,
        "points",
        points[:NUM_TRAIN],
        points[NUM_TRAIN:],
        component[:NUM_TRAIN],
        component[NUM_TRAIN:],
        modes=modes,
        mode_std=std,
    )


def load_grid25() -> Dataset:
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    modes = torch.cartesian_prod(axis, axis)  # (25, 2)
    return _mixture("grid25", modes, 0.05)


def load_ring8() -> Dataset:
    angles = torch.arange(8) * (2 * math.pi / 8)
    modes = 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)  # (8, 2)
    return _mixture("ring8", modes, 0.02)


def load_spiral() -> Dataset:
    generator = torch.Generator().manual_seed(0)
    n = NUM_TRAIN + NUM_TEST
    t = torch.rand(n, generator=generator).sqrt() * 4 * math.pi  # (n,) denser towards the outside
    radius = t / (4 * math.pi) * 4
    points = torch.stack([radius * t.cos(), radius * t.sin()], dim=1)  # (n, 2)
    points = points + 0.05 * torch.randn(n, 2, generator=generator)
    return Dataset("spiral", "points", points[:NUM_TRAIN], points[NUM_TRAIN:])


def load_moons() -> Dataset:
    points, labels = make_moons(NUM_TRAIN + NUM_TEST, noise=0.05, random_state=0)
    points = torch.tensor(points, dtype=torch.float32)  # (n, 2)
    labels = torch.tensor(labels, dtype=torch.int64)
    return Dataset("moons", "points", points[:NUM_TRAIN], points[NUM_TRAIN:], labels[:NUM_TRAIN], labels[NUM_TRAIN:])
