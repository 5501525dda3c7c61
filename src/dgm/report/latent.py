"""What a run of a latent-variable model or an autoencoder shows beside its samples: linear and
spherical interpolations, per-dimension traversals, reconstructions and the rate–distortion curve.

Written into the run folder at every evaluation with samples; ``report.html`` embeds whichever exist.
"""

import json
from pathlib import Path

import torch
from matplotlib.figure import Figure

from ..core.protocols import LatentVariableModel
from ..eval.latent import code_sizes, latent_interpolation, latent_traversal, posterior_mean_variance, rate_distortion
from .figures import save_image_grid

NUM_PAIRS, NUM_STEPS, NUM_TRAVERSED = 8, 10, 8
FIGURES = {  # file -> heading in the report
    "interpolation.png": "Latent interpolation (linear)",
    "interpolation_slerp.png": "Latent interpolation (spherical)",
    "traversal.png": "Latent traversals (one row per most-used dimension, ±2.5 prior sd)",
    "reconstructions.png": "Test images (odd rows) and reconstructions (even rows)",
    "rate_distortion.png": "Rate–distortion: squared error per example against code bits",
}


def is_autoencoder(model: torch.nn.Module) -> bool:
    """A deterministic compressor: ``encode`` gives codes, ``reconstruct`` truncates them."""
    return hasattr(model, "reconstruct") and hasattr(model, "bottleneck_dim")


def save_rate_distortion_plot(rows: list[dict[str, float]], path: Path) -> None:
    figure = Figure(figsize=(5, 3.2), dpi=100)
    axes = figure.subplots()
    rates = [row["rate_bits"] for row in rows]
    axes.plot(rates, [row["squared_error"] for row in rows], "o-", label="autoencoder")
    axes.plot(rates, [row["pca_squared_error"] for row in rows], "s--", label="PCA (fitted on these examples)")
    axes.set_xscale("log", base=2)
    axes.set_xlabel("rate (bits per example, 8 bits per code value)")
    axes.set_ylabel("squared error per example")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)


@torch.no_grad()
def save_latent_figures(model: torch.nn.Module, test: torch.Tensor, run_dir: Path) -> None:
    """Figures of ``model`` on held-out ``test`` (N, *D) into ``run_dir``: grids for images, and the
    rate–distortion curve (plus ``rate_distortion.json``) for an autoencoder."""
    is_image = test.dim() == 4
    if is_autoencoder(model):
        if is_image:
            x, reconstruction = test[:16], model.reconstruct(test[:16])  # (16, C, H, W) each
            rows_of_eight = torch.cat([x[:8], reconstruction[:8], x[8:], reconstruction[8:]])  # (32, C, H, W)
            save_image_grid(rows_of_eight.float().cpu(), run_dir / "reconstructions.png", num_columns=8)
        rows = rate_distortion(model, test, code_sizes(model.bottleneck_dim))
        (run_dir / "rate_distortion.json").write_text(json.dumps(rows, indent=2) + "\n")
        save_rate_distortion_plot(rows, run_dir / "rate_distortion.png")
        return
    if not (is_image and isinstance(model, LatentVariableModel)) or len(test) < 2 * NUM_PAIRS:
        return
    if getattr(model, "mixture_latent", False):  # interpolating (z, c) would decode through unrelated VAEs
        return
    for method, name in (("linear", "interpolation.png"), ("slerp", "interpolation_slerp.png")):
        path = latent_interpolation(model, test[:NUM_PAIRS], test[NUM_PAIRS : 2 * NUM_PAIRS], NUM_STEPS, method)
        save_image_grid(path.flatten(0, 1).float().cpu(), run_dir / name, num_columns=NUM_STEPS)  # (P·T, C, H, W)
    most_used = posterior_mean_variance(model, test).argsort(descending=True)[:NUM_TRAVERSED].tolist()
    grid = latent_traversal(model, test[0], most_used)  # (R, T, C, H, W)
    save_image_grid(grid.flatten(0, 1).float().cpu(), run_dir / "traversal.png", num_columns=grid.shape[1])
