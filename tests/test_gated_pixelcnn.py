"""Gated PixelCNN: a normalised (conditional) distribution, causal stacks without PixelCNN's blind
spot, class labels that change the density, and better likelihoods than independent pixels."""

import itertools

import pytest
import torch

from dgm.core.errors import DataError
from dgm.models import build_model
from helpers import digits_nll_and_baseline


def perturbed_gated_pixelcnn(overrides: dict, data_shape: tuple[int, ...], weight_std: float = 0.5):
    """A float64 Gated PixelCNN whose weights are redrawn large enough that its conditionals are far from uniform."""
    model = build_model("gated-pixelcnn", overrides, data_shape).double()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(weight_std * torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
    return model


def all_binary_3x3_images() -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=9)), dtype=torch.float64).view(512, 1, 3, 3)


SMALL_3X3 = {"num_levels": 2, "channels": 8, "num_layers": 2, "kernel_size": 3, "first_kernel_size": 3}


@pytest.mark.parametrize("label", [None, 2])
def test_binary_gated_pixelcnn_sums_to_one_over_all_3x3_images(label):
    model = perturbed_gated_pixelcnn({**SMALL_3X3, "num_classes": 0 if label is None else 3}, (1, 3, 3))
    images = all_binary_3x3_images()
    labels = None if label is None else torch.full((512,), label)
    with torch.no_grad():
        probs = model.log_prob(images, labels).exp()  # (512,)
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert probs.max() > 20 * probs.min(), "the test needs a distribution far from uniform to have teeth"


def test_a_conditional_model_refuses_to_score_images_without_labels():
    model = perturbed_gated_pixelcnn({**SMALL_3X3, "num_classes": 3}, (1, 3, 3))
    with pytest.raises(DataError, match=r"needs labels \(512,\)"):
        model.log_prob(all_binary_3x3_images())


def test_256_level_gated_pixelcnn_sums_to_one_over_all_two_pixel_images():
    # 256² = 65,536 images of a row of two pixels: p(x_2 | x_1) comes from the horizontal stack.
    model = perturbed_gated_pixelcnn({"num_levels": 256, "channels": 8, "num_layers": 2}, (1, 1, 2), 0.5)
    levels = torch.cartesian_prod(torch.arange(256), torch.arange(256)).double()  # (65536, 2)
    with torch.no_grad():
        log_probs = model.log_prob((levels / 255).view(-1, 1, 1, 2))  # (65536,)
    assert torch.logsumexp(log_probs, dim=0).exp().item() == pytest.approx(1.0, abs=1e-6)
    joint = log_probs.exp().view(256, 256)
    conditional = joint / joint.sum(dim=1, keepdim=True)  # (256, 256) p(x_2 | x_1)
    assert (conditional[0] - conditional[255]).abs().sum() > 0.01  # exactly 0 for independent pixels


def receptive_field(height: int, width: int, num_layers: int) -> torch.Tensor:
    """(HW, HW) bool, [i, j]: pixel j is one that L gated 3×3 layers (3×3 first layer) must reach from i.

    For i = (r, c): rows r−L..r−1 at columns c−L..c+L (the vertical stack, which has no blind spot
    to the upper right), and columns c−L..c−1 of row r (the horizontal stack), clipped to the image.
    """
    rows = torch.arange(height).repeat_interleave(width)  # (HW,) row of each raster index
    cols = torch.arange(width).repeat(height)  # (HW,)
    row_offset = rows[None, :] - rows[:, None]  # [i, j] = r_j − r_i
    col_offset = cols[None, :] - cols[:, None]
    above = (row_offset < 0) & (row_offset >= -num_layers) & (col_offset.abs() <= num_layers)
    left = (row_offset == 0) & (col_offset < 0) & (col_offset >= -num_layers)
    return above | left


@pytest.mark.parametrize(("num_levels", "label"), [(2, None), (2, 1), (256, None)])
def test_each_pixel_depends_on_exactly_the_earlier_pixels_of_its_receptive_field(num_levels, label):
    # model.logits rounds its input to levels, whose gradient is zero everywhere, so the Jacobian is
    # taken through model.network at a continuous input. The logits of each pixel are projected on
    # a random direction: a zero Jacobian block stays exactly zero, a nonzero one stays nonzero with
    # probability one.
    height = width = 7
    num_layers = 3
    overrides = {
        "num_levels": num_levels,
        "channels": 16,
        "num_layers": num_layers,
        "kernel_size": 3,
        "first_kernel_size": 3,
        "num_classes": 0 if label is None else 2,
    }
    model = perturbed_gated_pixelcnn(overrides, (1, height, width), 0.3)
    generator = torch.Generator().manual_seed(1)
    direction = torch.randn(1, model.head[-1].out_channels, 1, 1, generator=generator, dtype=torch.float64)
    x = torch.randn(1, 1, height, width, generator=generator, dtype=torch.float64)
    labels = None if label is None else torch.tensor([label])

    def projected_logits(inputs: torch.Tensor) -> torch.Tensor:
        return (model.network(inputs, labels) * direction).sum(dim=1).flatten()  # (HW,) in raster order

    pixels = height * width
    jacobian = torch.autograd.functional.jacobian(projected_logits, x).reshape(pixels, pixels)  # [i, j] = ∂out_i/∂x_j
    later_or_same = torch.ones(pixels, pixels, dtype=torch.bool).triu()  # j >= i
    assert jacobian[later_or_same].abs().max().item() == 0.0, "a pixel depends on itself or a later pixel"

    reached = jacobian != 0
    must_reach = receptive_field(height, width, num_layers)
    assert not (must_reach & later_or_same).any()
    missing = (must_reach & ~reached).nonzero().tolist()
    assert not missing, f"(i, j) pairs inside the receptive field with zero gradient: {missing[:10]}"
    # PixelCNN's blind spot, named: (r−1, c+1) and (r−2, c+2) are reached from every (r, c), r ≥ 2, c ≤ W−3.
    for r, c in itertools.product(range(2, height), range(width - 2)):
        i = r * width + c
        assert reached[i, (r - 1) * width + c + 1] and reached[i, (r - 2) * width + c + 2], (r, c)


def test_the_class_label_changes_the_density_and_each_label_is_normalised():
    model = perturbed_gated_pixelcnn({**SMALL_3X3, "num_classes": 3}, (1, 3, 3))
    images = all_binary_3x3_images()
    with torch.no_grad():
        log_probs = torch.stack([model.log_prob(images, torch.full((512,), label)) for label in range(3)])  # (3, 512)
    for label in range(3):
        assert log_probs[label].exp().sum().item() == pytest.approx(1.0, abs=1e-6), f"label {label}"
    for a, b in itertools.combinations(range(3), 2):
        total_variation = 0.5 * (log_probs[a].exp() - log_probs[b].exp()).abs().sum().item()
        assert total_variation > 0.05, f"labels {a} and {b} give nearly the same distribution"


def test_labels_are_checked():
    conditional = build_model("gated-pixelcnn", {**SMALL_3X3, "num_classes": 3}, (1, 3, 3))
    unconditional = build_model("gated-pixelcnn", SMALL_3X3, (1, 3, 3))
    images = torch.zeros(2, 1, 3, 3)
    with pytest.raises(DataError, match="0..2"):
        conditional.log_prob(images, torch.tensor([0, 3]))
    with pytest.raises(DataError, match="shape"):
        conditional.log_prob(images, torch.tensor([0]))
    with pytest.raises(DataError, match="unconditional"):
        unconditional.log_prob(images, torch.tensor([0, 1]))


@pytest.mark.slow
def test_gated_pixelcnn_beats_independent_pixels_on_digits():
    gated_nll_nats, baseline_nll_nats = digits_nll_and_baseline(
        "gated-pixelcnn", {"channels": 16, "num_layers": 4, "learning_rate": 3e-3}, steps=600
    )

    message = f"Gated PixelCNN {gated_nll_nats:.2f} nats vs independent pixels {baseline_nll_nats:.2f} nats"
    assert gated_nll_nats < baseline_nll_nats - 2.0, message


@pytest.mark.slow
def test_dgm_train_learns_the_class_conditional_density_from_labelled_batches(tmp_path):
    """With num_classes > 0 the loop feeds (images, labels): the trained p(x | y) must prefer the true labels."""
    from dgm.api import evaluate, load
    from dgm.data import binarize_static, load_dataset
    from helpers import dgm

    overrides = ["channels=16", "num_layers=3", "num_classes=10", "batch_size=64"]
    result = dgm("train", "gated-pixelcnn", "--data", "digits", "--steps", "300", "--out", str(tmp_path / "run"),
                 "--quiet", *[arg for o in overrides for arg in ("--set", o)])  # fmt: skip
    assert result.returncode == 0, result.stderr
    digits, model = load_dataset("digits"), load(tmp_path / "run")
    test = binarize_static(digits.test)
    with torch.no_grad():
        true_labels = model.log_prob(test, digits.test_labels).mean().item()
        wrong_labels = model.log_prob(test, (digits.test_labels + 1) % 10).mean().item()
    assert true_labels > wrong_labels + 1.0, (true_labels, wrong_labels)
    assert evaluate(tmp_path / "run")["nll_nats"] == pytest.approx(-true_labels, rel=1e-5)  # eval scores p(x | y)
    threes = model.sample(4, generator=torch.Generator().manual_seed(0), labels=torch.full((4,), 3))
    assert threes.shape == (4, 1, 8, 8)


@pytest.mark.parametrize(("num_levels", "num_classes"), [(2, 0), (256, 0), (2, 3)])
def test_cached_row_sampling_draws_the_same_images_as_naive_sampling(num_levels, num_classes):
    """Same generator seed -> bit-identical samples (vertical rows, link to the row above, class embedding)."""
    overrides = {"num_levels": num_levels, "channels": 8, "num_layers": 3, "num_classes": num_classes}
    model = perturbed_gated_pixelcnn(overrides, (1, 7, 6), weight_std=0.3).float()
    cached = model.sample(8, generator=torch.Generator().manual_seed(3), cached=True)
    naive = model.sample(8, generator=torch.Generator().manual_seed(3), cached=False)
    assert torch.equal(cached, naive)
    assert 0.1 < naive.mean() < 0.9 and naive.unique().numel() > 1
