"""NADE (Larochelle & Murray 2011, "The Neural Autoregressive Distribution Estimator", AISTATS).

An image of shape (C, H, W) is flattened to D binary pixels in raster order and modelled as
p(x) = Π_d p(x_d | x_<d) (eq. 1). Each conditional is a one-hidden-layer network whose hidden
layer reads only the earlier pixels, with input weights shared across all D conditionals:

    h_d = sigm(c + W[:, <d] x_<d)                  (eq. 7)
    p(x_d = 1 | x_<d) = sigm(b_d + V_d · h_d)      (eq. 6)

Sharing W makes the pre-activation a running sum, a_1 = c and a_{d+1} = a_d + W[:, d] x_d, so all D
conditionals cost O(D·H) rather than O(D²·H) (§3, Algorithm 1). ``logits`` computes every a_d at
once with a cumulative sum over pixels; ``sample`` carries a_d forward one drawn pixel at a time.
The log-likelihood is exact.

Example::

    model = NADE(NADEConfig(hidden_dim=128), data_shape=(1, 8, 8))
    nll_nats = -model.log_prob(binary_images).mean()
    images = model.sample(16, generator=torch.Generator().manual_seed(0))  # (16, 1, 8, 8) in {0, 1}
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...core.config import check
from ...core.errors import DataError
from ...core.protocols import Backward
from ...losses.likelihood import maximum_likelihood_step


@dataclass(frozen=True)
class NADEConfig:
    hidden_dim: int = 128  # H, the size of every h_d
    batch_size: int = 64
    learning_rate: float = 5e-3

    def __post_init__(self) -> None:
        check(self.hidden_dim >= 1, f"hidden_dim must be >= 1, got {self.hidden_dim}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")


class NADE(nn.Module):
    """Exact-likelihood autoregressive model of binary images with one weight-shared hidden layer."""

    data_kinds = ("image",)

    def __init__(self, config: NADEConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__()
        if len(data_shape) != 3:
            raise DataError(f"NADE models images (C, H, W), got data shape {data_shape}")
        self.config = config
        self.data_shape = data_shape
        self.batch_size = config.batch_size
        self.binarize_data = True  # every conditional is a Bernoulli
        num_pixels, hidden = math.prod(data_shape), config.hidden_dim
        # Uniform(±1/√fan_in) as nn.Linear: W reads up to D pixels, V reads H hidden units.
        input_bound, output_bound = 1 / math.sqrt(num_pixels), 1 / math.sqrt(hidden)
        self.input_weight = nn.Parameter(torch.empty(num_pixels, hidden).uniform_(-input_bound, input_bound))  # Wᵀ
        self.hidden_bias = nn.Parameter(torch.zeros(hidden))  # c
        self.output_weight = nn.Parameter(torch.empty(num_pixels, hidden).uniform_(-output_bound, output_bound))  # V
        self.output_bias = nn.Parameter(torch.zeros(num_pixels))  # b

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W): the logit of p(x_d = 1 | x_<d) at every pixel d.

        ``x`` is used as given, not rounded (``log_prob`` rounds it first), so the logits are a
        differentiable function of continuous inputs; the logit at pixel d depends only on pixels
        j < d in raster order.
        """
        if tuple(x.shape[1:]) != self.data_shape:
            raise DataError(f"NADE expects inputs of shape (B, *{self.data_shape}), got {tuple(x.shape)}")
        pixels = x.flatten(1)  # (B, D)
        # Shift by one pixel before summing, so that a_d holds pixels j < d only. Summing the shifted
        # terms (not an inclusive cumsum minus the last term, which cancels) adds what sample() adds.
        previous_pixels = F.pad(pixels[:, :-1], (1, 0))  # (B, D): x_{d−1}, and 0 for d = 1
        previous_weights = F.pad(self.input_weight[:-1], (0, 0, 1, 0))  # (D, H): W[:, d−1]ᵀ, and 0 for d = 1
        contributions = previous_pixels[:, :, None] * previous_weights  # (B, D, H): W[:, d−1] x_{d−1}
        pre_activations = self.hidden_bias + contributions.cumsum(dim=1)  # (B, D, H): a_d, inside sigm of eq. 7
        hidden = torch.sigmoid(pre_activations)  # (B, D, H): h_d
        logits = (hidden * self.output_weight).sum(dim=-1) + self.output_bias  # (B, D): b_d + V_d · h_d, eq. 6
        return logits.view(-1, *self.data_shape)  # (B, C, H, W)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B,) exact log p(x) in nats, after rounding x to {0, 1}."""
        binary = x.round().clamp(0, 1)  # (B, C, H, W)
        per_pixel = -F.binary_cross_entropy_with_logits(self.logits(binary), binary, reduction="none")
        return per_pixel.flatten(1).sum(dim=1)  # (B,)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (n, C, H, W) in {0, 1}, drawn pixel by pixel in raster order in O(D·H) per sample.

        Algorithm 1 run forwards: a_d is updated with each drawn pixel instead of recomputing all
        D conditionals per pixel.
        """
        num_pixels, hidden = self.input_weight.shape
        like = {"device": self.input_weight.device, "dtype": self.input_weight.dtype}
        pixels = torch.zeros(n, num_pixels, **like)  # (n, D)
        running_sum = torch.zeros(n, hidden, **like)  # (n, H): Σ_{j<d} W[:, j] x_j, a_d − c
        for d in range(num_pixels):
            hidden_units = torch.sigmoid(self.hidden_bias + running_sum)  # (n, H): h_d
            logit = (hidden_units * self.output_weight[d]).sum(dim=-1) + self.output_bias[d]  # (n,)
            pixels[:, d] = torch.bernoulli(torch.sigmoid(logit), generator=generator)
            running_sum = running_sum + pixels[:, d, None] * self.input_weight[d]  # (n, H): now includes x_d
        return pixels.view(n, *self.data_shape)  # (n, C, H, W)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)}

    def train_step(self, batch: torch.Tensor, optimizers: dict, backward: Backward) -> dict[str, float]:
        """Maximum likelihood: one Adam step on the mean NLL (nats per image)."""
        return maximum_likelihood_step(self, batch, optimizers, backward)
