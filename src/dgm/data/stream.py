"""Training batches drawn from a tensor in a resumable order, and fixed-seed binarisation.

The stream owns its ``torch.Generator``: the permutation of each epoch and the dynamic
binarisation noise both come from it, so ``state_dict()`` (epoch, position, generator state) is
all that is needed to continue bit for bit after a restart.
"""

from typing import Any

import torch

from ..core.seed import generator_state, set_generator_state

EVAL_BINARIZE_SEED = 1234


def binarize_static(x: torch.Tensor, seed: int = EVAL_BINARIZE_SEED) -> torch.Tensor:
    """Bernoulli(x) drawn once with a fixed seed: the evaluation binarisation. (N, ...) -> (N, ...)."""
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(seed))
    return (noise < x).to(x.dtype)


class BatchStream:
    """Endless minibatches: each epoch a fresh permutation, batches of ``batch_size`` per rank.

    With ``world_size`` ranks, every rank draws the same permutation and takes its own slice of
    each global batch, so replicas see disjoint data. ``binarize`` redraws Bernoulli(x) for every
    batch (dynamic binarisation). ``data`` may be a tuple of tensors with the same first dimension,
    e.g. ``(images, labels)``: batches are then tuples, and only the first tensor is binarised.
    """

    def __init__(
        self,
        data: torch.Tensor | tuple[torch.Tensor, ...],
        batch_size: int,
        seed: int,
        binarize: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.data = data
        self._tensors = data if isinstance(data, tuple) else (data,)
        if any(len(t) != len(self._tensors[0]) for t in self._tensors):
            raise ValueError(f"tensors of different lengths: {[len(t) for t in self._tensors]}")
        self.batch_size = batch_size
        self.binarize = binarize
        self.rank, self.world_size = rank, world_size
        self.global_batch = batch_size * world_size
        if self.global_batch > len(self):
            self.global_batch = len(self) - len(self) % world_size
            self.batch_size = self.global_batch // world_size
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch, self.position = 0, 0
        self._order = torch.randperm(len(self), generator=self.generator)

    def __len__(self) -> int:
        return len(self._tensors[0])

    def __next__(self) -> torch.Tensor | tuple[torch.Tensor, ...]:
        if self.position + self.global_batch > len(self):
            self.epoch, self.position = self.epoch + 1, 0
            self._order = torch.randperm(len(self), generator=self.generator)
        start = self.position + self.rank * self.batch_size
        indices = self._order[start : start + self.batch_size]
        self.position += self.global_batch
        batch = self._tensors[0][indices]  # (batch_size, *D)
        if self.binarize:
            batch = (torch.rand(batch.shape, generator=self.generator) < batch).to(batch.dtype)
        if not isinstance(self.data, tuple):
            return batch
        return (batch, *(t[indices] for t in self._tensors[1:]))

    def __iter__(self) -> "BatchStream":
        return self

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "position": self.position,
            "order": self._order.tolist(),
            "generator": generator_state(self.generator),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.position = state["epoch"], state["position"]
        self._order = torch.tensor(state["order"], dtype=torch.int64)
        set_generator_state(self.generator, state["generator"])
