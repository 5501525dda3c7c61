"""Importance weighted autoencoder (Burda, Grosse & Salakhutdinov 2016, "Importance Weighted
Autoencoders").

The VAE's generative and recognition models, trained on a tighter bound: for k samples
z_1..z_k ~ q(z|x) (reparameterised),

1. log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x);
2. L_k(x) = log (1/k) Σ_i w_i (eq. 8), computed with logsumexp;
3. its gradient is Σ_i w̃_i ∇ log w_i with normalised weights w̃_i (eq. 14), which autograd gives.
   With ``gradient="dreg"`` the recognition network gets the doubly reparameterised estimate of the
   same gradient instead (Tucker, Lawson, Gu & Maddison 2019, "Doubly Reparameterized Gradient
   Estimators for Monte Carlo Objectives", eq. 5): Σ_i w̃_i² ∂log w_i/∂z_i ∂z_i/∂φ, with log q's
   parameters held fixed inside log w_i. It is unbiased, and its signal-to-noise ratio does not fall
   with k the way eq. 14's does for the recognition network (Rainforth et al. 2018, "Tighter Variational
   Bounds are Not Necessarily Better"); the generative network's gradient is eq. 14's either way.

Under mixed precision the log-weights are still computed in float32 (``full_precision``): the
normalised weights w̃ depend on differences of sums over hundreds of pixels.

L_1 is the ELBO and L_k is non-decreasing in k (Theorem 1), so at equal architecture the IWAE's
posterior is pushed to cover p(z|x) rather than to sit inside it. Evaluation is the VAE's: ``elbo``
stays the one-sample ELBO, and ``dgm.eval`` estimates log p(x) with IWAE-k for large k.

Example::

    model = IWAE(IWAEConfig(num_samples=5), data_shape=(1, 28, 28))
    loss = -model.objective(x).mean()
"""

from dataclasses import dataclass
from typing import Literal

import torch
from torch.distributions import Independent, Normal

from ...core.config import check
from ...losses.elbo import iwae_bound
from .vae import VAE, VAEConfig


@dataclass(frozen=True)
class IWAEConfig(VAEConfig):
    num_samples: int = 5  # k importance samples per example while training
    gradient: Literal["iwae", "dreg"] = "iwae"  # the recognition network's estimator: eq. 14, or Tucker et al.'s

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.num_samples >= 1, f"num_samples must be >= 1, got {self.num_samples}")
        check(self.gradient in ("iwae", "dreg"), f"gradient must be 'iwae' or 'dreg', got {self.gradient!r}")
        check(self.beta == 1.0, f"the IWAE bound has no KL term to weight; beta must be 1, got {self.beta}")


class IWAE(VAE):
    """A VAE whose training ``objective`` is the IWAE-k bound, k = ``config.num_samples``."""

    def objective(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *D) -> (B,) the k-sample bound L_k(x) in nats."""
        posterior = self.encode(x)
        z = posterior.rsample((self.config.num_samples,))  # (k, B, Z)
        if self.config.gradient == "dreg" and z.requires_grad:
            return self._doubly_reparameterized_bound(x, posterior, z)
        log_weights = self.decode(z).log_prob(x) + self.prior().log_prob(z) - posterior.log_prob(z)  # 1. (k, B)
        return iwae_bound(log_weights)  # 2. (B,)

    def _doubly_reparameterized_bound(self, x: torch.Tensor, posterior: Independent, z: torch.Tensor) -> torch.Tensor:
        """(B,) L_k(x) in value, with the DReG gradient (step 3): the surrogate Σ_i w̃_i log w_i gives the
        generative network eq. 14, and scaling the gradient reaching z_i by w̃_i once more makes the
        recognition network's Σ_i w̃_i² ∂log w_i/∂z_i ∂z_i/∂φ."""
        normal = posterior.base_dist
        fixed = Independent(Normal(normal.loc.detach(), normal.scale.detach(), validate_args=False), 1)
        log_weights = self.decode(z).log_prob(x) + self.prior().log_prob(z) - fixed.log_prob(z)  # (k, B)
        normalized = torch.softmax(log_weights.detach(), dim=0)  # w̃, (k, B)
        z.register_hook(lambda grad: (grad * normalized.unsqueeze(-1)).to(grad.dtype))
        surrogate = (normalized * log_weights).sum(dim=0)  # (B,)
        return iwae_bound(log_weights).detach() + surrogate - surrogate.detach()
