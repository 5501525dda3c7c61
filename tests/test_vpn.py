"""Video Pixel Network: a normalised distribution over clips whose later frames depend on earlier
ones, causal in time and in raster order within a frame, a sampler that draws from that
distribution, and better likelihoods on moving digits than independent pixels or the same decoder
without temporal context."""

import itertools

import pytest
import torch

from dgm.core.errors import ConfigError, DataError
from dgm.data import BatchStream, binarize_static, load_dataset
from dgm.eval.likelihood import mean_log_prob
from dgm.models import build_model
from helpers import independent_pixel_nll_nats

TINY = {"channels": 8, "num_encoder_blocks": 1, "num_decoder_layers": 2, "first_kernel_size": 3}


def perturbed_vpn(overrides: dict, data_shape: tuple[int, ...], weight_std: float = 0.5):
    """A float64 VPN whose weights are redrawn large enough that its conditionals are far from uniform."""
    model = build_model("vpn", overrides, data_shape).double()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(weight_std * torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
    return model


def all_binary_clips(data_shape: tuple[int, ...]) -> torch.Tensor:
    size = torch.Size(data_shape).numel()
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=size)), dtype=torch.float64).view(-1, *data_shape)


def test_binary_vpn_sums_to_one_over_all_two_frame_2x2_clips():
    model = perturbed_vpn(TINY, (2, 1, 2, 2))
    clips = all_binary_clips((2, 1, 2, 2))  # (256, 2, 1, 2, 2), first frame in the high bits
    with torch.no_grad():
        probs = model.log_prob(clips).exp()  # (256,)
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert probs.max() > 20 * probs.min(), "the test needs a distribution far from uniform to have teeth"
    # p(frame 1 | frame 0) must depend on frame 0, or this would only show that a product of frames normalises.
    joint = probs.view(16, 16)
    conditional = joint / joint.sum(dim=1, keepdim=True)  # (16, 16) p(x_1 | x_0)
    assert (conditional[0] - conditional[15]).abs().sum() > 0.01  # exactly 0 without temporal context


def test_binary_vpn_sums_to_one_over_three_frame_clips_and_remembers_the_first_frame():
    model = perturbed_vpn(TINY, (3, 1, 1, 2))
    with torch.no_grad():
        probs = model.log_prob(all_binary_clips((3, 1, 1, 2))).exp()  # (64,)
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-6)
    joint = probs.view(4, 4, 4)  # p(x_0, x_1, x_2)
    conditional = joint / joint.sum(dim=2, keepdim=True)  # p(x_2 | x_0, x_1)
    # With x_1 fixed, x_2 still depends on x_0: the ConvLSTM carries frames beyond the previous one.
    assert (conditional[0, 1] - conditional[3, 1]).abs().sum() > 0.01


def test_256_level_vpn_sums_to_one_over_all_two_frame_one_pixel_clips():
    model = perturbed_vpn({**TINY, "num_levels": 256}, (2, 1, 1, 1))
    levels = torch.cartesian_prod(torch.arange(256), torch.arange(256)).double()  # (65536, 2)
    with torch.no_grad():
        log_probs = model.log_prob((levels / 255).view(-1, 2, 1, 1, 1))  # (65536,)
    assert torch.logsumexp(log_probs, dim=0).exp().item() == pytest.approx(1.0, abs=1e-6)
    joint = log_probs.exp().view(256, 256)
    conditional = joint / joint.sum(dim=1, keepdim=True)  # p(x_1 | x_0)
    assert (conditional[0] - conditional[255]).abs().sum() > 0.01


@pytest.mark.parametrize("num_levels", [2, 256])
def test_logits_depend_only_on_earlier_pixels_of_the_frame_and_on_earlier_frames(num_levels):
    # As for PixelCNN, the Jacobian is taken through model.network at a continuous input, with the
    # logits of each pixel projected on a random direction. Pixels are numbered frame by frame, in
    # raster order inside a frame, so "pixel j may influence pixel i" is exactly j < i.
    frames, size = 3, 4
    model = perturbed_vpn({**TINY, "num_levels": num_levels}, (frames, 1, size, size), 0.3)
    generator = torch.Generator().manual_seed(1)
    direction = torch.randn(1, 1, model.head[-1].out_channels, 1, 1, generator=generator, dtype=torch.float64)
    x = torch.randn(1, frames, 1, size, size, generator=generator, dtype=torch.float64)

    def projected_logits(inputs: torch.Tensor) -> torch.Tensor:
        return (model.network(inputs) * direction).sum(dim=2).flatten()  # (T·H·W,)

    count = frames * size * size
    jacobian = torch.autograd.functional.jacobian(projected_logits, x).reshape(count, count)  # [i, j] = ∂out_i/∂x_j
    later_or_same = torch.ones(count, count, dtype=torch.bool).triu()  # j >= i: later pixels and later frames
    assert jacobian[later_or_same].abs().max().item() == 0.0
    # ... and the check can see dependence: on earlier pixels of the frame, on the previous frame, and
    # (through the ConvLSTM's memory) on the frame before that.
    blocks = jacobian.abs().view(frames, size * size, frames, size * size)  # [t, i, t', j]
    for t in range(frames):
        within = blocks[t, :, t].tril(diagonal=-1)  # (HW, HW), j < i
        assert (within[1:].amax(dim=1) > 0).all(), f"frame {t}: a pixel ignores the earlier pixels of its frame"
        for earlier in range(t):
            assert (blocks[t, :, earlier].amax(dim=1) > 0).all(), f"frame {t} ignores frame {earlier}"


def test_samples_follow_the_model_distribution():
    model = perturbed_vpn(TINY, (2, 1, 1, 2))
    with torch.no_grad():
        probs = model.log_prob(all_binary_clips((2, 1, 1, 2))).exp()  # (16,)
    num_samples = 40_000
    samples = model.sample(num_samples, generator=torch.Generator().manual_seed(0))  # (N, 2, 1, 1, 2)
    codes = (samples.flatten(1) * torch.tensor([8.0, 4.0, 2.0, 1.0], dtype=torch.float64)).sum(dim=1).long()
    counts = torch.bincount(codes, minlength=16).double()
    expected = num_samples * probs
    chi_square = ((counts - expected) ** 2 / expected).sum().item()
    assert chi_square < 44.3, f"χ² = {chi_square:.1f} with 15 degrees of freedom (0.9999 quantile 44.3)"


@pytest.mark.parametrize("num_levels", [2, 256])
def test_sample_draws_any_number_of_frames_on_the_pixel_levels(num_levels):
    model = build_model("vpn", {**TINY, "num_levels": num_levels}, (3, 1, 4, 4))
    clips = model.sample(2, generator=torch.Generator().manual_seed(0), length=5)
    assert clips.shape == (2, 5, 1, 4, 4) and clips.dtype == torch.float32
    assert torch.equal(clips * (num_levels - 1), (clips * (num_levels - 1)).round())
    assert clips.min() >= 0 and clips.max() <= 1
    assert model.sample(2).shape == (2, 3, 1, 4, 4)
    with pytest.raises(ConfigError, match="length"):
        model.sample(2, length=0)


def test_vpn_rejects_data_that_are_not_single_channel_clips():
    with pytest.raises(DataError, match=r"\(T, 1, H, W\)"):
        build_model("vpn", TINY, (1, 8, 8))


@pytest.mark.slow
def test_vpn_beats_independent_pixels_and_the_same_decoder_without_context_on_moving_digits():
    # The first 3 frames of the small set; both models take 120 Adam steps (same rate) on 24 frames per step.
    frames, steps, learning_rate = 3, 120, 3e-3
    overrides = {"channels": 16, "num_encoder_blocks": 1, "num_decoder_layers": 2, "learning_rate": learning_rate}
    clips = load_dataset("moving-digits-small")
    train, test = clips.train[:, :frames], binarize_static(clips.test[:, :frames])
    baseline_nll_nats = independent_pixel_nll_nats(binarize_static(train), test)

    torch.manual_seed(0)
    vpn = build_model("vpn", {**overrides, "batch_size": 8}, train.shape[1:])
    optimizers, stream = vpn.optimizers(), BatchStream(train, 8, seed=0, binarize=True)
    for _ in range(steps):
        vpn.train_step(next(stream), optimizers, lambda loss: loss.backward())
    vpn_nll_nats = -mean_log_prob(vpn, test)
    per_frame = vpn.extra_metrics(test)

    # The same decoder without context: a Gated PixelCNN of the same width and depth on single frames.
    torch.manual_seed(0)
    decoder_overrides = {"channels": 16, "num_layers": 2, "first_kernel_size": 5, "learning_rate": learning_rate}
    decoder = build_model("gated-pixelcnn", {**decoder_overrides, "batch_size": 8 * frames}, train.shape[2:])
    optimizers, stream = decoder.optimizers(), BatchStream(train.flatten(0, 1), 8 * frames, seed=0, binarize=True)
    for _ in range(steps):
        decoder.train_step(next(stream), optimizers, lambda loss: loss.backward())
    decoder_nll_nats = -mean_log_prob(decoder, test.flatten(0, 1)) * frames  # per clip

    message = (
        f"VPN {vpn_nll_nats:.1f} nats/clip vs decoder without context {decoder_nll_nats:.1f}"
        f" vs independent pixels {baseline_nll_nats:.1f}; per frame {per_frame}"
    )
    assert vpn_nll_nats < decoder_nll_nats - 10.0, message
    assert vpn_nll_nats < baseline_nll_nats - 30.0, message
    assert per_frame["later_frame_nll_nats"] < per_frame["first_frame_nll_nats"] - 5.0, message
