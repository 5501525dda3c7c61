"""The discretised logistic likelihood of 8-bit data (Kingma et al. 2016, "Improved Variational Inference
with Inverse Autoregressive Flow", appendix; Salimans et al. 2017, "PixelCNN++", eq. 2).

A value in [0, 1] quantised to K levels sits in bin k with centre c_k = k / (K − 1) and half-width
h = 1 / (2(K − 1)). A logistic density with mean μ and scale s is integrated over each bin, and the
first and last bins take the tails, so the K probabilities sum to one exactly:

1. P(k) = σ((c_k + h − μ) / s) − σ((c_k − h − μ) / s) for 0 < k < K − 1;
2. P(0) = σ((c_0 + h − μ) / s) and P(K − 1) = 1 − σ((c_{K−1} − h − μ) / s);
3. in logs, with a > b the standardised upper and lower edges,
   log(σ(a) − σ(b)) = a + log(−expm1(b − a)) − softplus(a) − softplus(b), finite for any μ and s.

Example::

    log_p = discretized_logistic_log_prob(images, mean, log_scale)  # (B, C, H, W) nats per value
"""

import torch
import torch.nn.functional as F
from torch.distributions import Distribution, constraints


def discretized_logistic_log_prob(
    x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor, num_levels: int = 256
) -> torch.Tensor:
    """x in [0, 1] (any shape; rounded to the nearest of ``num_levels`` levels), mean and log s of the
    same (or a broadcastable) shape -> log P(bin of x) in nats, elementwise."""
    half_width = 0.5 / (num_levels - 1)
    levels = torch.round(x.clamp(0, 1) * (num_levels - 1))  # k
    centre = levels / (num_levels - 1)  # c_k
    inverse_scale = torch.exp(-log_scale)
    upper = (centre + half_width - mean) * inverse_scale  # a
    lower = (centre - half_width - mean) * inverse_scale  # b
    # 3. log(σ(a) − σ(b)) for the interior bins
    interior = upper + torch.log(-torch.expm1(lower - upper)) - F.softplus(upper) - F.softplus(lower)
    first = -F.softplus(-upper)  # 2. log σ(a)
    last = -F.softplus(lower)  # 2. log(1 − σ(b))
    return torch.where(levels == 0, first, torch.where(levels == num_levels - 1, last, interior))


class DiscretizedLogistic(Distribution):
    """The discretised logistic as a ``torch.distributions`` object, elementwise over ``mean``'s shape.

    ``log_prob`` is ``discretized_logistic_log_prob``; ``sample`` draws the continuous logistic
    μ + s·(log u − log(1 − u)) and rounds it to the nearest level in [0, 1]; ``mean`` is μ clamped to
    [0, 1], the picture shown in grids: the discrete mean differs from it by the tails that the first
    and last bins absorb, which is small unless μ lies within a few s of 0 or 1.
    """

    arg_constraints = {"loc": constraints.real, "log_scale": constraints.real}
    support = constraints.unit_interval
    has_rsample = False

    def __init__(self, mean: torch.Tensor, log_scale: torch.Tensor, num_levels: int = 256) -> None:
        self.loc, self.log_scale = torch.broadcast_tensors(mean, log_scale)
        self.num_levels = num_levels
        super().__init__(batch_shape=self.loc.shape, validate_args=False)

    @property
    def mean(self) -> torch.Tensor:
        return self.loc.clamp(0, 1)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return discretized_logistic_log_prob(value, self.loc, self.log_scale, self.num_levels)

    def sample(self, sample_shape: tuple[int, ...] = (), generator: torch.Generator | None = None) -> torch.Tensor:
        shape = self._extended_shape(torch.Size(sample_shape))
        with torch.no_grad():
            u = torch.rand(shape, generator=generator, dtype=self.loc.dtype, device=self.loc.device)
            u = u.clamp(1e-6, 1 - 1e-6)
            x = self.loc + self.log_scale.exp() * (u.log() - torch.log1p(-u))  # a logistic draw
            return torch.round(x.clamp(0, 1) * (self.num_levels - 1)) / (self.num_levels - 1)
