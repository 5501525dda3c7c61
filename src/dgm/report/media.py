"""Samples as files people can look at or listen to: WAV, GIF, SVG strokes, text, PNG.

``save_samples(samples, out, kind, info)`` writes what ``model.sample`` returned in the format the
suffix of ``out`` names; the suffixes each kind of data allows are in ``SUFFIXES``. Sample tensors
follow the data conventions of ``dgm.data.Dataset``: image (N, C, H, W) in [0, 1]; points (N, d);
audio (N, 1, T) in [-1, 1]; text (N, T) indices into ``info["alphabet"]``; strokes (N, T, 3) pen
offsets (dx, dy, lift: 1 where the pen leaves the paper after the point); video (N, T, C, H, W).
"""

import base64
import html
import wave
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image

from ..core.errors import ConfigError
from .figures import image_grid, save_image_grid, save_samples_figure

SUFFIXES: dict[str, tuple[str, ...]] = {
    "image": (".png", ".npy"),
    "points": (".png", ".npy"),
    "audio": (".wav", ".png", ".npy"),
    "text": (".txt", ".npy"),
    "strokes": (".svg", ".png", ".npy"),
    "video": (".gif", ".png", ".npy"),
}
PREVIEW_SUFFIX = {kind: suffixes[0] for kind, suffixes in SUFFIXES.items()}  # what training writes each evaluation


def write_wav(path: Path, waveform: torch.Tensor, sample_rate: int) -> None:
    """A mono 16-bit PCM WAV file from ``waveform`` (T,) in [-1, 1] (values outside are clipped)."""
    pcm = (waveform.detach().double().cpu().clamp(-1, 1) * 32767).round().to(torch.int16).numpy()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.astype("<i2").tobytes())


def write_gif(path: Path, frames: torch.Tensor, fps: float = 4.0, min_size: int = 128) -> None:
    """An animated, looping GIF from ``frames`` (T, C, H, W) in [0, 1], upscaled with nearest neighbours."""
    height, width = frames.shape[-2:]
    scale = max(1, -(-min_size // max(height, width)))
    pictures = []
    for frame in frames.detach().float().cpu().clamp(0, 1):
        array = (frame.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        picture = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        pictures.append(picture.resize((width * scale, height * scale), Image.NEAREST))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=int(1000 / fps), loop=0)


def clips_side_by_side(clips: torch.Tensor, padding: int = 1) -> torch.Tensor:
    """(N, T, C, H, W) clips -> (T, C, H', W') frames showing all N clips in a grid, for one GIF."""
    grids = [torch.from_numpy(image_grid(clips[:, t], padding=padding)).float() / 255 for t in range(clips.shape[1])]
    return torch.stack(grids).permute(0, 3, 1, 2)  # (T, C, H', W')


def stroke_polylines(strokes: torch.Tensor) -> list[np.ndarray]:
    """Pen offsets (T, 3) -> the pen-down polylines, each an (n, 2) array of absolute positions."""
    offsets = strokes.detach().double().cpu().numpy()
    points = np.cumsum(offsets[:, :2], axis=0)
    lines, start = [], 0
    for t in range(len(points)):
        if offsets[t, 2] > 0.5 or t == len(points) - 1:
            if t + 1 - start >= 2:
                lines.append(points[start : t + 1])
            start = t + 1
    return lines


def write_strokes_svg(path: Path, strokes: torch.Tensor, row_height: float = 60.0) -> None:
    """Each sequence of ``strokes`` (N, T, 3) as one row of handwriting in an SVG file (y grows downwards)."""
    rows, width, top = [], 100.0, 10.0
    for sequence in strokes:
        lines = stroke_polylines(sequence)
        if not lines:
            top += row_height
            continue
        stacked = np.concatenate(lines)
        low, high = stacked.min(axis=0), stacked.max(axis=0)
        scale = (row_height - 10) / max(high[1] - low[1], 1e-6)
        scale = min(scale, 900 / max(high[0] - low[0], 1e-6))
        for line in lines:
            xy = (line - low) * scale
            coordinates = " ".join(f"{10 + x:.1f},{top + (row_height - 10) - y:.1f}" for x, y in xy)
            rows.append(f'<polyline points="{coordinates}"/>')
        width = max(width, 20 + (high[0] - low[0]) * scale)
        top += row_height
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{top + 10:.0f}">'
        '<g fill="none" stroke="black" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round">'
        + "".join(rows)
        + "</g></svg>"
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(svg)


def save_strokes_figure(path: Path, strokes: torch.Tensor) -> None:
    """Each sequence of ``strokes`` (N, T, 3) in its own row of a PNG figure."""
    figure = Figure(figsize=(8, 1.1 * len(strokes)), dpi=100)
    for index, sequence in enumerate(strokes):
        axes = figure.add_subplot(len(strokes), 1, index + 1)
        for line in stroke_polylines(sequence):
            axes.plot(line[:, 0], line[:, 1], color="black", linewidth=1.2)
        axes.set_aspect("equal")
        axes.axis("off")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def save_waveforms_figure(path: Path, waveforms: torch.Tensor, sample_rate: int) -> None:
    """Waveforms (N, 1, T) plotted one above the other, time in seconds."""
    figure = Figure(figsize=(8, 1.2 * len(waveforms)), dpi=100)
    for index, waveform in enumerate(waveforms):
        axes = figure.add_subplot(len(waveforms), 1, index + 1)
        signal = waveform.detach().float().cpu().flatten().numpy()
        axes.plot(np.arange(len(signal)) / sample_rate, signal, linewidth=0.5)
        axes.set_ylim(-1, 1)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def decode_text(indices: torch.Tensor, alphabet: str) -> list[str]:
    """(N, T) indices -> N strings over ``alphabet``."""
    return ["".join(alphabet[i] for i in row.tolist()) for row in indices]


def check_suffix(out: str | Path, kind: str) -> Path:
    """``out`` as a Path when its suffix suits samples of ``kind``; a ConfigError otherwise."""
    out, allowed = Path(out), SUFFIXES.get(kind, (".npy",))
    if out.suffix not in allowed:
        raise ConfigError(f"--out for {kind} samples must end in {' or '.join(allowed)}, got {out.name}")
    return out


def save_samples(
    samples: torch.Tensor, out: Path, kind: str, info: dict[str, Any], reference: torch.Tensor | None = None
) -> Path:
    """Write ``samples`` of data ``kind`` to ``out`` in the format its suffix names.

    Audio goes to one WAV file with the clips one after another, separated by 0.25 s of silence.
    """
    out = check_suffix(out, kind)
    out.parent.mkdir(parents=True, exist_ok=True)
    samples = samples.detach().cpu()
    if out.suffix == ".npy":
        np.save(out, samples.numpy())
    elif kind in ("image", "points"):
        save_samples_figure(samples.float(), out, reference)
    elif kind == "audio":
        rate = int(info["sample_rate"])
        if out.suffix == ".png":
            save_waveforms_figure(out, samples, rate)
        else:
            gap = torch.zeros(rate // 4)
            write_wav(out, torch.cat([torch.cat([clip.flatten().float(), gap]) for clip in samples]), rate)
    elif kind == "text":
        out.write_text("\n\n".join(decode_text(samples, info["alphabet"])) + "\n")
    elif kind == "strokes":
        (write_strokes_svg if out.suffix == ".svg" else save_strokes_figure)(out, samples)
    elif kind == "video":
        if out.suffix == ".gif":
            write_gif(out, clips_side_by_side(samples.float()))
        else:
            save_image_grid(samples.float().flatten(0, 1), out, num_columns=samples.shape[1])
    return out


def embed_sample_file(path: Path) -> str:
    """An HTML fragment showing or playing one sample file (for the run report)."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    name = html.escape(Path(path).name)
    if path.suffix == ".wav":
        return f'<audio controls src="data:audio/wav;base64,{data}"></audio> <code>{name}</code>'
    if path.suffix == ".gif":
        return f'<img src="data:image/gif;base64,{data}" alt="{name}">'
    if path.suffix == ".svg":
        return f'<img src="data:image/svg+xml;base64,{data}" alt="{name}">'
    if path.suffix == ".txt":
        return f"<pre>{html.escape(Path(path).read_text())}</pre>"
    return f'<img src="data:image/png;base64,{data}" alt="{name}">'
