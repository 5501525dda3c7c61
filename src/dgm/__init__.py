"""dgm: deep generative models in PyTorch, trained, evaluated and compared on one footing.

>>> import dgm
>>> dgm.train_model("vae", "digits", steps=200, out="runs/vae")   # doctest: +SKIP
>>> model = dgm.load("runs/vae")                                   # doctest: +SKIP
"""

__version__ = "0.1.0"

from .api import evaluate, load, report, resume, sample, train_model  # noqa: E402

__all__ = ["__version__", "evaluate", "load", "report", "resume", "sample", "train_model"]
