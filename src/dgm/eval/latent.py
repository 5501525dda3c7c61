"""Latent-space views of a latent-variable model: interpolations, traversals, active units.

- Linear interpolation decodes z_t = (1 − t) z_0 + t z_1. Spherical interpolation (slerp; White
  2016, "Sampling Generative Networks", §2.1) follows the great circle,
  z_t = sin((1 − t)Ω)/sin Ω · z_0 + sin(tΩ)/sin Ω · z_1 with cos Ω = ẑ_0 · ẑ_1, which keeps the
  points at the norms a Gaussian prior puts its mass on, where the straight line cuts through the
  low-density centre.
- A traversal varies one latent dimension over ±2.5 prior standard deviations with the others held
  at an input's posterior mean (Higgins et al. 2017, β-VAE, fig. 1 and 7).
- Active units (Burda et al. 2016, §5.2): dimension u is active when Cov_x(E_{q(u|x)}[u]) > 10⁻².
"""

from typing import Literal

import torch

from ..core.protocols import LatentVariableModel

ACTIVE_UNIT_THRESHOLD = 1e-2


def slerp(z_start: torch.Tensor, z_end: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(..., Z), (..., Z), t broadcastable to (..., 1) -> (..., Z) on the great circle; linear when parallel."""
    unit_start = z_start / z_start.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    unit_end = z_end / z_end.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    omega = torch.acos((unit_start * unit_end).sum(-1, keepdim=True).clamp(-1, 1))  # (..., 1) Ω
    sin_omega = torch.sin(omega)
    parallel = sin_omega.abs() < 1e-6
    safe = torch.where(parallel, torch.ones_like(sin_omega), sin_omega)
    spherical = (torch.sin((1 - t) * omega) * z_start + torch.sin(t * omega) * z_end) / safe
    return torch.where(parallel, (1 - t) * z_start + t * z_end, spherical)


@torch.no_grad()
def latent_interpolation(
    model: LatentVariableModel,
    x_start: torch.Tensor,
    x_end: torch.Tensor,
    num_steps: int = 8,
    method: Literal["linear", "slerp"] = "linear",
) -> torch.Tensor:
    """Decode points on the path between the posterior means of pairs of inputs.

    ``x_start``, ``x_end``: (P, *D) -> (P, num_steps, *D) decoder means E[x|z_t], t in [0, 1].
    """
    z_start = model.encode(x_start).mean.unsqueeze(1)  # (P, 1, Z)
    z_end = model.encode(x_end).mean.unsqueeze(1)
    t = torch.linspace(0, 1, num_steps, device=z_start.device, dtype=z_start.dtype).view(1, num_steps, 1)  # (1, T, 1)
    z = (1 - t) * z_start + t * z_end if method == "linear" else slerp(z_start, z_end, t)  # (P, T, Z)
    return model.decode(z).mean  # (P, T, *D)


@torch.no_grad()
def latent_traversal(
    model: LatentVariableModel, x: torch.Tensor, dims: list[int], num_steps: int = 9, extent: float = 2.5
) -> torch.Tensor:
    """Vary each dimension in ``dims`` over [−extent, extent] (prior standard deviations) about the
    posterior mean of one input ``x`` (*D) -> (len(dims), num_steps, *D) decoder means."""
    centre = model.encode(x.unsqueeze(0)).mean[0]  # (Z,)
    values = torch.linspace(-extent, extent, num_steps, device=centre.device, dtype=centre.dtype)  # (T,)
    z = centre.repeat(len(dims), num_steps, 1)  # (R, T, Z)
    for row, dim in enumerate(dims):
        z[row, :, dim] = values
    return model.decode(z).mean  # (R, T, *D)


@torch.no_grad()
def posterior_mean_variance(model: LatentVariableModel, data: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """(N, *D) -> (Z,) Cov_x(E_q[u]) per latent dimension u, over the examples of ``data``."""
    means = torch.cat([model.encode(chunk).mean for chunk in data.split(batch_size)])  # (N, Z)
    return means.double().var(dim=0)


def active_units(model: LatentVariableModel, data: torch.Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """How many latent dimensions have Cov_x(E_q[u]) above ``threshold`` (Burda et al. 2016, §5.2)."""
    return int((posterior_mean_variance(model, data) > threshold).sum())


def code_sizes(bottleneck_dim: int) -> list[int]:
    """1, 2, 4, … up to and including ``bottleneck_dim``: the rates of a rate–distortion table."""
    sizes = [2**i for i in range(bottleneck_dim.bit_length()) if 2**i < bottleneck_dim]
    return [*sizes, bottleneck_dim]


def quantize(values: torch.Tensor, low: torch.Tensor, high: torch.Tensor, bits: int) -> torch.Tensor:
    """Round each column of ``values`` (N, K) to 2^bits levels evenly spaced on [low, high] (K,) each."""
    levels = 2**bits - 1
    span = (high - low).clamp_min(1e-12)
    return low + torch.round(((values - low) / span).clamp(0, 1) * levels) / levels * span


@torch.no_grad()
def rate_distortion(
    model: torch.nn.Module, data: torch.Tensor, sizes: list[int], bits_per_value: int = 8
) -> list[dict[str, float]]:
    """An operational rate–distortion table for an ordered-code autoencoder against PCA.

    For each k in ``sizes``: the first k code values of every example in ``data`` (N, *D) are
    quantised to ``bits_per_value`` bits on their observed range (rate = k · bits bits per example),
    decoded with the rest zeroed, and scored by the squared error per example. PCA with k components,
    fitted on ``data`` itself (so the linear baseline is, if anything, flattered) and quantised the
    same way, gives the baseline. Returns rows {code_dims, rate_bits, squared_error, pca_squared_error},
    the errors summed over the values of an example and averaged over examples.
    """
    flat = data.flatten(1).double()  # (N, D)
    mean = flat.mean(dim=0)
    _, _, basis = torch.linalg.svd(flat - mean, full_matrices=False)  # (min(N, D), D) principal axes
    code = model.encode(data)  # (N, K)
    rows = []
    for size in sizes:
        first = code[:, :size]  # (N, k)
        kept = quantize(first, first.min(0).values, first.max(0).values, bits_per_value)  # (N, k)
        padded = torch.cat([kept, code.new_zeros(len(code), code.shape[1] - size)], dim=1)  # (N, K)
        squared_error = (data - model.decode(padded)).pow(2).flatten(1).sum(1).double().mean()  # per example
        scores = (flat - mean) @ basis[:size].T  # (N, k)
        scores = quantize(scores, scores.min(0).values, scores.max(0).values, bits_per_value)
        pca_squared_error = (flat - mean - scores @ basis[:size]).pow(2).sum(1).mean()
        rows.append({
            "code_dims": float(size), "rate_bits": float(size * bits_per_value),
            "squared_error": squared_error.item(), "pca_squared_error": pca_squared_error.item(),
        })  # fmt: skip
    return rows
