"""Step-size schedules by step count, for models that own their optimisers.

A schedule by steps rather than by wall-clock time gives the same run on any machine and resumes
exactly: the model keeps its step count in a buffer, which the checkpoint saves.

Example::

    set_learning_rate([optimizer], halving_learning_rate(int(model.num_steps), 1e-3, half_life=30_000, final=1e-4))
"""

from collections.abc import Iterable

import torch


def halving_learning_rate(step: int, initial: float, half_life: int, final: float, hold: int = 0) -> float:
    """The step size after ``step`` steps: ``initial`` for the first ``hold`` steps, then halved every
    ``half_life`` steps, never below ``final`` (nor below ``initial`` itself, if ``final`` is higher).
    ``half_life`` 0 keeps it at ``initial``."""
    if half_life == 0:
        return initial
    return max(initial * 0.5 ** (max(0, step - hold) / half_life), min(final, initial))


def set_learning_rate(optimizers: Iterable[torch.optim.Optimizer], learning_rate: float) -> None:
    """Every parameter group of every optimiser in ``optimizers`` takes ``learning_rate``."""
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate
