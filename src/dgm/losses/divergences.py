"""Adversarial objectives on critic scores, composable with any generator/critic pair.

The original GAN (Goodfellow et al. 2014, eq. 1):
    min_G max_D  E_data[log D(x)] + E_z[log(1 − D(G(z)))],   D = sigmoid(critic score).
At the optimal critic D* = p_data / (p_data + p_g) the value is −log 4 + 2·JSD(p_data ‖ p_g).
"""

from typing import Literal

import torch
import torch.nn.functional as F


class OriginalGAN:
    """The GAN objective on raw critic scores (logits), as an ``Adversarial``.

    ``generator_loss="minimax"`` minimises log(1 − D(G(z))) exactly as in eq. 1;
    ``"non_saturating"`` minimises −log D(G(z)), the paper's §3 remedy for early vanishing gradients.
    """

    def __init__(self, generator_loss: Literal["non_saturating", "minimax"] = "non_saturating") -> None:
        self.generator_loss_kind = generator_loss

    def value(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        """V(D, G) estimated on a batch: mean log D(x) + mean log(1 − D(G(z))); log sigmoid(s) = −softplus(−s)."""
        return -F.softplus(-real_scores).mean() - F.softplus(fake_scores).mean()

    def critic_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        """The critic ascends V, so it minimises −V. Scores (B,) -> scalar."""
        return -self.value(real_scores, fake_scores)

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        """(B,) -> scalar the generator minimises."""
        if self.generator_loss_kind == "minimax":
            return -F.softplus(fake_scores).mean()  # log(1 − sigmoid(s)) = −softplus(s)
        return F.softplus(-fake_scores).mean()  # −log sigmoid(s)
