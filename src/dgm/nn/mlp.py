"""A plain multilayer perceptron."""

import torch
from torch import nn


def mlp(
    in_features: int,
    hidden: int,
    out_features: int,
    num_hidden_layers: int = 2,
    activation: type[nn.Module] = nn.ReLU,
    batch_norm: bool = False,
) -> nn.Sequential:
    """``in -> [hidden, (batch norm,) activation] * num_hidden_layers -> out`` (no activation at the output)."""
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(num_hidden_layers):
        layers += [nn.Linear(width, hidden), *([nn.BatchNorm1d(hidden)] if batch_norm else []), activation()]
        width = hidden
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


class Reshape(nn.Module):
    """(B, prod(shape)) <-> (B, *shape)."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)
