"""Likelihood metrics: exact NLL and bits/dim for density models, IWAE-k estimates for latent ones.

Units are in the names: ``nll_nats`` is −log p(x) per example in nats (lower is better);
``bits_per_dim`` is nll_nats / (D · ln 2).
"""

import math

import torch

from ..core.protocols import DensityModel, LatentVariableModel
from ..losses.elbo import iwae_bound


def bits_per_dim(nll_nats: float, num_dims: int) -> float:
    """Convert a per-example NLL in nats to bits per dimension."""
    return nll_nats / (num_dims * math.log(2))


@torch.no_grad()
def _mean_over_batches(per_example, data: torch.Tensor, batch_size: int, labels: torch.Tensor | None = None) -> float:
    """Mean of ``per_example(chunk[, labels]) -> (b,)`` over ``data`` (N, *D), in float64."""
    if labels is None:
        total = sum(per_example(chunk).double().sum().item() for chunk in data.split(batch_size))
    else:
        chunks = zip(data.split(batch_size), labels.split(batch_size), strict=True)
        total = sum(per_example(chunk, y).double().sum().item() for chunk, y in chunks)
    return total / len(data)


def mean_log_prob(
    model: DensityModel, data: torch.Tensor, batch_size: int = 256, labels: torch.Tensor | None = None
) -> float:
    """Mean exact log p(x) (or log p(x | labels)) in nats over ``data`` (N, *D) for a ``DensityModel``."""
    return _mean_over_batches(model.log_prob, data, batch_size, labels)


def mean_elbo(model: LatentVariableModel, data: torch.Tensor, batch_size: int = 256) -> float:
    """Mean one-sample ELBO in nats over ``data`` for a ``LatentVariableModel``."""
    return _mean_over_batches(model.elbo, data, batch_size)


@torch.no_grad()
def iwae_log_likelihood(
    model: LatentVariableModel, x: torch.Tensor, num_samples: int, chunk_size: int = 100
) -> torch.Tensor:
    """(B, *D) -> (B,) IWAE-k lower bound on log p(x) (Burda et al. 2016, eq. 8), k = ``num_samples``.

    log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x), z_i ~ q(z|x); the k samples are drawn in
    chunks so memory stays bounded for large k.
    """
    posterior = model.encode(x)
    prior = model.prior()
    log_weights = []
    remaining = num_samples
    while remaining > 0:
        size = min(chunk_size, remaining)
        z = posterior.sample((size,))  # (size, B, Z)
        log_weights.append(model.decode(z).log_prob(x) + prior.log_prob(z) - posterior.log_prob(z))  # (size, B)
        remaining -= size
    return iwae_bound(torch.cat(log_weights))  # (B,)


def mean_iwae_log_likelihood(
    model: LatentVariableModel, data: torch.Tensor, num_samples: int, batch_size: int = 64
) -> float:
    """Mean IWAE-k estimate of log p(x) in nats over ``data``."""
    return _mean_over_batches(lambda chunk: iwae_log_likelihood(model, chunk, num_samples), data, batch_size)
