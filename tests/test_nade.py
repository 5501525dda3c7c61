"""NADE: a normalised distribution, causal conditionals, an incremental sampler that agrees with the
batched forward pass, and better likelihoods than independent pixels."""

import itertools

import pytest
import torch

from dgm.core.errors import DataError
from dgm.models import build_model
from helpers import digits_nll_and_baseline, redraw_weights


def perturbed_nade(data_shape: tuple[int, ...], hidden_dim: int = 8, weight_std: float = 1.0):
    """A float64 NADE whose weights are redrawn large enough that its conditionals are far from uniform."""
    model = build_model("nade", {"hidden_dim": hidden_dim}, data_shape).double()
    return redraw_weights(model, weight_std)


def all_binary_images(data_shape: tuple[int, ...]) -> torch.Tensor:
    """(2^D, *data_shape) float64: every binary image, the first pixel varying slowest."""
    num_pixels = torch.Size(data_shape).numel()
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=num_pixels)), dtype=torch.float64).view(
        -1, *data_shape
    )


def test_nade_sums_to_one_over_all_2x5_images():
    model = perturbed_nade((1, 2, 5))
    images = all_binary_images((1, 2, 5))  # (1024, 1, 2, 5)
    with torch.no_grad():
        probs = model.log_prob(images).exp()  # (1024,)
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert probs.max() > 20 * probs.min(), "the test needs a distribution far from uniform to have teeth"
    # The last pixel's conditional must depend on the first, or only a product of marginals was normalised.
    joint = probs.view(2, 256, 2).sum(dim=1)  # (2, 2) p(x_1, x_10)
    conditional = joint / joint.sum(dim=1, keepdim=True)  # (2, 2) p(x_10 | x_1)
    assert (conditional[0] - conditional[1]).abs().sum() > 0.01  # exactly 0 for independent pixels


@pytest.mark.parametrize("data_shape", [(1, 4, 5), (2, 3, 3)])
def test_logit_at_each_pixel_depends_only_on_earlier_pixels(data_shape):
    # logits() does not round its input, so the Jacobian is taken at a continuous input. With two
    # channels, raster order is channel-major (x.flatten), so channel 1 sees all of channel 0.
    model = perturbed_nade(data_shape, weight_std=0.5)
    num_pixels = torch.Size(data_shape).numel()
    x = torch.randn(1, *data_shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    jacobian = torch.autograd.functional.jacobian(lambda inputs: model.logits(inputs).flatten(), x)
    jacobian = jacobian.reshape(num_pixels, num_pixels)  # [i, j] = ∂logit_i / ∂x_j
    later_or_same = torch.ones(num_pixels, num_pixels, dtype=torch.bool).triu()  # j >= i
    assert jacobian[later_or_same].abs().max().item() == 0.0
    # ... and the check can see dependence: every pixel after the first depends on every earlier pixel.
    assert (jacobian.abs()[~later_or_same] > 0).all()


def test_incremental_sampler_draws_what_the_batched_conditionals_give():
    # Reference: re-run the full forward pass before every pixel and draw from its conditional with the
    # same generator. The O(D·H) sampler must reproduce it bit for bit; an update of the running
    # pre-activation that is off by one pixel, or a wrong column of W, changes many of the 20,000 draws.
    model = perturbed_nade((1, 2, 5))
    num_samples, num_pixels = 2000, 10

    def reference_sample(conditioning: str) -> torch.Tensor:
        generator = torch.Generator().manual_seed(7)
        pixels = torch.zeros(num_samples, num_pixels, dtype=torch.float64)  # (n, D)
        with torch.no_grad():
            for d in range(num_pixels):
                seen = pixels if conditioning == "drawn" else torch.zeros_like(pixels)
                logit = model.logits(seen.view(num_samples, 1, 2, 5)).flatten(1)[:, d]  # (n,)
                pixels[:, d] = torch.bernoulli(torch.sigmoid(logit), generator=generator)
        return pixels.view(num_samples, 1, 2, 5)

    samples = model.sample(num_samples, generator=torch.Generator().manual_seed(7))  # (n, 1, 2, 5)
    assert torch.equal(samples, reference_sample("drawn"))
    # The comparison has teeth: ignoring the drawn pixels (first-pixel-only conditionals) is caught.
    assert not torch.equal(samples, reference_sample("nothing"))


def test_float32_log_prob_matches_float64_on_784_pixels():
    # The cumulative sum runs over D = 784 pixels; in float32 its rounding must stay far below a nat.
    model64 = perturbed_nade((1, 28, 28), hidden_dim=64, weight_std=0.1)
    model32 = build_model("nade", {"hidden_dim": 64}, (1, 28, 28))
    model32.load_state_dict({key: value.float() for key, value in model64.state_dict().items()})
    images = (torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(2)) < 0.3).double()
    with torch.no_grad():
        exact, approximate = model64.log_prob(images), model32.log_prob(images.float()).double()  # (16,) each
    assert torch.allclose(approximate, exact, rtol=1e-5, atol=1e-3), (approximate - exact).abs().max()


def test_nade_rejects_shapes_it_cannot_model():
    with pytest.raises(DataError, match="images"):
        build_model("nade", {}, (64,))
    model = build_model("nade", {"hidden_dim": 4}, (1, 8, 8))
    with pytest.raises(DataError, match="shape"):
        model.log_prob(torch.zeros(3, 1, 8, 9))


@pytest.mark.slow
def test_nade_beats_independent_pixels_on_digits():
    nade_nll_nats, baseline_nll_nats = digits_nll_and_baseline("nade", {}, steps=1000)

    message = f"NADE {nade_nll_nats:.2f} nats vs independent pixels {baseline_nll_nats:.2f} nats"
    assert nade_nll_nats < baseline_nll_nats - 2.0, message
