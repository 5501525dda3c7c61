"""scikit-learn's 8×8 handwritten digits (1,797 images, 10 classes): the embedded default.

Pixel values 0..16 are scaled to [0, 1]; 300 images (fixed seed) form the test split.
"""

import torch
from sklearn.datasets import load_digits as _sklearn_digits

from .base import Dataset, split


def load_digits() -> Dataset:
    bunch = _sklearn_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8)
    labels = torch.tensor(bunch.target, dtype=torch.int64)  # (1797,)
    train, test, train_labels, test_labels = split(images, labels, num_test=300)
    return Dataset("digits", "image", train, test, train_labels, test_labels)
