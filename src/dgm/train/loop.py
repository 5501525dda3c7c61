"""The one training loop: Fabric, batches, ``train_step``, logs, evaluation, checkpoints, resume.

The loop knows a model only through ``Trainable`` (``batch_size``, ``optimizers()``,
``train_step``) plus two optional attributes: ``binarize_data`` (draw Bernoulli(x) for each batch)
and ``conditioning`` (batches are ``(x, labels)`` pairs).
Evaluation and sample figures come in as one callable.

Exactness: everything random in training flows from the seeded global generators and the batch
stream's own generator; all of them are saved in every checkpoint, and evaluation runs under
``torch.random.fork_rng`` so it never disturbs them. Resuming from step N therefore replays steps
N+1, N+2, … bit for bit on the same machine.
"""

import contextlib
import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning_fabric import Fabric

from ..core.errors import CheckpointError, ConfigError, DataError, NonFiniteLossError
from ..core.seed import capture_rng_state, restore_rng_state, seed_everything
from ..data import BatchStream
from .checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    load_model_state,
    remove_unfinished_checkpoints,
    restore_optimizer_state,
    save_checkpoint,
)
from .logging import MetricsLog, make_progress

Evaluate = Callable[[torch.nn.Module, Path | None], dict[str, float]]
"""``evaluate(model, samples_png_or_None) -> metrics``; writes a sample figure when given a path."""


@dataclass(frozen=True)
class LoopOptions:
    steps: int
    eval_every: int = 0  # 0: evaluate only at the end
    checkpoint_every: int = 0  # 0: checkpoint only at the end
    max_time: float | None = None  # seconds of training wall time, summed over resumes
    accelerator: str = "cpu"
    devices: int = 1
    precision: str = "32-true"
    strategy: str = "auto"
    progress: bool = True


@dataclass(frozen=True)
class TrainResult:
    step: int
    status: str  # "completed", "time budget spent", "interrupted by SIGINT"/"SIGTERM"
    checkpoint: Path | None


class _StopSignals:
    """Turn SIGINT/SIGTERM into a flag checked between steps, then restore the old handlers."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "_StopSignals":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.received = signal.Signals(signum).name

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def make_fabric(options: LoopOptions) -> Fabric:
    """Fabric for these options; a combination the machine cannot run is a ``ConfigError``.

    Constructing Fabric launches nothing, so callers use this to check options before any work.
    """
    try:
        return Fabric(
            accelerator=options.accelerator,
            devices=options.devices,
            precision=options.precision,
            strategy=options.strategy,
        )
    except (ValueError, RuntimeError, TypeError, ImportError) as error:
        first = str(error).strip().splitlines()[0]
        what = f"accelerator={options.accelerator} devices={options.devices} precision={options.precision}"
        raise ConfigError(f"cannot run {what} strategy={options.strategy}: {first}") from None


def _all_finite(losses: dict[str, float]) -> bool:
    return all(math.isfinite(value) for value in losses.values())


def fit(
    run_dir: Path,
    build_model: Callable[[], torch.nn.Module],
    train_data: torch.Tensor,
    seed: int,
    options: LoopOptions,
    evaluate: Evaluate,
    resume: bool = False,
    train_labels: torch.Tensor | None = None,
) -> TrainResult:
    """Train ``build_model()`` on ``train_data`` until ``options.steps``; see the module docstring.

    ``train_data``: (N, *D). A model with ``conditioning = True`` gets ``(x, labels)`` batches drawn
    with ``train_labels`` (N, ...). Returns the final step, why training stopped, and the last
    checkpoint. Only global rank 0 writes to ``run_dir``.
    """
    run_dir = Path(run_dir)
    fabric = make_fabric(options)
    fabric.launch()
    rank, world_size = fabric.global_rank, fabric.world_size
    writer = rank == 0

    # 1. Build the model identically on every rank, then give each rank its own noise stream.
    seed_everything(seed)
    wrapped = fabric.setup_module(build_model())  # moves, converts precision, syncs replicas
    model = wrapped.module
    raw_optimizers = model.optimizers()
    wrapped_optimizers = fabric.setup_optimizers(*raw_optimizers.values())
    if len(raw_optimizers) == 1:
        wrapped_optimizers = (wrapped_optimizers,)
    optimizers = dict(zip(raw_optimizers, wrapped_optimizers, strict=True))
    if rank > 0:
        seed_everything(seed + 1_000_003 * rank)
    if getattr(model, "conditioning", False):
        if train_labels is None:
            raise DataError(f"{type(model).__name__} is conditional and needs labels; this data set has none")
        train_data = (train_data, train_labels)
    stream = BatchStream(train_data, model.batch_size, seed, getattr(model, "binarize_data", False), rank, world_size)

    # 2. Resume: weights, optimizer moments, data position and every RNG state (each rank its own).
    step, elapsed = 0, 0.0
    last_saved = last_eval = None
    metrics = MetricsLog(run_dir / "metrics.jsonl", enabled=writer)
    if writer:
        remove_unfinished_checkpoints(run_dir)
    checkpoint = latest_checkpoint(run_dir) if resume else None
    if checkpoint is not None:
        model_state, optim_states, state = load_checkpoint(checkpoint)
        load_model_state(model, model_state, checkpoint)
        restore_optimizer_state(raw_optimizers, optim_states, checkpoint)
        try:
            stream.load_state_dict(state["data"])
            restore_rng_state(state["rng"])
            if rank < len(state.get("torch_rng_by_rank", [])):
                torch.set_rng_state(torch.tensor(state["torch_rng_by_rank"][rank], dtype=torch.uint8))
            if state.get("precision"):
                fabric.strategy.precision.load_state_dict(state["precision"])
            if fabric.device.type == "cuda" and rank < len(state.get("cuda_rng_by_rank", [])):
                cuda_state = torch.tensor(state["cuda_rng_by_rank"][rank], dtype=torch.uint8)
                torch.cuda.set_rng_state(cuda_state, fabric.device)
            step, elapsed = state["step"], state["elapsed_s"]
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(f"checkpoint {checkpoint} is corrupt: bad state.json ({error!r})") from None
        last_saved = last_eval = step
    metrics.truncate_after(step)
    convert_input = fabric.strategy.precision.convert_input  # e.g. float64 batches for "64-true"

    def sync_grads() -> None:
        if world_size > 1:
            for parameter in model.parameters():
                if parameter.grad is not None:
                    parameter.grad.copy_(fabric.all_reduce(parameter.grad, reduce_op="mean"))

    def backward(loss: torch.Tensor) -> None:
        fabric.backward(loss)
        sync_grads()

    def save(at_step: int) -> Path | None:
        replica_sums = fabric.all_gather(torch.stack([p.detach().double().sum() for p in model.parameters()]).sum())
        torch_rng = fabric.all_gather(torch.get_rng_state()).reshape(world_size, -1)  # (ranks, state bytes)
        cuda_rng = None
        if fabric.device.type == "cuda":
            cuda_rng = fabric.all_gather(torch.cuda.get_rng_state(fabric.device)).reshape(world_size, -1)
        if not writer:
            return None
        state = {
            "elapsed_s": elapsed,
            "data": stream.state_dict(),
            "rng": capture_rng_state(),
            "torch_rng_by_rank": torch_rng.tolist(),
            "cuda_rng_by_rank": cuda_rng.tolist() if cuda_rng is not None else [],
            "precision": fabric.strategy.precision.state_dict(),  # the loss scaler of 16-mixed
            "world_size": world_size,
            "replica_param_checksums": replica_sums.reshape(-1).tolist(),
        }
        return save_checkpoint(run_dir, at_step, model, raw_optimizers, state)

    def run_eval(at_step: int) -> None:
        if not writer:
            return
        model.eval()
        samples_path = run_dir / "samples" / f"step-{at_step}.png"
        samples_path.parent.mkdir(parents=True, exist_ok=True)
        cuda_devices = [fabric.device] if fabric.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda_devices), torch.no_grad():
            torch.manual_seed(seed)
            results = evaluate(model, samples_path)
        metrics.write({"step": at_step, "kind": "eval", **results})
        model.train()

    # 3. Steps: one train_step each, logged; evaluation and checkpoints on their schedules.
    status = "completed"
    checkpoint_path: Path | None = checkpoint
    started = time.perf_counter() - elapsed
    model.train()
    progress = make_progress(options.progress and writer)
    with _StopSignals() as signals, progress, contextlib.closing(metrics):
        task = progress.add_task(run_dir.name, total=options.steps, completed=step, losses="")
        while step < options.steps:
            stop = signals.received is not None or (options.max_time is not None and elapsed >= options.max_time)
            if world_size > 1:
                stop = bool(fabric.all_reduce(torch.tensor(float(stop)), reduce_op="sum").item())
            if stop:
                status = f"interrupted by {signals.received}" if signals.received else "time budget spent"
                break
            batch = convert_input(fabric.to_device(next(stream)))
            with fabric.autocast():
                losses = model.train_step(batch, optimizers, backward)
            finite = _all_finite(losses)
            if world_size > 1:
                finite = fabric.all_reduce(torch.tensor(float(finite)), reduce_op="sum").item() == world_size
            if not finite:
                kept = latest_checkpoint(run_dir)
                where = f"kept the last good checkpoint {kept}" if kept else "no checkpoint had been written yet"
                raise NonFiniteLossError(f"non-finite loss at step {step + 1}: {losses}; {where}")
            step += 1
            elapsed = time.perf_counter() - started
            metrics.write({"step": step, "kind": "train", "elapsed_s": round(elapsed, 3), **losses})
            progress.update(task, completed=step, losses=" ".join(f"{k}={v:.4g}" for k, v in losses.items()))
            if options.eval_every and step % options.eval_every == 0:
                run_eval(step)
                last_eval = step
            if options.checkpoint_every and step % options.checkpoint_every == 0:
                checkpoint_path, last_saved = save(step), step
        if last_saved != step:
            checkpoint_path = save(step)
        if last_eval != step:
            run_eval(step)
    return TrainResult(step, status, checkpoint_path)
