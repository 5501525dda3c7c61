"""Variational autoencoder (Kingma & Welling 2014, "Auto-Encoding Variational Bayes").

Generative model p(z) = N(0, I), p(x|z) Bernoulli (binarised images) or Gaussian with a learned
per-dimension scale; recognition model q(z|x) = N(μ(x), diag σ²(x)). Training maximises the ELBO
(eq. 10) with the reparameterisation z = μ + σ ⊙ ε, ε ~ N(0, I) (eq. 4 / §2.4) and the analytic
Gaussian KL (Appendix B). ``log p(x)`` is estimated with the IWAE bound in ``dgm.eval``.

Example::

    model = VAE(VAEConfig(latent_dim=8), data_shape=(1, 8, 8))
    loss = -model.elbo(x).mean()
"""

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.distributions import Bernoulli, Distribution, Independent, Normal

from ...core.config import check
from ...core.protocols import Backward
from ...losses.elbo import elbo
from ...nn.mlp import mlp

MIN_LOG_SCALE = -6.0  # keeps a Gaussian decoder from collapsing onto a training point


@dataclass(frozen=True)
class VAEConfig:
    latent_dim: int = 16
    hidden_dim: int = 256
    num_hidden_layers: int = 2
    decoder: Literal["auto", "bernoulli", "gaussian"] = "auto"  # auto: Bernoulli for images, Gaussian for points
    batch_size: int = 64
    learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        check(self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        check(self.hidden_dim >= 1, f"hidden_dim must be >= 1, got {self.hidden_dim}")
        check(self.num_hidden_layers >= 1, f"num_hidden_layers must be >= 1, got {self.num_hidden_layers}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")


class VAE(nn.Module):
    """MLP encoder/decoder VAE for images (C, H, W) or points (d,)."""

    data_kinds = ("image", "points")

    def __init__(self, config: VAEConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__()
        self.config = config
        self.data_shape = data_shape
        self.latent_dim = config.latent_dim
        self.batch_size = config.batch_size
        self.decoder_kind = config.decoder
        if self.decoder_kind == "auto":
            self.decoder_kind = "bernoulli" if len(data_shape) == 3 else "gaussian"
        self.binarize_data = self.decoder_kind == "bernoulli"  # Bernoulli likelihoods need {0, 1} data
        data_dim = math.prod(data_shape)
        outputs_per_dim = 1 if self.decoder_kind == "bernoulli" else 2
        self.encoder = mlp(data_dim, config.hidden_dim, 2 * config.latent_dim, config.num_hidden_layers)
        self.decoder = mlp(config.latent_dim, config.hidden_dim, outputs_per_dim * data_dim, config.num_hidden_layers)
        self.register_buffer("prior_loc", torch.zeros(config.latent_dim))

    def prior(self) -> Distribution:
        """p(z) = N(0, I), event shape (Z,)."""
        return Independent(Normal(self.prior_loc, torch.ones_like(self.prior_loc)), 1)

    def encode(self, x: torch.Tensor) -> Distribution:
        """(B, *D) -> q(z|x) = N(μ, diag σ²), batch (B,), event (Z,)."""
        mean, log_std = self.encoder(x.flatten(1)).chunk(2, dim=-1)  # (B, Z) each
        return Independent(Normal(mean, log_std.exp()), 1)

    def decode(self, z: torch.Tensor) -> Distribution:
        """(..., Z) -> p(x|z), batch (...,), event D."""
        out = self.decoder(z)  # (..., k·prod(D))
        batch = z.shape[:-1]
        if self.decoder_kind == "bernoulli":
            return Independent(Bernoulli(logits=out.reshape(*batch, *self.data_shape)), len(self.data_shape))
        mean, log_scale = out.chunk(2, dim=-1)
        scale = log_scale.clamp(min=MIN_LOG_SCALE).exp()
        normal = Normal(mean.reshape(*batch, *self.data_shape), scale.reshape(*batch, *self.data_shape))
        return Independent(normal, len(self.data_shape))

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *D) -> (B,) one-sample ELBO in nats."""
        posterior = self.encode(x)
        z = posterior.rsample()  # (B, Z) reparameterised
        return elbo(self.decode(z).log_prob(x), posterior, self.prior())

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (n, *D): x ~ p(x|z), z ~ p(z)."""
        z = torch.randn(
            n, self.latent_dim, generator=generator, device=self.prior_loc.device, dtype=self.prior_loc.dtype
        )  # (n, Z)
        likelihood = self.decode(z).base_dist
        if self.decoder_kind == "bernoulli":
            return torch.bernoulli(likelihood.probs, generator=generator)
        noise = torch.randn(likelihood.loc.shape, generator=generator, device=z.device, dtype=z.dtype)  # (n, *D)
        return likelihood.loc + likelihood.scale * noise

    def decoder_mean(self, z: torch.Tensor) -> torch.Tensor:
        """(B, Z) -> (B, *D): E[x|z], the picture shown in interpolations."""
        return self.decode(z).mean

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)}

    def train_step(self, batch: torch.Tensor, optimizers: dict, backward: Backward) -> dict[str, float]:
        """One ascent step on the mean ELBO of ``batch`` (B, *D)."""
        optimizer = optimizers["adam"]
        optimizer.zero_grad()
        loss = -self.elbo(batch).mean()
        backward(loss)
        optimizer.step()
        return {"loss": loss.item()}
