"""PixelRNN (Row LSTM and Diagonal BiLSTM): a normalised distribution, exactly causal recurrences
with the receptive field each layer type promises, a pixel-by-pixel sampler that computes the same
conditionals as the parallel pass and draws from them, and better likelihoods than independent pixels."""

import itertools

import pytest
import torch

from dgm.core.errors import ConfigError, DataError
from dgm.models import build_model
from helpers import digits_nll_and_baseline

LAYERS = ["row_lstm", "diagonal_bilstm"]


def perturbed_pixelrnn(overrides: dict, data_shape: tuple[int, ...], weight_std: float = 0.5):
    """A float64 PixelRNN whose weights are redrawn large enough that its conditionals are far from uniform."""
    model = build_model("pixelrnn", overrides, data_shape).double()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(weight_std * torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
    return model


def small(layer: str, **overrides) -> dict:
    return {
        "layer": layer,
        "hidden_channels": 4,
        "num_layers": 2,
        "head_channels": 8,
        "first_kernel_size": 3,
    } | overrides


def all_binary_images(height: int, width: int) -> torch.Tensor:
    pixels = height * width
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=pixels)), dtype=torch.float64).view(
        -1, 1, height, width
    )


@pytest.mark.parametrize("layer", LAYERS)
def test_binary_pixelrnn_sums_to_one_over_all_3x3_images(layer):
    model = perturbed_pixelrnn(small(layer), (1, 3, 3))
    with torch.no_grad():
        probs = model.log_prob(all_binary_images(3, 3)).exp()  # (512,)
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert probs.max() > 20 * probs.min(), "the test needs a distribution far from uniform to have teeth"


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("data_shape", [(1, 1, 2), (1, 2, 1)])
def test_256_level_pixelrnn_sums_to_one_over_all_two_pixel_images(layer, data_shape):
    # 256² = 65,536 images: a row of two pixels (left neighbour) and a column (the pixel above).
    model = perturbed_pixelrnn(small(layer, num_levels=256), data_shape, 0.2)
    levels = torch.cartesian_prod(torch.arange(256), torch.arange(256)).double()  # (65536, 2)
    with torch.no_grad():
        log_probs = model.log_prob((levels / 255).view(-1, *data_shape))  # (65536,)
    assert torch.logsumexp(log_probs, dim=0).exp().item() == pytest.approx(1.0, abs=1e-6)
    # p(x_2 | x_1) must depend on x_1, or the test would only show that a product of marginals normalises.
    joint = log_probs.exp().view(256, 256)
    conditional = joint / joint.sum(dim=1, keepdim=True)  # (256, 256) p(x_2 | x_1)
    assert (conditional[0] - conditional[255]).abs().sum() > 0.01  # exactly 0 for independent pixels


def row_lstm_receptive_field(height: int, width: int, num_layers: int, half: int) -> torch.Tensor:
    """(HW, HW) bool, [i, j]: pixel j is in the context of pixel i = (r, c) for a k×k type-A first
    layer (half = k//2) and L Row LSTM layers: columns c−L−half..c−1 of row r, and columns
    c−d−L−half..c+d+half−1 of row r−d (a triangle widening by one column per row on each side)."""
    rows = torch.arange(height).repeat_interleave(width)  # (HW,) row of each raster index
    cols = torch.arange(width).repeat(height)  # (HW,)
    rows_up = rows[:, None] - rows[None, :]  # [i, j] = r_i − r_j
    col_offset = cols[None, :] - cols[:, None]  # [i, j] = c_j − c_i
    same_row = (rows_up == 0) & (col_offset < 0) & (col_offset >= -num_layers - half)
    above = (rows_up > 0) & (col_offset >= -rows_up - num_layers - half) & (col_offset <= rows_up + half - 1)
    return same_row | above


def dependence(model, height: int, width: int) -> torch.Tensor:
    """(HW, HW) Jacobian [i, j] = ∂(logits at pixel i, projected on a random direction) / ∂ input pixel j.

    ``model.logits`` rounds its input to levels, whose gradient is zero everywhere, so the Jacobian
    is taken through ``model.network`` at a continuous input. A zero Jacobian block stays exactly
    zero under the projection, a nonzero one stays nonzero with probability one.
    """
    generator = torch.Generator().manual_seed(1)
    direction = torch.randn(1, model.head[-1].out_features, 1, 1, generator=generator, dtype=torch.float64)
    x = torch.randn(1, 1, height, width, generator=generator, dtype=torch.float64)

    def projected_logits(inputs: torch.Tensor) -> torch.Tensor:
        return (model.network(inputs) * direction).sum(dim=1).flatten()  # (HW,) in raster order

    pixels = height * width
    return torch.autograd.functional.jacobian(projected_logits, x).reshape(pixels, pixels)


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize(
    ("num_levels", "num_layers", "first_kernel_size"), [(2, 1, 3), (2, 2, 3), (2, 2, 7), (256, 3, 5)]
)
def test_each_pixel_depends_on_exactly_its_context(layer, num_levels, num_layers, first_kernel_size):
    height, width = 7, 9
    overrides = small(
        layer, num_levels=num_levels, num_layers=num_layers, first_kernel_size=first_kernel_size, hidden_channels=8
    )
    model = perturbed_pixelrnn(overrides | {"head_channels": 32}, (1, height, width), 0.3)
    jacobian = dependence(model, height, width)

    later_or_same = torch.ones(height * width, height * width, dtype=torch.bool).triu()  # j >= i
    assert jacobian[later_or_same].abs().max().item() == 0.0, "a pixel depends on itself or a later pixel"
    if layer == "diagonal_bilstm":
        context = ~later_or_same  # every earlier pixel
    else:
        context = row_lstm_receptive_field(height, width, num_layers, first_kernel_size // 2)
        assert (~context & ~later_or_same).any(), "the Row LSTM's context must be a strict part of the past"
    wrong = ((jacobian != 0) != context).nonzero().tolist()
    assert not wrong, f"(i, j) pairs where the dependence differs from the context: {wrong[:10]}"


def test_without_reading_the_image_the_diagonal_bilstm_misses_the_last_pixel_of_the_row_above():
    # The paper's construction, a 7×7 type-A layer and then Diagonal BiLSTMs, leaves pixel (r, c),
    # c < W−1−3, blind to (r−1, W−1); our first layer's right-to-left direction reads the image to close it.
    height, width, half = 5, 9, 3
    model = perturbed_pixelrnn(
        small("diagonal_bilstm", hidden_channels=8, head_channels=32, first_kernel_size=7), (1, height, width), 0.3
    )
    with torch.no_grad():
        model.layers[0].input_to_state[:, -1] = 0  # the image's input channel, in both directions
    reached = dependence(model, height, width) != 0
    for r, c in itertools.product(range(1, height), range(width)):
        i, corner = r * width + c, (r - 1) * width + width - 1
        assert bool(reached[i, corner]) == (c >= width - 1 - half), (r, c)
    missing = ~reached & ~torch.ones_like(reached).triu()
    assert missing.sum() == (height - 1) * (width - 1 - half), "only those corners are missing"


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("num_levels", [2, 256])
def test_pixel_by_pixel_pass_computes_the_same_conditionals_as_the_parallel_pass(layer, num_levels):
    # The sampler carries LSTM states one pixel at a time; teacher-forced with images, every
    # conditional it computes must equal the one-pass logits.
    data_shape = (1, 5, 6)
    model = perturbed_pixelrnn(small(layer, num_levels=num_levels, num_layers=3), data_shape)
    images = torch.randint(0, num_levels, (3, *data_shape), generator=torch.Generator().manual_seed(2)).double()
    images = images / (num_levels - 1)
    seen = {}

    def teacher(logits: torch.Tensor, row: int, col: int) -> torch.Tensor:
        seen[row, col] = logits
        return images[:, 0, row, col]

    assert torch.equal(model.pixel_by_pixel(3, teacher), images)
    with torch.no_grad():
        parallel = model.logits(images)  # (3, 1 or 256, H, W)
    assert sorted(seen) == list(itertools.product(range(5), range(6))), "pixels visited in raster order"
    for (row, col), logits in seen.items():
        torch.testing.assert_close(logits, parallel[:, :, row, col], rtol=0, atol=1e-12)


@pytest.mark.parametrize("layer", LAYERS)
def test_samples_follow_the_model_distribution(layer):
    # Every binary 2×3 image: the sampler's frequencies over 40,000 draws against the exact p(x).
    model = perturbed_pixelrnn(small(layer), (1, 2, 3), 0.4).float()
    images = all_binary_images(2, 3).float()  # (64, 1, 2, 3)
    with torch.no_grad():
        probs = model.log_prob(images).exp()  # (64,)
    samples = model.sample(40_000, generator=torch.Generator().manual_seed(3))  # (40000, 1, 2, 3)
    assert samples.shape == (40_000, 1, 2, 3) and samples.dtype == torch.float32
    assert ((samples == 0) | (samples == 1)).all()
    codes = (samples.flatten(1) * 2 ** torch.arange(5, -1, -1)).sum(dim=1).long()  # index into images
    frequencies = torch.bincount(codes, minlength=64) / len(codes)
    total_variation = 0.5 * (frequencies - probs).abs().sum().item()
    assert probs.max() > 10 * probs.min(), "the test needs a distribution far from uniform to have teeth"
    assert total_variation < 0.03, total_variation  # about 0.015 expected from sampling noise alone


@pytest.mark.parametrize("layer", LAYERS)
def test_256_level_samples_are_valid_images_and_reproducible(layer):
    model = build_model("pixelrnn", small(layer, num_levels=256), (1, 4, 5))
    draw = lambda seed: model.sample(6, generator=torch.Generator().manual_seed(seed))  # noqa: E731
    samples = draw(0)
    assert samples.shape == (6, 1, 4, 5)
    assert ((samples >= 0) & (samples <= 1)).all()
    assert torch.equal(samples * 255, (samples * 255).round()), "values are levels / 255"
    assert torch.equal(samples, draw(0)) and not torch.equal(samples, draw(1))


def test_bad_configurations_and_data_are_refused():
    with pytest.raises(ConfigError, match="layer"):
        build_model("pixelrnn", {"layer": "column_lstm"}, (1, 4, 4))
    with pytest.raises(ConfigError, match="first_kernel_size"):
        build_model("pixelrnn", {"first_kernel_size": 4}, (1, 4, 4))
    with pytest.raises(DataError, match="single-channel"):
        build_model("pixelrnn", {}, (3, 4, 4))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("layer", "overrides", "steps"),
    [
        ("row_lstm", {"num_layers": 2, "first_kernel_size": 5}, 350),
        ("diagonal_bilstm", {"num_layers": 1, "first_kernel_size": 3}, 500),
    ],
)
def test_pixelrnn_beats_independent_pixels_on_digits(layer, overrides, steps):
    pixelrnn_nll_nats, baseline_nll_nats = digits_nll_and_baseline(
        "pixelrnn",
        {"layer": layer, "hidden_channels": 16, "head_channels": 32, "learning_rate": 5e-3, **overrides},
        steps=steps,
    )

    message = f"PixelRNN ({layer}) {pixelrnn_nll_nats:.2f} nats vs independent pixels {baseline_nll_nats:.2f} nats"
    assert pixelrnn_nll_nats < baseline_nll_nats - 2.0, message
