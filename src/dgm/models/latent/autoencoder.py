"""A deterministic autoencoder as a lossy compressor (Hinton & Salakhutdinov 2006, "Reducing the
Dimensionality of Data with Neural Networks"), with its code ordered by importance through
nested dropout (Rippel, Gelbart & Adams 2014, "Learning Ordered Representations with Nested
Dropout"), so one trained model yields a whole rate–distortion curve.

1. Encode: c = encoder(x), a code of ``bottleneck_dim`` numbers (the features a downstream model reuses).
2. Nested dropout (training only): draw a code length b ~ Uniform{1, …, K} per example and zero
   c_{b+1..K} (§3, eq. 1). Rippel et al. draw b from a geometric distribution; the uniform one
   weights every code length equally, which is what a rate–distortion curve asks of it. The first
   units must then carry the most information, as PCA's leading components do (their Theorem 1: a
   linear nested-dropout autoencoder recovers PCA's ordered eigenvectors).
3. Decode: x̂ = decoder(c), through a sigmoid for images in [0, 1].
4. Distortion: the squared error ‖x − x̂‖², summed over values, averaged over the batch.

``dgm.eval.latent.rate_distortion`` quantises the first k code values to 8 bits (rate 8k bits) and
reports the distortion against PCA with k components quantised the same way.

Example::

    model = Autoencoder(AutoencoderConfig(bottleneck_dim=8), data_shape=(1, 8, 8))
    features = model.encode(x)                   # (B, 8)
    coarse = model.reconstruct(x, num_dims=2)    # (B, 1, 8, 8) from the first two code values
"""

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ...core.config import check
from ...core.protocols import Backward
from ...eval.latent import code_sizes, rate_distortion
from ...nn.convnets import encoder_and_decoder


@dataclass(frozen=True)
class AutoencoderConfig:
    bottleneck_dim: int = 16  # K, the longest code
    hidden_dim: int = 256
    num_hidden_layers: int = 2
    architecture: Literal["mlp", "conv"] = "mlp"
    conv_width: int = 32
    nested_dropout: bool = True  # order the code by importance (step 2)
    batch_size: int = 64
    learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        check(self.bottleneck_dim >= 1, f"bottleneck_dim must be >= 1, got {self.bottleneck_dim}")
        check(self.hidden_dim >= 1, f"hidden_dim must be >= 1, got {self.hidden_dim}")
        check(self.num_hidden_layers >= 1, f"num_hidden_layers must be >= 1, got {self.num_hidden_layers}")
        check(self.conv_width >= 1, f"conv_width must be >= 1, got {self.conv_width}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")


class Autoencoder(nn.Module):
    """Encoder (B, *D) -> (B, K), decoder (B, K) -> (B, *D); no likelihood, no sampling."""

    data_kinds = ("image", "points")

    def __init__(self, config: AutoencoderConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__()
        self.config = config
        self.data_shape = data_shape
        self.bottleneck_dim = config.bottleneck_dim
        self.batch_size = config.batch_size
        is_image = len(data_shape) == 3
        self.encoder, decoder = encoder_and_decoder(
            config.architecture, data_shape, config.bottleneck_dim, config.bottleneck_dim, 1,
            config.hidden_dim, config.num_hidden_layers, config.conv_width,
        )  # fmt: skip
        self.decoder = nn.Sequential(decoder, nn.Sigmoid()) if is_image else decoder

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """1. (B, *D) -> (B, K) code."""
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """3. (B, K) -> (B, *D) reconstruction."""
        return self.decoder(code).reshape(len(code), *self.data_shape)  # (B, *D)

    def reconstruct(self, x: torch.Tensor, num_dims: int | None = None) -> torch.Tensor:
        """(B, *D) -> (B, *D) from the first ``num_dims`` code values (all when None), the rest zeroed."""
        code = self.encode(x)  # (B, K)
        if num_dims is not None:
            code = code * (torch.arange(self.bottleneck_dim, device=code.device) < num_dims)
        return self.decode(code)

    def distortion(self, x: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
        """4. (B, *D) twice -> (B,) squared error summed over values."""
        return (x - reconstruction).pow(2).flatten(1).sum(dim=1)

    def extra_metrics(self, test_data: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        """Squared reconstruction error per example with the full code, and the rate–distortion table
        (``dgm.eval.latent.rate_distortion``): at k code values of 8 bits, this model's and PCA's error."""
        errors = [self.distortion(chunk, self.reconstruct(chunk)) for chunk in test_data.split(256)]
        metrics = {"reconstruction_squared_error": torch.cat(errors).double().mean().item()}
        for row in rate_distortion(self, test_data, code_sizes(self.bottleneck_dim)):
            dims = int(row["code_dims"])
            metrics[f"squared_error_{dims}dims_8bit"] = row["squared_error"]
            metrics[f"pca_squared_error_{dims}dims_8bit"] = row["pca_squared_error"]
        return metrics

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)}

    def train_step(self, batch: torch.Tensor, optimizers: dict, backward: Backward) -> dict[str, float]:
        """One descent step on the mean distortion of ``batch`` (B, *D), its codes cut by nested dropout."""
        optimizer = optimizers["adam"]
        optimizer.zero_grad()
        code = self.encode(batch)  # (B, K)
        if self.config.nested_dropout:
            lengths = torch.randint(1, self.bottleneck_dim + 1, (len(batch), 1), device=code.device)  # 2. b, (B, 1)
            code = code * (torch.arange(self.bottleneck_dim, device=code.device) < lengths)  # (B, K)
        loss = self.distortion(batch, self.decode(code)).mean()
        backward(loss)
        optimizer.step()
        return {"loss": loss.item()}
