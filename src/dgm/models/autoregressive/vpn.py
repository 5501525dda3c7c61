"""Video Pixel Network (Kalchbrenner, van den Oord, Simonyan, Danihelka, Vinyals, Graves &
Kavukcuoglu 2017, "Video Pixel Networks").

p(x) = Π_t Π_i p(x_{t,i} | x_{t,<i}, x_{<t}) over the frames t of a clip and the pixels i of each
frame in raster order (eq. 1 of the paper). One pass of the network gives every conditional:

1. encoder: each frame x_{t−1} goes through resolution-preserving residual blocks of dilated 3×3
   convolutions (dilations 1, 2, 4, 8, 1, …), so features keep the frame's H×W and see far;
2. ConvLSTM over time (§3.2): a convolutional LSTM reads the encoded frames one after another and
   its output h_t after reading frames 0..t−1 is the context map of frame t. It first reads a zero
   input, so the context of the first frame is a learned constant map: frame 0 is modelled by the
   decoder alone, like a PixelCNN;
3. decoder: gated masked stacks without blind spot (the layers of Gated PixelCNN, reused from
   ``gated_pixelcnn.py``) on the current frame x_t; a 1×1 projection of the context is added to the
   vertical and horizontal features after every layer. The context depends on earlier frames only,
   so it may enter anywhere without breaking causality inside the frame;
4. output: a Bernoulli logit per pixel (``num_levels=2``, binarised data) or 256 logits
   (``num_levels=256``); log p(x) sums the per-pixel log-probabilities over all pixels and frames.

Training evaluates all frames at once (teacher forcing); sampling draws frame by frame, pixel by
pixel (T·H·W decoder passes, one encoder and ConvLSTM step per frame), for any number of frames.

At CPU scale the paper's building blocks are simplified: the encoder has a few plain residual
blocks (ReLU, dilated 3×3, ReLU, 1×1, plus input) instead of 8 residual multiplicative blocks,
the decoder a few gated layers instead of 12 masked multiplicative blocks, and one width
``channels`` (32 by default, 256 in the paper) serves the encoder, the ConvLSTM and the decoder.

Example::

    model = VideoPixelNetwork(VideoPixelNetworkConfig(), data_shape=(10, 1, 16, 16))
    nll_nats = -model.log_prob(binary_clips).mean()  # clips (B, 10, 1, 16, 16) in {0, 1}
    clips = model.sample(4, length=20)  # (4, 20, 1, 16, 16)
"""

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ...core.config import check
from ...core.errors import ConfigError, DataError
from ...core.protocols import Backward
from ...losses.likelihood import maximum_likelihood_step
from ...nn.pixels import centred, draw_pixel, pixel_log_prob, to_levels
from ...nn.recurrent import lstm_update
from .gated_pixelcnn import GatedLayer

LSTMState = tuple[torch.Tensor, torch.Tensor]  # (hidden h, cell c), each (B, C, H, W)


@dataclass(frozen=True)
class VideoPixelNetworkConfig:
    num_levels: Literal[2, 256] = 2
    channels: int = 32  # feature maps of the encoder, the ConvLSTM and the decoder (256 in the paper)
    num_encoder_blocks: int = 2  # dilated residual blocks per frame (8 multiplicative blocks in the paper)
    num_decoder_layers: int = 4  # gated masked layers per frame, the first one included (12 in the paper)
    kernel_size: int = 3  # k of the decoder's gated layers after the first
    first_kernel_size: int = 5  # k of the decoder's first layer, which excludes the current pixel
    lstm_kernel_size: int = 3
    batch_size: int = 16  # clips per step
    learning_rate: float = 3e-3  # 3e-3 beat 1e-3 by 14 nats/clip after 3,000 steps on moving-digits-small

    def __post_init__(self) -> None:
        check(self.channels >= 1, f"channels must be >= 1, got {self.channels}")
        check(self.num_encoder_blocks >= 0, f"num_encoder_blocks must be >= 0, got {self.num_encoder_blocks}")
        check(self.num_decoder_layers >= 1, f"num_decoder_layers must be >= 1, got {self.num_decoder_layers}")
        for name in ("kernel_size", "first_kernel_size", "lstm_kernel_size"):
            value = getattr(self, name)
            check(value >= 1 and value % 2 == 1, f"{name} must be odd and >= 1, got {value}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")


class DilatedResidualBlock(nn.Module):
    """ReLU, 3×3 convolution with dilation d (same padding), ReLU, 1×1 convolution, plus input."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)  # (B, C, H, W)


class ConvLSTMCell(nn.Module):
    """One step of a convolutional LSTM (Shi et al. 2015): gates [o, f, i, g] (``lstm_update``) from [input, h]."""

    def __init__(self, in_channels: int, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.gates = nn.Conv2d(in_channels + channels, 4 * channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor, state: LSTMState | None) -> LSTMState:
        """x (B, C_in, H, W), state (h, c) or None for zeros -> the new (h, c), each (B, C, H, W)."""
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.gates.out_channels // 4, *x.shape[2:])
            state = (zeros, zeros)
        hidden, cell = state
        return lstm_update(self.gates(torch.cat([x, hidden], dim=1)), cell, dim=1)  # (B, 4C, H, W) -> (h, c)


class VideoPixelNetwork(nn.Module):
    """Exact-likelihood autoregressive model of single-channel video clips (B, T, 1, H, W)."""

    data_kinds = ("video",)

    def __init__(
        self, config: VideoPixelNetworkConfig, data_shape: tuple[int, ...], data_info: dict | None = None
    ) -> None:
        super().__init__()
        if len(data_shape) != 4 or data_shape[1] != 1:
            raise DataError(f"VideoPixelNetwork models single-channel clips (T, 1, H, W), got {data_shape}")
        self.config = config
        self.data_shape = data_shape
        self.batch_size = config.batch_size
        self.num_levels = config.num_levels
        self.binarize_data = config.num_levels == 2
        channels = config.channels
        self.encoder = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            *[DilatedResidualBlock(channels, 2 ** (i % 4)) for i in range(config.num_encoder_blocks)],
        )
        self.lstm = ConvLSTMCell(channels, channels, config.lstm_kernel_size)
        self.decoder_layers = nn.ModuleList(
            [GatedLayer(1, channels, config.first_kernel_size, num_classes=0, first=True)]
            + [
                GatedLayer(channels, channels, config.kernel_size, num_classes=0, first=False)
                for _ in range(config.num_decoder_layers - 1)
            ]
        )
        # One 1×1 convolution gives the context terms of every decoder layer: (vertical, horizontal) × layers.
        self.context_projection = nn.Conv2d(channels, 2 * channels * config.num_decoder_layers, 1)
        outputs = 1 if config.num_levels == 2 else config.num_levels  # Bernoulli logit or 256 logits
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, channels, 1),
            nn.ReLU(),
            nn.Conv2d(channels, outputs, 1),
        )

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """Step 1: centred frames (B, 1, H, W) -> features (B, C, H, W), same resolution."""
        return self.encoder(frames)

    def start(self, frames: torch.Tensor) -> LSTMState:
        """Step 2 on the zero input that precedes the first frame of ``frames`` (B, …, H, W): the state
        whose h is frame 0's context."""
        return self.lstm(frames.new_zeros(len(frames), self.config.channels, *frames.shape[-2:]), None)

    def contexts(self, inputs: torch.Tensor) -> torch.Tensor:
        """Step 2: centred clips (B, T, 1, H, W) -> contexts (B, T, C, H, W); context t sees frames < t only."""
        batch, num_frames = inputs.shape[:2]
        state = self.start(inputs)
        contexts = [state[0]]
        if num_frames > 1:
            features = self.encode(inputs[:, :-1].flatten(0, 1)).unflatten(0, (batch, num_frames - 1))
            for t in range(num_frames - 1):  # (B, T−1, C, H, W), frames 0..T−2
                state = self.lstm(features[:, t], state)
                contexts.append(state[0])
        return torch.stack(contexts, dim=1)  # (B, T, C, H, W)

    def decode(self, frames: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Step 3–4: centred frames (N, 1, H, W) and their contexts (N, C, H, W) -> logits (N, 1 or 256, H, W).

        The logits at pixel i depend on the frame's pixels j < i only (and on all of the context).
        """
        terms = self.context_projection(context).chunk(2 * len(self.decoder_layers), dim=1)  # 2L × (N, C, H, W)
        vertical, horizontal = frames, frames  # (N, 1, H, W)
        for index, layer in enumerate(self.decoder_layers):
            vertical, horizontal = layer(vertical, horizontal, None)  # (N, C, H, W)
            vertical = vertical + terms[2 * index]
            horizontal = horizontal + terms[2 * index + 1]
        return self.head(horizontal)  # (N, 1 or 256, H, W)

    def network(self, inputs: torch.Tensor) -> torch.Tensor:
        """Steps 1–4 on continuous centred clips: (B, T, 1, H, W) -> logits (B, T, 1 or 256, H, W).

        ``logits`` applies it to levels centred in [−1, 1]; it is public so that tests can take
        Jacobians at continuous inputs. The logits of pixel i of frame t depend only on pixels
        j < i of frame t and on frames < t.
        """
        batch, num_frames = inputs.shape[:2]
        contexts = self.contexts(inputs)  # (B, T, C, H, W)
        logits = self.decode(inputs.flatten(0, 1), contexts.flatten(0, 1))  # (B·T, 1 or 256, H, W)
        return logits.unflatten(0, (batch, num_frames))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 1, H, W) in [0, 1] -> (B, T, 1, H, W) Bernoulli logits or (B, T, 256, H, W) categorical logits."""
        return self.network(centred(to_levels(x, self.num_levels), self.num_levels))

    def frame_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 1, H, W) -> (B, T): log p(x_t | x_<t) of every frame, in nats."""
        levels = to_levels(x, self.num_levels)  # (B, T, 1, H, W)
        logits = self.network(centred(levels, self.num_levels))  # (B, T, 1 or 256, H, W)
        per_frame = pixel_log_prob(logits.flatten(0, 1), levels.flatten(0, 1), self.num_levels)  # (B·T,)
        return per_frame.view(x.shape[:2])

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 1, H, W) -> (B,) exact log p(x) in nats per clip."""
        return self.frame_log_probs(x).sum(dim=1)

    def extra_metrics(self, test: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        """How much the temporal context helps: −log p of the first frame (no context) vs. a later frame."""
        per_frame = torch.cat([self.frame_log_probs(chunk) for chunk in test.split(64)]).double()  # (N, T)
        metrics = {"first_frame_nll_nats": -per_frame[:, 0].mean().item()}
        if per_frame.shape[1] > 1:
            metrics["later_frame_nll_nats"] = -per_frame[:, 1:].mean().item()  # per frame, frames 1..T−1
        return metrics

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, length: int | None = None) -> torch.Tensor:
        """-> (n, T, 1, H, W) in [0, 1], T = ``length`` frames (default: the training clips' T).

        Frame by frame: the context from the frames so far, then the frame pixel by pixel in raster order.
        """
        num_frames = self.data_shape[0] if length is None else length
        if not isinstance(num_frames, int) or num_frames < 1:
            raise ConfigError(f"length must be a whole number of frames >= 1, got {length!r}")
        _, _, height, width = self.data_shape
        parameter = next(self.parameters())
        x = torch.zeros(n, num_frames, 1, height, width, device=parameter.device, dtype=parameter.dtype)
        state = self.start(x)
        for t in range(num_frames):
            frame = x[:, t]  # (n, 1, H, W), a view filled in place
            for row in range(height):
                for col in range(width):
                    inputs = centred(to_levels(frame, self.num_levels), self.num_levels)
                    logits = self.decode(inputs, state[0])[:, :, row, col]  # (n, 1) or (n, 256)
                    frame[:, 0, row, col] = draw_pixel(logits, self.num_levels, generator)
            if t + 1 < num_frames:
                state = self.lstm(self.encode(centred(to_levels(frame, self.num_levels), self.num_levels)), state)
        return x

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)}

    def train_step(self, batch: torch.Tensor, optimizers: dict, backward: Backward) -> dict[str, float]:
        """Maximum likelihood: one Adam step on the mean NLL (nats per clip)."""
        return maximum_likelihood_step(self, batch, optimizers, backward)
