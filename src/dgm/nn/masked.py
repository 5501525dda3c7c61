"""Masked convolutions for autoregressive image models (van den Oord et al. 2016, PixelCNN, §3.5).

Pixels are ordered in raster order (row by row, left to right). A type-``A`` mask lets output
pixel i see inputs at pixels j < i only; type ``B`` also lets it see pixel i itself, which is safe
in every layer after the first because those features already depend only on j < i.
Single-channel data only: the channel-wise R/G/B masking of colour images is not needed here.
"""

import itertools
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


class MaskedLinear(nn.Linear):
    """A ``Linear`` layer whose weight is multiplied by a fixed-shape mask that can be swapped.

    ``set_mask(mask)`` with ``mask`` (out_features, in_features) of 0/1 values; MADE changes masks
    between steps (connectivity-agnostic training), so the mask is a buffer, saved with the model.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self.register_buffer("mask", torch.ones(out_features, in_features))

    def set_mask(self, mask: torch.Tensor) -> None:
        self.mask.copy_(mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)  # (B, out)


def made_degrees(
    num_inputs: int, hidden_sizes: tuple[int, ...], order: torch.Tensor, generator: torch.Generator
) -> list[torch.Tensor]:
    """Degrees m(k) of every unit (Germain et al. 2015, §4.2).

    ``order`` (D,) is a permutation of 0..D−1: input d is the ``order[d]``-th variable to be
    generated, so its degree is ``order[d] + 1``. A hidden unit's degree is drawn uniformly from
    [min degree of the layer below, D − 1], so it can connect to something and never to input D.
    Returns [input degrees (D,), hidden degrees (H_1,), ..., (H_L,)].
    """
    degrees = [order + 1]
    for size in hidden_sizes:
        low = min(int(degrees[-1].min()), num_inputs - 1)
        degrees.append(torch.randint(low, num_inputs, (size,), generator=generator))
    return degrees


def made_masks(degrees: list[torch.Tensor]) -> list[torch.Tensor]:
    """Masks from degrees (eqs. 12–13): hidden M[k', k] = 1[m_l(k') ≥ m_{l−1}(k)];
    output M[d, k] = 1[m_0(d) > m_L(k)], so output d sees only inputs generated before it."""
    hidden = [(upper.unsqueeze(1) >= lower.unsqueeze(0)).float() for lower, upper in itertools.pairwise(degrees)]
    output = (degrees[0].unsqueeze(1) > degrees[-1].unsqueeze(0)).float()  # (D, H_L)
    return [*hidden, output]


class ContextMADE(nn.Module):
    """A MADE over D inputs that also reads an unmasked context h, with k outputs per input.

    (..., D), (..., C) -> (..., k, D). Output [j, d] depends on the inputs generated before d in
    ``order`` (masks of eqs. 12–13, Germain et al. 2015) and on all of h, which enters the first
    hidden layer through an unmasked ``Linear`` — the AutoregressiveNN(z, h) of IAF (Kingma et al.
    2016, §4). Leading dimensions broadcast between the inputs and the context.
    """

    def __init__(
        self,
        num_inputs: int,
        hidden_sizes: tuple[int, ...],
        context_dim: int,
        outputs_per_input: int,
        order: torch.Tensor,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.num_inputs = num_inputs
        self.outputs_per_input = outputs_per_input
        sizes = [num_inputs, *hidden_sizes]
        self.hidden = nn.ModuleList(MaskedLinear(a, b) for a, b in itertools.pairwise(sizes))
        self.context = nn.Linear(context_dim, hidden_sizes[0])
        self.output = MaskedLinear(hidden_sizes[-1], outputs_per_input * num_inputs)
        *hidden_masks, output_mask = made_masks(made_degrees(num_inputs, hidden_sizes, order, generator))
        for layer, mask in zip(self.hidden, hidden_masks, strict=True):
            layer.set_mask(mask)
        self.output.set_mask(output_mask.repeat(outputs_per_input, 1))  # (k·D, H_L): row j·D + d is output [j, d]

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        h = nn.functional.elu(self.hidden[0](x) + self.context(context))  # (..., H_1)
        for layer in self.hidden[1:]:
            h = nn.functional.elu(layer(h))  # (..., H_l)
        return self.output(h).unflatten(-1, (self.outputs_per_input, self.num_inputs))  # (..., k, D)
