"""Evaluation metrics on inputs whose answer is known: mode coverage, MMD, IWAE bound, bits/dim."""

import math

import pytest
import torch

from dgm.data import load_dataset
from dgm.eval.coverage import mode_coverage
from dgm.eval.likelihood import bits_per_dim
from dgm.eval.sample_stats import mmd_rbf
from dgm.losses.elbo import iwae_bound

RING8 = load_dataset("ring8")


def test_samples_exactly_at_every_mode_cover_all_with_zero_reverse_kl():
    samples = RING8.modes.repeat(50, 1)  # (400, 2), 50 per mode
    result = mode_coverage(samples, RING8.modes, RING8.mode_std)
    assert result["modes_covered"] == 8.0 and result["num_modes"] == 8.0
    assert result["high_quality_fraction"] == 1.0
    assert result["reverse_kl_modes"] == pytest.approx(0.0, abs=1e-12)


def test_samples_spread_evenly_over_half_the_modes_have_reverse_kl_log_two():
    # hist = 1/4 on 4 modes: KL(hist ‖ uniform over 8) = Σ 1/4 · log(8/4) = log 2.
    samples = RING8.modes[::2].repeat(25, 1)  # (100, 2) at modes 0, 2, 4, 6
    result = mode_coverage(samples, RING8.modes, RING8.mode_std)
    assert result["modes_covered"] == 4.0
    assert result["high_quality_fraction"] == 1.0
    assert result["reverse_kl_modes"] == pytest.approx(math.log(2), abs=1e-12)


def test_uneven_histogram_has_its_closed_form_reverse_kl():
    counts = torch.tensor([30, 10, 0, 0, 0, 0, 0, 0])
    samples = RING8.modes.repeat_interleave(counts, dim=0)  # (40, 2)
    result = mode_coverage(samples, RING8.modes, RING8.mode_std)
    expected = 0.75 * math.log(0.75 * 8) + 0.25 * math.log(0.25 * 8)
    assert result["modes_covered"] == 2.0
    assert result["reverse_kl_modes"] == pytest.approx(expected, abs=1e-12)


def test_samples_far_from_every_mode_are_not_high_quality():
    samples = torch.randn(500, 2, dtype=torch.float64) * 0.1 + 10.0  # all near (10, 10)
    result = mode_coverage(samples, RING8.modes, RING8.mode_std)
    assert result["high_quality_fraction"] == 0.0
    assert result["modes_covered"] == 0.0
    assert result["reverse_kl_modes"] == math.inf


def test_high_quality_threshold_is_three_standard_deviations():
    std = RING8.mode_std
    direction = RING8.modes[0] / RING8.modes[0].norm()  # radial unit vector, away from the other modes
    inside = RING8.modes[0] + 2.9 * std * direction
    outside = RING8.modes[0] + 3.1 * std * direction
    result = mode_coverage(torch.stack([inside, outside]), RING8.modes, std)
    assert result["high_quality_fraction"] == 0.5
    assert result["modes_covered"] == 1.0


def test_mmd_is_zero_in_expectation_for_one_distribution():
    # The estimator is unbiased (Gretton et al. 2012, eq. 3): over many independent pairs of samples
    # from N(0, I) its mean is 0 within 4 standard errors, and single estimates go negative.
    generator = torch.Generator().manual_seed(0)
    estimates = torch.tensor(
        [mmd_rbf(torch.randn(100, 2, generator=generator), torch.randn(100, 2, generator=generator)) for _ in range(60)]
    )
    standard_error = estimates.std() / math.sqrt(len(estimates))
    assert abs(estimates.mean()) < 4 * standard_error, f"mean {estimates.mean():.5f}, s.e. {standard_error:.5f}"
    assert (estimates < 0).any()


def test_mmd_of_shifted_gaussians_matches_closed_form():
    # For x ~ N(0, 1), y ~ N(μ, 1) and k(a, b) = exp(−(a − b)² / 2h²):
    # E k(x, x') = h / √(h² + 2), E k(x, y) = h / √(h² + 2) · exp(−μ² / 2(h² + 2)), so
    # MMD² = 2 h / √(h² + 2) · (1 − exp(−μ² / 2(h² + 2))), with h the pooled median distance.
    generator = torch.Generator().manual_seed(0)
    shift = 1.0
    x = torch.randn(2000, 1, generator=generator, dtype=torch.float64)
    y = torch.randn(2000, 1, generator=generator, dtype=torch.float64) + shift
    pooled = torch.cat([x, y])
    h = torch.cdist(pooled, pooled).median().item()
    expected = 2 * h / math.sqrt(h**2 + 2) * (1 - math.exp(-(shift**2) / (2 * (h**2 + 2))))
    measured = mmd_rbf(x, y)
    assert measured == pytest.approx(expected, abs=0.02), f"MMD² {measured:.4f}, closed form {expected:.4f}"
    assert measured > 0.1


def test_iwae_bound_is_the_log_mean_of_the_importance_weights():
    generator = torch.Generator().manual_seed(0)
    log_weights = torch.randn(7, 3, generator=generator, dtype=torch.float64)  # (k, B)
    expected = log_weights.exp().mean(dim=0).log()  # (B,)
    assert torch.allclose(iwae_bound(log_weights), expected, rtol=0, atol=1e-12)
    assert torch.equal(iwae_bound(log_weights[:1]), log_weights[0])  # k = 1: the ELBO's sample


def test_iwae_bound_is_stable_for_log_weights_far_below_zero():
    # Log-likelihoods of images are hundreds of nats below zero; exp() underflows there.
    offsets = torch.tensor([[0.0], [math.log(3.0)]], dtype=torch.float64)  # (2, 1)
    bound = iwae_bound(offsets - 2000.0)
    assert bound.item() == pytest.approx(-2000.0 + math.log(2.0), abs=1e-9)  # log((1 + 3) / 2)


def test_bits_per_dim_converts_nats_per_example():
    assert bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0, abs=1e-12)
    # A uniform model of 8-bit pixels spends log 256 nats = 8 bits on every dimension.
    assert bits_per_dim(64 * math.log(256), 64) == pytest.approx(8.0, abs=1e-12)
