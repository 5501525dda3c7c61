"""PixelCNN building blocks (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural
Networks", §3.5), shared by the unconditional PixelCNN and by decoders conditioned on a feature map.

- ``ResidualBlock``: Fig. 5's residual block around a type-B masked 3×3 convolution.
- ``ConditionalPixelCNNStack``: a type-A masked k×k layer, residual blocks and a 1×1 head, with a
  conditioning map s (B, C_s, H, W) added after every layer through a 1×1 convolution: the spatial
  conditioning of van den Oord et al. 2016b ("Conditional Image Generation with PixelCNN Decoders",
  §2.3, the term V ∗ s of the map s = m(h)). s must not depend on the pixels being modelled (in
  PixelVAE it is upsampled from the latent z), so output pixel i still depends on inputs j < i only.

Both evaluate one row at a time for sampling (``dgm.nn.row_cache``).

Example::

    stack = ConditionalPixelCNNStack(1, conditioning_channels=4, channels=32, num_residual_blocks=2)
    logits = stack(images * 2 - 1, feature_map)  # (B, 1, H, W) and (B, 4, H, W) -> (B, 1, H, W)
"""

import torch
from torch import nn

from .masked import MaskedConv2d
from .row_cache import RowCache


class ResidualBlock(nn.Module):
    """Fig. 5: ReLU, 1×1 (2h -> h), ReLU, masked 3×3 type B (h -> h), ReLU, 1×1 (h -> 2h), plus input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        half = channels // 2
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, half, 1),
            nn.ReLU(),
            MaskedConv2d(half, half, 3, "B"),
            nn.ReLU(),
            nn.Conv2d(half, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)  # (B, 2h, H, W)

    def row_step(self, x_row: torch.Tensor, row: int, cache: RowCache) -> torch.Tensor:
        return x_row + cache.step(self.body, x_row, row)  # (B, 2h, 1, W)


class ConditionalPixelCNNStack(nn.Module):
    """(B, C_in, H, W) inputs and (B, C_s, H, W) conditioning -> (B, C_out, H, W) outputs, causal in the inputs.

    1. a = type-A k×k masked convolution of the input + V_0 ∗ s;
    2. for each residual block l: a = block_l(a) + V_l ∗ s;
    3. ReLU, 1×1, ReLU, 1×1 to ``out_channels`` (a Bernoulli logit per pixel, or L logits).
    """

    def __init__(
        self,
        in_channels: int,
        conditioning_channels: int,
        channels: int,
        num_residual_blocks: int,
        first_kernel_size: int = 7,
        out_channels: int = 1,
    ) -> None:
        super().__init__()
        self.num_layers = num_residual_blocks + 1
        self.first = MaskedConv2d(in_channels, channels, first_kernel_size, "A")
        self.blocks = nn.ModuleList([ResidualBlock(channels) for _ in range(num_residual_blocks)])
        self.conditioning = nn.Conv2d(conditioning_channels, self.num_layers * channels, 1)  # V_0 … V_L stacked
        self.head = nn.Sequential(
            nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, out_channels, 1)
        )

    def forward(self, x: torch.Tensor, conditioning: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W), (B, C_s, H, W) -> (B, C_out, H, W); output pixel i depends on x_j for j < i only."""
        terms = self.conditioning(conditioning).chunk(self.num_layers, dim=1)  # L+1 × (B, 2h, H, W)
        hidden = self.first(x) + terms[0]  # 1. (B, 2h, H, W)
        for block, term in zip(self.blocks, terms[1:], strict=True):
            hidden = block(hidden) + term  # 2.
        return self.head(hidden)  # 3. (B, C_out, H, W)

    def row_step(self, x_row: torch.Tensor, conditioning_row: torch.Tensor, row: int, cache: RowCache) -> torch.Tensor:
        """``forward`` at row ``row`` alone, the rows above coming from ``cache``: (B, C_in, 1, W),
        (B, C_s, 1, W) -> (B, C_out, 1, W). The conditioning enters through 1×1 convolutions, so its own
        row is all that is read of it."""
        terms = self.conditioning(conditioning_row).chunk(self.num_layers, dim=1)  # L+1 × (B, 2h, 1, W)
        hidden = cache.step(self.first, x_row, row) + terms[0]
        for block, term in zip(self.blocks, terms[1:], strict=True):
            hidden = cache.step(block, hidden, row) + term
        return cache.step(self.head, hidden, row)  # (B, C_out, 1, W)
