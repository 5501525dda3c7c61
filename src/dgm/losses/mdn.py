"""The mixture density output of Graves 2013 ("Generating Sequences With Recurrent Neural Networks",
§4.1, eqs. 18–26): a mixture of M bivariate Gaussians over the pen offset (dx, dy) times a Bernoulli
over the pen lift, as a ``torch.distributions.Distribution`` with event shape (3,).

The network output y = (ê, π̂, μ̂, σ̂, ρ̂) of size 1 + 6M is mapped to

- the lift probability e = sigmoid(ê)  (eq. 18, with the sign of ê flipped: Graves writes 1/(1 + exp(ê)));
- mixture weights π = softmax(π̂)  (eq. 19); means μ = μ̂  (eq. 20); scales σ = exp(σ̂)  (eq. 21);
- correlations ρ = tanh(ρ̂)  (eq. 22);

and the likelihood of x = (dx, dy, lift) is (eqs. 23–25)

    p(x) = Σ_j π_j N(dx, dy | μ_j, σ_j, ρ_j) · (e if lift = 1 else 1 − e),

whose negative log is the per-point loss of eq. 26. Everything is computed in log space from the raw
outputs: log π by ``log_softmax``, the Gaussian with whitened coordinates, log(1 − ρ²) = 2 log sech ρ̂
without forming ρ², the mixture by ``logsumexp`` and the Bernoulli by ``softplus``, so the loss stays
finite where a direct evaluation of eqs. 23–25 under- or overflows.

Sampling bias (Graves §5.4, eqs. 61–62): ``from_network_output(y, M, bias=b)`` uses σ = exp(σ̂ − b)
and π = softmax(π̂ (1 + b)); b > 0 gives cleaner, more probable samples, b = 0 the model itself.

Example::

    pen = PenMixture.from_network_output(y, num_components=20)   # y (B, T, 121)
    nll_nats = -pen.log_prob(x)                                   # x (B, T, 3) -> (B, T)
    x_next = pen.sample(generator=torch.Generator().manual_seed(0))
"""

import math

import torch
import torch.nn.functional as F
from torch.distributions import Distribution, constraints


def log_sech(a: torch.Tensor) -> torch.Tensor:
    """log(1 / cosh a), stable for large |a|: log 2 − |a| − log(1 + e^{−2|a|})."""
    a = a.abs()
    return math.log(2.0) - a - F.softplus(-2.0 * a)


class PenMixture(Distribution):
    """Bivariate Gaussian mixture over (dx, dy) times a Bernoulli over the pen lift (Graves eqs. 18–25).

    Parameters, all with batch shape ``(*B)``: ``lift_logits`` (*B) the logit of e; ``mixture_logits``
    (*B, M) unnormalised log π; ``means`` (*B, M, 2); ``log_scales`` (*B, M, 2) log σ;
    ``correlation_logits`` (*B, M) with ρ = tanh(·).
    """

    arg_constraints = {}
    support = constraints.independent(constraints.real, 1)
    has_rsample = False

    def __init__(
        self,
        lift_logits: torch.Tensor,
        mixture_logits: torch.Tensor,
        means: torch.Tensor,
        log_scales: torch.Tensor,
        correlation_logits: torch.Tensor,
    ) -> None:
        self.lift_logits = lift_logits
        self.mixture_logits = mixture_logits
        self.means = means
        self.log_scales = log_scales
        self.correlation_logits = correlation_logits
        super().__init__(lift_logits.shape, torch.Size([3]), validate_args=False)

    @classmethod
    def from_network_output(cls, output: torch.Tensor, num_components: int, bias: float = 0.0) -> "PenMixture":
        """Split a network output (*B, 1 + 6M) into the parameters of eqs. 18–22, with sampling ``bias`` b."""
        m = num_components
        lift, mixture, means, log_scales, correlations = output.split([1, m, 2 * m, 2 * m, m], dim=-1)
        return cls(
            lift[..., 0],  # (*B,)
            mixture * (1.0 + bias),  # (*B, M)  eq. 62
            means.unflatten(-1, (m, 2)),  # (*B, M, 2)
            log_scales.unflatten(-1, (m, 2)) - bias,  # (*B, M, 2)  eq. 61
            correlations,  # (*B, M)
        )

    @staticmethod
    def output_size(num_components: int) -> int:
        """1 + 6M: one lift logit, M weights, 2M means, 2M scales, M correlations."""
        return 1 + 6 * num_components

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """(*B, 3) points (dx, dy, lift ∈ {0, 1}) -> (*B,) log p in nats (eqs. 23–25)."""
        offset = value[..., None, :2]  # (*B, 1, 2)
        whitened = (offset - self.means) * torch.exp(-self.log_scales)  # (*B, M, 2)
        u1, u2 = whitened.unbind(-1)  # (*B, M) each
        rho = torch.tanh(self.correlation_logits)  # (*B, M)
        log_one_minus_rho2 = 2.0 * log_sech(self.correlation_logits)  # (*B, M)
        # Eq. 25: Z / (1 − ρ²) = u1² + (u2 − ρ u1)² / (1 − ρ²).
        mahalanobis = u1**2 + (u2 - rho * u1) ** 2 * torch.exp(-log_one_minus_rho2)  # (*B, M)
        log_gaussian = (
            -math.log(2 * math.pi) - self.log_scales.sum(-1) - 0.5 * log_one_minus_rho2 - 0.5 * mahalanobis
        )  # (*B, M)  eq. 24
        log_mixture = torch.logsumexp(F.log_softmax(self.mixture_logits, dim=-1) + log_gaussian, dim=-1)  # (*B,)
        lift = value[..., 2]  # (*B,)
        log_bernoulli = -F.binary_cross_entropy_with_logits(self.lift_logits.expand_as(lift), lift, reduction="none")
        return log_mixture + log_bernoulli  # eq. 23

    @torch.no_grad()
    def sample(self, sample_shape: tuple[int, ...] = (), generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (*sample_shape, *B, 3) points: a component j ~ π, (dx, dy) ~ N(μ_j, σ_j, ρ_j), lift ~ Bernoulli(e)."""
        shape = torch.Size(sample_shape) + self.batch_shape
        m = self.mixture_logits.shape[-1]
        weights = self.mixture_logits.softmax(-1).expand(*shape, m).reshape(-1, m)  # (S, M)
        component = torch.multinomial(weights, 1, generator=generator).reshape(*shape, 1)  # (*S, *B, 1)
        means = self.means.expand(*shape, m, 2).gather(-2, component[..., None].expand(*shape, 1, 2))[..., 0, :]
        scales = self.log_scales.expand(*shape, m, 2).gather(-2, component[..., None].expand(*shape, 1, 2))
        scales = scales[..., 0, :].exp()  # (*S, *B, 2)
        correlation_logits = self.correlation_logits.expand(*shape, m).gather(-1, component)[..., 0]  # (*S, *B)
        rho, sqrt_one_minus_rho2 = torch.tanh(correlation_logits), torch.exp(log_sech(correlation_logits))
        noise = torch.randn(*shape, 2, generator=generator, device=means.device, dtype=means.dtype)  # (*S, *B, 2)
        dx = means[..., 0] + scales[..., 0] * noise[..., 0]
        dy = means[..., 1] + scales[..., 1] * (rho * noise[..., 0] + sqrt_one_minus_rho2 * noise[..., 1])
        lift_probability = torch.sigmoid(self.lift_logits).expand(shape)
        lift = torch.bernoulli(lift_probability, generator=generator)  # (*S, *B)
        return torch.stack([dx, dy, lift], dim=-1)


def fit_single_gaussian(points: torch.Tensor) -> PenMixture:
    """The maximum-likelihood single bivariate Gaussian and Bernoulli for ``points`` (N, 3): a
    ``PenMixture`` with M = 1 and batch shape (), the baseline a sequence model must beat."""
    points = points.double()
    mean = points[:, :2].mean(0)  # (2,)
    covariance = torch.cov(points[:, :2].T, correction=0)  # (2, 2)
    scales = covariance.diagonal().sqrt()  # (2,)
    rho = (covariance[0, 1] / (scales[0] * scales[1])).clamp(-1 + 1e-9, 1 - 1e-9)
    lift = points[:, 2].mean().clamp(1e-9, 1 - 1e-9)
    return PenMixture(
        torch.logit(lift),
        torch.zeros(1, dtype=torch.float64),
        mean[None],
        scales.log()[None],
        torch.atanh(rho)[None],
    )
