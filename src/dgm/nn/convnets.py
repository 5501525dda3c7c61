"""Small convolutional encoders and decoders for C×H×W images with H, W divisible by 4.

Two stride-2 stages: H×W -> H/2×W/2 -> H/4×W/4 and back. Sized for 8×8 digits and 28×28/32×32
images on a CPU.
"""

import math

from torch import nn

from ..core.errors import DataError
from .mlp import Reshape, mlp


def conv_encoder(shape: tuple[int, int, int], out_features: int, width: int = 32) -> nn.Sequential:
    """(B, C, H, W) -> (B, out_features)."""
    channels, height, wide = shape
    return nn.Sequential(
        nn.Conv2d(channels, width, 4, stride=2, padding=1),  # (B, width, H/2, W/2)
        nn.LeakyReLU(0.2),
        nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),  # (B, 2width, H/4, W/4)
        nn.LeakyReLU(0.2),
        nn.Flatten(),  # (B, 2width * H/4 * W/4)
        nn.Linear(2 * width * (height // 4) * (wide // 4), out_features),
    )


def conv_decoder(
    in_features: int, shape: tuple[int, int, int], width: int = 32, batch_norm: bool = True
) -> nn.Sequential:
    """(B, in_features) -> (B, C, H, W) unnormalised outputs.

    ``batch_norm=False`` for likelihood models, whose decoder must treat each example on its own.
    """
    channels, height, wide = shape
    norm = nn.BatchNorm2d if batch_norm else lambda _: nn.Identity()
    return nn.Sequential(
        nn.Linear(in_features, 2 * width * (height // 4) * (wide // 4)),
        Reshape(2 * width, height // 4, wide // 4),  # (B, 2width, H/4, W/4)
        norm(2 * width),
        nn.ReLU(),
        nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),  # (B, width, H/2, W/2)
        norm(width),
        nn.ReLU(),
        nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1),  # (B, C, H, W)
    )


def encoder_and_decoder(
    architecture: str,
    data_shape: tuple[int, ...],
    encoder_outputs: int,
    code_dim: int,
    outputs_per_value: int,
    hidden_dim: int,
    num_hidden_layers: int,
    conv_width: int,
) -> tuple[nn.Module, nn.Module]:
    """The two networks of an autoencoder-shaped model, MLPs (any data) or convolutional (images with
    H, W divisible by 4; no batch norm, so each example is decoded on its own):
    encoder (B, *D) -> (B, encoder_outputs); decoder (N, code_dim) -> (N, k·prod(D)) for the MLP or
    (N, k·C, H, W) for the conv net, k = ``outputs_per_value``."""
    if architecture == "mlp":
        data_dim = math.prod(data_shape)
        encoder = nn.Sequential(nn.Flatten(), mlp(data_dim, hidden_dim, encoder_outputs, num_hidden_layers))
        return encoder, mlp(code_dim, hidden_dim, outputs_per_value * data_dim, num_hidden_layers)
    if len(data_shape) != 3 or data_shape[1] % 4 or data_shape[2] % 4:
        raise DataError(f"architecture 'conv' needs images (C, H, W) with H, W divisible by 4, got {data_shape}")
    channels, height, width = data_shape
    decoder = conv_decoder(code_dim, (outputs_per_value * channels, height, width), conv_width, batch_norm=False)
    return conv_encoder(data_shape, encoder_outputs, conv_width), decoder
