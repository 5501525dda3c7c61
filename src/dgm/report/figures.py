"""Sample grids, scatter plots and loss curves as PNG files (PIL and matplotlib; no torchvision)."""

import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image


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
