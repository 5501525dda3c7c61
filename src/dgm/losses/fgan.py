"""f-GAN: adversarial training for any f-divergence, one class per row of the paper's tables.

References:
    Nowozin, Cseke & Tomioka (2016), "f-GAN: Training Generative Neural Samplers using Variational
    Divergence Minimization", NeurIPS — §2 (f-divergences, variational estimation), §3 (VDM,
    Algorithm 1, §3.2 practical considerations), Table 1 (f, optimal T*), Table 2 (g_f, dom f*,
    f*, f'(1)).
    Nguyen, Wainwright & Jordan (2010), "Estimating divergence functionals and the likelihood ratio
    by convex risk minimization" — the variational bound of step 2.
    Goodfellow et al. (2014), "Generative adversarial nets" — the `gan` row and its −log D trick.
    Cichocki & Amari (2010), "Families of alpha- beta- and gamma-divergences" — the α row.

The steps, as in the paper:
    1. An f-divergence is D_f(P ‖ Q) = ∫ q(x) f(p(x) / q(x)) dx with f convex on u > 0 and f(1) = 0
       (the `gan` row keeps Table 1's f with f(1) = −log 4, so that its value is the GAN's own).
    2. With the Fenchel conjugate f*(t) = sup_u {u t − f(u)}, every critic T: X -> dom f* gives the
       lower bound D_f(P ‖ Q) ≥ E_P[T(x)] − E_Q[f*(T(x))], tight at T*(x) = f'(p(x) / q(x)).
    3. The critic network outputs an unconstrained score v = V(x) ∈ R; the row's output activation
       g_f: R -> dom f* makes it a valid T = g_f(v), and the saddle objective is
       F(θ, ω) = E_P[g_f(V(x))] − E_Q[f*(g_f(V(x)))].
    4. The critic ascends F (``critic_loss`` = −F); the generator descends F, i.e. minimises
       −E_Q[f*(g_f(V))] (``generator_update="single_step"``, Algorithm 1), or ascends E_Q[g_f(V)]
       (``"alternative"``, §3.2).

The table in words (u = p/q > 0; every g_f is written increasing in v, so a larger score always
reads "more like data"; the lecture's table prints −exp(v) and 1 − exp(v) for reverse KL, Neyman and
Hellinger, the same ranges with the score's sign flipped):

    name             f(u)                                f'(1)    g_f(v)                        dom f*
    total_variation  ½|u − 1|                            0        ½ tanh v                      |t| ≤ ½
    kl               u log u                             1        v                             R
    reverse_kl       −log u                              −1       −exp(−v)                      t < 0
    pearson          (u − 1)²                            0        v                             R
    neyman           (1 − u)²/u                          0        1 − exp(−v)                   t < 1
    hellinger        (√u − 1)²                           0        1 − exp(−v)                   t < 1
    jeffrey          (u − 1) log u                       0        v                             R
    js               u log u − (u + 1) log((u + 1)/2)    0        log 2 − log(1 + e^(−v))       t < log 2
    weighted_js      π u log u − m log m, m = 1 − π + πu 0        −π log π − log(1 + e^(−v))    t < −π log π
    gan              u log u − (u + 1) log(u + 1)        −log 2   −log(1 + e^(−v))              t < 0
    alpha, α < 1     (u^α − 1 − α(u − 1)) / (α(α − 1))   0        1/(1 − α) − log(1 + e^(−v))   t < 1/(1 − α)
    alpha, α > 1     the same                            0        v                             R

    name             f*(t)
    total_variation  t
    kl               exp(t − 1)
    reverse_kl       −1 − log(−t)
    pearson          t²/4 + t
    neyman           2 − 2√(1 − t)
    hellinger        t / (1 − t)
    jeffrey          W(e^(1−t)) + 1/W(e^(1−t)) + t − 2
    js               −log(2 − e^t)
    weighted_js      (1 − π) log((1 − π) / (1 − π e^(t/π)))
    gan              −log(1 − e^t)
    alpha            ((1 + (α − 1)t)^(α/(α−1)) − 1) / α, with 1 + (α − 1)t clipped at 0 (α > 1 only)

W is Lambert's product log. Values of the divergences (checked against independent closed forms in
tests/test_fgan.py): total variation ½Σ|p − q|; Pearson Σ(p − q)²/q; Neyman Σ(p − q)²/p; squared
Hellinger Σ(√p − √q)²; Jeffrey KL(P‖Q) + KL(Q‖P); ``js`` KL(P‖M) + KL(Q‖M) with M = (P + Q)/2, which
is 2·JS(P‖Q): Table 1 defines D_JS = JS, with a factor ½ (hence its caption D_GAN = 2 D_JS − log 4), but
lists the f above, whose f* and g_f are Table 2's; we keep the tables' f, f* and g_f, so that
D_js = D_gan + log 4 = 2·JS, in [0, log 4]; ``weighted_js`` π KL(P‖M) + (1 − π) KL(Q‖M)
with M = πP + (1 − π)Q, so π = ½ gives JS itself; α: (Σ p^α q^(1−α) − 1) / (α(α − 1)), which is
2·hellinger at α = ½ and ½·pearson at α = 2. For α > 1, f lives on u ≥ 0, so its conjugate is
−1/α wherever 1 + (α − 1)t ≤ 0; Table 2's formula is undefined there although it gives dom f* = R.

f'(1) is Table 2's "critical level": when P = Q the optimal critic is the constant T* = f'(1), and
T(x) > f'(1) reads as "x is data". The two generator updates:

- ``"single_step"``: descend F, as Algorithm 1 (the single-step gradient method) does; the generator
  minimises −E_Q[f*(T)]. For the `gan` row this is the minimax loss E_Q[log(1 − D)].
- ``"alternative"``: §3.2, after Goodfellow et al.'s −log D trick: ascend E_Q[g_f(V)] = E_Q[T], i.e.
  push the generated samples' T up past the level f'(1) that separates them from data. The paper
  notes it keeps the stationary point (at P = Q the critic is the constant f'(1) and both gradients
  vanish). For the `gan` row it is exactly the non-saturating loss −E_Q[log D].

Both push T up on generated samples wherever f* is non-decreasing on the range of g_f; that holds
for every row whose f* is a supremum over u ≥ 0 (then f*'(t) is the maximising u ≥ 0). Pearson's
table conjugate t²/4 + t is the supremum over all real u and decreases for t < −2, where the
single-step update would push T down; for total variation (f*(t) = t) the two updates coincide.

Where the generator puts mass and the data none (u = 0), the critic's gain −f*(T) is at most the
biconjugate f**(0) = f(0⁺). Three rows lose every mode in training, two because of it (measured with
the ring-8 settings of ``benchmarks/adversarial.py``, seed 0; ``tests/test_fgan.py`` checks the gain):

- ``reverse_kl`` and ``neyman`` have f(0⁺) = ∞ (so has ``jeffrey``, and ``alpha`` with α < 0). The critic
  gains without limit by pushing the scores of such samples down, and through g_f = −e^(−v) or
  1 − e^(−v) the generator's gradient grows as e^(−v) under the (default) alternative update. For
  Neyman, the scores fell to −18 within 700 steps, the generator's gradient norm grew to 1e8, and the
  samples were thrown off the data. Jeffrey's gain grows only as log|v| and its g_f has unit slope, so
  neither the scores nor the generator's gradient ran away, and it covered 8/8/8 modes.
- ``total_variation`` bounds |T| by ½ through tanh. The critic only sees the difference of T between
  data and samples, so the common offset of its scores drifts. Once tanh saturates on both, critic and
  generator gradients are zero (the losses stuck at 0 and −½ from step 100, the samples off the ring).

``hellinger`` shares Neyman's g_f, so its generator's gradient also grows as e^(−v), but its gain is
bounded by f(0⁺) = 1; it lost some of the ring's modes, not all (7, 3 and 7 of 8 on three seeds).

Example::

    objective = FGANObjective(KullbackLeibler(), generator_update="alternative")
    critic_loss = objective.critic_loss(critic(real), critic(fake))   # (B,), (B,) -> scalar
    generator_loss = objective.generator_loss(critic(generator(z)))   # (B,) -> scalar
"""

import math
from abc import ABC, abstractmethod
from typing import Literal

import torch
import torch.nn.functional as F

from ..core.config import check

GeneratorUpdate = Literal["single_step", "alternative"]
GENERATOR_UPDATES: tuple[str, ...] = ("single_step", "alternative")


class FDivergence(ABC):
    """One row of Tables 1 and 2. Every method is elementwise: a tensor in, a tensor of its shape out."""

    name: str  # what users type: --set objective=NAME
    domain: str  # dom f*, in words
    derivative_at_one: float  # f'(1), Table 2's critical level

    @abstractmethod
    def convex_function(self, u: torch.Tensor) -> torch.Tensor:
        """f(u) for a likelihood ratio u = p/q > 0."""

    @abstractmethod
    def conjugate(self, t: torch.Tensor) -> torch.Tensor:
        """f*(t) = sup_u {u t − f(u)} for t in dom f*."""

    @abstractmethod
    def activation(self, v: torch.Tensor) -> torch.Tensor:
        """g_f(v): a raw critic score in R -> T in dom f*."""

    @abstractmethod
    def in_domain(self, t: torch.Tensor) -> torch.Tensor:
        """Whether each t lies in dom f* (a bool tensor)."""

    def conjugate_of_activation(self, v: torch.Tensor) -> torch.Tensor:
        """f*(g_f(v)); rows whose composition loses precision for large |v| override it with a closed form."""
        return self.conjugate(self.activation(v))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class TotalVariation(FDivergence):
    name, domain, derivative_at_one = "total_variation", "-1/2 <= t <= 1/2", 0.0  # f'(1): the subgradient 0

    def convex_function(self, u: torch.Tensor) -> torch.Tensor:
        return 0.5 * (u - 1).abs()

    def conjugate(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def activation(self, v: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.tanh(v)

    def in_domain(self, t: torch.Tensor) -> torch.Tensor:
        return t.abs() <= 0.5


class KullbackLeibler(FDivergence):
    name, domain, derivative_at_one = "kl", "all real t", 1.0

    def convex_function(self, u: torch.Tensor) -> torch.Tensor:
        return torch.xlogy(u, u)

    def conjugate(self, t: torch.Tensor) -> torch.Tensor:
        return torch.exp(t - 1)

    def activation(self, v: torch.Tensor) -> torch.Tensor:
        return v

    def in_domain(self, t: torch.Tensor) -> torch.Tensor:
        return t.isfinite()


class ReverseKullbackLeibler(FDivergence):
    name, domain, derivative_at_one = "reverse_kl", "t < 0", -1.0

    def convex_function(self, u: torch.Tensor) -> torch.Tensor:
        return -torch.log(u)

    def conjugate(self, t: torch.Tensor) -> torch.Tensor:
        return -1 - torch.log(-t)

    def activation(self, v: torch.Tensor) -> torch.Tensor:
        return -torch.exp(-v)

    def in_domain(self, t: torch.Tensor) -> torch.Tensor:
        return t < 0

    def conjugate_of_activation(self, v: torch.Tensor) -> torch.Tensor:
        return v - 1  # −1 − log(exp(−v)), finite even where exp(−v) underflows


class PearsonChiSquared(FDivergence):
    name, domain, derivative_at_one = "pearson", "all real t", 0.0

    def convex_function(self, u: torch.Tensor) -> torch.Tensor:
        return (u - 1) ** 2

    def conjugate(self, t: torch.Tensor) -> torch.Tensor:
        return 0.25 * t**2 + t

    def activation(self, v: torch.Tensor) -> torch.Tensor:
        return v

    def in_domain(self, t: torch.Tensor) -> torch.Tensor:
        return t.isfinite()


class NeymanChiSquared(FDivergence):
    name, domain, derivative_at_one = "neyman", "t < 1", 0.0

    def convex_function(self, u: torch.Tensor) -> torch.Tensor:
        return (1 - u) ** 2 / u

    def conjugate(self, t: torch.Tensor) -> torch.Tensor:
        return 2 - 2 * torch.sqrt(1 - t)

    def activation(self, v: torch.Tensor) -> torch.Tensor:
        return -torch.expm1(-v)  # 1 − exp(−v)

    def in_domain(self, t: torch.Tensor) -> torch.Tensor:
        return t < 1

    def conjugate_of_activation(self, v: torch.Tensor) -> torch.Tensor:
        return -2 * torch.expm1(-0.5 * v)  # 1 − t = exp(−v), so f* = 2 − 2 exp(−v/2)


class SquaredHellinger(FDivergence):
    name, domain, derivative_at_one = "hellinger", "t < 1", 0.0

    def convex_function(self, u: torch.Tensor) -> torch.Tensor:
        return (torch.sqrt(u) - 1) ** 2

    def conjugate(self, t: torch.Tensor) -> torch.Tensor:
        return t / (1 - t)

    def activation(self, v: torch.Tensor) -> torch.Tensor:
        return -torch.expm1(-v)  # 1 − exp(−v)

    def in_domain(self, t: torch.Tensor) -> torch.Tensor:
        return t < 1

    def conjugate_of_activation(self, v: torch.Tensor) -> torch.Tensor:
        return torch.expm1(v)  # (1 − exp(−v)) / exp(−v)


_NEWTON_STEPS = 6  # from the starts below, 4 steps bring log W to within 1e-16 (relative) on y ∈ [−600, 600]


def log_lambert_w_of_exp(y: torch.Tensor) -> torch.Tensor:
    """log W(e^y) for real y, W the principal branch of Lambert's product log: the root ℓ of e^ℓ + ℓ = y.

    h(ℓ) = e^ℓ + ℓ − y is increasing and convex, so Newton's method started right of the root (ℓ = log y
    for y > 1, where W ≤ y; ℓ = y otherwise, where W ≤ e^y) decreases monotonically onto it. The last
    step runs with gradients on: its derivative dℓ/dy = 1 / (1 + W) is the implicit-function one.
    torch has no Lambert W; ``scipy.special.lambertw`` is the reference in the tests.
    """
    with torch.no_grad():
        log_w = torch.where(y > 1, y.clamp(min=1).log(), y)
        for _ in range(_NEWTON_STEPS):
            log_w = log_w - (log_w.exp() + log_w - y) / (log_w.exp() + 1)
    return log_w - (log_w.exp() + log_w - y) / (log_w.exp() + 1)


class Jeffrey(FDivergence):
    name, domain, derivative_at_one = "jeffrey", "all real t", 0.0

    def convex_function(self, u: torch.Tensor) -> torch.Tensor:
        return (u - 1) * torch.log(u)

    def conjugate(self, t: torch.Tensor) -> torch.Tensor:
        # W + 1/W + t − 2 with W = W(e^(1−t)); W + log W = 1 − t turns it into 1/W − log W − 1,
        # which avoids cancelling W against t when t ≪ 0.
        log_w = log_lambert_w_of_exp(1 - t)
        return torch.exp(-log_w) - log_w - 1

    def activation(self, v: torch.Tensor) -> torch.Tensor:
        return v

    def in_domain(self, t: torch.Tensor) -> torch.Tensor:
        return t.isfinite()


class JensenShannon(FDivergence):
    name, domain, derivative_at_one = "js", "t < log 2", 0.0

    def convex_function(self, u: torch.Tensor) -> torch.Tensor:
        return torch.xlogy(u, u) - torch.xlogy(u + 1, (u + 1) / 2)

    def conjugate(self, t: torch.Tensor) -> torch.Tensor:
        return -math.log(2) - torch.log(-torch.expm1(t - math.log(2)))  # −log(2 (1 − e^t / 2))

    def activation(self, v: torch.Tensor) -> torch.Tensor:
        return math.log(2) - F.softplus(-v)

    def in_domain(self, t: torch.Tensor) -> torch.Tensor:
        return t < math.log(2)

    def conjugate_of_activation(self, v: torch.Tensor) -> torch.Tensor:
        return F.softplus(v) - math.log(2)  # e^t = 2 sigmoid(v), so 2 − e^t = 2 sigmoid(−v)


class WeightedJensenShannon(FDivergence):
    name, derivative_at_one = "weighted_js", 0.0

    def __init__(self, pi: float = 0.5) -> None:
        check(0 < pi < 1, f"pi must be in (0, 1), got {pi}")
        self.pi = pi  # weight of P in the mixture M = πP + (1 − π)Q
        self.domain = f"t < -pi log pi = {-pi * math.log(pi):.6g}"

    def convex_function(self, u: torch.Tensor) -> torch.Tensor:
        mixture = 1 - self.pi + self.pi * u  # m
        return self.pi * torch.xlogy(u, u) - torch.xlogy(mixture, mixture)

    def conjugate(self, t: torch.Tensor) -> torch.Tensor:
        # (1 − π) log((1 − π) / (1 − π e^(t/π))), with 1 − π e^(t/π) = −expm1(t/π + log π)
        return (1 - self.pi) * (math.log(1 - self.pi) - torch.log(-torch.expm1(t / self.pi + math.log(self.pi))))

    def activation(self, v: torch.Tensor) -> torch.Tensor:
        return -self.pi * math.log(self.pi) - F.softplus(-v)

    def in_domain(self, t: torch.Tensor) -> torch.Tensor:
        return t < -self.pi * math.log(self.pi)

    def conjugate_of_activation(self, v: torch.Tensor) -> torch.Tensor:
        # t/π + log π = −softplus(−v)/π, without cancelling −π log π against itself
        return (1 - self.pi) * (math.log(1 - self.pi) - torch.log(-torch.expm1(-F.softplus(-v) / self.pi)))

    def __repr__(self) -> str:
        return f"WeightedJensenShannon(pi={self.pi})"


class GANDivergence(FDivergence):
    """The original GAN's row: with D = sigmoid(v), g_f(v) = log D and f*(g_f(v)) = −log(1 − D)."""

    name, domain, derivative_at_one = "gan", "t < 0", -math.log(2)

    def convex_function(self, u: torch.Tensor) -> torch.Tensor:
        return torch.xlogy(u, u) - torch.xlogy(u + 1, u + 1)

    def conjugate(self, t: torch.Tensor) -> torch.Tensor:
        return -torch.log(-torch.expm1(t))  # −log(1 − e^t)

    def activation(self, v: torch.Tensor) -> torch.Tensor:
        return -F.softplus(-v)  # log sigmoid(v)

    def in_domain(self, t: torch.Tensor) -> torch.Tensor:
        return t < 0

    def conjugate_of_activation(self, v: torch.Tensor) -> torch.Tensor:
        return F.softplus(v)  # −log(1 − sigmoid(v))


class AlphaDivergence(FDivergence):
    """The α-divergence's f and f*, shared by its two rows (α < 1 and α > 1), which differ in g_f."""

    name, derivative_at_one = "alpha", 0.0

    def __init__(self, alpha: float) -> None:
        check(math.isfinite(alpha) and alpha not in (0, 1), f"alpha must be finite, not 0 and not 1, got {alpha}")
        self.alpha = alpha

    def convex_function(self, u: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha
        return (u**alpha - 1 - alpha * (u - 1)) / (alpha * (alpha - 1))

    def conjugate(self, t: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha
        base = (1 + (alpha - 1) * t).clamp(min=0)  # 0 only for α > 1, t <= −1/(α − 1): the sup sits at u = 0
        return (base ** (alpha / (alpha - 1)) - 1) / alpha

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha})"


class AlphaBelowOne(AlphaDivergence):
    def __init__(self, alpha: float) -> None:
        super().__init__(alpha)
        check(alpha < 1, f"AlphaBelowOne needs alpha < 1, got {alpha}")
        self.domain = f"t < 1/(1 - alpha) = {1 / (1 - alpha):.6g}"

    def activation(self, v: torch.Tensor) -> torch.Tensor:
        return 1 / (1 - self.alpha) - F.softplus(-v)

    def in_domain(self, t: torch.Tensor) -> torch.Tensor:
        return t < 1 / (1 - self.alpha)

    def conjugate_of_activation(self, v: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha
        base = (1 - alpha) * F.softplus(-v)  # 1 + (α − 1) g_f(v), without cancelling 1 against 1
        return (base ** (alpha / (alpha - 1)) - 1) / alpha


class AlphaAboveOne(AlphaDivergence):
    domain = "all real t"

    def __init__(self, alpha: float) -> None:
        super().__init__(alpha)
        check(alpha > 1, f"AlphaAboveOne needs alpha > 1, got {alpha}")

    def activation(self, v: torch.Tensor) -> torch.Tensor:
        return v

    def in_domain(self, t: torch.Tensor) -> torch.Tensor:
        return t.isfinite()


_ROWS_WITHOUT_PARAMETERS = {
    row.name: row
    for row in (
        TotalVariation,
        KullbackLeibler,
        ReverseKullbackLeibler,
        PearsonChiSquared,
        NeymanChiSquared,
        SquaredHellinger,
        Jeffrey,
        JensenShannon,
        GANDivergence,
    )
}
F_DIVERGENCES: tuple[str, ...] = (
    "total_variation",
    "kl",
    "reverse_kl",
    "pearson",
    "neyman",
    "hellinger",
    "jeffrey",
    "js",
    "weighted_js",
    "gan",
    "alpha",
)


def make_divergence(name: str, *, pi: float = 0.5, alpha: float = 0.5) -> FDivergence:
    """The row called ``name``; ``pi`` is read by ``weighted_js`` only, ``alpha`` by ``alpha`` only.

    ``alpha`` picks the table's row by its side of 1. Raises ``ConfigError`` for an unknown name or an
    out-of-range parameter.
    """
    check(name in F_DIVERGENCES, f"unknown f-divergence {name!r}; expected one of: {', '.join(F_DIVERGENCES)}")
    if name == "weighted_js":
        return WeightedJensenShannon(pi)
    if name == "alpha":
        return AlphaBelowOne(alpha) if alpha < 1 else AlphaAboveOne(alpha)
    return _ROWS_WITHOUT_PARAMETERS[name]()


class FGANObjective:
    """Variational divergence minimisation (§3) for one row, as an ``Adversarial`` on raw critic scores.

    Scores are the critic's outputs V(x) before g_f, any shape (typically (B,)); losses are scalars.
    """

    def __init__(self, divergence: FDivergence, generator_update: GeneratorUpdate = "alternative") -> None:
        check(
            generator_update in GENERATOR_UPDATES,
            f"generator_update must be one of: {', '.join(GENERATOR_UPDATES)}; got {generator_update!r}",
        )
        self.divergence = divergence
        self.generator_update = generator_update

    def value(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        """F = E_P[g_f(V)] − E_Q[f*(g_f(V))]: a lower bound on D_f(P ‖ Q) in nats. (B,), (B',) -> scalar."""
        return (
            self.divergence.activation(real_scores).mean() - self.divergence.conjugate_of_activation(fake_scores).mean()
        )

    def critic_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        """The critic ascends F, so it minimises −F. (B,), (B',) -> scalar."""
        return -self.value(real_scores, fake_scores)

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        """(B,) -> scalar the generator minimises: −E_Q[f*(g_f(V))] (single step) or −E_Q[g_f(V)] (alternative)."""
        if self.generator_update == "single_step":
            return -self.divergence.conjugate_of_activation(fake_scores).mean()  # E_P[T] does not depend on G
        return -self.divergence.activation(fake_scores).mean()

    def __repr__(self) -> str:
        return f"FGANObjective({self.divergence!r}, generator_update={self.generator_update!r})"
