"""The contracts every dgm model fulfils. Shapes are part of the contract.

Notation: ``B`` batch size, ``D`` data shape (``(C, H, W)`` for images, ``(d,)`` for points),
``Z`` latent size. Log-likelihoods are in nats, one value per example.

A model is a ``torch.nn.Module`` that is ``Trainable`` and one (or more) of ``DensityModel``,
``LatentVariableModel`` and ``ImplicitGenerator``. The training loop only ever talks to
``Trainable``; evaluation picks its metrics from the other protocols.
"""

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
from torch.distributions import Distribution

Backward = Callable[[torch.Tensor], None]
"""Fabric's ``backward``: use it instead of ``loss.backward()`` so precision and devices are handled."""


@runtime_checkable
class Trainable(Protocol):
    """What the one training loop needs from a model.

    ``batch_size`` is the number of data examples one ``train_step`` consumes (a GAN with ``k``
    critic steps takes ``k`` minibatches at once). ``train_step`` performs the model's whole update
    for one step (zero grads, forward, ``backward``, ``optimizer.step()``) and returns the scalar
    losses to log, as Python floats.
    """

    batch_size: int

    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...

    def train_step(
        self, batch: torch.Tensor, optimizers: dict[str, torch.optim.Optimizer], backward: Backward
    ) -> dict[str, float]:
        """``batch``: (batch_size, *D) floats. Returns e.g. ``{"loss": 93.1}``."""
        ...


@runtime_checkable
class DensityModel(Protocol):
    """Exact likelihood: autoregressive models, flows."""

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *D) -> (B,): exact log p(x) in nats."""
        ...

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (n, *D) samples, in the data's range ([0, 1] for images)."""
        ...


@runtime_checkable
class LatentVariableModel(Protocol):
    """p(x) = ∫ p(x|z) p(z) dz with an amortised posterior q(z|x); log p is only ever estimated."""

    latent_dim: int

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *D) -> (B,): evidence lower bound in nats (single-sample estimate)."""
        ...

    def encode(self, x: torch.Tensor) -> Distribution:
        """(B, *D) -> q(z|x) with batch shape (B,) and event shape (Z,)."""
        ...

    def decode(self, z: torch.Tensor) -> Distribution:
        """(B, Z) -> p(x|z) with batch shape (B,) and event shape D."""
        ...

    def prior(self) -> Distribution:
        """p(z) with event shape (Z,)."""
        ...

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (n, *D) samples of x."""
        ...


@runtime_checkable
class ImplicitGenerator(Protocol):
    """A sampler without a likelihood: every GAN."""

    latent_dim: int

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """(B, Z) noise -> (B, *D) samples."""
        ...

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (n, *D) samples."""
        ...


@runtime_checkable
class Adversarial(Protocol):
    """An objective between a critic and a generator, separate from both architectures.

    Inputs are the critic's raw outputs on real and generated examples, each (B,).
    """

    def critic_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        """-> scalar the critic minimises."""
        ...

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        """-> scalar the generator minimises."""
        ...
