"""Evaluation of implicit models on inputs whose answers are known: mode coverage (PacGAN protocol),
FID/KID/precision-recall (closed forms, brute force), the in-repo feature network and its cache, and
gradient play on the bilinear game."""

import dataclasses
import json
import math
import re

import pytest
import scipy.linalg
import torch
from safetensors.torch import load_file

import dgm as dgm_library
from dgm.core.errors import DataError
from dgm.data import load_dataset
from dgm.eval.coverage import mode_coverage
from dgm.eval.features import (
    FeatureNetConfig,
    cache_folder,
    cache_root,
    data_fingerprint,
    feature_net_for,
    train_feature_net,
)
from dgm.eval.games import (
    alternating_energy,
    alternating_gradient,
    extragradient,
    optimistic_gradient,
    save_bilinear_game_plot,
    simultaneous_gradient,
)
from dgm.eval.quality import (
    frechet_distance,
    frechet_distance_of_gaussians,
    gaussian_statistics,
    implicit_metrics,
    kernel_inception_distance,
    precision_recall,
)
from helpers import dgm

GRID25 = load_dataset("grid25")
DIGITS = load_dataset("digits")
TINY_NET = FeatureNetConfig(num_epochs=1, min_steps=20)  # for cache mechanics, not accuracy


def random_covariance(dim: int, generator: torch.Generator, rank: int | None = None) -> torch.Tensor:
    factor = torch.randn(dim, rank or dim, generator=generator, dtype=torch.float64)
    return factor @ factor.T / dim  # (dim, dim), singular when rank < dim


# Mode coverage on the grid of 25 (means on {−4, −2, 0, 2, 4}², σ = 0.05)


def test_samples_on_all_25_modes_cover_all_with_zero_reverse_kl():
    angles = torch.arange(4) * (math.pi / 2)  # four samples per mode, 2σ away in four directions
    offsets = 2 * GRID25.mode_std * torch.stack([angles.cos(), angles.sin()], dim=1)  # (4, 2)
    samples = (GRID25.modes[:, None, :] + offsets[None]).reshape(-1, 2)  # (100, 2)
    result = mode_coverage(samples, GRID25.modes, GRID25.mode_std)
    assert result["modes_covered"] == 25.0 and result["num_modes"] == 25.0
    assert result["high_quality_fraction"] == 1.0
    assert result["reverse_kl_modes"] == pytest.approx(0.0, abs=1e-12)


def test_samples_all_on_one_mode_cover_one_with_reverse_kl_log_25():
    samples = GRID25.modes[7] + 0.5 * GRID25.mode_std * torch.randn(500, 2)  # (500, 2), all within 3σ w.h.p.
    samples = samples[(samples - GRID25.modes[7]).norm(dim=1) <= 3 * GRID25.mode_std]
    result = mode_coverage(samples, GRID25.modes, GRID25.mode_std)
    assert result["modes_covered"] == 1.0
    assert result["high_quality_fraction"] == 1.0
    assert result["reverse_kl_modes"] == pytest.approx(math.log(25), abs=1e-12)


def test_off_mode_samples_are_never_high_quality():
    # Midpoints between grid modes, and beyond the grid: every one is ≥ 1 = 20σ from its nearest mode.
    midpoints = torch.cartesian_prod(torch.tensor([-5.0, -3.0, -1.0, 1.0, 3.0, 5.0]), torch.tensor([-3.0, 1.0]))
    samples = midpoints.repeat(10, 1) + 0.1 * torch.randn(120, 2)  # (120, 2)
    result = mode_coverage(samples, GRID25.modes, GRID25.mode_std)
    assert result["high_quality_fraction"] == 0.0
    assert result["modes_covered"] == 0.0
    assert result["reverse_kl_modes"] == math.inf
    mixed = torch.cat([samples, GRID25.modes.repeat(4, 1)])  # 120 off-mode + 100 on the modes
    assert mode_coverage(mixed, GRID25.modes, GRID25.mode_std)["high_quality_fraction"] == pytest.approx(100 / 220)


def test_samples_of_the_true_mixture_are_high_quality_with_the_chi_square_probability():
    # For a 2-D Gaussian, P(‖x − μ‖ ≤ 3σ) = P(χ²₂ ≤ 9) = 1 − e^{−4.5} = 0.98889; on 2,500 samples
    # the binomial standard error is 0.0021: the fraction must lie within 4 of them. The reverse KL
    # of a multinomial histogram to its uniform truth is ≈ (M − 1)/(2N) = 0.005.
    samples = GRID25.test[:2500]
    result = mode_coverage(samples, GRID25.modes, GRID25.mode_std)
    expected = 1 - math.exp(-4.5)
    standard_error = math.sqrt(expected * (1 - expected) / 2500)
    assert abs(result["high_quality_fraction"] - expected) <= 4 * standard_error
    assert result["modes_covered"] == 25.0
    assert 0.0 < result["reverse_kl_modes"] < 0.02


def test_mode_coverage_refuses_samples_of_another_dimension():
    with pytest.raises(DataError, match=r"expected samples \(N, d\)"):
        mode_coverage(torch.zeros(10, 3), GRID25.modes, GRID25.mode_std)


# FID


def test_fid_of_a_set_with_itself_is_zero():
    features = torch.randn(500, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-9)


def test_gaussian_statistics_use_the_unbiased_covariance():
    features = torch.randn(50, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    mean, covariance = gaussian_statistics(features)
    assert torch.allclose(mean, features.mean(dim=0), atol=1e-14)
    assert torch.allclose(covariance, torch.cov(features.T, correction=1), atol=1e-12)


@pytest.mark.parametrize("rank", [None, 2])
def test_frechet_distance_of_gaussians_matches_the_symmetric_square_root_formula(rank):
    # d² = ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2 tr (Σ1^½ Σ2 Σ1^½)^½, with symmetric square roots (eigh);
    # rank 2 of 5 is the singular covariance that ReLU features often have: there Σ1 Σ2 has zero
    # eigenvalues, which rounding moves by ~1e-16 and the square root by ~1e-8, hence the tolerance.
    generator = torch.Generator().manual_seed(0)
    covariance_1, covariance_2 = random_covariance(5, generator, rank), random_covariance(5, generator)
    mean_1, mean_2 = torch.randn(5, generator=generator, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)

    def symmetric_sqrt(matrix):
        values, vectors = torch.linalg.eigh(matrix)
        return vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T

    root_1 = symmetric_sqrt(covariance_1)
    cross = symmetric_sqrt(root_1 @ covariance_2 @ root_1).trace()
    expected = (mean_1 - mean_2).square().sum() + covariance_1.trace() + covariance_2.trace() - 2 * cross
    measured = frechet_distance_of_gaussians(mean_1, covariance_1, mean_2, covariance_2)
    assert measured == pytest.approx(float(expected), abs=1e-9 if rank is None else 1e-6)
    if rank is None:  # and SciPy's general matrix square root, as in the original FID code
        product_root = scipy.linalg.sqrtm((covariance_1 @ covariance_2).numpy()).real
        scipy_value = (mean_1 - mean_2).square().sum() + (covariance_1 + covariance_2).trace()
        scipy_value -= 2 * product_root.trace()
        assert measured == pytest.approx(float(scipy_value), abs=1e-9)


def test_fid_of_samples_converges_to_the_closed_form_of_their_gaussians():
    # Two 3-D Gaussians, 200,000 samples each: the plug-in estimate's bias is O(d/N); tolerance 0.02
    # on a value of about 5.
    generator = torch.Generator().manual_seed(1)
    covariance_1, covariance_2 = random_covariance(3, generator), random_covariance(3, generator)
    mean_1 = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64)
    mean_2 = torch.tensor([1.5, 0.0, 0.5], dtype=torch.float64)
    n = 200_000
    noise_1, noise_2 = (torch.randn(n, 3, generator=generator, dtype=torch.float64) for _ in range(2))
    samples_1 = mean_1 + noise_1 @ torch.linalg.cholesky(covariance_1).T  # (n, 3)
    samples_2 = mean_2 + noise_2 @ torch.linalg.cholesky(covariance_2).T  # (n, 3)
    expected = frechet_distance_of_gaussians(mean_1, covariance_1, mean_2, covariance_2)
    assert expected > 4.0
    assert frechet_distance(samples_1, samples_2) == pytest.approx(expected, abs=0.02)


# KID


def test_kid_of_one_subset_is_the_brute_force_unbiased_mmd():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, generator=generator, dtype=torch.float64)
    y = torch.randn(6, 4, generator=generator, dtype=torch.float64) + 0.3

    def kernel(a, b):
        return (float(a @ b) / 4 + 1) ** 3

    m = 6
    within_x = sum(kernel(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    within_y = sum(kernel(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    across = sum(kernel(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
    mean, std = kernel_inception_distance(x, y, num_subsets=1, subset_size=m)
    assert mean == pytest.approx(within_x + within_y - 2 * across, abs=1e-12)
    assert std == 0.0


def test_kid_of_two_1d_gaussians_matches_its_moment_closed_form():
    # In 1-D, k(x, y) = (x y + 1)³ = x³y³ + 3x²y² + 3xy + 1, so MMD² = Σ_j c_j (m_j(P) − m_j(Q))² with
    # c = (3, 3, 1) for the moments j = 1, 2, 3. P = N(0, 1): (0, 1, 0); Q = N(½, 1): (½, 5/4, 13/8).
    # MMD² = 3/4 + 3/16 + 169/64 = 3.578125. The 100 subsets of 1,000 from pools of 100,000 are nearly
    # independent: the mean must lie within 4 standard errors (std/√100) of the closed form.
    generator = torch.Generator().manual_seed(0)
    p = torch.randn(100_000, 1, generator=generator, dtype=torch.float64)
    q = torch.randn(100_000, 1, generator=generator, dtype=torch.float64) + 0.5
    mean, std = kernel_inception_distance(p, q, generator=generator)
    assert mean == pytest.approx(3.578125, abs=4 * std / math.sqrt(100))


def test_kid_is_zero_within_its_spread_for_one_distribution_and_positive_for_two():
    generator = torch.Generator().manual_seed(0)
    x, y = (torch.randn(4000, 16, generator=generator, dtype=torch.float64) for _ in range(2))
    subsets = {"num_subsets": 50, "subset_size": 500, "generator": generator}
    same_mean, same_std = kernel_inception_distance(x, y, **subsets)
    assert abs(same_mean) <= same_std
    shifted_mean, shifted_std = kernel_inception_distance(x, y + 0.3, **subsets)
    assert shifted_mean > 10 * shifted_std > 0


def test_kid_refuses_subsets_larger_than_the_samples():
    with pytest.raises(DataError, match="subset_size"):
        kernel_inception_distance(torch.randn(100, 4), torch.randn(100, 4))  # subset_size 1000


# Precision and recall


def test_precision_recall_of_identical_sets_is_one_one():
    features = torch.randn(400, 8, generator=torch.Generator().manual_seed(0))
    assert precision_recall(features, features.clone()) == (1.0, 1.0)


def test_precision_recall_of_far_apart_sets_is_zero_zero():
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(300, 8, generator=generator)
    fake = torch.randn(300, 8, generator=generator) + 100.0
    assert precision_recall(real, fake) == (0.0, 0.0)


def test_precision_counts_fakes_in_the_real_manifold_and_recall_reals_in_the_fake_one():
    # fake = the real set plus as many far-away points: half the fakes are real (precision ½) and
    # every real point is a fake (recall 1); swapping the roles swaps the two numbers.
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(200, 4, generator=generator)
    fake = torch.cat([real, torch.randn(200, 4, generator=generator) + 50.0])
    assert precision_recall(real, fake) == (0.5, 1.0)
    assert precision_recall(fake, real) == (1.0, 0.5)


def test_precision_uses_the_radius_to_the_kth_nearest_other_real_point():
    # Real points 0, 1, 3, 7 on a line: with k = 1 their radii are 1, 1, 2, 4. Fakes at 5.5 (1.5 from 7)
    # and 10 (3 from 7) are inside; −1.5 (1.5 from 0, 2.5 from 1) and 11.5 (4.5 from 7) are not.
    real = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    fake = torch.tensor([[5.5], [10.0], [-1.5], [11.5]])
    precision, _ = precision_recall(real, fake, k=1)
    assert precision == 0.5


# The feature network and its cache


@pytest.fixture(scope="module")
def digits_net(tmp_path_factory):
    """The default feature network of digits, trained once into a temporary cache folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DGM_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield feature_net_for(DIGITS)


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DGM_CACHE", str(tmp_path))
    return tmp_path


def test_digits_feature_net_classifies_the_test_split(digits_net):
    # Baseline: multinomial logistic regression on the same pixels reaches about 0.96 on this split.
    assert digits_net.test_accuracy >= 0.95
    assert digits_net.test_accuracy == digits_net.accuracy(DIGITS.test, DIGITS.test_labels)
    assert digits_net.features(DIGITS.test).shape == (300, FeatureNetConfig().feature_dim)


def test_features_refuse_images_of_another_shape(digits_net):
    with pytest.raises(DataError, match=r"expected images of shape \(N, 1, 8, 8\)"):
        digits_net.features(torch.rand(5, 1, 28, 28))


def test_feature_net_needs_labelled_images():
    with pytest.raises(DataError, match="image data set with class labels"):
        feature_net_for(GRID25)


def test_cache_folder_follows_dgm_cache_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DGM_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_root() == tmp_path / "home" / ".cache" / "dgm"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "dgm"
    monkeypatch.setenv("DGM_CACHE", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"


def test_second_call_loads_the_cached_network_as_safetensors_and_json(tmp_cache):
    first = feature_net_for(DIGITS, TINY_NET)
    assert not first.loaded_from_cache
    folder = cache_folder("digits", TINY_NET)
    assert folder.parent == tmp_cache / "feature-nets" and folder.name.startswith("digits-")
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "model.safetensors"]
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["fingerprint"] == data_fingerprint(DIGITS, TINY_NET) == first.fingerprint
    assert meta["test_accuracy"] == first.test_accuracy
    stored = load_file(folder / "model.safetensors")
    second = feature_net_for(DIGITS, TINY_NET)
    assert second.loaded_from_cache
    assert second.test_accuracy == first.test_accuracy
    for name, value in second.state_dict().items():
        assert torch.equal(value, stored[name]) and torch.equal(value, first.state_dict()[name])


def test_changed_data_changes_the_fingerprint_and_rebuilds(tmp_cache):
    feature_net_for(DIGITS, TINY_NET)
    train = DIGITS.train.clone()
    train[0, 0, 3, 3] = 1.0 - train[0, 0, 3, 3]  # one pixel of one image
    changed = dataclasses.replace(DIGITS, train=train)
    assert data_fingerprint(changed, TINY_NET) != data_fingerprint(DIGITS, TINY_NET)
    assert data_fingerprint(DIGITS, FeatureNetConfig()) != data_fingerprint(DIGITS, TINY_NET)
    rebuilt = feature_net_for(changed, TINY_NET)
    assert not rebuilt.loaded_from_cache
    meta = json.loads((cache_folder("digits", TINY_NET) / "meta.json").read_text())
    assert meta["fingerprint"] == data_fingerprint(changed, TINY_NET)


def test_a_corrupt_cache_is_rebuilt(tmp_cache):
    feature_net_for(DIGITS, TINY_NET)
    (cache_folder("digits", TINY_NET) / "model.safetensors").write_bytes(b"not a safetensors file")
    rebuilt = feature_net_for(DIGITS, TINY_NET)
    assert not rebuilt.loaded_from_cache
    assert feature_net_for(DIGITS, TINY_NET).loaded_from_cache


def test_two_configs_are_cached_side_by_side_and_the_default_in_the_data_sets_folder(tmp_cache):
    other = dataclasses.replace(TINY_NET, seed=1)
    assert cache_folder("digits") == tmp_cache / "feature-nets" / "digits"
    assert re.fullmatch(r"digits-[0-9a-f]{8}", cache_folder("digits", TINY_NET).name)
    for field in dataclasses.fields(FeatureNetConfig):  # every setting has its own folder
        changed = dataclasses.replace(TINY_NET, **{field.name: getattr(TINY_NET, field.name) + 1})
        assert cache_folder("digits", changed) not in (cache_folder("digits", TINY_NET), cache_folder("digits"))
    first = feature_net_for(DIGITS, TINY_NET)
    assert not feature_net_for(DIGITS, other).loaded_from_cache
    again = feature_net_for(DIGITS, TINY_NET)  # not evicted by the other config's network
    assert again.loaded_from_cache and torch.equal(again.classifier.weight, first.classifier.weight)
    assert feature_net_for(DIGITS, other).loaded_from_cache


def test_training_is_deterministic_from_the_seed_and_leaves_the_global_generator_alone(tmp_cache):
    state = torch.get_rng_state()
    first, second = train_feature_net(DIGITS, TINY_NET), train_feature_net(DIGITS, TINY_NET)
    feature_net_for(DIGITS, TINY_NET)
    assert torch.equal(torch.get_rng_state(), state)
    for name, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[name]), name
    other_seed = train_feature_net(DIGITS, dataclasses.replace(TINY_NET, seed=1))
    assert not torch.equal(other_seed.classifier.weight, first.classifier.weight)


def test_dgm_eval_scores_an_image_gan_in_the_cached_feature_network(tmp_path, monkeypatch):
    monkeypatch.setenv("DGM_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "gan"
    train = ["--steps", "5", "--set", "generator_average=0.9", "--out", run, "--quiet"]
    assert dgm("train", "gan", "--data", "digits", *train).returncode == 0
    result = dgm("eval", run, "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["feature_net_test_accuracy"] >= 0.95  # the digits network, trained into the cache on first use
    assert (tmp_path / "cache" / "feature-nets" / "digits" / "meta.json").is_file()
    # the same figures from the library: the last test images against the averaged generator's eval-mode samples
    model, net = dgm_library.load(run), feature_net_for(DIGITS)
    torch.manual_seed(0)  # dgm eval's default seed
    with torch.no_grad():
        samples = model.sample(len(DIGITS.test))  # (300, 1, 8, 8): as many as there are test images
    expected = implicit_metrics(DIGITS.test[-len(samples) :], samples, net)
    assert {key: metrics[key] for key in expected} == pytest.approx(expected, rel=1e-6)
    assert expected["fid"] > 0


# Metrics on the digits feature network


def test_implicit_metrics_of_a_set_with_itself_and_of_two_splits_of_one_distribution(digits_net):
    itself = implicit_metrics(DIGITS.test, DIGITS.test, digits_net)
    assert set(itself) == {"fid", "kid_mean", "kid_std", "precision", "recall"}
    assert itself["fid"] == pytest.approx(0.0, abs=1e-6)
    assert (itself["precision"], itself["recall"]) == (1.0, 1.0)
    splits = implicit_metrics(DIGITS.train, DIGITS.test, digits_net)
    assert abs(splits["kid_mean"]) <= 2 * splits["kid_std"]
    assert splits["precision"] > 0.9 and splits["recall"] > 0.8


def test_fid_and_kid_grow_with_added_noise(digits_net):
    # The test images against themselves with ever more Gaussian pixel noise: FID from 0 upwards.
    # (Against the training split the 300 test images alone already give FID ≈ 8, which hides small noise.)
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(DIGITS.test.shape, generator=generator)  # (300, 1, 8, 8)
    real = digits_net.features(DIGITS.test)  # (300, F)
    fids, kids = [], []
    for level in (0.0, 0.05, 0.1, 0.2, 0.4):
        fake = digits_net.features((DIGITS.test + level * noise).clamp(0, 1))  # (300, F)
        fids.append(frechet_distance(real, fake))
        kids.append(kernel_inception_distance(real, fake, num_subsets=10, subset_size=300, generator=generator)[0])
    assert fids[0] == pytest.approx(0.0, abs=1e-6)
    assert all(a < b for a, b in zip(fids, fids[1:], strict=False)), fids
    assert all(a < b for a, b in zip(kids, kids[1:], strict=False)), kids


# The bilinear game min_x max_y x·y


@pytest.mark.parametrize("step_size", [0.05, 0.2, 0.5])
def test_simultaneous_steps_grow_the_distance_by_exactly_sqrt_one_plus_step_squared(step_size):
    norms = simultaneous_gradient((1.0, 0.5), step_size, 200).norm(dim=1)  # (201,)
    ratios = norms[1:] / norms[:-1]
    assert torch.allclose(ratios, torch.full_like(ratios, math.sqrt(1 + step_size**2)), rtol=1e-12, atol=0)


@pytest.mark.parametrize("step_size", [0.05, 0.2, 0.5])
def test_alternating_steps_keep_their_energy_and_cycle_without_converging(step_size):
    # Q = x² + y² − η x y = zᵀ A z, A = [[1, −η/2], [−η/2, 1]] with eigenvalues 1 ± η/2: the orbit stays
    # in the annulus Q/(1 + η/2) ≤ ‖z‖² ≤ Q/(1 − η/2), so it neither converges nor diverges.
    trajectory = alternating_gradient((1.0, 0.5), step_size, 2000)  # (2001, 2)
    energy = alternating_energy(trajectory, step_size)  # (2001,)
    assert torch.allclose(energy, energy[0].expand_as(energy), rtol=1e-10, atol=0)
    squared_norms = trajectory.square().sum(dim=1)
    assert squared_norms.max() <= energy[0] / (1 - step_size / 2) * (1 + 1e-10)
    assert squared_norms.min() >= energy[0] / (1 + step_size / 2) * (1 - 1e-10)
    simultaneous_energy = alternating_energy(simultaneous_gradient((1.0, 0.5), step_size, 10), step_size)
    assert not torch.allclose(simultaneous_energy, simultaneous_energy[0].expand_as(simultaneous_energy), rtol=1e-3)


@pytest.mark.parametrize("step_size", [0.05, 0.2, 0.5])
def test_extragradient_contracts_by_exactly_sqrt_one_minus_step_squared_plus_step_fourth(step_size):
    trajectory = extragradient((1.0, 0.5), step_size, 200)  # (201, 2)
    norms = trajectory.norm(dim=1)
    ratios = norms[1:] / norms[:-1]
    expected = math.sqrt(1 - step_size**2 + step_size**4)
    assert expected < 1
    assert torch.allclose(ratios, torch.full_like(ratios, expected), rtol=1e-12, atol=0)


def test_optimistic_gradient_converges_to_the_nash_equilibrium():
    trajectory = optimistic_gradient((1.0, 0.5), 0.1, 3000)  # (3001, 2)
    assert trajectory[-1].norm() < 1e-4 * trajectory[0].norm()
    assert trajectory[1000:].norm(dim=1).max() < trajectory[:1000].norm(dim=1).max()


def test_every_method_stays_at_the_equilibrium_and_the_plot_is_written(tmp_path):
    for play in (simultaneous_gradient, alternating_gradient, extragradient, optimistic_gradient):
        assert torch.equal(play((0.0, 0.0), 0.3, 20), torch.zeros(21, 2, dtype=torch.float64))
    trajectories = save_bilinear_game_plot(tmp_path / "game.png", step_size=0.2, num_steps=50)
    assert (tmp_path / "game.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert torch.equal(trajectories["extragradient"], extragradient((1.0, 1.0), 0.2, 50))
    assert trajectories["simultaneous"][-1].norm() > trajectories["simultaneous"][0].norm()
