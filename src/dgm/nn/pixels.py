"""Discrete pixel likelihoods shared by the PixelCNN family: binary (one Bernoulli logit per pixel)
or L-way categorical (L logits per pixel, van den Oord et al. 2016a, eq. 2), single channel."""

import torch
import torch.nn.functional as F


def to_levels(x: torch.Tensor, num_levels: int) -> torch.Tensor:
    """Floats in [0, 1] -> integer levels 0..L−1 as floats, same shape."""
    return (x * (num_levels - 1)).round().clamp(0, num_levels - 1)


def centred(levels: torch.Tensor, num_levels: int) -> torch.Tensor:
    """Levels 0..L−1 -> network inputs in [−1, 1]."""
    return levels / (num_levels - 1) * 2 - 1


def pixel_log_prob(logits: torch.Tensor, levels: torch.Tensor, num_levels: int) -> torch.Tensor:
    """log p(x) summed over pixels: logits (B, 1 or L, H, W), levels (B, 1, H, W) -> (B,) nats."""
    if num_levels == 2:
        per_pixel = -F.binary_cross_entropy_with_logits(logits, levels, reduction="none")  # (B, 1, H, W)
    else:
        per_pixel = -F.cross_entropy(logits, levels[:, 0].long(), reduction="none")  # (B, H, W)
    return per_pixel.flatten(1).sum(dim=1)


def draw_pixel(logits: torch.Tensor, num_levels: int, generator: torch.Generator | None) -> torch.Tensor:
    """One pixel's logits (n, 1 or L) -> (n,) values drawn from it, scaled to [0, 1]."""
    if num_levels == 2:
        return torch.bernoulli(torch.sigmoid(logits[:, 0]), generator=generator)
    return torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0] / (num_levels - 1)
