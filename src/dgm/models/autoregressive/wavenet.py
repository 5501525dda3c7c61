"""WaveNet (van den Oord, Dieleman, Zen, Simonyan, Vinyals, Graves, Kalchbrenner, Senior & Kavukcuoglu
2016, "WaveNet: A Generative Model for Raw Audio"), with the fast generation algorithm of Paine,
Khorrami, Chang, Zhang, Ramachandran, Hasegawa-Johnson & Huang 2016 ("Fast Wavenet Generation
Algorithm").

The likelihood is over the 256 μ-law levels, not over real-valued audio: a waveform x in [−1, 1]
is companded and quantised to codes c_t ∈ {0..255} (section 2.2; ``dgm.data.audio.mu_law_encode``)
and p(c) = Π_t p(c_t | c_1, …, c_{t−1}, h) (eqs. 1 and 3) with a 256-way softmax per sample.
``log_prob`` is that exact log-likelihood in nats; ``bits_per_dim`` is bits per audio sample.
Every conditional comes from one pass of:

1. a causal convolution of kernel 2 over the one-hot codes shifted by one step, so position t
   sees c_{t−2} and c_{t−1};
2. a stack of residual layers (Fig. 4), dilations 1, 2, 4, …, 2^(L−1) repeated ``dilation_cycles``
   times; each layer applies a dilated causal convolution of kernel 2 (taps at t − d and t),
3. the gated activation z = tanh(W_f ∗ x + V_f h) ⊙ σ(W_g ∗ x + V_g h) (eq. 2; the V h terms
   are section 2.5's global conditioning, a learned class/speaker embedding, when ``num_classes > 0``),
4. a 1×1 convolution of z added back to the layer's input (residual) and another one taken out as
   the layer's skip connection;
5. the sum of all skips → ReLU → 1×1 → ReLU → 1×1 → 256 logits of p(c_t | c_<t, h).

The output at t sees the ``receptive_field`` = 2 + Σ dilations codes before t and nothing else.
Layers are written channels-last ((B, T, C) tensors) with each kernel-2 convolution as one matrix
product on the concatenated taps [x_{t−d}, x_t], so that training (all t at once) and generation
(one t at a time) call the very same layer code.

Generation (``sample``) draws one code per step. ``cached=True`` (Paine et al.) keeps, for each
dilated layer, a queue of its last d inputs, so a step evaluates each layer at one position only:
O(layers) per sample. ``cached=False`` is the naive algorithm of Paine et al.: before every step it
re-evaluates the whole network on the last ``receptive_field`` codes, everything the next code
depends on (O(receptive field · layers) per sample). Both draw each code with ``draw_code`` from
one uniform of the same generator by inversion of the CDF, so they produce the same samples: the
logits of the two paths agree to float rounding (a matrix product over many rows or over one row
may round differently in the last bit), and a draw can only differ if its uniform lands within that
rounding of a CDF step, which has probability of order 1e−7 per sample. ``tests/test_wavenet.py``
checks that the samples are identical, and ``benchmarks/autoregressive.py`` checks it again on the
benchmark's run.

Example::

    chirps = load_dataset("chirps")
    model = WaveNet(WaveNetConfig(), chirps.shape, chirps.info)
    bits_per_sample = -model.log_prob(chirps.test[:8]).mean() / (chirps.shape[-1] * math.log(2))
    audio = model.sample(2, length=8000)  # (2, 1, 8000) in [−1, 1]: one second at 8 kHz
"""

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...core.config import check
from ...core.errors import ConfigError, DataError
from ...core.protocols import Backward
from ...data.audio import MU, SAMPLE_RATE, mu_law_decode, mu_law_encode, mu_law_marginal_entropy_bits

LEVELS = MU + 1  # 256 μ-law codes


@dataclass(frozen=True)
class WaveNetConfig:
    residual_channels: int = 32  # channels of the residual stream (input to each dilated layer)
    skip_channels: int = 32  # channels of each skip connection and of the output head
    layers_per_cycle: int = 7  # dilations 1, 2, …, 2^(layers_per_cycle − 1) in each cycle
    dilation_cycles: int = 2  # how many times the dilation pattern repeats
    num_classes: int = 0  # 0: unconditional; > 0: global conditioning on labels 0..num_classes−1
    crop_length: int = 256  # samples of each training segment used per step (a random window); 0: all
    batch_size: int = 16
    learning_rate: float = 3e-3

    def __post_init__(self) -> None:
        check(self.residual_channels >= 1, f"residual_channels must be >= 1, got {self.residual_channels}")
        check(self.skip_channels >= 1, f"skip_channels must be >= 1, got {self.skip_channels}")
        check(self.layers_per_cycle >= 1, f"layers_per_cycle must be >= 1, got {self.layers_per_cycle}")
        check(self.dilation_cycles >= 1, f"dilation_cycles must be >= 1, got {self.dilation_cycles}")
        check(self.num_classes >= 0, f"num_classes must be >= 0, got {self.num_classes}")
        check(self.crop_length >= 0, f"crop_length must be >= 0, got {self.crop_length}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")


def delay(x: torch.Tensor, steps: int) -> torch.Tensor:
    """(B, T, C) -> (B, T, C) holding x[t − steps] at t, zeros before the start."""
    return F.pad(x, (0, 0, steps, 0))[:, : x.shape[1]]


def draw_code(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """(n, 256) logits -> (n,) codes, by inverting the CDF at one uniform per row drawn from ``generator``.

    The one sampler of both generation algorithms: the same generator calls in both, and a draw
    that moves only when a logit moves by more than the distance of its uniform to a CDF step.
    """
    uniform = torch.rand(len(logits), 1, generator=generator, device=logits.device, dtype=torch.float64)  # (n, 1)
    cdf = logits.double().softmax(dim=-1).cumsum(dim=-1)  # (n, 256)
    return torch.searchsorted(cdf, uniform, right=True)[:, 0].clamp(max=LEVELS - 1)  # (n,)


class ResidualLayer(nn.Module):
    """One residual layer of Fig. 4: dilated causal convolution, gate, residual and skip 1×1 convolutions."""

    def __init__(self, residual_channels: int, skip_channels: int, dilation: int, num_classes: int) -> None:
        super().__init__()
        self.dilation = dilation
        self.residual_channels = residual_channels
        self.dilated = nn.Linear(2 * residual_channels, 2 * residual_channels)  # kernel-2 taps [x_{t−d}, x_t]
        self.class_embedding = nn.Embedding(num_classes, 2 * residual_channels) if num_classes > 0 else None
        self.out = nn.Linear(residual_channels, residual_channels + skip_channels)  # residual and skip 1×1 convs

    def step(
        self,
        past: torch.Tensor,
        now: torch.Tensor,
        condition: torch.Tensor | None,
        weights: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs at t − d and t, each (*, R), and V h broadcastable to (*, 2R) or None -> output (*, R), skip (*, S).

        ``*`` is (B, T) when training and (n,) for one step of cached generation, which passes the
        layer's ``weights`` fetched once rather than at every step.
        """
        # F.linear and slices rather than module calls and split/chunk: the same arithmetic, with less
        # Python overhead on the one-step tensors of cached generation
        dilated_weight, dilated_bias, out_weight, out_bias = self.weights if weights is None else weights
        size = self.residual_channels
        pre_activation = F.linear(torch.cat([past, now], dim=-1), dilated_weight, dilated_bias)  # (*, 2R)
        if condition is not None:
            pre_activation = pre_activation + condition
        z = torch.tanh(pre_activation[..., :size]) * torch.sigmoid(pre_activation[..., size:])  # (*, R) eq. 2
        out = F.linear(z, out_weight, out_bias)  # (*, R + S)
        return now + out[..., :size], out[..., size:]  # output (*, R), skip (*, S)

    @property
    def weights(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The dilated convolution's and the 1×1 convolutions' weights and biases."""
        return self.dilated.weight, self.dilated.bias, self.out.weight, self.out.bias

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, R) -> (output (B, T, R), skip (B, T, S)), every t at once."""
        return self.step(delay(x, self.dilation), x, condition)


class WaveNet(nn.Module):
    """Exact-likelihood autoregressive model of μ-law audio, optionally with global conditioning."""

    data_kinds = ("audio",)

    def __init__(
        self, config: WaveNetConfig, data_shape: tuple[int, ...], data_info: dict[str, Any] | None = None
    ) -> None:
        super().__init__()
        if len(data_shape) != 2 or data_shape[0] != 1:
            raise DataError(f"WaveNet models mono audio of shape (1, T), got {data_shape}")
        data_info = data_info or {}
        classes = data_info.get("classes")
        if config.num_classes > 0 and classes is not None and config.num_classes != len(classes):
            raise ConfigError(f"num_classes={config.num_classes}, but the data set has {len(classes)} classes")
        self.config = config
        self.data_shape = data_shape
        self.sample_rate = int(data_info.get("sample_rate", SAMPLE_RATE))
        self.batch_size = config.batch_size
        self.num_classes = config.num_classes
        self.conditioning = config.num_classes > 0
        self.dilations = [2**i for i in range(config.layers_per_cycle)] * config.dilation_cycles
        residual, skip = config.residual_channels, config.skip_channels
        self.causal_input = nn.Linear(2 * LEVELS, residual)  # kernel-2 causal conv on one-hot [c_{t−2}, c_{t−1}]
        self.layers = nn.ModuleList(ResidualLayer(residual, skip, d, config.num_classes) for d in self.dilations)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(skip, skip), nn.ReLU(), nn.Linear(skip, LEVELS))

    @property
    def receptive_field(self) -> int:
        """How many past samples the distribution of the next one depends on."""
        return 2 + sum(self.dilations)

    def _check_labels(self, labels: torch.Tensor | None, batch: int) -> None:
        if labels is None:
            if self.conditioning:
                raise DataError(f"this WaveNet is conditional (num_classes={self.num_classes}): pass labels ({batch},)")
            return
        if not self.conditioning:
            raise DataError("labels were given to an unconditional WaveNet (num_classes=0)")
        if labels.shape != (batch,) or labels.dtype.is_floating_point:
            raise DataError(f"labels must be integers of shape ({batch},), got {tuple(labels.shape)} {labels.dtype}")
        if len(labels) and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise DataError(f"labels must lie in 0..{self.num_classes - 1}, got {labels.min()}..{labels.max()}")

    def _conditions(self, labels: torch.Tensor | None) -> list[torch.Tensor | None]:
        """V h of every layer, each (B, 1, 2R), or Nones for an unconditional model."""
        if labels is None:
            return [None] * len(self.layers)
        return [layer.class_embedding(labels)[:, None] for layer in self.layers]

    def network(self, inputs: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Steps 1–5 on one-hot codes (B, T, 256) -> logits (B, T, 256); logits[:, t] see inputs[:, <t] only.

        ``logits`` computes the same from integer codes with table look-ups in step 1; this form is
        public so that tests can take Jacobians at continuous inputs.
        """
        previous = delay(inputs, 1)  # (B, T, 256) one-hot c_{t−1} at t
        return self._stack(self.causal_input(torch.cat([delay(previous, 1), previous], dim=-1)), labels)

    def logits(self, codes: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """μ-law codes (B, T) int64 -> (B, T, 256) logits of p(c_t | c_<t, h)."""
        return self._stack(self._embed(codes), labels)

    def _input_tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The causal input convolution as two look-up tables (257, R), for c_{t−2} and c_{t−1}.

        Row k is the convolution's weight column for code k, so a look-up equals the product with a
        one-hot vector; row 256 is zero and stands for "before the start" (a zero one-hot vector).
        """
        before_previous_weight, previous_weight = self.causal_input.weight.t().chunk(2)  # (256, R) each
        return F.pad(before_previous_weight, (0, 0, 0, 1)), F.pad(previous_weight, (0, 0, 0, 1))

    def _input_from_codes(
        self, tables: tuple[torch.Tensor, torch.Tensor], before_previous: torch.Tensor, previous: torch.Tensor
    ) -> torch.Tensor:
        """Step 1 by look-up: codes c_{t−2} and c_{t−1}, any shape (*), -> (*, R)."""
        return F.embedding(before_previous, tables[0]) + F.embedding(previous, tables[1]) + self.causal_input.bias

    def _embed(self, codes: torch.Tensor) -> torch.Tensor:
        """Step 1 on a whole sequence: codes (B, T) -> (B, T, R)."""
        previous = F.pad(codes, (1, 0), value=LEVELS)[:, :-1]  # (B, T) c_{t−1}, 256 before the start
        before_previous = F.pad(codes, (2, 0), value=LEVELS)[:, : codes.shape[1]]  # (B, T) c_{t−2}
        return self._input_from_codes(self._input_tables(), before_previous, previous)

    def _stack(self, h: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Steps 2–5: the causal input convolution's output (B, T, R) -> logits (B, T, 256)."""
        self._check_labels(labels, len(h))
        skips = 0
        for layer, condition in zip(self.layers, self._conditions(labels), strict=True):
            h, skip = layer(h, condition)  # (B, T, R), (B, T, S)
            skips = skips + skip
        return self.head(skips)  # (B, T, 256)

    def _codes(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != 1:
            raise DataError(f"WaveNet expects waveforms of shape (B, 1, T), got {tuple(x.shape)}")
        return mu_law_encode(x[:, 0])  # (B, T)

    def log_prob(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Waveforms (B, 1, T) in [−1, 1] -> (B,) exact log p of their μ-law codes in nats (given ``labels`` (B,))."""
        codes = self._codes(x)  # (B, T)
        logits = self.logits(codes, labels)  # (B, T, 256)
        return -F.cross_entropy(logits.transpose(1, 2), codes, reduction="none").sum(dim=1)  # (B,)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        length: int | None = None,
        labels: torch.Tensor | None = None,
        cached: bool = True,
    ) -> torch.Tensor:
        """-> (n, 1, length) waveforms in [−1, 1] (μ-law levels), ``length`` defaulting to the data's T.

        ``labels`` (n,) condition a conditional model; without them each sample's label is drawn
        uniformly from ``generator`` first. ``cached`` picks the fast algorithm (default) or the
        naive one; both give the same samples for the same generator state.
        """
        length = self.data_shape[-1] if length is None else length
        if not isinstance(length, int) or length < 1:
            raise ConfigError(f"length must be a positive number of samples, got {length!r}")
        device = next(self.parameters()).device
        if labels is None and self.conditioning:
            labels = torch.randint(self.num_classes, (n,), generator=generator, device=device)  # (n,)
        if labels is not None:
            labels = labels.to(device)
        self._check_labels(labels, n)
        generate = self._generate_cached if cached else self._generate_naive
        with torch.inference_mode():  # less bookkeeping per operation than no_grad
            codes = generate(n, length, labels, generator)  # (n, length)
        return mu_law_decode(codes)[:, None].to(next(self.parameters()).dtype)  # (n, 1, length)

    def _generate_naive(
        self, n: int, length: int, labels: torch.Tensor | None, generator: torch.Generator | None
    ) -> torch.Tensor:
        """(n, length) codes, re-evaluating the network on the last ``receptive_field`` codes at every step."""
        codes = torch.zeros(n, length, dtype=torch.long, device=next(self.parameters()).device)
        for t in range(length):
            window = codes[:, max(0, t - self.receptive_field) : t + 1]  # (n, ≤ RF + 1); the code at t is not seen
            codes[:, t] = draw_code(self.logits(window, labels)[:, -1], generator)
        return codes

    def _generate_cached(
        self, n: int, length: int, labels: torch.Tensor | None, generator: torch.Generator | None
    ) -> torch.Tensor:
        """(n, length) codes, one position of every layer per step (Paine et al. 2016, Algorithm 1).

        Layer l with dilation d keeps its inputs of the last d steps in a queue; at step t it pops
        the input of step t − d (slot t mod d), runs the same ``step`` as the full network on
        (n, ·) tensors, and pushes its input of step t into the freed slot.
        """
        parameter = next(self.parameters())
        tables = self._input_tables()
        conditions = [None if c is None else c[:, 0] for c in self._conditions(labels)]  # (n, 2R) each
        codes = torch.zeros(n, length, dtype=torch.long, device=parameter.device)
        previous = torch.full((n,), LEVELS, device=parameter.device)  # c_{t−1}; 256: before the start
        before_previous = previous  # c_{t−2}
        zeros = parameter.new_zeros(n, self.config.residual_channels)  # (n, R) a layer's input before the start
        queues = [[zeros] * d for d in self.dilations]  # per layer, its inputs of the last d steps, (n, R) each
        layers = [(layer.step, layer.dilation, layer.weights) for layer in self.layers]
        for t in range(length):
            h = self._input_from_codes(tables, before_previous, previous)  # (n, R)
            skips = 0
            for (step, dilation, weights), queue, condition in zip(layers, queues, conditions, strict=True):
                slot = t % dilation
                output, skip = step(queue[slot], h, condition, weights)  # (n, R), (n, S)
                queue[slot] = h
                h, skips = output, skips + skip
            before_previous, previous = previous, draw_code(self.head(skips), generator)  # (n,)
            codes[:, t] = previous
        return codes

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)}

    def train_step(self, batch: Any, optimizers: dict, backward: Backward) -> dict[str, float]:
        """Maximum likelihood on a random window of ``crop_length`` samples: one Adam step on the mean
        NLL per sample. ``batch`` is (B, 1, T), or ``(x, labels)`` for a conditional model.

        The window's first positions see zeros before the window, as position 0 of a segment does.
        """
        x, labels = batch if self.conditioning else (batch, None)
        crop = self.config.crop_length
        if 0 < crop < x.shape[-1]:
            start = int(torch.randint(x.shape[-1] - crop + 1, ()).item())  # the loop's seeded global RNG
            x = x[..., start : start + crop]  # (B, 1, crop)
        optimizer = optimizers["adam"]
        optimizer.zero_grad()
        loss = -self.log_prob(x, labels).mean() / x.shape[-1]  # nats per sample
        backward(loss)
        optimizer.step()
        return {"loss": loss.item(), "bits_per_sample": loss.item() / math.log(2)}

    def extra_metrics(self, test: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        """The i.i.d. baseline: the entropy in bits of the test audio's own μ-law code histogram."""
        return {"marginal_entropy_bits": mu_law_marginal_entropy_bits(test.cpu())}
