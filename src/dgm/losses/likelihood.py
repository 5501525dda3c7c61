"""Maximum likelihood for exact-likelihood models: the step every plain autoregressive model takes.

The objective is the mean negative log-likelihood −(1/B) Σ_b log p(x_b) in nats per example; it is
logged with its value in bits per dimension, −log₂ p(x) / D.
"""

import math
from typing import Any

import torch

from ..core.protocols import Backward


def maximum_likelihood_step(
    model: Any, x: torch.Tensor, optimizers: dict, backward: Backward, labels: torch.Tensor | None = None
) -> dict[str, float]:
    """One step of ``optimizers["adam"]`` on −mean log p(x) (or log p(x | labels)), x (B, *D).

    Returns ``loss`` (nats per example) and ``bits_per_dim``.
    """
    optimizer = optimizers["adam"]
    optimizer.zero_grad()
    log_prob = model.log_prob(x) if labels is None else model.log_prob(x, labels)  # (B,)
    loss = -log_prob.mean()
    backward(loss)
    optimizer.step()
    return {"loss": loss.item(), "bits_per_dim": loss.item() / (math.prod(x.shape[1:]) * math.log(2))}
