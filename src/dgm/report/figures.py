"""Sample grids, scatter plots and loss curves as PNG files (PIL and matplotlib; no torchvision)."""

import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle
from PIL import Image

from ..eval.coverage import mode_coverage


def image_grid(images: torch.Tensor, num_columns: int | None = None, padding: int = 1) -> np.ndarray:
    """(N, C, H, W) floats in [0, 1] -> (rows·(H+p)+p, cols·(W+p)+p, C) uint8 grid."""
    images = images.detach().float().cpu().clamp(0, 1)
    n, channels, height, width = images.shape
    cols = num_columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.ones((rows * (height + padding) + padding, cols * (width + padding) + padding, channels), np.float32)
    for index in range(n):
        r, c = divmod(index, cols)
        top, left = padding + r * (height + padding), padding + c * (width + padding)
        grid[top : top + height, left : left + width] = images[index].permute(1, 2, 0).numpy()
    return (grid * 255).round().astype(np.uint8)


def save_image_grid(images: torch.Tensor, path: Path, num_columns: int | None = None, min_size: int = 256) -> None:
    """Write a grid of images as a PNG, upscaled with nearest neighbours so 8×8 digits are visible."""
    grid = image_grid(images, num_columns)
    scale = max(1, math.ceil(min_size / max(grid.shape[:2])))
    picture = Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid)
    picture = picture.resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)


def save_scatter(samples: torch.Tensor, path: Path, reference: torch.Tensor | None = None) -> None:
    """Scatter plot of 2-D samples (N, 2), over the reference data in grey."""
    figure = Figure(figsize=(4, 4), dpi=100)  # no pyplot: the user's backend is left alone
    axes = figure.subplots()
    if reference is not None:
        ref = reference.detach().cpu().numpy()
        axes.scatter(ref[:, 0], ref[:, 1], s=2, c="0.8", label="data")
    points = samples.detach().float().cpu().numpy()
    axes.scatter(points[:, 0], points[:, 1], s=2, c="tab:blue", label="samples")
    axes.set_aspect("equal")
    axes.legend(loc="upper right", fontsize=7, markerscale=4)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def save_mode_coverage(
    samples: torch.Tensor, modes: torch.Tensor, std: float, path: Path, title: str = ""
) -> dict[str, float]:
    """Samples (N, 2) of a mixture's model over its modes (M, 2) with their 3σ discs (PacGAN's high-quality
    region): high-quality samples in blue, the rest in red, covered modes ringed in green. Returns the
    ``dgm.eval.coverage.mode_coverage`` figures shown in the title, after ``title`` if given."""
    samples, modes = samples.detach().double().cpu(), modes.double().cpu()
    coverage = mode_coverage(samples, modes, std)
    distances, nearest = torch.cdist(samples, modes).min(dim=1)  # (N,), (N,)
    high_quality = distances <= 3 * std  # (N,)
    counts = torch.bincount(nearest[high_quality], minlength=len(modes))  # (M,) high-quality samples per mode
    high_quality = high_quality.numpy()
    figure = Figure(figsize=(4.5, 4.5), dpi=100)
    axes = figure.subplots()
    points, centres = samples.numpy(), modes.numpy()
    axes.scatter(points[~high_quality, 0], points[~high_quality, 1], s=2, c="tab:red", label="off-mode")
    axes.scatter(points[high_quality, 0], points[high_quality, 1], s=2, c="tab:blue", label="high quality")
    for centre, count in zip(centres, counts.tolist(), strict=True):
        colour = "tab:green" if count else "0.5"
        axes.add_patch(Circle(tuple(centre), 3 * std, fill=False, color=colour, linewidth=1))
    axes.set_aspect("equal")
    axes.set_title(
        (f"{title}\n" if title else "") + f"{coverage['modes_covered']:.0f}/{coverage['num_modes']:.0f} modes, "
        f"{100 * coverage['high_quality_fraction']:.1f}% high quality, KL {coverage['reverse_kl_modes']:.2f}",
        fontsize=9,
    )
    axes.legend(loc="upper right", fontsize=7, markerscale=4)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return coverage


def save_samples_figure(samples: torch.Tensor, path: Path, reference: torch.Tensor | None = None) -> None:
    """Images (N, C, H, W) as a grid; points (N, 2) as a scatter plot."""
    if samples.dim() == 4:
        save_image_grid(samples, path)
    else:
        save_scatter(samples, path, reference)


def save_loss_curves(records: list[dict], path: Path) -> None:
    """Plot every training loss in ``metrics.jsonl`` records against the step."""
    train = [r for r in records if r.get("kind") == "train"]
    names = [k for k in (train[0] if train else {}) if k not in {"step", "kind", "elapsed_s"}]
    figure = Figure(figsize=(6, 3.2), dpi=100)
    axes = figure.subplots()
    steps = [r["step"] for r in train]
    for name in names:
        values = np.array([r[name] for r in train], dtype=float)
        window = max(1, len(values) // 50)
        smoothed = np.convolve(values, np.ones(window) / window, mode="valid")
        axes.plot(steps[window - 1 :], smoothed, label=name)
    axes.set_xlabel("step")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def save_score_histograms(
    scores_in: dict[str, torch.Tensor], scores_out: dict[str, torch.Tensor], path: Path, name_in: str, name_out: str
) -> None:
    """One panel per outlier score: histograms of its values on inliers and on outliers."""
    figure = Figure(figsize=(4 * len(scores_in), 3), dpi=100)
    for axes, name in zip(figure.subplots(1, len(scores_in), squeeze=False)[0], scores_in, strict=True):
        both = torch.cat([scores_in[name], scores_out[name]])
        bins = np.linspace(float(both.min()), float(both.max()) + 1e-9, 40)
        axes.hist(scores_in[name].numpy(), bins=bins, alpha=0.6, density=True, label=name_in)
        axes.hist(scores_out[name].numpy(), bins=bins, alpha=0.6, density=True, label=name_out)
        axes.set_title(name, fontsize=9)
        axes.legend(fontsize=7)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
