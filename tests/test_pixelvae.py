"""PixelVAE: a causal decoder whose exact p(x|z) sums to one and samples correctly, the bounds
ELBO ≤ IWAE-k, and a better likelihood than the plain VAE's on digits."""

import copy
import math

import pytest
import torch

from dgm.data import binarize_static, load_dataset
from dgm.eval.likelihood import iwae_log_likelihood, mean_iwae_log_likelihood
from dgm.models import build_model
from helpers import all_binary_images, fit, mean_and_standard_error, redraw_weights

TINY = {"latent_dim": 3, "hidden_dim": 16, "conditioning_channels": 2, "pixel_channels": 8, "first_kernel_size": 3}


def perturbed_pixelvae(data_shape: tuple[int, ...], weight_std: float = 0.5):
    """A float64 PixelVAE whose weights are redrawn large enough that p(x|z) is far from uniform."""
    model = build_model("pixelvae", TINY, data_shape).double()
    return redraw_weights(model, weight_std)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained(digits):
    """A VAE and a PixelVAE with the same 2-dimensional latent, trained for the same steps from the same seed."""
    models = {}
    for name in ("vae", "pixelvae"):
        torch.manual_seed(0)
        models[name] = fit(build_model(name, {"latent_dim": 2}, digits.shape), digits.train, steps=600)
    return models


def test_each_conditional_depends_on_earlier_pixels_only_and_on_z():
    # The Jacobian of the logit of pixel i with respect to pixel j of x, through the teacher-forced
    # pass that log p(x|z) uses, at a continuous x so that no gradient is lost to rounding.
    model = perturbed_pixelvae((1, 4, 4), weight_std=0.3)
    generator = torch.Generator().manual_seed(1)
    z = torch.randn(1, TINY["latent_dim"], generator=generator, dtype=torch.float64)  # (1, Z)
    x = torch.rand(1, 1, 4, 4, generator=generator, dtype=torch.float64)
    likelihood = model.decode(z)

    jacobian = torch.autograd.functional.jacobian(lambda x: likelihood.logits(x).flatten(), x).reshape(16, 16)
    assert torch.equal(jacobian.triu(), torch.zeros(16, 16)), f"∂ logit_i / ∂ x_j ≠ 0 for some j ≥ i:\n{jacobian}"
    # ... and the mask is not simply closed: each pixel sees its left neighbour and the pixel above.
    for i in range(16):
        row, col = divmod(i, 4)
        if col > 0:
            assert jacobian[i, i - 1] != 0, f"pixel {i} ignores its left neighbour"
        if row > 0:
            assert jacobian[i, i - 4] != 0, f"pixel {i} ignores the pixel above"

    # Every conditional, the first pixel's included, depends on z.
    z_jacobian = torch.autograd.functional.jacobian(lambda z: model.decode(z).logits(x).flatten(), z)  # (16, 1, Z)
    assert (z_jacobian.flatten(1).abs().sum(dim=1) > 0).all()


def test_likelihood_sums_to_one_over_all_4x4_binary_images_for_each_z():
    model = perturbed_pixelvae((1, 4, 4), weight_std=0.3)
    z = torch.randn(2, TINY["latent_dim"], generator=torch.Generator().manual_seed(2), dtype=torch.float64)  # (2, Z)
    images = all_binary_images((1, 4, 4))  # (65536, 1, 4, 4)
    with torch.no_grad():
        log_probs = model.decode(z).log_prob(images.unsqueeze(1))  # (65536, 2): every image against both z
    total = torch.logsumexp(log_probs, dim=0).exp()  # (2,)
    assert torch.allclose(total, torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-9), total
    # Teeth: far from uniform, different for the two z, and not a product of per-pixel marginals
    # (which would normalise too): p(x_2 | x_1) must depend on x_1.
    probs = log_probs.exp()
    assert (probs.max(dim=0).values > 100 * probs.min(dim=0).values).all()
    assert (probs[:, 0] - probs[:, 1]).abs().sum() > 0.1
    first_two = probs[:, 0].view(2, 2, -1).sum(dim=2)  # (2, 2) p(x_1, x_2), pixels 1 and 2 in raster order
    conditional = first_two / first_two.sum(dim=1, keepdim=True)  # p(x_2 | x_1)
    assert (conditional[0] - conditional[1]).abs().max() > 0.005  # 0 up to rounding for independent pixels


def test_log_prob_of_k_samples_of_z_matches_one_z_at_a_time():
    # IWAE decodes z of shape (k, B, Z) against x of shape (B, *D): x must be repeated along k, not mixed up.
    model = perturbed_pixelvae((1, 4, 4))
    generator = torch.Generator().manual_seed(3)
    z = torch.randn(3, 5, TINY["latent_dim"], generator=generator, dtype=torch.float64)  # (k, B, Z)
    x = (torch.rand(5, 1, 4, 4, generator=generator, dtype=torch.float64) < 0.5).double()  # (B, 1, 4, 4)
    with torch.no_grad():
        together = model.decode(z).log_prob(x)  # (3, 5)
        alone = torch.tensor(
            [[model.decode(z[i, b]).log_prob(x[b]).item() for b in range(5)] for i in range(3)], dtype=torch.float64
        )
    assert together.shape == (3, 5)
    assert torch.allclose(together, alone, rtol=0, atol=1e-10)


def test_row_by_row_sampling_follows_the_teacher_forced_conditionals():
    model = perturbed_pixelvae((1, 2, 2))
    z = torch.randn(1, TINY["latent_dim"], generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    likelihood = model.decode(z)  # batch (1,)

    # 1. The greedy path's probabilities (``mean``), computed with the row cache, equal the
    #    conditionals of one full pass on the greedy image, which sets each pixel to p > 0.5.
    greedy_probs = likelihood.mean  # (1, 1, 2, 2)
    greedy_image = (greedy_probs > 0.5).double()
    with torch.no_grad():
        assert torch.allclose(likelihood.logits(greedy_image).sigmoid(), greedy_probs, rtol=0, atol=1e-12)

    # 2. Samples fall on the 16 images with the exact probabilities (two-sided, 4.5 standard errors).
    num_samples = 40_000
    samples = likelihood.sample((num_samples,), generator=torch.Generator().manual_seed(5))  # (N, 1, 1, 2, 2)
    codes = (samples.flatten(1) * torch.tensor([8.0, 4.0, 2.0, 1.0], dtype=torch.float64)).sum(dim=1).long()
    frequencies = torch.bincount(codes, minlength=16).double() / num_samples  # (16,)
    with torch.no_grad():
        exact = likelihood.log_prob(all_binary_images((1, 2, 2)).unsqueeze(1)).exp()[:, 0]  # (16,) in the same order
    standard_error = (exact * (1 - exact) / num_samples).sqrt()
    assert ((frequencies - exact).abs() < 4.5 * standard_error + 1e-4).all(), f"{frequencies}\nvs\n{exact}"


@pytest.mark.slow
def test_elbo_lies_below_the_iwae_bounds_which_rise_with_k(trained, digits):
    model = copy.deepcopy(trained["pixelvae"]).double()
    x = binarize_static(digits.test[:32]).double()  # (32, 1, 8, 8)
    with torch.no_grad():
        elbo_draws = torch.stack([model.elbo(x) for _ in range(400)])  # (400, 32)
    iwae_draws = {
        k: torch.stack([iwae_log_likelihood(model, x, k) for _ in range(repeats)])  # (repeats, 32)
        for k, repeats in ((1, 400), (5, 40), (50, 10))
    }
    elbo_mean, elbo_se = mean_and_standard_error(elbo_draws)
    iwae = {k: mean_and_standard_error(draws) for k, draws in iwae_draws.items()}
    summary = f"ELBO {elbo_mean:.3f} ± {elbo_se:.3f}; " + ", ".join(
        f"IWAE-{k} {mean:.3f} ± {se:.3f}" for k, (mean, se) in iwae.items()
    )

    # IWAE-1 and the ELBO (analytic KL) estimate the same expectation.
    assert abs(iwae[1][0] - elbo_mean) < 4 * math.hypot(iwae[1][1], elbo_se), summary
    # Burda et al. 2016, Theorem 1: ELBO = L_1 ≤ L_5 ≤ L_50 in expectation (up to 4 standard errors) ...
    for small, large in ((1, 5), (5, 50)):
        assert iwae[small][0] <= iwae[large][0] + 4 * math.hypot(iwae[small][1], iwae[large][1]), summary
    # ... and rising significantly (a 2-d posterior is nearly Gaussian here, so the gap is small).
    assert iwae[50][0] - elbo_mean > max(0.03, 4 * math.hypot(iwae[50][1], elbo_se)), summary


@pytest.mark.slow
def test_pixelvae_beats_the_vae_at_the_same_latent_size_and_steps(trained, digits):
    # With a 2-dimensional z, the VAE's factorised p(x|z) must treat what z leaves out as independent
    # pixels; PixelVAE's decoder models the dependence between neighbouring pixels.
    test_images = binarize_static(digits.test)
    nll_nats = {}
    for name, model in trained.items():
        torch.manual_seed(0)
        nll_nats[name] = -mean_iwae_log_likelihood(model, test_images, num_samples=100)
    message = f"IWAE-100 NLL: PixelVAE {nll_nats['pixelvae']:.2f} nats vs VAE {nll_nats['vae']:.2f} nats"
    assert nll_nats["pixelvae"] < nll_nats["vae"] - 0.3, message  # measured: 0.89 (seed 0), 0.40 (seed 1)
