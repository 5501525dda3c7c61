"""PixelCNN: a normalised distribution, causal masks, and better likelihoods than independent pixels."""

import itertools

import pytest
import torch

from dgm.models import build_model
from dgm.nn.masked import raster_mask
from helpers import digits_nll_and_baseline


def perturbed_pixelcnn(overrides: dict, data_shape: tuple[int, ...], weight_std: float = 0.5):
    """A float64 PixelCNN whose weights are redrawn large enough that its conditionals are far from uniform."""
    model = build_model("pixelcnn", overrides, data_shape).double()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(weight_std * torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
    return model


@pytest.mark.parametrize("first_kernel_size", [3, 5])
def test_binary_pixelcnn_sums_to_one_over_all_3x3_images(first_kernel_size):
    model = perturbed_pixelcnn(
        {"num_levels": 2, "channels": 8, "num_residual_blocks": 1, "first_kernel_size": first_kernel_size}, (1, 3, 3)
    )
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=9)), dtype=torch.float64).view(512, 1, 3, 3)
    with torch.no_grad():
        probs = model.log_prob(images).exp()  # (512,)
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert probs.max() > 20 * probs.min(), "the test needs a distribution far from uniform to have teeth"


@pytest.mark.parametrize("data_shape", [(1, 1, 2), (1, 2, 1)])
def test_256_level_pixelcnn_sums_to_one_over_all_two_pixel_images(data_shape):
    # 256² = 65,536 images: a row of two pixels (left neighbour) and a column (the pixel above).
    model = perturbed_pixelcnn({"num_levels": 256, "channels": 8, "num_residual_blocks": 1}, data_shape, 0.2)
    levels = torch.cartesian_prod(torch.arange(256), torch.arange(256)).double()  # (65536, 2)
    images = (levels / 255).view(-1, *data_shape)
    with torch.no_grad():
        log_probs = model.log_prob(images)  # (65536,)
    assert torch.logsumexp(log_probs, dim=0).exp().item() == pytest.approx(1.0, abs=1e-6)
    # p(x_2 | x_1) must depend on x_1, or the test would only show that a product of marginals normalises.
    joint = log_probs.exp().view(256, 256)
    conditional = joint / joint.sum(dim=1, keepdim=True)  # (256, 256) p(x_2 | x_1)
    assert (conditional[0] - conditional[255]).abs().sum() > 0.01  # exactly 0 for independent pixels


@pytest.mark.parametrize("kernel_size", [1, 3, 5, 7])
def test_raster_mask_is_a_prefix_of_the_kernel_in_raster_order(kernel_size):
    # Type A keeps the kernel positions strictly before the centre; type B keeps the centre too.
    centre = kernel_size * kernel_size // 2
    for mask_type, kept in (("A", centre), ("B", centre + 1)):
        mask = raster_mask(kernel_size, mask_type).flatten()
        expected = torch.cat([torch.ones(kept), torch.zeros(kernel_size * kernel_size - kept)])
        assert torch.equal(mask, expected), f"type {mask_type}, k={kernel_size}: {mask.view(kernel_size, -1)}"


@pytest.mark.parametrize(("num_levels", "first_kernel_size"), [(2, 3), (2, 7), (256, 5)])
def test_output_at_each_pixel_depends_only_on_earlier_pixels(num_levels, first_kernel_size):
    # model.logits rounds its input to levels, whose gradient is zero everywhere, so the Jacobian is
    # taken through model.network, the masked stack that logits applies to the centred levels, at a
    # continuous input. The L logits of each pixel are projected on a random direction first: a zero
    # Jacobian block stays exactly zero, a nonzero one stays nonzero with probability one.
    overrides = {
        "num_levels": num_levels,
        "channels": 8,
        "num_residual_blocks": 2,
        "first_kernel_size": first_kernel_size,
    }
    model = perturbed_pixelcnn(overrides, (1, 6, 6), 0.3)
    generator = torch.Generator().manual_seed(1)
    direction = torch.randn(1, model.network[-1].out_channels, 1, 1, generator=generator, dtype=torch.float64)
    x = torch.randn(1, 1, 6, 6, generator=generator, dtype=torch.float64)

    def projected_logits(inputs: torch.Tensor) -> torch.Tensor:
        return (model.network(inputs) * direction).sum(dim=1).flatten()  # (36,) pixels in raster order

    jacobian = torch.autograd.functional.jacobian(projected_logits, x).reshape(36, 36)  # [i, j] = ∂out_i / ∂x_j
    later_or_same = torch.ones(36, 36, dtype=torch.bool).triu()  # j >= i
    assert jacobian[later_or_same].abs().max().item() == 0.0
    # ... and the check can see dependence: every pixel after the first depends on some earlier pixel.
    earlier = jacobian.abs().masked_fill(later_or_same, 0.0)
    assert (earlier[1:].amax(dim=1) > 0).all()


@pytest.mark.slow
def test_pixelcnn_beats_independent_pixels_on_digits():
    pixelcnn_nll_nats, baseline_nll_nats = digits_nll_and_baseline(
        "pixelcnn", {"channels": 32, "num_residual_blocks": 2}, steps=1000
    )

    message = f"PixelCNN {pixelcnn_nll_nats:.2f} nats vs independent pixels {baseline_nll_nats:.2f} nats"
    assert pixelcnn_nll_nats < baseline_nll_nats - 2.0, message


@pytest.mark.parametrize("num_levels", [2, 256])
def test_cached_row_sampling_draws_the_same_images_as_naive_sampling(num_levels):
    """Same generator seed -> bit-identical samples, with logits far from uniform so that a wrong cache shows."""
    torch.manual_seed(0)
    model = build_model("pixelcnn", {"num_levels": num_levels, "channels": 16, "num_residual_blocks": 2}, (1, 7, 6))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.3)
    cached = model.sample(8, generator=torch.Generator().manual_seed(3), cached=True)
    naive = model.sample(8, generator=torch.Generator().manual_seed(3), cached=False)
    assert torch.equal(cached, naive)
    assert 0.1 < naive.mean() < 0.9 and naive.unique().numel() > 1


def test_row_cache_refuses_a_layer_it_cannot_evaluate_row_by_row():
    from dgm.nn.row_cache import RowCache

    with pytest.raises(TypeError, match="cannot evaluate Conv2d row by row"):
        RowCache(4).step(torch.nn.Conv2d(1, 1, 3, padding=1), torch.zeros(1, 1, 1, 4), 0)
