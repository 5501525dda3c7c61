"""Integral probability metrics: the Wasserstein objective and the WGAN-GP gradient penalty.

An IPM is sup over a class F of critics of E_P f − E_Q f. ``Wasserstein`` is that objective on critic
scores (Arjovsky, Chintala & Bottou 2017, eq. 2); the class is the critic's business: 1-Lipschitz
critics (weight clipping, spectral normalisation, or the penalty below) give the Wasserstein-1
distance, the bounded-Lipschitz ball of ``dgm.nn.lipschitz.DudleyCritic`` the Dudley metric.

The gradient penalty (Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville 2017, "Improved Training of
Wasserstein GANs", Algorithm 1 and eq. 3):

A differentiable function is 1-Lipschitz iff its gradient has norm ≤ 1 everywhere, and the optimal
WGAN critic has gradient norm 1 on the lines between coupled real and generated points (their
Proposition 1). So instead of clipping weights, the critic's loss gets

    λ · E_x̂ [(‖∇_x̂ D(x̂)‖₂ − 1)²],   x̂ = ε x + (1 − ε) x̃,  ε ~ U[0, 1] per example,   (eq. 3)

with x real and x̃ generated, λ = 10 in the paper. Per critic step (Algorithm 1, lines 4-8):

1. draw ε ~ U[0, 1], one per example;
2. x̂ = ε x + (1 − ε) x̃;
3. g = ∇_x̂ D(x̂), kept in the autograd graph (``create_graph=True``) so that the penalty trains D;
4. penalty = λ · mean over the batch of (‖g‖₂ − 1)².

``target=K`` penalises (‖g‖₂ − K)² instead, for a K-Lipschitz critic. For the Wasserstein loss, K·D with
λ/K trains as D with λ: both loss terms are K times theirs. ``one_sided=True`` penalises only norms above
the target, λ · E[max(0, ‖g‖₂ − K)²], the variant the paper mentions in §4 ("Two-sided penalty") and
Petzka et al. 2018 ("On the regularization of Wasserstein GANs") argue for.

Example::

    loss = fake_scores.mean() - real_scores.mean() + gradient_penalty(critic, real, fake.detach())
"""

from collections.abc import Callable

import torch

from ..core.errors import ConfigError, DataError


def critic_gradient_norms(critic: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """‖∇_x D(x)‖₂ for each example: x (B, *D) -> (B,), differentiable in the critic's parameters.

    The critic must score each example on its own (no batch norm): D (B, *D) -> (B,) or (B, 1)."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():  # also under an evaluation's no_grad
        scores = critic(x)  # (B,) or (B, 1)
        if scores.numel() != x.shape[0]:
            raise DataError(f"the critic must give one score per example, got shape {tuple(scores.shape)} for {len(x)}")
        (gradients,) = torch.autograd.grad(scores.sum(), x, create_graph=True)  # (B, *D); Σ: examples independent
    return gradients.reshape(len(x), -1).norm(dim=1)  # (B,)


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 10.0,
    *,
    one_sided: bool = False,
    generator: torch.Generator | None = None,
    target: float = 1.0,
) -> torch.Tensor:
    """λ · E[(‖∇D(x̂)‖₂ − K)²] on random interpolates of ``real`` and ``fake`` (B, *D) -> scalar (steps 1-4).

    The penalty trains the critic only: x̂ is built from detached data. ``weight`` is λ, ``target`` K."""
    if real.shape != fake.shape:
        raise DataError(f"real and fake batches must have the same shape, got {tuple(real.shape)}, {tuple(fake.shape)}")
    if target <= 0:
        raise ConfigError(f"the gradient penalty's target norm must be > 0, got {target}")
    batch = real.shape[0]
    mix = torch.rand(batch, *[1] * (real.dim() - 1), generator=generator, device=real.device, dtype=real.dtype)
    interpolates = mix * real.detach() + (1 - mix) * fake.detach()  # 1.-2. (B, *D)
    norms = critic_gradient_norms(critic, interpolates)  # 3. (B,)
    excess = (norms - target).clamp_min(0) if one_sided else norms - target  # (B,)
    return weight * excess.square().mean()  # 4.


class Wasserstein:
    """The Wasserstein-1 objective on critic scores; the critic must be kept 1-Lipschitz elsewhere."""

    def value(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        """E_P[critic] − E_Q[critic], an estimate of W(P, Q) for a 1-Lipschitz critic. (B,), (B',) -> scalar."""
        return real_scores.mean() - fake_scores.mean()

    def critic_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        """The critic ascends the value: mean(fake) − mean(real). (B,), (B',) -> scalar."""
        return -self.value(real_scores, fake_scores)

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        """−mean(fake): the generator descends the value, whose E_P term it cannot move. (B,) -> scalar."""
        return -fake_scores.mean()

    def __repr__(self) -> str:
        return "Wasserstein()"
