"""The in-memory data set record shared by every loader."""

from dataclasses import dataclass, field
from typing import Any, Literal

import torch


@dataclass(frozen=True)
class Dataset:
    """Train/test tensors of one data set.

    ``train``/``test`` by ``kind``: image (N, C, H, W) floats in [0, 1]; points (N, d); audio
    (N, 1, T) floats in [-1, 1]; text (N, T) int64 indices into ``info["alphabet"]``; strokes
    (N, T, 3) floats (dx, dy, pen lift); video (N, T, C, H, W) floats in [0, 1].
    ``train_labels``/``test_labels``: per-example conditioning where the set has it: class ids (N,)
    or padded character sequences (N, U), int64.
    ``info``: JSON-serialisable facts a model needs to be built (``sample_rate``, ``alphabet``...);
    it is recorded in every run's ``config.json``.
    ``modes``/``mode_std``: the mixture components of a toy set, for mode-coverage metrics.
    ``binary_test``: the test set binarised once by the set's own published rule; otherwise
    ``binarize_static`` is used.
    """

    name: str
    kind: Literal["image", "points", "audio", "text", "strokes", "video"]
    train: torch.Tensor
    test: torch.Tensor
    train_labels: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None
    modes: torch.Tensor | None = None
    mode_std: float | None = None
    binary_test: torch.Tensor | None = None  # a published fixed binarisation of ``test``, if the set has one
    info: dict[str, Any] = field(default_factory=dict)

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
