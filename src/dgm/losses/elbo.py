"""Evidence lower bounds for latent-variable models.

ELBO (Kingma & Welling 2014, eq. 10): log p(x) ≥ E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)).
IWAE (Burda et al. 2016, eq. 8): log p(x) ≥ E[log (1/k) Σ_i p(x, z_i) / q(z_i|x)], z_i ~ q(z|x),
non-decreasing in k and tending to log p(x).
"""

import math

import torch
from torch.distributions import Distribution, kl_divergence


def elbo(log_likelihood: torch.Tensor, posterior: Distribution, prior: Distribution) -> torch.Tensor:
    """E_q[log p(x|z)] (one-sample estimate, (B,)) minus the analytic KL(q ‖ p), (B,) -> (B,)."""
    return log_likelihood - kl_divergence(posterior, prior)


def iwae_bound(log_weights: torch.Tensor) -> torch.Tensor:
    """(k, B) log importance weights log p(x, z_i) − log q(z_i|x) -> (B,) IWAE-k bound."""
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])
