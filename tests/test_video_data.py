"""Moving digits: clips of the promised shape and range, straight-line motion folded at the walls,
glyphs drawn where the trajectories say, and train/test clips built from disjoint digit images."""

import pytest
import torch

from dgm.data import load_dataset
from dgm.data.video import bounce_trajectories, glyph_pools, moving_digits_clips, render


def fold(unfolded: torch.Tensor, max_position: int) -> torch.Tensor:
    """Reflection at 0 and max_position of a free path: the triangle wave of period 2·max_position."""
    return max_position - (max_position - unfolded.remainder(2 * max_position)).abs()


@pytest.mark.parametrize(("max_position", "max_speed"), [(8, 1), (16, 2), (3, 3)])
def test_trajectories_are_straight_lines_reflected_at_the_walls(max_position, max_speed):
    positions = bounce_trajectories(500, 25, max_position, max_speed, torch.Generator().manual_seed(0))  # (N, T, 2)
    assert positions.min() >= 0 and positions.max() <= max_position
    # Each coordinate must be fold(p0 + v·t) for one velocity v in −max_speed..max_speed, the same for all t.
    times = torch.arange(25)
    candidates = torch.arange(-max_speed, max_speed + 1)  # (V,)
    start = positions[:, 0, :, None, None]  # (N, 2, 1, 1)
    paths = fold(start + candidates[:, None] * times, max_position)  # (N, 2, V, T)
    matches = (paths == positions.transpose(1, 2)[:, :, None, :]).all(dim=-1)  # (N, 2, V)
    assert matches.any(dim=-1).all()
    moving = (positions[:, 1:] != positions[:, :-1]).any(dim=1).any(dim=1)  # (N,) velocity never zero in both
    assert moving.all()


def test_render_places_each_glyph_at_its_position_and_overlaps_by_maximum():
    glyphs = torch.rand(1, 2, 3, 3, generator=torch.Generator().manual_seed(0))  # (N=1, K=2, 3, 3)
    positions = torch.tensor([[[[0, 0], [4, 5]], [[1, 1], [2, 2]]]])  # (1, T=2, K=2, 2): apart, then overlapping
    frames = render(glyphs, positions, canvas_size=8)[0, :, 0]  # (2, 8, 8)

    expected = torch.zeros(2, 8, 8)
    expected[0, 0:3, 0:3] = glyphs[0, 0]
    expected[0, 4:7, 5:8] = glyphs[0, 1]
    expected[1, 1:4, 1:4] = glyphs[0, 0]
    expected[1, 2:5, 2:5] = torch.maximum(expected[1, 2:5, 2:5], glyphs[0, 1])
    assert torch.equal(frames, expected)


def test_train_and_test_clips_use_disjoint_digit_images():
    train_pool, test_pool = glyph_pools(upscale=1)
    flat_train, flat_test = train_pool.flatten(1), test_pool.flatten(1)
    assert len(flat_train) + len(flat_test) == 1797
    assert not (flat_test[:, None] == flat_train[None]).all(dim=-1).any(), "a test digit appears in the train pool"
    clips, indices = moving_digits_clips(test_pool, 50, 4, canvas_size=16, max_speed=1, seed=2)
    # Every pixel of a test clip's first frame comes from one of its two test glyphs (or is background).
    for clip, (a, b) in zip(clips[:, 0, 0], indices, strict=True):
        values = set(clip.unique().tolist())
        assert values <= set(test_pool[a].unique().tolist()) | set(test_pool[b].unique().tolist()) | {0.0}


@pytest.mark.parametrize(("name", "size"), [("moving-digits-small", 16), ("moving-digits", 32)])
def test_moving_digits_sets_have_the_promised_shape_range_and_seed(name, size):
    clips = load_dataset(name)
    assert clips.kind == "video"
    assert clips.train.shape == (2000, 10, 1, size, size) and clips.test.shape == (200, 10, 1, size, size)
    assert clips.train.dtype == torch.float32
    assert clips.train.min() == 0 and clips.train.max() <= 1
    assert (clips.train.flatten(2).amax(dim=2) > 0.5).all(), "every frame shows its digits"
    assert torch.equal(load_dataset(name).test, clips.test), "the clips come from a fixed seed"
    assert clips.info["num_frames"] == 10
