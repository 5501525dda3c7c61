"""The in-memory data set record shared by every loader."""

from dataclasses import dataclass
from typing import Literal

import torch


@dataclass(frozen=True)
class Dataset:
    """Train/test tensors of one data set.

    ``train``/``test``: (N, C, H, W) floats in [0, 1] for images, (N, d) for points.
    ``labels_*``: (N,) int64 class labels where the set has them.
    ``modes``/``mode_std``: the mixture components of a toy set, for mode-coverage metrics.
    ``binary_test``: the test set binarised once by the set's own published rule; otherwise
    ``binarize_static`` is used.
    """

    name: str
    kind: Literal["image", "points"]
    train: torch.Tensor
    test: torch.Tensor
    train_labels: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None
    modes: torch.Tensor | None = None
    mode_std: float | None = None
    binary_test: torch.Tensor | None = None  # a published fixed binarisation of ``test``, if the set has one

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one example, e.g. (1, 8, 8) or (2,)."""
        return tuple(self.train.shape[1:])


def split(x: torch.Tensor, labels: torch.Tensor | None, num_test: int, seed: int = 0):
    """A fixed-seed train/test split: returns (train, test, train_labels, test_labels)."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    test_idx, train_idx = order[:num_test], order[num_test:]
    if labels is None:
        return x[train_idx], x[test_idx], None, None
    return x[train_idx], x[test_idx], labels[train_idx], labels[test_idx]
