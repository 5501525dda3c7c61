"""Generative adversarial nets (Goodfellow et al. 2014), trained by the paper's Algorithm 1.

Algorithm 1, per training iteration:
  1. for k steps: sample m noise vectors z ~ p_g(z) and m examples x ~ p_data; ascend the
     critic's stochastic gradient of (1/m) Σ [log D(x) + log(1 − D(G(z)))];
  2. sample m noise vectors; descend the generator's gradient of (1/m) Σ log(1 − D(G(z)))
     (``generator_loss="minimax"``) or ascend log D(G(z)) (``"non_saturating"``, §3).

The objective is an ``Adversarial`` object (``dgm.losses.divergences.OriginalGAN``) composed with
the architecture; the paper used SGD with momentum (``optimizer="sgd"``), Adam is the default.
Architectures: an MLP for points, a small conv generator/critic pair for images.

Example::

    model = GAN(GANConfig(num_critic_steps=1), data_shape=(2,))
    points = model.sample(512)   # (512, 2)
"""

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ...core.config import check
from ...core.errors import DataError
from ...core.protocols import Backward
from ...losses.divergences import OriginalGAN
from ...nn.convnets import conv_decoder, conv_encoder
from ...nn.mlp import Reshape, mlp


@dataclass(frozen=True)
class GANConfig:
    latent_dim: int = 16
    hidden_dim: int = 256
    num_hidden_layers: int = 2
    conv_width: int = 32
    architecture: Literal["auto", "mlp", "conv"] = "auto"  # auto: conv for images, MLP for points
    num_critic_steps: int = 1  # k in Algorithm 1
    generator_loss: Literal["non_saturating", "minimax"] = "non_saturating"
    optimizer: Literal["adam", "sgd"] = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.5  # SGD momentum, or Adam's β1
    batch_size: int = 64  # m in Algorithm 1

    def __post_init__(self) -> None:
        check(self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        check(self.num_critic_steps >= 1, f"num_critic_steps must be >= 1, got {self.num_critic_steps}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")
        check(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")


class GAN(nn.Module):
    """Generator G: z -> x and critic D: x -> score (logit), trained adversarially."""

    data_kinds = ("image", "points")

    def __init__(self, config: GANConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__()
        self.config = config
        self.data_shape = data_shape
        self.latent_dim = config.latent_dim
        self.batch_size = config.batch_size * config.num_critic_steps  # k minibatches per step
        self.objective = OriginalGAN(config.generator_loss)
        use_conv = config.architecture == "conv" or (config.architecture == "auto" and len(data_shape) == 3)
        data_dim = math.prod(data_shape)
        if use_conv:
            if len(data_shape) != 3 or data_shape[1] % 4 or data_shape[2] % 4:
                raise DataError(f"conv GAN needs (C, H, W) images with H, W divisible by 4, got {data_shape}")
            self.generator = nn.Sequential(conv_decoder(config.latent_dim, data_shape, config.conv_width), nn.Sigmoid())
            self.critic = nn.Sequential(conv_encoder(data_shape, 1, config.conv_width), nn.Flatten(0))
        else:
            layers = [
                mlp(config.latent_dim, config.hidden_dim, data_dim, config.num_hidden_layers),
                Reshape(*data_shape),
            ]
            if len(data_shape) == 3:
                layers.append(nn.Sigmoid())  # images live in [0, 1]
            self.generator = nn.Sequential(*layers)
            self.critic = nn.Sequential(
                nn.Flatten(),
                mlp(data_dim, config.hidden_dim, 1, config.num_hidden_layers, nn.LeakyReLU),
                nn.Flatten(0),
            )
        self.register_buffer("device_marker", torch.zeros(()), persistent=False)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """(B, Z) -> (B, *D)."""
        return self.generator(z)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (n, *D) with z ~ N(0, I)."""
        marker = self.device_marker
        z = torch.randn(n, self.latent_dim, generator=generator, device=marker.device, dtype=marker.dtype)  # (n, Z)
        return self.generate(z)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        if c.optimizer == "sgd":
            make = lambda params: torch.optim.SGD(params, lr=c.learning_rate, momentum=c.momentum)  # noqa: E731
        else:
            make = lambda params: torch.optim.Adam(params, lr=c.learning_rate, betas=(c.momentum, 0.999))  # noqa: E731
        return {"critic": make(self.critic.parameters()), "generator": make(self.generator.parameters())}

    def train_step(self, batch: torch.Tensor, optimizers: dict, backward: Backward) -> dict[str, float]:
        """One iteration of Algorithm 1 on ``batch`` (k·m, *D)."""
        critic_opt, generator_opt = optimizers["critic"], optimizers["generator"]
        m = self.config.batch_size
        # 1. k critic steps, each on its own minibatch of m data and m fresh noise vectors.
        for real in batch.split(m):
            fake = self.sample(len(real)).detach()  # (m, *D), no gradient into G
            critic_opt.zero_grad()
            critic_loss = self.objective.critic_loss(self.critic(real), self.critic(fake))
            backward(critic_loss)
            critic_opt.step()
        # 2. one generator step on m fresh noise vectors.
        generator_opt.zero_grad()
        generator_loss = self.objective.generator_loss(self.critic(self.sample(m)))
        backward(generator_loss)
        generator_opt.step()
        return {"critic_loss": critic_loss.item(), "generator_loss": generator_loss.item()}
