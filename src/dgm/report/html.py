"""Self-contained HTML reports: one per run, and an index comparing several runs."""

import base64
import html
import json
from pathlib import Path

from .figures import save_loss_curves
from .latent import FIGURES as LATENT_FIGURES
from .media import embed_sample_file

FIGURES = LATENT_FIGURES | {  # file in the run folder -> heading in the report
    "mode_coverage.png": "Mode coverage of 2,500 samples (PacGAN's protocol: within 3σ of a mode is high quality)",
    "mode_coverage_truncated.png": "The same with Jacobian-based truncation: the latents where the generator is "
    "steepest rejected (Tanielian et al. 2020), so no longer the generator's distribution",
}


def read_metrics(path: Path) -> list[dict]:
    """The records of a ``metrics.jsonl`` file (empty when it does not exist); unreadable lines are skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a last line cut short by a crash
            continue
    return records


def _embedded_png(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(Path(path).name)}">'


def final_metrics(run_dir: Path) -> dict[str, float]:
    """The last evaluation record of a run (without step/kind)."""
    evals = [r for r in read_metrics(Path(run_dir) / "metrics.jsonl") if r.get("kind") == "eval"]
    return {k: v for k, v in (evals[-1] if evals else {}).items() if k not in {"kind"}}


def _latest_samples(run_dir: Path) -> list[Path]:
    """The sample files (PNG, and WAV/GIF/SVG/text for sequences) of the last evaluated step."""
    files = [p for p in (Path(run_dir) / "samples").glob("step-*.*") if p.stem.split("-")[1].isdigit()]
    if not files:
        return []
    last = max(int(p.stem.split("-")[1]) for p in files)
    return sorted((p for p in files if int(p.stem.split("-")[1]) == last), key=lambda p: p.suffix)


def _metrics_table(metrics: dict[str, float]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v:.4f}</td></tr>" if isinstance(v, float) else
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in metrics.items()
    )  # fmt: skip
    return f"<table>{rows}</table>"


def run_section(run_dir: Path, heading_level: int = 2) -> str:
    """The HTML body of one run: config, final metrics, samples, interpolations, loss curves."""
    run_dir = Path(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    records = read_metrics(run_dir / "metrics.jsonl")
    loss_png = run_dir / "loss.png"
    save_loss_curves(records, loss_png)
    parts = [
        f"<h{heading_level}>{html.escape(config['model'])} on {html.escape(config['data'])}</h{heading_level}>",
        f"<p>run folder <code>{html.escape(str(run_dir))}</code>, seed {config['seed']}, steps {config['steps']}</p>",
        "<h4>Final metrics</h4>",
        _metrics_table(final_metrics(run_dir)),
    ]
    samples = _latest_samples(run_dir)
    if samples:
        parts += [f"<h4>Samples ({html.escape(samples[0].stem)})</h4>", *map(embed_sample_file, samples)]
    for name, heading in FIGURES.items():
        if (run_dir / name).exists():
            parts += [f"<h4>{html.escape(heading)}</h4>", _embedded_png(run_dir / name)]
    parts += ["<h4>Training losses</h4>", _embedded_png(loss_png)]
    parts += [
        f"<details><summary>config.json</summary><pre>{html.escape(json.dumps(config, indent=2))}</pre></details>"
    ]
    return "\n".join(parts)


_STYLE = (
    "<style>body{font-family:sans-serif;max-width:980px;margin:2em auto;}"
    "img{image-rendering:pixelated;max-width:100%;}td{padding:2px 10px;border-bottom:1px solid #ddd;}"
    ".run{border-top:2px solid #333;margin-top:2em;}</style>"
)


def write_report(run_dir: Path) -> Path:
    """Write ``RUN/report.html`` and return its path."""
    run_dir = Path(run_dir)
    body = run_section(run_dir, heading_level=1)
    path = run_dir / "report.html"
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>dgm report</title>{_STYLE}</head>"
                    f"<body>{body}</body></html>")  # fmt: skip
    return path


def write_index(run_dirs: list[Path], path: Path, title: str = "dgm demo") -> Path:
    """One page showing several runs side by side (the demo's ``index.html``)."""
    sections = "\n".join(f"<div class='run'>{run_section(run_dir)}</div>" for run_dir in run_dirs)
    summary_rows = "".join(
        f"<tr><td>{html.escape(Path(r).name)}</td><td>{html.escape(json.dumps(final_metrics(r)))}</td></tr>"
        for r in run_dirs
    )
    Path(path).write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>{_STYLE}</head>"
        f"<body><h1>{html.escape(title)}</h1><table>{summary_rows}</table>{sections}</body></html>"
    )
    return Path(path)
