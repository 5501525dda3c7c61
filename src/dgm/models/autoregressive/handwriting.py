"""Handwriting generation and synthesis with an LSTM and a mixture density output (Graves 2013,
"Generating Sequences With Recurrent Neural Networks", §4 and §5).

A pen trajectory x_1..x_T of rows (dx, dy, pen_lift) is modelled autoregressively,
p(x) = Π_t p(x_t | x_<t) (eq. 26 summed), or p(x | c) = Π_t p(x_t | x_<t, c) given a text c (§5):

1. Input: the previous point x_{t−1}; x_0 is (0, 0, 1), "pen up at the origin" (it equals the
   padding row of the ``strokes`` data, see ``dgm.data.strokes``).
2. First LSTM layer h¹_t (eqs. 7–11; ``torch.nn.LSTM``/``LSTMCell``) on x_{t−1} (eq. 1) and, for
   synthesis, the previous window w_{t−1} (eq. 52).
3. Synthesis only, the soft window over the text (§5.1, eqs. 46–51): from h¹_t the K-component
   parameters α = exp(α̂), β = exp(β̂) and κ_t = κ_{t−1} + exp(κ̂) (eqs. 48–51, so κ never decreases);
   φ(t, u) = Σ_k α_k exp(−β_k (κ_k − u)²) (eq. 46) over character positions u = 1..U, and the window
   w_t = Σ_u φ(t, u) c_u over the one-hot characters c_u (eq. 47).
4. Upper LSTM layers n = 2..N, each on x_{t−1}, h^{n−1}_t and (synthesis) w_t: Graves' skip
   connections from the input to every layer (eq. 2; eq. 53 with the window).
5. Output: a linear map of all layers' h^n_t (eqs. 3, 17) to the 1 + 6M parameters of the pen mixture
   ``dgm.losses.mdn.PenMixture`` (eqs. 18–22), and log p(x_t | …) by eqs. 23–25.

Sampling draws one point per step from the mixture (with Graves' sampling bias b of §5.4,
``sampling_bias``). A synthesis sample ends when the window has moved past the text: the first step
at which φ(t, U + 1) > φ(t, u) for every u ≤ U (§5.3); the rest is padding. An unconditional sample
runs for ``length`` steps.

Training minimises the NLL per point (eq. 26 averaged over the batch's real points) with Adam and
gradient-norm clipping (Graves clips LSTM derivatives; clipping the norm serves the same purpose).
Sequences are scored up to their own length (padding rows are not part of the likelihood), and a
batch runs only as far as its longest sequence.

Example::

    data = load_dataset("hershey")
    model = Handwriting(HandwritingConfig(synthesis=True), data.shape, data.info)
    nll_nats = -model.log_prob(data.test, data.test_labels).mean()
    strokes = model.sample(4, text="hello")  # (4, T, 3)
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
from ...data.strokes import encode_texts, sequence_lengths
from ...losses.mdn import PenMixture, fit_single_gaussian


@dataclass(frozen=True)
class HandwritingConfig:
    synthesis: bool = False  # False: unconditional (§4); True: conditioned on text by a soft window (§5)
    hidden_size: int = 128  # LSTM cells per layer
    num_layers: int = 3  # stacked LSTM layers, all feeding the output (skip connections)
    num_components: int = 20  # M bivariate Gaussians in the output mixture
    num_window_components: int = 10  # K Gaussians in the attention window
    sampling_bias: float = 0.0  # b of §5.4: 0 samples the model itself, larger is neater
    batch_size: int = 32
    learning_rate: float = 1e-3
    max_grad_norm: float = 10.0

    def __post_init__(self) -> None:
        check(self.hidden_size >= 1, f"hidden_size must be >= 1, got {self.hidden_size}")
        check(self.num_layers >= 1, f"num_layers must be >= 1, got {self.num_layers}")
        check(self.num_components >= 1, f"num_components must be >= 1, got {self.num_components}")
        check(self.num_window_components >= 1, f"num_window_components must be >= 1, got {self.num_window_components}")
        check(self.sampling_bias >= 0, f"sampling_bias must be >= 0, got {self.sampling_bias}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")
        check(self.max_grad_norm > 0, f"max_grad_norm must be > 0, got {self.max_grad_norm}")


@dataclass
class RecurrentState:
    """Everything carried from one step to the next (batch size B)."""

    first: tuple[torch.Tensor, torch.Tensor]  # (h¹, c¹), each (B, H)
    upper: list[tuple[torch.Tensor, torch.Tensor]]  # (h^n, c^n) of layers 2..N, each (1, B, H)
    window: torch.Tensor | None  # w_{t−1} (B, A), synthesis only
    kappa: torch.Tensor | None  # κ_{t−1} (B, K), synthesis only


@dataclass
class Attention:
    """The soft window over a run of steps (synthesis only)."""

    phi: torch.Tensor  # (B, T, U + 1) φ(t, u) for u = 1..U + 1 (the last one is for the end rule)
    kappa: torch.Tensor  # (B, T, K) window locations κ_t


class Handwriting(nn.Module):
    """LSTM + mixture density network over pen offsets; unconditional or text-conditional."""

    data_kinds = ("strokes",)
    binarize_data = False
    continuous_data = True  # pen offsets have a density: no bits per dimension (and padding is not data)

    def __init__(self, config: HandwritingConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__()
        if len(data_shape) != 2 or data_shape[1] != 3:
            raise DataError(f"Handwriting models pen strokes (T, 3) of (dx, dy, pen_lift), got {data_shape}")
        info = dict(data_info or {})
        if config.synthesis and not info.get("alphabet"):
            raise DataError("the synthesis model needs the data set's alphabet (data_info['alphabet']), got none")
        self.config = config
        self.data_shape = data_shape
        self.batch_size = config.batch_size
        self.conditioning = config.synthesis
        self.alphabet: str = info.get("alphabet", "") if config.synthesis else ""
        self.words: list[str] = list(info.get("words", [])) or list(self.alphabet.replace(" ", ""))
        self.points_per_character = float(info.get("points_per_character", 20.0))
        hidden, window = config.hidden_size, len(self.alphabet)
        if config.synthesis:
            self.first_layer = nn.LSTMCell(3 + window, hidden)  # step 2, run one step at a time
            self.window_head = nn.Linear(hidden, 3 * config.num_window_components)  # step 3: α̂, β̂, κ̂
            with torch.no_grad():  # start with κ advancing about one character per character's worth of points
                self.window_head.bias[2 * config.num_window_components :] = -math.log(self.points_per_character)
        else:
            self.first_layer = nn.LSTM(3, hidden, batch_first=True)  # step 2
        self.upper_layers = nn.ModuleList(
            [nn.LSTM(3 + hidden + window, hidden, batch_first=True) for _ in range(config.num_layers - 1)]
        )  # step 4
        self.output_head = nn.Linear(config.num_layers * hidden, PenMixture.output_size(config.num_components))

    # ------------------------------------------------------------------ the network

    def initial_state(self, batch: int) -> RecurrentState:
        parameter = self.output_head.weight
        zeros = parameter.new_zeros(batch, self.config.hidden_size)
        window = parameter.new_zeros(batch, len(self.alphabet)) if self.conditioning else None
        kappa = parameter.new_zeros(batch, self.config.num_window_components) if self.conditioning else None
        upper = [(zeros[None], zeros[None]) for _ in self.upper_layers]
        return RecurrentState((zeros, zeros), upper, window, kappa)

    def one_hot_text(self, labels: torch.Tensor) -> torch.Tensor:
        """(B, U) indices (padding: any index outside the alphabet) -> (B, U, A) one-hot c_u, zero rows for padding."""
        size = len(self.alphabet)
        valid = (labels >= 0) & (labels < size)
        return F.one_hot(torch.where(valid, labels, size), size + 1)[..., :size].to(self.output_head.weight.dtype)

    def window(self, hidden: torch.Tensor, kappa: torch.Tensor, text: torch.Tensor):
        """Step 3 at one time step: h¹_t (B, H), κ_{t−1} (B, K), one-hot text (B, U, A) ->
        w_t (B, A), κ_t (B, K), φ(t, u) (B, U + 1) for u = 1..U + 1."""
        alpha_hat, beta_hat, kappa_hat = self.window_head(hidden).chunk(3, dim=-1)  # (B, K) each
        kappa = kappa + torch.exp(kappa_hat)  # eq. 51
        positions = torch.arange(1, text.shape[1] + 2, device=text.device, dtype=text.dtype)  # (U + 1,)
        distance = kappa[:, :, None] - positions  # (B, K, U + 1)
        phi = (torch.exp(alpha_hat)[:, :, None] * torch.exp(-torch.exp(beta_hat)[:, :, None] * distance**2)).sum(1)
        window = torch.einsum("bu,bua->ba", phi[:, :-1], text)  # (B, A)  eq. 47
        return window, kappa, phi

    def run(
        self, inputs: torch.Tensor, text: torch.Tensor | None, state: RecurrentState
    ) -> tuple[torch.Tensor, RecurrentState, Attention | None]:
        """Steps 2–5 over inputs x_{t−1} (B, T, 3) from ``state`` -> mixture parameters (B, T, 1 + 6M),
        the state after the last step, and the attention (synthesis only). ``text``: (B, U, A) one-hot."""
        attention = None
        # 2–3. First layer, and the window that feeds back into it.
        if self.conditioning:
            (hidden, cell), window, kappa = state.first, state.window, state.kappa
            hiddens, windows, kappas, phis = [], [], [], []
            for t in range(inputs.shape[1]):
                hidden, cell = self.first_layer(torch.cat([inputs[:, t], window], dim=-1), (hidden, cell))  # (B, H)
                window, kappa, phi = self.window(hidden, kappa, text)  # (B, A), (B, K), (B, U + 1)
                hiddens.append(hidden)
                windows.append(window)
                kappas.append(kappa)
                phis.append(phi)
            first = torch.stack(hiddens, dim=1)  # (B, T, H)
            windows_seq = torch.stack(windows, dim=1)  # (B, T, A)
            attention = Attention(torch.stack(phis, dim=1), torch.stack(kappas, dim=1))
            new_first = (hidden, cell)
        else:
            h, c = state.first
            first, (h, c) = self.first_layer(inputs, (h[None], c[None]))  # (B, T, H)
            windows_seq, window, kappa, new_first = None, None, None, (h[0], c[0])
        # 4. Upper layers with skip connections from the input (and the window).
        layer_outputs, below, new_upper = [first], first, []
        for layer, layer_state in zip(self.upper_layers, state.upper, strict=True):
            extra = [windows_seq] if windows_seq is not None else []
            below, layer_state = layer(torch.cat([inputs, below, *extra], dim=-1), layer_state)  # (B, T, H)
            layer_outputs.append(below)
            new_upper.append(layer_state)
        # 5. Output layer from every hidden layer.
        output = self.output_head(torch.cat(layer_outputs, dim=-1))  # (B, T, 1 + 6M)
        return output, RecurrentState(new_first, new_upper, window, kappa), attention

    def _text(self, labels: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        """Check ``labels`` against the model's kind and return their one-hot encoding (or None)."""
        if not self.conditioning:
            if labels is not None:
                raise DataError("the unconditional handwriting model (synthesis=false) takes no labels")
            return None
        if labels is None:
            raise DataError("the synthesis model scores strokes given their text: pass labels (B, U) int64")
        if labels.dim() != 2 or len(labels) != batch or labels.dtype.is_floating_point:
            raise DataError(f"labels must be integer indices of shape ({batch}, U), got {tuple(labels.shape)}")
        return self.one_hot_text(labels)

    def network_output(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, 3) strokes -> (B, T, 1 + 6M): output t parametrises p(x_t | x_<t[, text])."""
        start = x.new_tensor([0.0, 0.0, 1.0]).expand(len(x), 1, 3)  # x_0, step 1
        inputs = torch.cat([start, x[:, :-1]], dim=1)  # (B, T, 3)
        output, _, _ = self.run(inputs, self._text(labels, len(x)), self.initial_state(len(x)))
        return output

    # ------------------------------------------------------------------ likelihood

    def log_prob(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, 3) padded strokes [, (B, U) text] -> (B,) log p(x [| text]) in nats over each
        sequence's real points (padding rows (0, 0, 1) after the end are not scored)."""
        if x.dim() != 3 or x.shape[2] != 3:
            raise DataError(f"strokes must have shape (B, T, 3), got {tuple(x.shape)}")
        lengths = sequence_lengths(x)  # (B,)
        used = max(int(lengths.max()), 1) if len(x) else 1
        x = x[:, :used]  # (B, T', 3): a batch runs as far as its longest sequence
        if labels is not None and self.conditioning:
            labels = labels[:, : max(int(((labels >= 0) & (labels < len(self.alphabet))).sum(1).max()), 1)]
        pen = PenMixture.from_network_output(self.network_output(x, labels), self.config.num_components)
        per_point = pen.log_prob(x)  # (B, T')
        real = torch.arange(used, device=x.device) < lengths[:, None]  # (B, T')
        return (per_point * real).sum(dim=1)

    def extra_metrics(self, test: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        """NLL per real point in nats, and that of the baseline: one bivariate Gaussian and one
        Bernoulli fitted by maximum likelihood to the test points themselves (no sequence model)."""
        lengths = sequence_lengths(test)  # (N,)
        chunks = zip(test.split(256), labels.split(256) if labels is not None else [None] * len(test), strict=False)
        total = sum(self.log_prob(x, y).double().sum().item() for x, y in chunks)
        points = test[torch.arange(test.shape[1], device=test.device) < lengths[:, None]]  # (P, 3)
        baseline = -fit_single_gaussian(points).log_prob(points.double()).mean().item()
        return {"nll_per_point_nats": -total / int(lengths.sum()), "single_gaussian_nll_per_point_nats": baseline}

    # ------------------------------------------------------------------ sampling

    def _sample_texts(self, n: int, text: str | None, generator: torch.Generator | None) -> list[str]:
        if not self.conditioning:
            if text is not None:
                raise ConfigError(f"the unconditional model (synthesis=false) writes no given text; got text={text!r}")
            return []
        if text is None:
            device = generator.device if generator is not None else torch.device("cpu")
            picks = torch.randint(len(self.words), (n,), generator=generator, device=device).tolist()
            return [self.words[i] for i in picks]
        if not isinstance(text, str) or not text:
            raise ConfigError(f"text must be a non-empty string, got {text!r}")
        unknown = sorted(set(text) - set(self.alphabet))
        if unknown:
            raise ConfigError(f"text may only use the characters {self.alphabet!r}; got {''.join(unknown)!r}")
        return [text] * n

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        text: str | None = None,
        length: int | None = None,
        prompt: Any = None,
    ) -> torch.Tensor:
        """-> (n, length, 3) strokes, padded with (0, 0, 1) after a synthesis sample's end.

        ``text`` (synthesis only): the string to write, in the data set's alphabet; without it each
        sample writes a random word of the training vocabulary. ``length``: the most points per
        sample; by default the data's T, or for a given ``text`` twice the data's points per
        character times its length if that is more (the end rule usually stops well before).
        Points are drawn with ``sampling_bias`` (§5.4).
        """
        if prompt is not None:
            raise ConfigError("the handwriting model takes text= (synthesis) and length=, not a prompt")
        if length is not None and (not isinstance(length, int) or length < 1):
            raise ConfigError(f"length must be a positive number of points, got {length!r}")
        texts = self._sample_texts(n, text, generator)
        if length is None:
            length = self.data_shape[0]
            if text is not None:
                length = max(length, math.ceil(2 * self.points_per_character * len(text)))
        parameter = self.output_head.weight
        one_hot, text_lengths = None, None
        if self.conditioning:
            labels = encode_texts(texts, self.alphabet, len(self.alphabet)).to(parameter.device)  # (n, U)
            one_hot = self.one_hot_text(labels)  # (n, U, A)
            text_lengths = torch.tensor([len(t) for t in texts], device=parameter.device)  # (n,)
        strokes = parameter.new_zeros(n, length, 3)
        strokes[:, :, 2] = 1.0  # padding rows (0, 0, 1)
        point = parameter.new_tensor([0.0, 0.0, 1.0]).expand(n, 3)  # x_0
        state = self.initial_state(n)
        writing = torch.ones(n, dtype=torch.bool, device=parameter.device)
        for t in range(length):
            output, state, attention = self.run(point[:, None], one_hot, state)  # (n, 1, 1 + 6M)
            if attention is not None:  # §5.3: stop once φ(t, U + 1) exceeds φ(t, u) for all u ≤ U
                phi = attention.phi[:, 0]  # (n, U + 1)
                in_text = torch.arange(phi.shape[1], device=phi.device) < text_lengths[:, None]  # (n, U + 1)
                past_end = phi.gather(1, text_lengths[:, None])[:, 0] > phi.masked_fill(~in_text, -1.0).amax(1)
                writing &= ~past_end
                if not writing.any():
                    break
            pen = PenMixture.from_network_output(output[:, 0], self.config.num_components, self.config.sampling_bias)
            point = pen.sample(generator=generator)  # (n, 3)
            strokes[writing, t] = point[writing]
        return strokes

    # ------------------------------------------------------------------ training

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)}

    def train_step(self, batch: Any, optimizers: dict, backward: Backward) -> dict[str, float]:
        """Maximum likelihood: one Adam step on the NLL per real point (eq. 26), gradient norm clipped.

        ``batch``: strokes (B, T, 3), or (strokes, text (B, U)) for the synthesis model.
        """
        x, labels = batch if self.conditioning else (batch, None)
        optimizer = optimizers["adam"]
        optimizer.zero_grad()
        log_prob = self.log_prob(x, labels)  # (B,)
        points = sequence_lengths(x).sum().clamp(min=1)
        loss = -log_prob.sum() / points
        backward(loss)
        nn.utils.clip_grad_norm_(self.parameters(), self.config.max_grad_norm)
        optimizer.step()
        return {"loss": loss.item(), "nll_nats": -log_prob.mean().item()}
