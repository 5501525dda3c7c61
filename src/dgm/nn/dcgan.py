"""The DCGAN generator and discriminator (Radford, Metz & Chintala 2016, "Unsupervised Representation
Learning with Deep Convolutional Generative Adversarial Networks", §3 and Fig. 1).

The paper's architecture guidelines, for C×H×W images:

1. No pooling: the discriminator halves the resolution with stride-2 convolutions, the generator
   doubles it with stride-2 transposed convolutions (4×4 kernels, padding 1).
2. Batch normalisation in both networks, except the generator's output layer and the
   discriminator's input layer.
3. No fully connected hidden layers: z is projected and reshaped to the smallest feature map,
   and the discriminator's last feature map is flattened into one score.
4. ReLU in the generator (its output squashed; the paper's tanh on [−1, 1] data is a sigmoid here,
   since dgm's images live in [0, 1]); LeakyReLU with slope 0.2 in the discriminator.
5. Every weight drawn from N(0, 0.02²) (§4; batch norm's scales from N(1, 0.02²)), biases zero.

The number of stride-2 stages is how often H and W halve to a map no smaller than 4×4: two for
28×28 (7×7 → 14×14 → 28×28), three for 32×32 (4×4 → 32×32), four for the paper's 64×64. Channels
double at every stage down, ``width`` at the full-resolution end (the paper: 128, so 1024 at 4×4).
"""

import math

from torch import nn

from ..core.errors import DataError
from .mlp import Reshape


def dcgan_stages(shape: tuple[int, ...]) -> int:
    """The number of stride-2 stages for images (C, H, W): halvings of H and W that stay ≥ 4 and whole."""
    if len(shape) != 3:
        raise DataError(f"the DCGAN architecture takes images (C, H, W), got data of shape {shape}")
    _, height, width = shape
    stages = 0
    while height % 2 == 0 and width % 2 == 0 and height // 2 >= 4 and width // 2 >= 4:
        height, width, stages = height // 2, width // 2, stages + 1
    if stages == 0:
        raise DataError(f"the DCGAN architecture needs H and W even and at least 8, got {shape}")
    return stages


def _initialize(network: nn.Sequential) -> nn.Sequential:
    """Step 5, in place; returns ``network``."""
    for module in network.modules():
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.02)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, 0.02)
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear | nn.BatchNorm2d) and module.bias is not None:
            nn.init.zeros_(module.bias)
    return network


def dcgan_generator(latent_dim: int, shape: tuple[int, int, int], width: int = 64) -> nn.Sequential:
    """(B, Z) -> (B, C, H, W) in (0, 1)."""
    stages = dcgan_stages(shape)
    channels, height, wide = shape
    base = (height >> stages, wide >> stages)  # the smallest map, e.g. 7×7 for 28×28
    widths = [width * 2**i for i in reversed(range(stages))]  # channels at each stage, e.g. [128, 64]
    layers: list[nn.Module] = [
        nn.Linear(latent_dim, widths[0] * math.prod(base), bias=False),  # 3. project and reshape
        Reshape(widths[0], *base),  # (B, widths[0], H / 2^s, W / 2^s)
        nn.BatchNorm2d(widths[0]),
        nn.ReLU(),
    ]
    for wide_in, wide_out in zip(widths, widths[1:], strict=False):
        layers += [
            nn.ConvTranspose2d(wide_in, wide_out, 4, stride=2, padding=1, bias=False),  # doubles H, W
            nn.BatchNorm2d(wide_out),
            nn.ReLU(),
        ]
    layers += [nn.ConvTranspose2d(widths[-1], channels, 4, stride=2, padding=1), nn.Sigmoid()]  # (B, C, H, W)
    return _initialize(nn.Sequential(*layers))


def dcgan_discriminator(shape: tuple[int, int, int], width: int = 64, batch_norm: bool = True) -> nn.Sequential:
    """(B, C, H, W) -> (B,) scores. ``batch_norm=False`` for critics whose objective treats each example on
    its own, such as the gradient penalty (Gulrajani et al. 2017, §4)."""
    stages = dcgan_stages(shape)
    channels, height, wide = shape
    widths = [width * 2**i for i in range(stages)]  # e.g. [64, 128]
    layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
    for wide_in, wide_out in zip(widths, widths[1:], strict=False):
        layers += [
            nn.Conv2d(wide_in, wide_out, 4, stride=2, padding=1, bias=not batch_norm),  # halves H, W
            nn.BatchNorm2d(wide_out) if batch_norm else nn.Identity(),
            nn.LeakyReLU(0.2),
        ]
    features = widths[-1] * (height >> stages) * (wide >> stages)
    return _initialize(nn.Sequential(*layers, nn.Flatten(), nn.Linear(features, 1), nn.Flatten(0)))  # 3. (B,)
