"""Gated PixelCNN (van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu 2016,
"Conditional Image Generation with PixelCNN Decoders").

p(x | y) = Π_i p(x_i | x_1, …, x_{i−1}, y) over pixels in raster order (eq. 1 of the paper, with an
optional class label y). Every conditional comes from one pass of a stack of gated layers, each
with two stacks of convolutions (Fig. 2):

1. a vertical stack: a (k//2+1)×k convolution whose output at row r sees the input rows ≤ r,
   every column of the kernel's width; its features never feed the output directly;
2. a horizontal stack: a 1×(k//2+1) convolution over the pixels to the left in the same row,
   including the current pixel except in the first layer;
3. the link: the vertical pre-activations shifted down by one row (so row r sees only rows < r)
   pass through a 1×1 convolution and are added to the horizontal pre-activations;
4. the gated activation tanh(W_f ∗ x + V_f y) ⊙ σ(W_g ∗ x + V_g y) in both stacks (eqs. 2 and 4);
   ``V y`` is a learned class embedding added in every layer when ``num_classes > 0``;
5. a 1×1 convolution of the gated horizontal features, added back to the horizontal input
   (a residual connection, not in the first layer).

Splitting the receptive field into "rows above" and "left in this row" removes PixelCNN's blind
spot: pixel (r, c) sees (r−1, c+1), (r−2, c+2), … as well. A 1×1 output head maps the last
horizontal features to a Bernoulli logit per pixel (``num_levels=2``) or 256 logits
(``num_levels=256``). The log-likelihood is exact; sampling draws one pixel at a time.

Class conditioning: with ``num_classes > 0`` the model is conditional (``conditioning = True``), so
the dgm loop hands ``train_step`` (images, labels) batches and evaluation scores log p(x | y), e.g.
``dgm train gated-pixelcnn --data digits --set num_classes=10``. ``log_prob``, ``logits`` and
``sample`` take ``labels`` (B,), which a conditional model requires, except that asked for samples
without labels it draws the classes 0, 1, …, K−1, 0, … in turn.

Example::

    model = GatedPixelCNN(GatedPixelCNNConfig(num_classes=10), data_shape=(1, 8, 8))
    nll_nats = -model.log_prob(binary_images, labels=digit_labels).mean()
    threes = model.sample(16, labels=torch.full((16,), 3))
"""

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ...core.config import check
from ...core.errors import DataError
from ...core.protocols import Backward
from ...losses.likelihood import maximum_likelihood_step
from ...nn.pixels import centred, draw_pixel, pixel_log_prob, to_levels
from ...nn.row_cache import RowCache


@dataclass(frozen=True)
class GatedPixelCNNConfig:
    num_levels: Literal[2, 256] = 2
    channels: int = 32  # feature maps per stack after gating (p in the paper; 2p before the gate)
    num_layers: int = 5  # gated layers, the first one included
    kernel_size: int = 3  # k of every gated layer after the first
    first_kernel_size: int = 7  # k of the first layer, whose stacks exclude the current pixel
    num_classes: int = 0  # 0: unconditional; > 0: labels 0..num_classes−1 may be passed
    batch_size: int = 64
    learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        check(self.channels >= 1, f"channels must be >= 1, got {self.channels}")
        check(self.num_layers >= 1, f"num_layers must be >= 1, got {self.num_layers}")
        check(self.kernel_size % 2 == 1, f"kernel_size must be odd, got {self.kernel_size}")
        check(self.first_kernel_size % 2 == 1, f"first_kernel_size must be odd, got {self.first_kernel_size}")
        check(self.num_classes >= 0, f"num_classes must be >= 0, got {self.num_classes}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W) with row r holding row r−1 (row 0 zero)."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def shift_right(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W) with column c holding column c−1 (column 0 zero)."""
    return F.pad(x, (1, 0))[:, :, :, :-1]


def gate(pre_activation: torch.Tensor) -> torch.Tensor:
    """Eq. 2: (B, 2p, H, W) -> (B, p, H, W), tanh of the first half times sigmoid of the second."""
    features, gates = pre_activation.chunk(2, dim=1)
    return torch.tanh(features) * torch.sigmoid(gates)


class GatedLayer(nn.Module):
    """One layer of Fig. 2: vertical and horizontal stacks, their link, gates and residual."""

    def __init__(self, in_channels: int, channels: int, kernel_size: int, num_classes: int, first: bool) -> None:
        super().__init__()
        self.first = first
        self.half = kernel_size // 2
        self.vertical = nn.Conv2d(in_channels, 2 * channels, (self.half + 1, kernel_size))
        self.horizontal = nn.Conv2d(in_channels, 2 * channels, (1, self.half + 1))
        self.vertical_to_horizontal = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.horizontal_out = nn.Conv2d(channels, channels, 1)
        self.class_embedding = nn.Embedding(num_classes, 4 * channels) if num_classes > 0 else None

    def forward(
        self, vertical: torch.Tensor, horizontal: torch.Tensor, labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C_in, H, W) twice -> (B, p, H, W) twice; ``labels`` (B,) or None."""
        # 1. Vertical stack: pad k//2 rows on top, so output row r covers input rows r−k//2..r.
        vertical_pre = self.vertical(F.pad(vertical, (self.half, self.half, self.half, 0)))  # (B, 2p, H, W)
        # 2. Horizontal stack: pad k//2 columns on the left, so column c covers columns c−k//2..c;
        #    the first layer shifts right by one so that it covers c−k//2−1..c−1 only.
        horizontal_pre = self.horizontal(F.pad(horizontal, (self.half, 0)))  # (B, 2p, H, W)
        if self.first:
            horizontal_pre = shift_right(horizontal_pre)
        # 3. Link: vertical features shifted down by one row see rows < r only.
        horizontal_pre = horizontal_pre + self.vertical_to_horizontal(shift_down(vertical_pre))  # (B, 2p, H, W)
        # 4. Gates, with the class embedding V y added to the pre-activations (eq. 4).
        if labels is not None and self.class_embedding is not None:
            vertical_class, horizontal_class = self.class_embedding(labels)[:, :, None, None].chunk(2, dim=1)
            vertical_pre = vertical_pre + vertical_class  # (B, 2p, H, W)
            horizontal_pre = horizontal_pre + horizontal_class  # (B, 2p, H, W)
        vertical_out = gate(vertical_pre)  # (B, p, H, W)
        horizontal_out = self.horizontal_out(gate(horizontal_pre))  # (B, p, H, W)
        # 5. Residual connection in the horizontal stack, from the second layer on.
        if not self.first:
            horizontal_out = horizontal_out + horizontal
        return vertical_out, horizontal_out

    def row_step(
        self, vertical: torch.Tensor, horizontal: torch.Tensor, row: int, labels: torch.Tensor | None, cache: RowCache
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward`` at one row for cached sampling: (B, C_in, 1, W) twice -> (B, p, 1, W) twice.

        The vertical stack reads its input rows ``row − k//2 … row`` and the link reads the vertical
        pre-activations of ``row − 1``, both from ``cache``; the horizontal stack reads this row only.
        """
        rows_above = cache.window((id(self), "vertical in"), vertical, row, above=self.half)  # (B, C_in, half+1, W)
        vertical_pre = self.vertical(F.pad(rows_above, (self.half, self.half, 0, 0)))  # (B, 2p, 1, W)
        previous_pre = cache.window((id(self), "vertical pre"), vertical_pre, row, above=1)[:, :, :1]  # row − 1
        horizontal_pre = self.horizontal(F.pad(horizontal, (self.half, 0)))  # (B, 2p, 1, W)
        if self.first:
            horizontal_pre = shift_right(horizontal_pre)
        horizontal_pre = horizontal_pre + self.vertical_to_horizontal(previous_pre)
        if labels is not None and self.class_embedding is not None:
            vertical_class, horizontal_class = self.class_embedding(labels)[:, :, None, None].chunk(2, dim=1)
            vertical_pre = vertical_pre + vertical_class
            horizontal_pre = horizontal_pre + horizontal_class
        vertical_out = gate(vertical_pre)  # (B, p, 1, W)
        horizontal_out = self.horizontal_out(gate(horizontal_pre))
        if not self.first:
            horizontal_out = horizontal_out + horizontal
        return vertical_out, horizontal_out


class GatedPixelCNN(nn.Module):
    """Exact-likelihood autoregressive model of single-channel images, optionally class-conditional."""

    data_kinds = ("image",)

    def __init__(self, config: GatedPixelCNNConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__()
        if len(data_shape) != 3 or data_shape[0] != 1:
            raise DataError(f"GatedPixelCNN here models single-channel images (1, H, W), got {data_shape}")
        self.config = config
        self.data_shape = data_shape
        self.batch_size = config.batch_size
        self.num_levels = config.num_levels
        self.num_classes = config.num_classes
        self.conditioning = config.num_classes > 0  # the loop then passes (images, labels) batches
        self.binarize_data = config.num_levels == 2
        outputs = 1 if config.num_levels == 2 else config.num_levels  # Bernoulli logit or 256 logits
        self.layers = nn.ModuleList(
            [GatedLayer(1, config.channels, config.first_kernel_size, config.num_classes, first=True)]
            + [
                GatedLayer(config.channels, config.channels, config.kernel_size, config.num_classes, first=False)
                for _ in range(config.num_layers - 1)
            ]
        )
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(config.channels, config.channels, 1),
            nn.ReLU(),
            nn.Conv2d(config.channels, outputs, 1),
        )

    def _check_labels(self, labels: torch.Tensor | None, batch: int) -> None:
        if labels is None:
            if self.conditioning:
                raise DataError(f"a conditional GatedPixelCNN (num_classes={self.num_classes}) needs labels ({batch},)")
            return
        if self.num_classes == 0:
            raise DataError("labels were given to an unconditional GatedPixelCNN (num_classes=0)")
        if labels.shape != (batch,) or labels.dtype.is_floating_point:
            raise DataError(f"labels must be integers of shape ({batch},), got {tuple(labels.shape)} {labels.dtype}")
        if len(labels) and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise DataError(f"labels must lie in 0..{self.num_classes - 1}, got {labels.min()}..{labels.max()}")

    def network(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The gated stacks and head on a continuous input: (B, 1, H, W) -> (B, 1 or 256, H, W) logits.

        ``logits`` applies it to levels centred in [−1, 1]; it is public so that tests can take
        Jacobians at continuous inputs (rounding to levels has zero gradient). The output at
        pixel i depends only on input pixels j < i in raster order.
        """
        self._check_labels(labels, len(x))
        vertical, horizontal = x, x  # (B, 1, H, W)
        for layer in self.layers:
            vertical, horizontal = layer(vertical, horizontal, labels)  # (B, p, H, W)
        return self.head(horizontal)  # (B, 1 or 256, H, W)

    def logits(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, H, W) in [0, 1] -> (B, 1, H, W) Bernoulli logits or (B, 256, H, W) categorical logits."""
        return self.network(centred(to_levels(x, self.num_levels), self.num_levels), labels)

    def log_prob(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, H, W) -> (B,) exact log p(x) in nats, or log p(x | y) when ``labels`` (B,) are given."""
        return pixel_log_prob(self.logits(x, labels), to_levels(x, self.num_levels), self.num_levels)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
        cached: bool = True,
    ) -> torch.Tensor:
        """-> (n, 1, H, W) in [0, 1], drawn pixel by pixel in raster order.

        ``labels`` (n,) draws from p(x | y); None draws classes 0..K−1 in turn from a conditional
        model, and from p(x) otherwise. ``cached``: each pixel costs one row of every layer, the
        rows above coming from a ``RowCache``; otherwise the whole image is recomputed for every
        pixel. Both draw the same samples.
        """
        _, height, width = self.data_shape
        parameter = next(self.parameters())
        if labels is None and self.conditioning:
            labels = torch.arange(n) % self.num_classes
        if labels is not None:
            labels = labels.to(parameter.device)
        x = torch.zeros(n, *self.data_shape, device=parameter.device, dtype=parameter.dtype)  # (n, 1, H, W)
        self._check_labels(labels, n)
        cache = RowCache(height)
        for row in range(height):
            for col in range(width):
                if cached:
                    logits = self._row_logits(x, row, labels, cache)[:, :, 0, col]  # (n, 1) or (n, 256)
                else:
                    logits = self.logits(x, labels)[:, :, row, col]
                x[:, 0, row, col] = draw_pixel(logits, self.num_levels, generator)
            if cached:  # store the finished row, which the rows below read
                self._row_logits(x, row, labels, cache)
        return x

    def _row_logits(self, x: torch.Tensor, row: int, labels: torch.Tensor | None, cache: RowCache) -> torch.Tensor:
        """The logits of row ``row`` of images (n, 1, H, W), from the cached rows above: (n, 1 or 256, 1, W)."""
        vertical = horizontal = centred(to_levels(x[:, :, row : row + 1], self.num_levels), self.num_levels)
        for layer in self.layers:
            vertical, horizontal = layer.row_step(vertical, horizontal, row, labels, cache)
        return self.head(horizontal)  # 1×1 convolutions and ReLUs only

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)}

    def train_step(
        self, batch: torch.Tensor | tuple[torch.Tensor, torch.Tensor], optimizers: dict, backward: Backward
    ) -> dict[str, float]:
        """Maximum likelihood: one Adam step on the mean NLL (nats per image).

        ``batch``: images (B, 1, H, W), or (images, labels (B,)) for a conditional model.
        """
        images, labels = batch if isinstance(batch, tuple) else (batch, None)
        return maximum_likelihood_step(self, images, optimizers, backward, labels)
