"""dgm: deep generative models in PyTorch, trained, evaluated and compared on one footing.

>>> import dgm
>>> model = dgm.load("runs/demo/vae")   # doctest: +SKIP
"""

__version__ = "0.1.0"

from .api import evaluate, load, report, resume, sample, train  # noqa: E402

__all__ = ["__version__", "evaluate", "load", "report", "resume", "sample", "train"]
