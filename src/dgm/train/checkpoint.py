"""Checkpoints as safetensors + JSON, written atomically, read without unpickling.

A checkpoint is a folder ``RUN/checkpoints/step-N/`` holding

- ``model.safetensors``: the model's ``state_dict``;
- ``optim.safetensors``: every optimizer's tensor state, keys ``<name>/<param index>/<field>``;
- ``state.json``: step, data position, every RNG state, the optimizers' non-tensor state.

It is written into a temporary sibling folder and renamed into place, so a kill at any moment
leaves the previous checkpoint whole; a folder without ``state.json`` never counts.
"""

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..core.errors import CheckpointError

_STEP_DIR = re.compile(r"^step-(\d+)$")


def _flatten_optimizer(name: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer's state_dict into tensors (for safetensors) and plain values (for JSON)."""
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {"param_groups": state_dict["param_groups"], "state": {}}
    for index, fields in state_dict["state"].items():
        plain["state"][str(index)] = {}
        for field, value in fields.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{name}/{index}/{field}"] = value.detach().cpu().contiguous()
            else:
                plain["state"][str(index)][field] = value
    return tensors, plain


def _unflatten_optimizer(name: str, tensors: dict[str, torch.Tensor], plain: dict) -> dict:
    state: dict[int, dict[str, Any]] = {int(i): dict(fields) for i, fields in plain["state"].items()}
    prefix = f"{name}/"
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, field = key[len(prefix) :].split("/", 1)
            state.setdefault(int(index), {})[field] = value
    return {"state": state, "param_groups": plain["param_groups"]}


def save_checkpoint(
    run_dir: Path,
    step: int,
    model: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer],
    state: dict[str, Any],
) -> Path:
    """Write ``RUN/checkpoints/step-<step>/`` atomically and return its path."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step}"
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-step-{step}-", dir=root))
    model_tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(model_tensors, tmp / "model.safetensors")
    optim_tensors: dict[str, torch.Tensor] = {}
    optim_plain: dict[str, Any] = {}
    for name, optimizer in optimizers.items():
        tensors, plain = _flatten_optimizer(name, optimizer)
        optim_tensors.update(tensors)
        optim_plain[name] = plain
    save_file(optim_tensors, tmp / "optim.safetensors")
    with open(tmp / "state.json", "w") as handle:
        json.dump({**state, "step": step, "optimizers": optim_plain}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    if final.exists():
        stale = Path(tempfile.mkdtemp(prefix=f".old-step-{step}-", dir=root))
        os.replace(final, stale / final.name)
        os.replace(tmp, final)
        shutil.rmtree(stale)
    else:
        os.replace(tmp, final)
    return final


def remove_unfinished_checkpoints(run_dir: Path) -> None:
    """Delete temporary folders left by a process killed while writing a checkpoint."""
    root = Path(run_dir) / "checkpoints"
    if root.is_dir():
        for child in root.iterdir():
            if child.name.startswith((".tmp-step-", ".old-step-")):
                shutil.rmtree(child, ignore_errors=True)


def restore_optimizer_state(optimizers: dict[str, torch.optim.Optimizer], states: dict[str, dict], path: Path) -> None:
    """Load every optimizer's state; a missing or mismatched one is a ``CheckpointError``."""
    for name, optimizer in optimizers.items():
        if name not in states:
            raise CheckpointError(f"checkpoint {path} has no state for optimizer {name!r}")
        try:
            optimizer.load_state_dict(states[name])
        except (KeyError, ValueError, TypeError, RuntimeError) as error:
            raise CheckpointError(f"checkpoint {path} does not fit optimizer {name!r}: {error}") from None


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run as (step, path), oldest first."""
    root = Path(run_dir) / "checkpoints"
    found = []
    if root.is_dir():
        for child in root.iterdir():
            match = _STEP_DIR.match(child.name)
            if match and (child / "state.json").exists():
                found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(run_dir: Path) -> Path | None:
    checkpoints = list_checkpoints(run_dir)
    return checkpoints[-1][1] if checkpoints else None


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, dict], dict[str, Any]]:
    """Read a checkpoint folder: (model state_dict, optimizer state_dicts by name, state)."""
    path = Path(path)
    try:
        with open(path / "state.json") as handle:
            state = json.load(handle)
        model_state = load_file(path / "model.safetensors")
        optim_tensors = load_file(path / "optim.safetensors")
    except (OSError, ValueError, SafetensorError) as error:
        raise CheckpointError(f"checkpoint {path} is missing or corrupt: {error}") from None
    try:
        optim_plain = state.pop("optimizers")
        optimizers = {name: _unflatten_optimizer(name, optim_tensors, plain) for name, plain in optim_plain.items()}
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(f"checkpoint {path} is corrupt: bad optimizer state ({error!r})") from None
    return model_state, optimizers, state


def load_model_state(model: torch.nn.Module, model_state: dict[str, torch.Tensor], path: Path) -> None:
    """``model.load_state_dict`` that turns a mismatch into a ``CheckpointError``."""
    try:
        model.load_state_dict(model_state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint {path} does not fit the model: {first}") from None
