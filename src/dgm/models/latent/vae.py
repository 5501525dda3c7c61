"""Variational autoencoder (Kingma & Welling 2014, "Auto-Encoding Variational Bayes"), with the β
weight of Higgins et al. 2017 ("β-VAE: Learning Basic Visual Concepts with a Constrained Variational
Framework").

Generative model p(z) = N(0, I) and p(x|z) one of ``dgm.nn.likelihood``'s observation models:
Bernoulli (binarised images), Gaussian with a learned per-value variance, or the 256-level
discretised logistic (8-bit images). Recognition model q(z|x) = N(μ(x), diag σ²(x)). Encoder and
decoder are MLPs or small convolutional networks (``architecture``).

1. Encode: μ, log σ = encoder(x).
2. Reparameterise: z = μ + σ ⊙ ε, ε ~ N(0, I) (eq. 4, §2.4).
3. Decode: p(x|z) = observation(decoder(z)).
4. ELBO (eq. 10) = log p(x|z) − KL(q(z|x) ‖ p(z)), the KL analytic (Appendix B). Training ascends
   log p(x|z) − β·KL (β-VAE eq. 4); β = 1 is the ELBO itself, which is what evaluation reports.

``log p(x)`` is estimated with the IWAE bound in ``dgm.eval``; ``dgm.models.latent.iwae`` trains on it.

Example::

    model = VAE(VAEConfig(latent_dim=8), data_shape=(1, 8, 8))
    loss = -model.elbo(x).mean()
"""

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal, kl_divergence

from ...core.config import check
from ...core.errors import DataError
from ...core.protocols import Backward
from ...nn.convnets import encoder_and_decoder
from ...nn.likelihood import PARAMS_PER_VALUE, draw, full_precision, observation
from ...nn.schedule import halving_learning_rate, set_learning_rate


@dataclass(frozen=True)
class VAEConfig:
    latent_dim: int = 16
    hidden_dim: int = 256  # MLP width
    num_hidden_layers: int = 2  # MLP depth
    architecture: Literal["mlp", "conv"] = "mlp"  # conv: images with height and width divisible by 4
    conv_width: int = 32  # channels of the first conv stage
    decoder: Literal["auto", "bernoulli", "gaussian", "logistic"] = "auto"  # auto: Bernoulli for images, else Gaussian
    beta: float = 1.0  # weight of the KL term while training (β-VAE); 1 is the ELBO
    batch_size: int = 64
    learning_rate: float = 1e-3
    learning_rate_half_life: int = 0  # steps over which the step size halves; 0 keeps it constant
    final_learning_rate: float = 1e-4  # the halving stops here (or at learning_rate, if that is lower)

    def __post_init__(self) -> None:
        check(self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        check(self.hidden_dim >= 1, f"hidden_dim must be >= 1, got {self.hidden_dim}")
        check(self.num_hidden_layers >= 1, f"num_hidden_layers must be >= 1, got {self.num_hidden_layers}")
        check(self.conv_width >= 1, f"conv_width must be >= 1, got {self.conv_width}")
        check(self.beta >= 0, f"beta must be >= 0, got {self.beta}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")
        check(
            self.learning_rate_half_life >= 0,
            f"learning_rate_half_life must be >= 0, got {self.learning_rate_half_life}",
        )
        check(self.final_learning_rate >= 0, f"final_learning_rate must be >= 0, got {self.final_learning_rate}")


class VAE(nn.Module):
    """A VAE for images (C, H, W) or points (d,); ``decode`` accepts any leading batch shape of z."""

    data_kinds = ("image", "points")

    def __init__(self, config: VAEConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__()
        self.config = config
        self.data_shape = data_shape
        self.latent_dim = config.latent_dim
        self.batch_size = config.batch_size
        is_image = len(data_shape) == 3
        self.observation_kind = config.decoder if config.decoder != "auto" else "bernoulli" if is_image else "gaussian"
        if self.observation_kind == "logistic" and not is_image:
            raise DataError(f"decoder 'logistic' models 8-bit images (C, H, W), got data of shape {data_shape}")
        self.binarize_data = self.observation_kind == "bernoulli"  # Bernoulli likelihoods need {0, 1} data
        self.params_per_value = PARAMS_PER_VALUE[self.observation_kind]
        self.encoder, self.decoder = self._networks(config, data_shape)
        self.register_buffer("prior_loc", torch.zeros(config.latent_dim))
        self.register_buffer("num_steps", torch.zeros((), dtype=torch.int64))  # the schedule's clock, saved

    def _networks(self, config: VAEConfig, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
        """(B, *D) -> (B, 2Z) and (N, Z) -> (N, k·prod(D)) or (N, k·C, H, W), k = params per value."""
        return encoder_and_decoder(
            config.architecture, data_shape, 2 * config.latent_dim, config.latent_dim, self.params_per_value,
            config.hidden_dim, config.num_hidden_layers, config.conv_width,
        )  # fmt: skip

    def prior(self) -> Distribution:
        """p(z) = N(0, I), event shape (Z,)."""
        return Independent(Normal(self.prior_loc, torch.ones_like(self.prior_loc)), 1)

    def encode(self, x: torch.Tensor) -> Distribution:
        """1. (B, *D) -> q(z|x) = N(μ, diag σ²), batch (B,), event (Z,)."""
        mean, log_std = full_precision(self.encoder(x)).chunk(2, dim=-1)  # (B, Z) each
        return Independent(Normal(mean, log_std.exp(), validate_args=False), 1, validate_args=False)

    def decode(self, z: torch.Tensor) -> Distribution:
        """3. (..., Z) -> p(x|z), batch (...,), event D."""
        batch = z.shape[:-1]
        params = self.decoder(z.reshape(-1, self.latent_dim))  # (N, k·prod(D)) or (N, k·C, H, W)
        params = params.reshape(*batch, self.params_per_value, *self.data_shape)  # (..., k, *D)
        return observation(self.observation_kind, params, len(self.data_shape))

    def elbo_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, *D) -> one-sample log p(x|z) and analytic KL(q(z|x) ‖ p(z)), each (B,), in nats."""
        posterior = self.encode(x)
        z = posterior.rsample()  # 2. (B, Z) reparameterised
        return self.decode(z).log_prob(x), kl_divergence(posterior, self.prior())

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """4. (B, *D) -> (B,) one-sample ELBO in nats."""
        log_likelihood, kl = self.elbo_terms(x)
        return log_likelihood - kl

    def objective(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *D) -> (B,) what training ascends: log p(x|z) − β·KL."""
        log_likelihood, kl = self.elbo_terms(x)
        return log_likelihood - self.config.beta * kl

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (n, *D): x ~ p(x|z), z ~ p(z); a Gaussian decoder's image samples are clipped to [0, 1]."""
        z = torch.randn(
            n, self.latent_dim, generator=generator, device=self.prior_loc.device, dtype=self.prior_loc.dtype
        )  # (n, Z)
        x = draw(self.decode(z), generator)  # (n, *D)
        return x.clamp(0, 1) if len(self.data_shape) == 3 else x

    def decoder_mean(self, z: torch.Tensor) -> torch.Tensor:
        """(B, Z) -> (B, *D): E[x|z], the picture shown in interpolations."""
        return self.decode(z).mean

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        # fused: one kernel for all parameters, 6x faster than the per-tensor loop on a CPU (0.8M parameters: 1.9 ms
        # against 11 ms a step, more than the forward pass of pythae's MLP VAE)
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate, fused=True)}

    def train_step(self, batch: torch.Tensor, optimizers: dict, backward: Backward) -> dict[str, float]:
        """One Adam ascent step on the mean ``objective`` of ``batch`` (B, *D), its step size halved every
        ``learning_rate_half_life`` steps down to ``final_learning_rate``."""
        optimizer = optimizers["adam"]
        config = self.config
        if config.learning_rate_half_life:  # a constant step size leaves the optimiser as built (M1+M2 shares it)
            learning_rate = halving_learning_rate(
                int(self.num_steps), config.learning_rate, config.learning_rate_half_life, config.final_learning_rate
            )
            set_learning_rate([optimizer], learning_rate)
        optimizer.zero_grad()
        loss = -self.objective(batch).mean()
        backward(loss)
        optimizer.step()
        self.num_steps += 1
        return {"loss": loss.item()}
