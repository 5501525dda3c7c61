"""Row-by-row evaluation of raster-masked convolution stacks: fast, exact PixelCNN sampling.

Sampling pixel (r, c) of a PixelCNN needs the network output at row r only, and with raster masks
every layer's output at row r depends on its input at rows ≤ r: a type-A/B masked k×k kernel
reads rows r − k//2 … r (the rows below the centre are masked out), and 1×1 convolutions and
element-wise activations read row r alone. Activations of rows above r never change once those
rows are drawn. So each masked convolution keeps a buffer of its past input rows, and one step
evaluates every layer on a single 1×W strip instead of the whole H×W map (Ramachandran et al.
2017, "Fast Generation for Convolutional Autoregressive Models", applied a row at a time). The
arithmetic is that of the full network restricted to one row, so samples drawn with the same
generator match naive sampling.

A module that is neither a ``Sequential``, a ``MaskedConv2d``, a 1×1 ``Conv2d`` nor an element-wise
activation takes part by defining ``row_step(x_row, row, cache)`` (e.g. a residual block returns
``x_row + cache.step(self.body, x_row, row)``), using ``cache.window`` for the rows it reads above;
any other module is refused rather than cached wrongly.
"""

from collections.abc import Hashable

import torch
import torch.nn.functional as F
from torch import nn

from .masked import MaskedConv2d

ELEMENTWISE = (nn.ReLU, nn.ELU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.Identity, nn.GELU)


class RowCache:
    """Evaluates ``network`` one output row at a time, remembering the input rows of masked convolutions."""

    def __init__(self, height: int) -> None:
        self.height = height
        self.buffers: dict[Hashable, torch.Tensor] = {}  # key -> (B, C, above + H, W), zero rows on top

    def window(self, key: Hashable, x_row: torch.Tensor, row: int, above: int) -> torch.Tensor:
        """Store ``x_row`` (B, C, 1, W) as row ``row`` of buffer ``key``; return its rows ``row − above … row``.

        -> (B, C, above + 1, W), with zeros for rows above the image (the same zero padding as the full map).
        """
        buffer = self.buffers.get(key)
        if buffer is None:
            batch, channels, _, width = x_row.shape
            buffer = self.buffers[key] = x_row.new_zeros(batch, channels, above + self.height, width)
        buffer[:, :, above + row] = x_row[:, :, 0]
        return buffer[:, :, row : row + above + 1]

    def step(self, module: nn.Module, x_row: torch.Tensor, row: int) -> torch.Tensor:
        """The output of ``module`` at ``row``: (B, C_in, 1, W) -> (B, C_out, 1, W)."""
        if hasattr(module, "row_step"):
            return module.row_step(x_row, row, self)
        if isinstance(module, nn.Sequential):
            for layer in module:
                x_row = self.step(layer, x_row, row)
            return x_row
        if isinstance(module, MaskedConv2d):
            return self._masked_conv_row(module, x_row, row)
        if isinstance(module, nn.Conv2d) and module.kernel_size == (1, 1):
            return module(x_row)
        if isinstance(module, ELEMENTWISE):
            return module(x_row)
        raise TypeError(f"RowCache cannot evaluate {type(module).__name__} row by row; define row_step on it")

    def _masked_conv_row(self, conv: MaskedConv2d, x_row: torch.Tensor, row: int) -> torch.Tensor:
        pad = conv.kernel_size[0] // 2
        window = self.window(id(conv), x_row, row, above=pad)  # input rows row − pad … row: (B, C_in, pad + 1, W)
        weight = (conv.weight * conv.mask)[:, :, : pad + 1]  # the unmasked upper half of the kernel
        return F.conv2d(window, weight, conv.bias, padding=(0, conv.kernel_size[1] // 2))  # (B, C_out, 1, W)
