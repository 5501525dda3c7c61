"""The discretised logistic likelihood: its K bin probabilities sum to one, match the logistic CDF
differences, and stay finite for extreme means and scales."""

import math

import pytest
import torch

from dgm.losses.discretized import DiscretizedLogistic, discretized_logistic_log_prob


def _all_bins(mean: float, log_scale: float, num_levels: int) -> torch.Tensor:
    x = torch.arange(num_levels, dtype=torch.float64) / (num_levels - 1)  # every bin centre
    as_double = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return discretized_logistic_log_prob(x, as_double(mean), as_double(log_scale), num_levels)


@pytest.mark.parametrize("mean, log_scale", [(0.5, -3.0), (0.0, -6.0), (1.0, 0.0), (0.3, -9.0), (4.0, -2.0)])
@pytest.mark.parametrize("num_levels", [2, 16, 256])
def test_the_bin_probabilities_sum_to_one(mean, log_scale, num_levels):
    log_p = _all_bins(mean, log_scale, num_levels)  # (K,)
    assert torch.isfinite(log_p).all()
    assert log_p.exp().sum().item() == pytest.approx(1.0, abs=1e-12)


def test_interior_bins_equal_the_logistic_cdf_differences():
    mean, scale, num_levels = 0.4, 0.05, 256
    log_p = _all_bins(mean, math.log(scale), num_levels)
    centre = torch.arange(num_levels, dtype=torch.float64) / (num_levels - 1)
    half_width = 0.5 / (num_levels - 1)
    cdf = lambda v: torch.sigmoid((v - mean) / scale)  # noqa: E731
    expected = cdf(centre + half_width) - cdf(centre - half_width)
    expected[0], expected[-1] = cdf(centre[0] + half_width), 1 - cdf(centre[-1] - half_width)
    torch.testing.assert_close(log_p.exp(), expected, rtol=1e-10, atol=1e-15)


def test_values_between_levels_score_their_nearest_bin():
    mean, log_scale = torch.tensor(0.5).double(), torch.tensor(-4.0).double()
    on_level = discretized_logistic_log_prob(torch.tensor(100 / 255).double(), mean, log_scale)
    nearby = discretized_logistic_log_prob(torch.tensor(100.4 / 255).double(), mean, log_scale)
    assert on_level.item() == nearby.item()


def test_samples_of_the_distribution_follow_its_bin_probabilities():
    # Pearson's χ² over 8 bins: with 40,000 draws the statistic has 7 degrees of freedom, mean 7, sd 3.7.
    mean, log_scale, num_levels, draws = 0.45, math.log(0.12), 8, 40_000
    distribution = DiscretizedLogistic(
        torch.tensor(mean, dtype=torch.float64), torch.tensor(log_scale, dtype=torch.float64), num_levels
    )
    samples = distribution.sample((draws,), generator=torch.Generator().manual_seed(0))  # (N,)
    levels = torch.round(samples * (num_levels - 1)).long()
    assert torch.allclose(samples, levels.double() / (num_levels - 1)), "samples must sit on the levels"
    observed = torch.bincount(levels, minlength=num_levels).double()
    expected = draws * _all_bins(mean, log_scale, num_levels).exp()
    chi_square = ((observed - expected) ** 2 / expected).sum().item()
    assert 0.5 < chi_square < 24.3, chi_square  # the χ²_7 quantiles 0.0005 (about 0.5) and 0.999 (24.3)
    direct = discretized_logistic_log_prob(samples[:5], distribution.loc, distribution.log_scale, num_levels)
    assert torch.equal(distribution.log_prob(samples[:5]), direct)
