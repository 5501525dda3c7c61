"""Masked convolutions for autoregressive image models (van den Oord et al. 2016, PixelCNN, §3.5).

Pixels are ordered in raster order (row by row, left to right). A type-``A`` mask lets output
pixel i see inputs at pixels j < i only; type ``B`` also lets it see pixel i itself, which is safe
in every layer after the first because those features already depend only on j < i.
Single-channel data only: the channel-wise R/G/B masking of colour images is not needed here.
"""

from typing import Literal

import torch
from torch import nn


def raster_mask(kernel_size: int, mask_type: Literal["A", "B"]) -> torch.Tensor:
    """(k, k) mask: 1 above the centre row, and left of the centre (type A) or up to it (type B)."""
    mask = torch.zeros(kernel_size, kernel_size)
    centre = kernel_size // 2
    mask[:centre, :] = 1
    mask[centre, : centre + (mask_type == "B")] = 1
    return mask


class MaskedConv2d(nn.Conv2d):
    """A same-padded ``Conv2d`` whose kernel is multiplied by a raster mask on every call."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: Literal["A", "B"]) -> None:
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.mask_type = mask_type
        self.register_buffer("mask", raster_mask(kernel_size, mask_type), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)  # (B, out, H, W)
