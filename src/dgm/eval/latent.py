"""Latent-space views of a latent-variable model."""

import torch

from ..core.protocols import LatentVariableModel


@torch.no_grad()
def latent_interpolation(
    model: LatentVariableModel, x_start: torch.Tensor, x_end: torch.Tensor, num_steps: int = 8
) -> torch.Tensor:
    """Decode points on the line between the posterior means of pairs of inputs.

    ``x_start``, ``x_end``: (P, *D) -> (P, num_steps, *D) decoder means E[x|z_t],
    z_t = (1 − t) μ(x_start) + t μ(x_end), t in [0, 1].
    """
    z_start = model.encode(x_start).mean  # (P, Z)
    z_end = model.encode(x_end).mean
    t = torch.linspace(0, 1, num_steps, device=z_start.device).view(1, num_steps, 1)  # (1, T, 1)
    z = (1 - t) * z_start.unsqueeze(1) + t * z_end.unsqueeze(1)  # (P, T, Z)
    return model.decode(z).mean  # (P, T, *D)
