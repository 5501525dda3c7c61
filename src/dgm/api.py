"""The Python API behind the CLI: train, resume, load, sample, evaluate and report runs.

>>> import dgm
>>> dgm.train_model("vae", "digits", steps=200, out="runs/vae")      # doctest: +SKIP
>>> model = dgm.load("runs/vae")                                   # doctest: +SKIP
>>> images = model.sample(16)                                      # doctest: +SKIP

A run folder holds ``config.json`` (everything needed to rebuild model, data and loop),
``checkpoints/step-N/``, ``metrics.jsonl``, ``samples/step-N.png`` and ``report.html``.
"""

import dataclasses
import inspect
import json
import math
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .core.errors import CheckpointError, ConfigError, DataError, RunFolderError
from .core.protocols import ImplicitGenerator
from .data import Dataset, binarize_static, load_dataset
from .eval import evaluate_model
from .eval.features import feature_net_for
from .models import build_model, check_data_kind, get_entry, make_config
from .report.figures import save_mode_coverage
from .report.html import write_report
from .report.latent import save_latent_figures
from .report.media import PREVIEW_SUFFIX, check_suffix, save_samples
from .train import LoopOptions, TrainResult, fit, latest_checkpoint, load_checkpoint, make_fabric
from .train.checkpoint import load_model_state

PERIODIC_EVAL_EXAMPLES = 1000  # evaluation during training uses at most this many test examples
PERIODIC_IMPORTANCE_SAMPLES = 100
REPORT_JACOBIAN_TRUNCATION = 0.2  # the share of a GAN's latents rejected in the report's second coverage figure
PREVIEW_COUNT = {"audio": 2, "text": 4, "strokes": 6, "video": 4}  # slow sequential samplers draw fewer
LOOP_KEYS = (
    "steps",
    "eval_every",
    "checkpoint_every",
    "max_time",
    "accelerator",
    "devices",
    "precision",
    "strategy",
)


def is_secondary_process() -> bool:
    """True in every process of a multi-process launch except global rank 0 (which owns the files)."""
    return any(int(os.environ.get(var, "0")) > 0 for var in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def test_data_for(model: torch.nn.Module, dataset: Dataset) -> torch.Tensor:
    """The held-out examples in the form the model is evaluated on (statically binarised if needed)."""
    if not getattr(model, "binarize_data", False):
        return dataset.test
    return dataset.binary_test if dataset.binary_test is not None else binarize_static(dataset.test)


def make_evaluator(
    dataset: Dataset, run_dir: Path, max_examples: int | None, importance_samples: int
) -> Callable[[torch.nn.Module, Path | None], dict[str, float]]:
    """``evaluate(model, samples_path)`` for the loop: metrics, a sample figure, an interpolation grid."""

    def evaluate(model: torch.nn.Module, samples_path: Path | None) -> dict[str, float]:
        parameter = next(model.parameters())
        test = test_data_for(model, dataset)[:max_examples].to(parameter.device)
        if test.is_floating_point():
            test = test.to(parameter.dtype)
        labels = dataset.test_labels[:max_examples].to(parameter.device) if dataset.test_labels is not None else None
        metrics = evaluate_model(model, test, importance_samples, dataset.modes, dataset.mode_std, labels)
        if samples_path is not None:
            if hasattr(model, "sample"):
                save_preview(model, dataset, Path(samples_path))
            if dataset.kind in ("image", "points"):
                save_latent_figures(model, test, Path(run_dir))
            if dataset.modes is not None and hasattr(model, "sample"):
                save_mode_coverages(model, dataset, Path(run_dir))
        return metrics

    return evaluate


def save_mode_coverages(model: torch.nn.Module, dataset: Dataset, run_dir: Path) -> None:
    """``mode_coverage.png`` of 2,500 samples from seed 0 and, for a model that can reject latents where its
    generator is steep (a GAN), ``mode_coverage_truncated.png`` of 2,500 kept of latents drawn from the same seed."""
    device = next(model.parameters()).device
    samples = model.sample(2500, generator=torch.Generator(device).manual_seed(0))  # (N, 2)
    save_mode_coverage(samples, dataset.modes, dataset.mode_std, run_dir / "mode_coverage.png")
    if "jacobian_truncation" in inspect.signature(model.sample).parameters:
        generator = torch.Generator(device).manual_seed(0)
        kept = model.sample(2500, generator=generator, jacobian_truncation=REPORT_JACOBIAN_TRUNCATION)  # (N, 2)
        title = f"{REPORT_JACOBIAN_TRUNCATION:.0%} of the latents rejected"
        save_mode_coverage(kept, dataset.modes, dataset.mode_std, run_dir / "mode_coverage_truncated.png", title)


def save_preview(model: torch.nn.Module, dataset: Dataset, samples_path: Path) -> None:
    """Samples of the model at this step: ``samples_path`` (a PNG) and, for sequences, a WAV/GIF/SVG/text twin."""
    kind = dataset.kind
    if kind in ("image", "points"):
        pixels = math.prod(dataset.shape[1:]) if kind == "image" else 0
        count = 64 if pixels <= 256 else 16  # pixel-by-pixel samplers are slow on large images
    else:
        count = PREVIEW_COUNT[kind]
    samples = model.sample(count).cpu()
    if samples.is_floating_point():
        samples = samples.float()
    if kind != "text":
        save_samples(samples, samples_path.with_suffix(".png"), kind, dataset.info, dataset.test[:2000])
    if PREVIEW_SUFFIX[kind] != ".png":
        save_samples(samples, samples_path.with_suffix(PREVIEW_SUFFIX[kind]), kind, dataset.info)


def _read_config(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise CheckpointError(f"expected a run folder with config.json, got {run_dir}")
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is corrupt: {error}") from None
    missing = (
        [key for key in ("model", "config", "data", "seed", "steps") if key not in record]
        if isinstance(record, dict)
        else ["all keys"]
    )
    if missing:
        raise CheckpointError(
            f"{path} is incomplete: expected keys model, config, data, seed, steps; missing {', '.join(missing)}"
        )
    return record


def _write_config(run_dir: Path, record: dict[str, Any]) -> None:
    """Write ``config.json`` atomically (temporary file, then rename)."""
    tmp = run_dir / ".config.json.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, run_dir / "config.json")


def _check_out_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} is a file; expected a new or empty folder")
    if not out.exists() or not any(out.iterdir()):
        return
    if (out / "config.json").exists():
        existing = _read_config(out)
        what = f"a run of {existing.get('model')} on {existing.get('data')}"
        raise RunFolderError(
            f"--out {out} already holds {what}; expected a new or empty folder (or use dgm resume {out})"
        )
    raise RunFolderError(f"--out {out} is not empty; expected a new or empty folder")


def _run(run_dir: Path, record: dict[str, Any], resume: bool, progress: bool) -> TrainResult:
    config = make_config(record["model"], record["config"])
    dataset = load_dataset(record["data"], record.get("data_dir"))
    options = LoopOptions(**{k: record[k] for k in LOOP_KEYS}, progress=progress)
    evaluator = make_evaluator(dataset, run_dir, PERIODIC_EVAL_EXAMPLES, PERIODIC_IMPORTANCE_SAMPLES)
    factory = partial(build_model, record["model"], config, dataset.shape, dataset.info)
    return fit(
        run_dir, factory, dataset.train, record["seed"], options, evaluator, resume, train_labels=dataset.train_labels
    )


def train_model(
    model: str,
    data: str,
    *,
    steps: int,
    out: str | Path,
    overrides: list[str] | dict[str, Any] = (),
    seed: int = 0,
    data_dir: str | None = None,
    eval_every: int = 0,
    checkpoint_every: int = 0,
    max_time: float | None = None,
    accelerator: str = "cpu",
    devices: int = 1,
    precision: str = "32-true",
    strategy: str = "auto",
    progress: bool = False,
) -> TrainResult:
    """Train a new run into ``out``. Every name, key and value is checked before any work."""
    entry = get_entry(model)
    config = make_config(model, overrides if isinstance(overrides, dict) else list(overrides))
    dataset = load_dataset(data, data_dir)
    check_data_kind(model, dataset.kind)
    build_model(model, config, dataset.shape, dataset.info)  # a shape the architecture cannot take fails here
    if precision == "16-mixed" and hasattr(config, "max_grad_norm"):
        raise ConfigError(
            f"{entry.name} clips its gradients inside train_step, where 16-mixed's loss scaling would distort "
            "the norm; expected --precision 32-true or bf16-mixed, got 16-mixed"
        )
    if steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {steps}")
    for name, value in (("--eval-every", eval_every), ("--checkpoint-every", checkpoint_every)):
        if value < 0:
            raise ConfigError(f"{name} must be >= 0 (0: only at the end), got {value}")
    if max_time is not None and max_time <= 0:
        raise ConfigError(f"--max-time must be > 0 seconds, got {max_time}")
    make_fabric(LoopOptions(steps, accelerator=accelerator, devices=devices, precision=precision, strategy=strategy))
    out = Path(out)
    record = {
        "model": entry.name,
        "family": entry.family,
        "config": dataclasses.asdict(config),
        "data": data,
        "data_dir": data_dir,
        "data_shape": list(dataset.shape),
        "data_kind": dataset.kind,
        "data_info": dataset.info,
        "seed": seed,
        "steps": steps,
        "eval_every": eval_every,
        "checkpoint_every": checkpoint_every,
        "max_time": max_time,
        "accelerator": accelerator,
        "devices": devices,
        "precision": precision,
        "strategy": strategy,
        "dgm_version": __version__,
    }
    if not is_secondary_process():
        _check_out_folder(out)
        out.mkdir(parents=True, exist_ok=True)
        _write_config(out, record)
    return _run(out, record, resume=False, progress=progress)


def resume(
    run_dir: str | Path, steps: int | None = None, max_time: float | None = None, progress: bool = False
) -> TrainResult:
    """Continue a run from its latest checkpoint, optionally to a new total of ``steps``.

    A run killed before its first checkpoint starts again from step 0 with its recorded config.
    """
    run_dir = Path(run_dir)
    record = _read_config(run_dir)
    done = _checkpoint_step(run_dir)
    target = steps if steps is not None else record["steps"]
    if target <= done:
        raise ConfigError(f"{run_dir} has trained {done} of {record['steps']} steps; pass --steps larger than {done}")
    if max_time is not None and max_time <= 0:
        raise ConfigError(f"--max-time must be > 0 seconds, got {max_time}")
    if done:  # a corrupt or mismatched checkpoint fails here, before config.json is rewritten
        model = load(run_dir)
        checkpoint = latest_checkpoint(run_dir)
        _, optimizer_states, state = load_checkpoint(checkpoint)
        missing = [k for k in ("step", "elapsed_s", "data", "rng") if k not in state]
        missing += [f"optimizer {name}" for name in model.optimizers() if name not in optimizer_states]
        if missing:
            raise CheckpointError(f"checkpoint {checkpoint} is corrupt: state.json lacks {', '.join(missing)}")
    record = {**record, "steps": target, "max_time": max_time if max_time is not None else record["max_time"]}
    if not is_secondary_process():
        _write_config(run_dir, record)
    return _run(run_dir, record, resume=True, progress=progress)


def _data_facts(record: dict[str, Any]) -> tuple[tuple[int, ...], str, dict[str, Any]]:
    """(example shape, data kind, data info) as recorded in config.json, so that no data set is loaded."""
    if "data_shape" in record and "data_kind" in record:
        return tuple(record["data_shape"]), record["data_kind"], record.get("data_info", {})
    dataset = load_dataset(record["data"], record.get("data_dir"))  # run folders from before these keys
    return dataset.shape, dataset.kind, dataset.info


def load(run_dir: str | Path, checkpoint: str | Path | None = None) -> torch.nn.Module:
    """The trained model of a run (latest checkpoint), on the CPU in eval mode."""
    run_dir = Path(run_dir)
    record = _read_config(run_dir)
    shape, _, info = _data_facts(record)
    config = make_config(record["model"], record["config"])
    model = build_model(record["model"], config, shape, info)
    path = Path(checkpoint) if checkpoint else latest_checkpoint(run_dir)
    if path is None:
        raise CheckpointError(f"expected a checkpoint under {run_dir}/checkpoints, found none")
    model_state, _, _ = load_checkpoint(path)
    load_model_state(model, model_state, path)
    return model.eval()


def evaluate(run_dir: str | Path, importance_samples: int = 1000, seed: int = 0) -> dict[str, float]:
    """The run's metrics on the full test split (IWAE-``importance_samples`` for latent models; for implicit
    generators of labelled images, FID, KID and precision/recall in the data set's cached feature network,
    trained on first use)."""
    run_dir = Path(run_dir)
    record = _read_config(run_dir)
    model = load(run_dir)
    dataset = load_dataset(record["data"], record.get("data_dir"))
    feature_net = None
    if isinstance(model, ImplicitGenerator) and dataset.kind == "image" and dataset.train_labels is not None:
        feature_net = feature_net_for(dataset)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        test = test_data_for(model, dataset)
        metrics = evaluate_model(
            model, test, importance_samples, dataset.modes, dataset.mode_std, dataset.test_labels, feature_net
        )
        if feature_net is not None:
            metrics["feature_net_test_accuracy"] = feature_net.test_accuracy
    return {"model": record["model"], "data": record["data"], "step": _checkpoint_step(run_dir), **metrics}


def evaluate_ood(run_dir: str | Path, other: str, data_dir: str | None = None, seed: int = 0) -> dict[str, float]:
    """AUROC of every outlier score of the run's model (``dgm.eval.ood``) for telling the test split of
    data set ``other`` from the run's own test split; writes ``RUN/ood-OTHER.png`` (score histograms)
    and ``RUN/ood-OTHER.json``."""
    from .eval.ood import IndependentPixels, auroc, ood_scores
    from .report.figures import save_score_histograms

    run_dir = Path(run_dir)
    record = _read_config(run_dir)
    model = load(run_dir)
    dataset, outliers = load_dataset(record["data"], record.get("data_dir")), load_dataset(other, data_dir)
    if outliers.shape != dataset.shape:
        raise DataError(f"--ood data must have the run's example shape {dataset.shape}, got {other} {outliers.shape}")
    train = binarize_static(dataset.train) if getattr(model, "binarize_data", False) else dataset.train
    background = IndependentPixels.fit(train)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        scores_in = _scores_in_batches(ood_scores, model, test_data_for(model, dataset), background)
        scores_out = _scores_in_batches(ood_scores, model, test_data_for(model, outliers), background)
    aurocs = {f"auroc_{name}": auroc(scores_in[name], scores_out[name]) for name in scores_in}
    save_score_histograms(scores_in, scores_out, run_dir / f"ood-{other}.png", record["data"], other)
    result = {"model": record["model"], "data": record["data"], "ood_data": other, **aurocs}
    (run_dir / f"ood-{other}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def _scores_in_batches(score, model, data: torch.Tensor, background, batch_size: int = 500) -> dict[str, torch.Tensor]:
    parts = [score(model, chunk.to(next(model.parameters()).dtype), background) for chunk in data.split(batch_size)]
    return {name: torch.cat([part[name] for part in parts]).float().cpu() for name in parts[0]}


def _checkpoint_step(run_dir: Path) -> int:
    """The step of the latest checkpoint, 0 when there is none."""
    path = latest_checkpoint(run_dir)
    return int(path.name.split("-")[1]) if path else 0


def sample(
    run_dir: str | Path,
    n: int,
    out: str | Path,
    seed: int = 0,
    prompt: str | None = None,
    text: str | None = None,
    length: int | None = None,
    jacobian_truncation: float | None = None,
) -> Path:
    """Draw ``n`` samples into ``out``, in the format its suffix names (see ``dgm.report.media.SUFFIXES``).

    ``prompt`` (text to continue), ``text`` (text to write by hand), ``length`` (time steps) and
    ``jacobian_truncation`` (the share of a GAN's latents rejected where its generator is steepest) are
    passed to ``model.sample`` only when given; a model that cannot take one says so.
    """
    _, kind, info = _data_facts(_read_config(Path(run_dir)))
    out = check_suffix(out, kind)
    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    if length is not None and length < 1:
        raise ConfigError(f"--length must be >= 1, got {length}")
    if jacobian_truncation is not None and not 0 <= jacobian_truncation < 1:
        raise ConfigError(
            f"--jacobian-truncation is the share of latents rejected: expected [0, 1), got {jacobian_truncation}"
        )
    given = (("prompt", prompt), ("text", text), ("length", length), ("jacobian_truncation", jacobian_truncation))
    conditions = {k: v for k, v in given if v is not None}
    model = load(run_dir)
    if not hasattr(model, "sample"):
        raise ConfigError(f"model {type(model).__name__} does not sample; it encodes and reconstructs (see its report)")
    accepted = inspect.signature(model.sample).parameters
    for name in conditions:
        if name not in accepted and not any(p.kind == p.VAR_KEYWORD for p in accepted.values()):
            options = ", ".join(_option(k) for k, _ in given if k in accepted) or "none of them"
            raise ConfigError(f"model {type(model).__name__} takes no {_option(name)} (it takes {options})")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        samples = model.sample(n, generator=generator, **conditions).cpu()
    return save_samples(samples.float() if samples.is_floating_point() else samples, out, kind, info)


def _option(name: str) -> str:
    """``jacobian_truncation`` -> ``--jacobian-truncation``: the command line's spelling of a sampling option."""
    return "--" + name.replace("_", "-")


def report(run_dir: str | Path) -> Path:
    """Write ``RUN/report.html``."""
    _read_config(Path(run_dir))
    return write_report(Path(run_dir))
