"""Generative adversarial nets (Goodfellow et al. 2014), trained by the paper's Algorithm 1, with any
adversarial objective and any critic constraint.

A GAN here is three choices composed:

- an **architecture**: an MLP pair for points, a small conv pair for images, or DCGAN's (Radford et
  al. 2016, ``dgm.nn.dcgan``; catalogue name ``dcgan``). The MLP generator can be shaped apart from
  the critic, e.g. PacGAN's (Lin et al. 2018) 4 hidden layers of 400 with batch norm
  (``generator_hidden_dim``, ``generator_hidden_layers``, ``generator_batch_norm``);
- an **objective** (``dgm.losses.divergences.make_objective``): one of the f-GAN divergences
  (Nowozin et al. 2016; ``gan`` is Goodfellow et al.'s own), or ``wasserstein``, the integral
  probability metric E_P f − E_Q f over the critic's function class;
- a **critic constraint**, which decides that class: ``plain`` (none), ``clip`` (weights clipped to
  [−c, c] after every critic step, Arjovsky et al. 2017, Algorithm 1), ``gradient_penalty``
  (λ·E(‖∇f(x̂)‖ − 1)², Gulrajani et al. 2017, Algorithm 1), ``spectral`` (spectral-normalised layers,
  Miyato et al. 2018: 1-Lipschitz by construction) or ``dudley`` (the bounded-Lipschitz ball
  sup|f| + Lip(f) ≤ 1, Abbasnejad, Shi & van den Hengel; ``dgm.nn.lipschitz.DudleyCritic``).
  ``wasserstein`` with ``spectral``, ``gradient_penalty`` or ``clip`` is a WGAN; with ``dudley`` it is
  the Dudley GAN, whose IPM is the Dudley metric.

Algorithm 1, per training iteration:
  1. for k steps: sample m noise vectors z ~ p(z) and m examples x ~ p_data (with ``pack`` p, m packs of
     p each); descend the critic's loss (for ``gan``: −(1/m) Σ [log D(x) + log(1 − D(G(z)))]), plus the
     gradient penalty if the critic has one; then clip its weights if the critic is clipped;
  2. sample m noise vectors; descend the generator's loss (``generator_update``: the objective's
     ``single_step`` descent of the saddle value, or the ``alternative`` that ascends the critic's
     output on generated samples; for ``gan`` these are the minimax and the non-saturating losses).

The paper used SGD with momentum (``optimizer="sgd"``), WGAN's Algorithm 1 RMSProp (``optimizer="rmsprop"``);
Adam is the default. Options beyond the paper:

- ``critic_learning_rate``: the critic's own step size (the two time-scale update rule, Heusel et al. 2017);
- ``learning_rate_half_life``: both step sizes halve every so many iterations (``nn.schedule``), after
  ``learning_rate_hold`` iterations at their first values (a long run at the full step size, then a short
  cool-down);
- ``generator_average``: Ḡ, an exponential moving average of G's weights (Yazıcı et al. 2019, "The Unusual
  Effectiveness of Averaging in GAN Training"), which ``sample`` uses in eval mode;
- ``pack``: PacGAN (Lin, Khetan, Fanti & Oh 2018, "PacGAN: The power of two samples in generative adversarial
  networks"): the critic scores packs of p = ``pack`` samples, all real or all generated, concatenated along
  the first data axis (features of points, channels of images), so it can see a lack of variety that no
  single sample shows. As in the authors' code, ``batch_size`` then counts packs: a minibatch holds m·p samples;
- ``critic_activation=maxmin``: GroupSort activations in the MLP critic (Anil et al. 2019), whose gradient
  norm a spectral-normalised critic keeps instead of losing it layer by layer as with LeakyReLU.
- ``lipschitz_constant=K``: a K-Lipschitz critic class instead of a 1-Lipschitz one: K times the spectral
  critic, the Dudley ball of the metric K‖x − y‖, or a gradient penalty towards norm K (``dgm.nn.lipschitz``
  explains why an f-GAN's critic needs K of the order of the modes' widths' inverse).
- ``sample(n, jacobian_truncation=r)``: after training, reject the share r of latents where G is steepest,
  which lie on the paths between modes (Tanielian, Issenhuth, Dohmatob & Mary 2020, "Learning disconnected
  manifolds: a no GAN's land"; ``dgm sample --jacobian-truncation``).

Example::

    model = GAN(GANConfig(objective="wasserstein", critic="gradient_penalty", num_critic_steps=5), data_shape=(2,))
    points = model.sample(512)   # (512, 2)
"""

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ...core.config import check
from ...core.errors import ConfigError, DataError
from ...core.protocols import Backward
from ...losses.divergences import OBJECTIVES, make_objective
from ...losses.ipm import gradient_penalty
from ...nn.convnets import conv_decoder, conv_encoder
from ...nn.dcgan import dcgan_discriminator, dcgan_generator
from ...nn.lipschitz import (
    DudleyCritic,
    MaxMin,
    Scaled,
    clip_weights_,
    lipschitz_conv_critic,
    lipschitz_mlp,
    spectral_normalized,
)
from ...nn.mlp import Reshape, mlp
from ...nn.schedule import halving_learning_rate, set_learning_rate

Objective = Literal[OBJECTIVES]  # the names of ``losses.divergences.OBJECTIVES``, checked by ``make_config``
Critic = Literal["plain", "clip", "gradient_penalty", "spectral", "dudley"]
LIPSCHITZ_CRITICS = ("clip", "gradient_penalty", "spectral", "dudley")
MLP_GENERATOR_OPTIONS = ("generator_hidden_dim", "generator_hidden_layers", "generator_batch_norm")
JACOBIAN_CHUNK = 4096  # latents per batch of Jacobian-vector products (a DCGAN at 28×28: 1.5 GB more peak memory)


@dataclass(frozen=True)
class GANConfig:
    latent_dim: int = 16
    hidden_dim: int = 256  # the MLP critic's width, and the MLP generator's unless set below
    num_hidden_layers: int = 2
    generator_hidden_dim: int = 0  # the MLP generator's width (0: hidden_dim)
    generator_hidden_layers: int = 0  # its hidden layers (0: num_hidden_layers; a generator needs at least one)
    generator_batch_norm: bool = False  # batch norm after each of its hidden linear maps (PacGAN's generator)
    conv_width: int = 32
    architecture: Literal["auto", "mlp", "conv", "dcgan"] = "auto"  # auto: conv for images, MLP for points
    objective: Objective = "gan"
    generator_update: Literal["alternative", "single_step"] = "alternative"  # for gan: non-saturating, minimax
    pi: float = 0.5  # weighted_js's π
    alpha: float = 0.5  # the alpha divergence's α, not 0 or 1
    critic: Critic = "plain"
    critic_activation: Literal["leaky_relu", "maxmin"] = "leaky_relu"  # the MLP critic's; maxmin: Anil et al. 2019
    lipschitz_constant: float = 1.0  # K of the spectral, dudley and gradient_penalty critics' K-Lipschitz class
    clip_value: float = 0.01  # c of critic=clip
    penalty_weight: float = 10.0  # λ of critic=gradient_penalty
    num_critic_steps: int = 1  # k in Algorithm 1
    pack: int = 1  # samples per critic input (PacGAN, Lin et al. 2018); batch_size then counts packs
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"  # rmsprop: WGAN's Algorithm 1 (α = 5e-5 there)
    learning_rate: float = 1e-3
    critic_learning_rate: float = 0.0  # the critic's own step size (0: learning_rate); TTUR, Heusel et al. 2017
    momentum: float = 0.5  # SGD momentum, or Adam's β1
    beta2: float = 0.999  # Adam's β2
    batch_size: int = 64  # m in Algorithm 1 (packs, with pack > 1)
    learning_rate_half_life: int = 0  # both step sizes halve every N iterations (0: constant; ``nn.schedule``)
    final_learning_rate: float = 0.0  # ... down to this
    learning_rate_hold: int = 0  # ... after N iterations at the first step sizes
    generator_average: float = 0.0  # δ of a moving average of G's weights, sampled in eval mode (0: none)

    def __post_init__(self) -> None:
        check(self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        check(self.generator_hidden_dim >= 0, f"generator_hidden_dim must be >= 0, got {self.generator_hidden_dim}")
        check(
            self.generator_hidden_layers >= 0,
            f"generator_hidden_layers must be >= 0, got {self.generator_hidden_layers}",
        )
        check(
            not self.generator_batch_norm or self.batch_size >= 2,
            f"generator_batch_norm normalises over the batch: batch_size must be >= 2, got {self.batch_size}",
        )
        check(self.num_critic_steps >= 1, f"num_critic_steps must be >= 1, got {self.num_critic_steps}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.pack >= 1, f"pack must be >= 1, got {self.pack}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")
        check(self.critic_learning_rate >= 0, f"critic_learning_rate must be >= 0, got {self.critic_learning_rate}")
        check(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        check(0 <= self.beta2 < 1, f"beta2 must be in [0, 1), got {self.beta2}")
        critics = ("plain", *LIPSCHITZ_CRITICS)
        check(self.critic in critics, f"critic must be one of: {', '.join(critics)}; got {self.critic!r}")
        check(
            self.objective != "wasserstein" or self.critic != "plain",
            "objective=wasserstein needs a constrained critic: critic=" + "|".join(LIPSCHITZ_CRITICS),
        )
        check(self.clip_value > 0, f"clip_value must be > 0, got {self.clip_value}")
        check(
            0 < self.lipschitz_constant < math.inf,
            f"lipschitz_constant must be a finite number > 0, got {self.lipschitz_constant}",
        )
        scalable = ("spectral", "dudley", "gradient_penalty")
        check(
            self.lipschitz_constant == 1 or self.critic in scalable,
            f"lipschitz_constant is for critic={'|'.join(scalable)}, got critic={self.critic}"
            + (" (clip_value sets its bound)" if self.critic == "clip" else ""),
        )
        check(self.penalty_weight > 0, f"penalty_weight must be > 0, got {self.penalty_weight}")
        check(
            self.learning_rate_half_life >= 0,
            f"learning_rate_half_life must be >= 0, got {self.learning_rate_half_life}",
        )
        check(self.final_learning_rate >= 0, f"final_learning_rate must be >= 0, got {self.final_learning_rate}")
        check(self.learning_rate_hold >= 0, f"learning_rate_hold must be >= 0, got {self.learning_rate_hold}")
        check(
            self.learning_rate_hold == 0 or self.learning_rate_half_life > 0,
            "learning_rate_hold delays the halving: it needs learning_rate_half_life > 0, got 0",
        )
        check(0 <= self.generator_average < 1, f"generator_average must be in [0, 1), got {self.generator_average}")
        check(
            self.critic_activation != "maxmin" or self.hidden_dim % 2 == 0,
            f"critic_activation=maxmin pairs features: hidden_dim must be even, got {self.hidden_dim}",
        )
        make_objective(self.objective, pi=self.pi, alpha=self.alpha, generator_update=self.generator_update)


class GAN(nn.Module):
    """Generator G: z -> x and critic D: x -> score, trained adversarially on ``config.objective``."""

    data_kinds = ("image", "points")

    def __init__(self, config: GANConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__()
        self.config = config
        self.data_shape = data_shape
        self.latent_dim = config.latent_dim
        self.batch_size = config.batch_size * config.pack * config.num_critic_steps  # k minibatches of m packs
        self.objective = make_objective(
            config.objective, pi=config.pi, alpha=config.alpha, generator_update=config.generator_update
        )
        architecture = config.architecture
        if architecture == "auto":
            architecture = "conv" if len(data_shape) == 3 else "mlp"
        if architecture != "mlp" and len(data_shape) != 3:
            raise DataError(f"architecture {architecture!r} takes images (C, H, W), got data of shape {data_shape}")
        if architecture != "mlp" and config.critic_activation != "leaky_relu":
            raise ConfigError(
                f"critic_activation={config.critic_activation} is for the MLP critic; the {architecture} critic "
                "uses LeakyReLU"
            )
        shaped = [name for name in MLP_GENERATOR_OPTIONS if getattr(config, name)]
        if architecture != "mlp" and shaped:
            raise ConfigError(
                f"{', '.join(shaped)} shape the MLP generator: expected architecture=mlp, got {architecture}"
            )
        self.generator = self._generator(architecture, config, data_shape)
        packed_shape = (config.pack * data_shape[0], *data_shape[1:])  # PacGAN: packs concatenated on axis 0
        self.critic = self._critic(architecture, config, packed_shape)
        # batch norm normalises real and fake minibatches apart (as DCGAN trains); other critics score both at once
        self._critic_has_batch_norm = has_batch_norm(self.critic)
        self._generator_has_batch_norm = has_batch_norm(self.generator)
        self.average_generator = None  # Ḡ, the moving average of G's weights
        if config.generator_average:
            self.average_generator = copy.deepcopy(self.generator).requires_grad_(False)
        self.register_buffer("num_steps", torch.zeros((), dtype=torch.int64))  # iterations: the schedule's clock
        self.register_buffer("device_marker", torch.zeros(()), persistent=False)

    @staticmethod
    def _generator(architecture: str, config: GANConfig, shape: tuple[int, ...]) -> nn.Module:
        """(B, Z) -> (B, *D); images in (0, 1)."""
        if architecture == "dcgan":
            return dcgan_generator(config.latent_dim, shape, config.conv_width)
        if architecture == "conv":
            if shape[1] % 4 or shape[2] % 4:
                raise DataError(f"the conv GAN needs images with H, W divisible by 4, got {shape}")
            return nn.Sequential(conv_decoder(config.latent_dim, shape, config.conv_width), nn.Sigmoid())
        width = config.generator_hidden_dim or config.hidden_dim
        depth = config.generator_hidden_layers or config.num_hidden_layers
        layers = [mlp(config.latent_dim, width, math.prod(shape), depth, batch_norm=config.generator_batch_norm)]
        layers.append(Reshape(*shape))
        if len(shape) == 3:
            layers.append(nn.Sigmoid())  # images live in [0, 1]
        return nn.Sequential(*layers)

    @staticmethod
    def _critic(architecture: str, config: GANConfig, shape: tuple[int, ...]) -> nn.Module:
        """(B, *D) -> (B,) scores. ``spectral`` and ``dudley`` swap every linear map for its spectral-
        normalised version and drop batch norm; ``gradient_penalty`` drops batch norm too, since the
        penalty is per example (Gulrajani et al. 2017, §4)."""
        lipschitz = config.critic in ("spectral", "dudley")
        if architecture == "dcgan":
            body = dcgan_discriminator(shape, config.conv_width, batch_norm=config.critic in ("plain", "clip"))
            body = spectral_normalized(body, shape) if lipschitz else body
        elif architecture == "conv":
            if shape[1] % 4 or shape[2] % 4:
                raise DataError(f"the conv GAN needs images with H, W divisible by 4, got {shape}")
            make = lipschitz_conv_critic if lipschitz else conv_encoder
            body = nn.Sequential(make(shape, out_features=1, width=config.conv_width), nn.Flatten(0))
        else:
            make = lipschitz_mlp if lipschitz else mlp
            activation = MaxMin if config.critic_activation == "maxmin" else nn.LeakyReLU
            network = make(math.prod(shape), config.hidden_dim, 1, config.num_hidden_layers, activation)
            body = nn.Sequential(nn.Flatten(), network, nn.Flatten(0))
        if config.critic == "dudley":
            return DudleyCritic(body, metric_scale=config.lipschitz_constant)
        if config.critic == "spectral" and config.lipschitz_constant != 1:
            return Scaled(body, config.lipschitz_constant)  # K·h: K-Lipschitz
        return body

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """(B, Z) -> (B, *D): G in training mode; in eval mode Ḡ, the averaged generator, if there is one."""
        if self.average_generator is not None and not self.training:
            return self.average_generator(z)
        return self.generator(z)

    def sample(
        self, n: int, *, generator: torch.Generator | None = None, jacobian_truncation: float = 0.0
    ) -> torch.Tensor:
        """-> (n, *D) with z ~ N(0, I); with ``jacobian_truncation`` r > 0, Jacobian-based truncation.

        Tanielian et al. 2020 ("Learning disconnected manifolds: a no GAN's land"): a continuous G of a
        connected latent must also sample the gaps between disconnected modes, and it crosses a gap where it
        is steep. So draw ⌈n/(1 − r)⌉ latents and keep the n at which the Jacobian's Frobenius norm
        ‖∂G/∂z‖_F is smallest, in the order they were drawn (the earlier of equal norms first). It trades
        recall for precision after training, like any rejection sampler: the samples are no longer G's
        distribution. A generator with batch norm must be in eval mode, where each sample is its own. The
        truncated samples carry no gradient (the choice is not differentiable, and the graphs of Z forward
        passes would hold gigabytes).
        """
        check(
            0 <= jacobian_truncation < 1,
            f"jacobian_truncation is the share of latents rejected: expected a number in [0, 1), "
            f"got {jacobian_truncation}",
        )
        if not jacobian_truncation:
            return self.generate(self._noise(n, generator))
        check(
            not (self.training and self._generator_has_batch_norm),
            "jacobian_truncation needs the model in eval mode (model.eval()): in training mode batch norm "
            "makes each sample depend on the others",
        )
        pool = math.ceil(round(n / (1 - jacobian_truncation), 9))  # round: 1 / (1 − 0.8) is 5.000000000000001
        z = self._noise(pool, generator)  # (pool, Z)
        with torch.no_grad():  # forward-mode differentiation needs no graph
            chunks = [jacobian_frobenius_norms(self.generate, part) for part in z.split(JACOBIAN_CHUNK)]
        samples, norms = (torch.cat(parts) for parts in zip(*chunks, strict=True))  # (pool, *D), (pool,)
        keep = norms.argsort(stable=True)[:n].sort().values  # (n,) the n least steep, in draw order
        return samples[keep]  # (n, *D)

    def _noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I): (n, Z)."""
        marker = self.device_marker
        return torch.randn(n, self.latent_dim, generator=generator, device=marker.device, dtype=marker.dtype)

    @property
    def initial_critic_learning_rate(self) -> float:
        """The critic's first step size: its own (TTUR) or the generator's."""
        return self.config.critic_learning_rate or self.config.learning_rate

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        if c.optimizer == "sgd":
            make = lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=c.momentum)  # noqa: E731
        elif c.optimizer == "rmsprop":  # no momentum: Arjovsky et al. §3 found momentum-based steps unstable
            make = lambda params, lr: torch.optim.RMSprop(params, lr=lr)  # noqa: E731
        else:
            make = lambda params, lr: torch.optim.Adam(params, lr=lr, betas=(c.momentum, c.beta2))  # noqa: E731
        return {
            "critic": make(self.critic.parameters(), self.initial_critic_learning_rate),
            "generator": make(self.generator.parameters(), c.learning_rate),
        }

    def train_step(self, batch: torch.Tensor, optimizers: dict, backward: Backward) -> dict[str, float]:
        """One iteration of Algorithm 1 on ``batch`` (k·m, *D)."""
        critic_opt, generator_opt = optimizers["critic"], optimizers["generator"]
        config = self.config
        m = config.batch_size * config.pack  # samples per minibatch (m packs of p with PacGAN)
        if config.learning_rate_half_life:
            initial_rates = ((critic_opt, self.initial_critic_learning_rate), (generator_opt, config.learning_rate))
            for optimizer, initial in initial_rates:
                learning_rate = halving_learning_rate(
                    int(self.num_steps), initial, config.learning_rate_half_life, config.final_learning_rate,
                    hold=config.learning_rate_hold,
                )  # fmt: skip
                set_learning_rate((optimizer,), learning_rate)
        # 1. k critic steps, each on its own minibatch of m data and m fresh noise vectors.
        for real in batch.split(m):
            fake = self.sample(len(real)).detach()  # (m, *D), no gradient into G
            real, fake = self._packed(real), self._packed(fake)  # (m/p, p·D0, ...) each; p = 1: (m, *D)
            critic_opt.zero_grad()
            critic_loss = self.objective.critic_loss(*self._critic_scores(real, fake))
            if config.critic == "gradient_penalty":  # on interpolates of whole packs
                critic_loss = critic_loss + gradient_penalty(
                    self.critic, real, fake, config.penalty_weight, target=config.lipschitz_constant
                )
            backward(critic_loss)
            critic_opt.step()
            if config.critic == "clip":
                clip_weights_(self.critic, config.clip_value)
        # 2. one generator step on m fresh noise vectors.
        generator_opt.zero_grad()
        z = self._noise(m)  # (m, Z)
        fake = self._packed(self.generator(z))  # (m/p, p·D0, ...)
        generator_loss = self.objective.generator_loss(self.critic(fake))
        backward(generator_loss)
        generator_opt.step()
        self.num_steps += 1
        # 3. (beyond the paper) the averaged generator Ḡ follows G.
        if self.average_generator is not None:
            self._update_average_generator(z)
        return {"critic_loss": critic_loss.item(), "generator_loss": generator_loss.item()}

    def _packed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D0, ...) -> (⌊B/p⌋, p·D0, ...): consecutive samples in packs of p = ``pack``, concatenated on axis 0;
        a last incomplete pack (of a minibatch cut short by a small training set) is dropped."""
        p = self.config.pack
        whole = len(x) // p
        return x[: whole * p].reshape(whole, p * x.shape[1], *x.shape[2:])

    def _critic_scores(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, *D), (n, *D) -> D(real) (n,), D(fake) (n,); one forward (one power-iteration step) without batch norm."""
        if self._critic_has_batch_norm:
            return self.critic(real), self.critic(fake)
        scores = self.critic(torch.cat([real, fake]))  # (2n,)
        return scores[: len(real)], scores[len(real) :]

    @torch.no_grad()
    def _update_average_generator(self, z: torch.Tensor) -> None:
        """Ḡ ← δ_t·Ḡ + (1 − δ_t)·G with δ_t = min(δ, (1 + t)/(10 + t)) after t iterations, so that Ḡ soon forgets
        G's random start. A batch-norm generator then runs Ḡ on this step's noise z (m, Z), so that Ḡ's running
        statistics are those of its own activations, not G's."""
        t = int(self.num_steps)
        decay = min(self.config.generator_average, (1 + t) / (10 + t))
        for average, live in zip(self.average_generator.parameters(), self.generator.parameters(), strict=True):
            average.lerp_(live, 1 - decay)
        if self._generator_has_batch_norm:
            self.average_generator(z)  # training mode: updates the running statistics only


def jacobian_frobenius_norms(
    function: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``function`` (B, Z) -> (B, *D), ``z`` (B, Z) -> function(z) (B, *D) and ‖∂function(z_b)/∂z_b‖_F (B,).

    Exact, by forward-mode differentiation: one Jacobian-vector product per latent coordinate j gives column j
    of every example's Jacobian at once, if the examples do not interact (batch norm in eval mode).
    """
    squared = z.new_zeros(len(z))  # (B,) ‖∂function/∂z‖²_F, summed column by column
    for j in range(z.shape[1]):
        direction = torch.zeros_like(z)  # (B, Z): the j-th unit vector for every example
        direction[:, j] = 1
        outputs, column = torch.func.jvp(function, (z,), (direction,))  # (B, *D) twice
        squared = squared + column.flatten(1).square().sum(1)
    return outputs, squared.sqrt()


def has_batch_norm(network: nn.Module) -> bool:
    """Whether any layer of ``network`` normalises over the batch (its outputs then depend on the other examples)."""
    return any(isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d) for m in network.modules())


@dataclass(frozen=True)
class DCGANConfig(GANConfig):
    """Radford et al. 2016, §4: Adam with step 2e-4 and β1 = 0.5, minibatches of 128, z of 100 values."""

    latent_dim: int = 100
    architecture: Literal["dcgan"] = "dcgan"
    conv_width: int = 64  # the discriminator's first layer; the paper's 64×64 model has 128
    learning_rate: float = 2e-4
    batch_size: int = 128


class DCGAN(GAN):
    """The GAN with DCGAN's generator and discriminator (``dgm.nn.dcgan``), for images only."""

    data_kinds = ("image",)
