"""The one training loop, its checkpoints and its logs. Model-agnostic: it only knows ``Trainable``."""

from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .loop import LoopOptions, TrainResult, fit, make_fabric

__all__ = [
    "LoopOptions",
    "TrainResult",
    "fit",
    "make_fabric",
    "latest_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
]
