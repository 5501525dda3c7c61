"""Helpers for tests: driving the ``dgm`` command line, fitting a model for a few steps, Monte-Carlo errors."""

import contextlib
import hashlib
import io
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file


def dgm_process(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``dgm ARGS`` as a user would: a fresh Python process, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "dgm.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def dgm(*args: str) -> subprocess.CompletedProcess:
    """Run ``dgm ARGS`` through the same entry point inside this process (no interpreter start-up)."""
    from dgm.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([str(a) for a in args])
    return subprocess.CompletedProcess(list(args), code, stdout.getvalue(), stderr.getvalue())


def folder_fingerprint(folder: Path) -> dict[str, str]:
    """sha1 of every file under ``folder``, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def train_losses(run_dir: Path, first: int = 1) -> list[dict]:
    """The training records of ``metrics.jsonl`` from step ``first`` on, without wall-clock times."""
    records = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return [
        {k: v for k, v in r.items() if k != "elapsed_s"} for r in records if r["kind"] == "train" and r["step"] >= first
    ]


def same_tensors(path_a: Path, path_b: Path) -> bool:
    a, b = load_file(path_a), load_file(path_b)
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def independent_pixel_nll_nats(train: torch.Tensor, test: torch.Tensor) -> float:
    """Mean test NLL (nats) of a product of Bernoullis fitted to ``train`` with Laplace smoothing."""
    probs = (train.sum(dim=0) + 1) / (len(train) + 2)  # (*D,) in (0, 1)
    log_likelihood = test * probs.log() + (1 - test) * (1 - probs).log()  # (N, *D)
    return -log_likelihood.flatten(1).sum(dim=1).mean().item()


def digits_nll_and_baseline(model_name: str, overrides: dict, steps: int) -> tuple[float, float]:
    """Train ``model_name`` on digits from seed 0 for ``steps`` steps with a plain backward, then
    return (its exact test NLL, the independent-pixel model's test NLL), both in nats on the
    statically binarised test split."""
    from dgm.data import BatchStream, binarize_static, load_dataset
    from dgm.eval.likelihood import mean_log_prob
    from dgm.models import build_model

    digits = load_dataset("digits")
    train, test = binarize_static(digits.train), binarize_static(digits.test)
    torch.manual_seed(0)
    model = build_model(model_name, overrides, digits.shape)
    optimizers = model.optimizers()
    stream = BatchStream(digits.train, model.batch_size, seed=0, binarize=model.binarize_data)
    for _ in range(steps):
        model.train_step(next(stream), optimizers, lambda loss: loss.backward())
    return -mean_log_prob(model.eval(), test), independent_pixel_nll_nats(train, test)


def fit(model, data: torch.Tensor, steps: int, seed: int = 0):
    """``steps`` of ``model.train_step`` on batches of ``data`` (binarised if the model asks), then eval mode."""
    from dgm.data import BatchStream

    optimizers = model.optimizers()
    stream = BatchStream(data, model.batch_size, seed=seed, binarize=getattr(model, "binarize_data", False))
    for _ in range(steps):
        model.train_step(next(stream), optimizers, lambda loss: loss.backward())
    return model.eval()


def mean_and_standard_error(draws: torch.Tensor) -> tuple[float, float]:
    """(R, B) repeated estimates for B fixed inputs -> their mean and its Monte-Carlo standard error.

    The inputs are the same for every estimator compared, so only the sampling noise (the variance
    over repeats, per input) enters the error, not the spread between inputs.
    """
    return draws.mean().item(), math.sqrt(draws.var(dim=0).mean().item() / draws.numel())


def redraw_weights(model: torch.nn.Module, weight_std: float) -> torch.nn.Module:
    """Redraw every parameter of a float64 ``model`` from N(0, weight_std²) with a fixed seed, so that
    its distributions are far from uniform and mathematical checks have something to detect."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(weight_std * torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
    return model


def all_binary_images(data_shape: tuple[int, ...]) -> torch.Tensor:
    """(2^D, *data_shape) float64: every binary image, the first pixel varying slowest."""
    pixels = math.prod(data_shape)
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=pixels)), dtype=torch.float64).view(-1, *data_shape)
