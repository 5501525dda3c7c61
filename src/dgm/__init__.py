"""dgm: deep generative models in PyTorch, trained, evaluated and compared on one footing.

>>> import dgm
>>> dgm.train_model("vae", "digits", steps=200, out="runs/vae")   # doctest: +SKIP
>>> model = dgm.load("runs/vae")                                   # doctest: +SKIP

The API functions are imported on first use, so ``import dgm`` (and ``dgm list``) stays quick.
"""

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate", "evaluate_ood", "load", "resume", "sample", "train_model", "write_report"]
# ``dgm.report`` is the subpackage of figures and HTML, so the API's ``report`` is ``dgm.write_report``.
API_NAMES = {"evaluate": "evaluate", "evaluate_ood": "evaluate_ood", "load": "load", "resume": "resume",
             "sample": "sample", "train_model": "train_model", "write_report": "report"}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in API_NAMES:
        return getattr(importlib.import_module("dgm.api"), API_NAMES[name])
    raise AttributeError(f"module 'dgm' has no attribute {name!r}")
