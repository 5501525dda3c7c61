"""Moving digits: two handwritten digits bouncing inside a square canvas, generated offline.

In the spirit of Moving MNIST (Srivastava, Mansimov & Salakhutdinov 2015), with scikit-learn's
8×8 digits as glyphs so that the set needs no download. Every clip:

1. picks two digit images from its split's pool (train and test pools are disjoint by image,
   the same 300-image test split as the ``digits`` set);
2. draws for each digit an integer start position in the canvas and an integer velocity
   (each component in −max_speed..max_speed, not both zero);
3. moves each digit by its velocity every frame, reflecting position and velocity at the canvas
   walls, so the glyph always stays fully inside;
4. draws the frame as the pixel-wise maximum of the two placed glyphs.

``moving-digits``: 32×32 canvas, glyphs upscaled ×2 (nearest) to 16×16, max_speed 2.
``moving-digits-small``: 16×16 canvas, the 8×8 glyphs as they are, max_speed 1 (fast on a CPU).
Both: 10 frames, 2,000 train and 200 test clips from fixed seeds; tensors (N, T, 1, H, W) in [0, 1]
(grey levels; models that need binary pixels binarise them).

>>> from dgm.data import load_dataset
>>> clips = load_dataset("moving-digits-small")
>>> clips.train.shape, clips.kind
(torch.Size([2000, 10, 1, 16, 16]), 'video')
"""

import torch
from sklearn.datasets import load_digits as _sklearn_digits

from .base import Dataset, split

NUM_TEST_IMAGES = 300  # the ``digits`` set's test split, reused so the pools are disjoint by image


def bounce_trajectories(
    num_clips: int, num_frames: int, max_position: int, max_speed: int, generator: torch.Generator
) -> torch.Tensor:
    """-> (N, T, 2) integer (row, col) positions in 0..max_position, reflected at the walls."""
    position = torch.randint(0, max_position + 1, (num_clips, 2), generator=generator)  # (N, 2)
    velocity = torch.zeros(num_clips, 2, dtype=torch.int64)  # (N, 2)
    still = torch.ones(num_clips, dtype=torch.bool)
    while still.any():  # redraw the velocities that are zero in both components
        velocity[still] = torch.randint(-max_speed, max_speed + 1, (int(still.sum()), 2), generator=generator)
        still = (velocity == 0).all(dim=1)
    positions = [position]
    for _ in range(num_frames - 1):
        position = position + velocity
        below, above = position < 0, position > max_position
        position = torch.where(below, -position, torch.where(above, 2 * max_position - position, position))
        velocity = torch.where(below | above, -velocity, velocity)
        positions.append(position)
    return torch.stack(positions, dim=1)  # (N, T, 2)


def render(glyphs: torch.Tensor, positions: torch.Tensor, canvas_size: int) -> torch.Tensor:
    """Glyphs (N, K, g, g) placed at positions (N, T, K, 2) -> frames (N, T, 1, S, S), max over the K glyphs."""
    num_clips, num_frames, num_glyphs, _ = positions.shape
    size = glyphs.shape[-1]
    offsets = torch.arange(size)
    frames = torch.zeros(num_clips, num_frames, canvas_size, canvas_size)  # (N, T, S, S)
    clip = torch.arange(num_clips)[:, None, None, None]  # (N, 1, 1, 1)
    frame = torch.arange(num_frames)[None, :, None, None]  # (1, T, 1, 1)
    for k in range(num_glyphs):
        rows = (positions[:, :, k, 0, None] + offsets)[:, :, :, None]  # (N, T, g, 1)
        cols = (positions[:, :, k, 1, None] + offsets)[:, :, None, :]  # (N, T, 1, g)
        placed = torch.zeros_like(frames)
        placed[clip, frame, rows, cols] = glyphs[:, None, k].expand(-1, num_frames, -1, -1)  # (N, T, S, S)
        frames = torch.maximum(frames, placed)
    return frames.unsqueeze(2)  # (N, T, 1, S, S)


def moving_digits_clips(
    pool: torch.Tensor, num_clips: int, num_frames: int, canvas_size: int, max_speed: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips of two glyphs from ``pool`` (G, g, g) bouncing in the canvas, from ``seed``.

    Returns (clips (N, T, 1, S, S) in [0, 1], the pool indices of the two glyphs (N, 2)).
    """
    generator = torch.Generator().manual_seed(seed)
    glyph_index = torch.randint(0, len(pool), (num_clips, 2), generator=generator)  # (N, 2)
    max_position = canvas_size - pool.shape[-1]
    positions = torch.stack(
        [bounce_trajectories(num_clips, num_frames, max_position, max_speed, generator) for _ in range(2)], dim=2
    )  # (N, T, 2, 2)
    return render(pool[glyph_index], positions, canvas_size), glyph_index


def glyph_pools(upscale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The digits in [0, 1] upscaled ×``upscale`` (nearest): train (1497, g, g) and test (300, g, g) pools."""
    digits = torch.tensor(_sklearn_digits().images, dtype=torch.float32) / 16.0  # (1797, 8, 8)
    glyphs = digits.repeat_interleave(upscale, dim=1).repeat_interleave(upscale, dim=2)  # (1797, 8u, 8u)
    train_pool, test_pool, _, _ = split(glyphs, None, num_test=NUM_TEST_IMAGES)
    return train_pool, test_pool


def load_moving_digits(
    name: str = "moving-digits",
    canvas_size: int = 32,
    upscale: int = 2,
    max_speed: int = 2,
    num_frames: int = 10,
    num_train: int = 2000,
    num_test: int = 200,
) -> Dataset:
    train_pool, test_pool = glyph_pools(upscale)
    settings = {"num_frames": num_frames, "canvas_size": canvas_size, "max_speed": max_speed}
    train, _ = moving_digits_clips(train_pool, num_train, seed=1, **settings)
    test, _ = moving_digits_clips(test_pool, num_test, seed=2, **settings)
    info = {"num_frames": num_frames, "glyph_size": 8 * upscale, "max_speed": max_speed}
    return Dataset(name, "video", train, test, info=info)


def load_moving_digits_small() -> Dataset:
    return load_moving_digits("moving-digits-small", canvas_size=16, upscale=1, max_speed=1)
