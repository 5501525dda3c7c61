"""PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks", §3.5).

p(x) = Π_i p(x_i | x_1, …, x_{i−1}) over pixels in raster order (eq. 1). Every conditional comes
from one pass of a stack of masked convolutions: a 7×7 type-A layer (sees only earlier pixels),
residual blocks of type-B 3×3 layers (Fig. 5), and 1×1 output layers. Pixels are binary
(``num_levels=2``, a Bernoulli per pixel, for binarised data) or 256-way categorical (eq. 2,
``num_levels=256``, for 8-bit intensities). The log-likelihood is exact; sampling draws one pixel
at a time, by default evaluating the network on one row per pixel with the rows above cached
(``dgm.nn.row_cache``), which gives the same samples as ``cached=False`` (the whole image per
pixel) about H times faster.

Example::

    model = PixelCNN(PixelCNNConfig(), data_shape=(1, 8, 8))
    nll_nats = -model.log_prob(binary_images).mean()
"""

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ...core.config import check
from ...core.errors import DataError
from ...core.protocols import Backward
from ...losses.likelihood import maximum_likelihood_step
from ...nn.masked import MaskedConv2d
from ...nn.pixelcnn_blocks import ResidualBlock
from ...nn.pixels import centred, draw_pixel, pixel_log_prob, to_levels
from ...nn.row_cache import RowCache


@dataclass(frozen=True)
class PixelCNNConfig:
    num_levels: Literal[2, 256] = 2
    channels: int = 64  # 2h in the paper's Fig. 5
    num_residual_blocks: int = 4
    first_kernel_size: int = 7
    batch_size: int = 64
    learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        check(
            self.channels >= 2 and self.channels % 2 == 0,
            f"channels must be even and >= 2, got {self.channels}",
        )
        check(self.num_residual_blocks >= 0, f"num_residual_blocks must be >= 0, got {self.num_residual_blocks}")
        check(self.first_kernel_size % 2 == 1, f"first_kernel_size must be odd, got {self.first_kernel_size}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")


class PixelCNN(nn.Module):
    """Exact-likelihood autoregressive model of single-channel images."""

    data_kinds = ("image",)

    def __init__(self, config: PixelCNNConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__()
        if len(data_shape) != 3 or data_shape[0] != 1:
            raise DataError(f"PixelCNN here models single-channel images (1, H, W), got {data_shape}")
        self.config = config
        self.data_shape = data_shape
        self.batch_size = config.batch_size
        self.num_levels = config.num_levels
        self.binarize_data = config.num_levels == 2
        outputs = 1 if config.num_levels == 2 else config.num_levels  # Bernoulli logit or 256 logits
        self.network = nn.Sequential(
            MaskedConv2d(1, config.channels, config.first_kernel_size, "A"),
            *[ResidualBlock(config.channels) for _ in range(config.num_residual_blocks)],
            nn.ReLU(),
            nn.Conv2d(config.channels, config.channels, 1),
            nn.ReLU(),
            nn.Conv2d(config.channels, outputs, 1),
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) in [0, 1] -> (B, 1, H, W) Bernoulli logits or (B, 256, H, W) categorical logits.

        The output at pixel i depends only on input pixels j < i in raster order.
        """
        return self.network(centred(to_levels(x, self.num_levels), self.num_levels))  # inputs in [-1, 1]

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B,) exact log p(x) in nats."""
        return pixel_log_prob(self.logits(x), to_levels(x, self.num_levels), self.num_levels)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, cached: bool = True) -> torch.Tensor:
        """-> (n, 1, H, W) in [0, 1], drawn pixel by pixel in raster order.

        ``cached``: each pixel costs one row of every layer (rows above are cached); otherwise the
        whole network runs on the whole image for every pixel. Both give the same samples.
        """
        _, height, width = self.data_shape
        parameter = next(self.parameters())
        x = torch.zeros(n, *self.data_shape, device=parameter.device, dtype=parameter.dtype)  # (n, 1, H, W)
        cache = RowCache(height)
        for row in range(height):
            for col in range(width):
                if cached:
                    logits = cache.step(self.network, self._row_input(x, row), row)[:, :, 0, col]  # (n, 1 or 256)
                else:
                    logits = self.logits(x)[:, :, row, col]
                x[:, 0, row, col] = draw_pixel(logits, self.num_levels, generator)
            if cached:  # store the finished row, which the rows below read
                cache.step(self.network, self._row_input(x, row), row)
        return x

    def _row_input(self, x: torch.Tensor, row: int) -> torch.Tensor:
        """Row ``row`` of images (n, 1, H, W) as network input: (n, 1, 1, W) in [−1, 1]."""
        return centred(to_levels(x[:, :, row : row + 1], self.num_levels), self.num_levels)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)}

    def train_step(self, batch: torch.Tensor, optimizers: dict, backward: Backward) -> dict[str, float]:
        """Maximum likelihood: one Adam step on the mean NLL (nats per image)."""
        return maximum_likelihood_step(self, batch, optimizers, backward)
