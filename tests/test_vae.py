"""VAE: the analytic KL, the ordering of the bounds ELBO ≤ IWAE-k ≤ log p(x), and learning on digits."""

import copy
import math

import pytest
import torch
from torch.distributions import Independent, Normal, kl_divergence

from dgm.data import binarize_static, load_dataset
from dgm.eval.latent import latent_interpolation
from dgm.eval.likelihood import iwae_log_likelihood, mean_iwae_log_likelihood
from dgm.losses.discretized import discretized_logistic_log_prob
from dgm.losses.elbo import elbo
from dgm.models import build_model
from helpers import fit, independent_pixel_nll_nats, mean_and_standard_error


def diagonal_normal(loc: torch.Tensor, scale: torch.Tensor) -> Independent:
    return Independent(Normal(loc, scale), 1)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained_vae(digits):
    torch.manual_seed(0)
    return fit(build_model("vae", {}, digits.shape), digits.train, steps=1500).eval()


def test_analytic_kl_matches_closed_form_and_monte_carlo():
    generator = torch.Generator().manual_seed(0)
    loc = torch.randn(3, 4, generator=generator, dtype=torch.float64)  # (B, Z)
    scale = torch.rand(3, 4, generator=generator, dtype=torch.float64) * 1.5 + 0.2
    posterior = diagonal_normal(loc, scale)
    prior = diagonal_normal(torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64))
    analytic = kl_divergence(posterior, prior)  # (B,)

    # Kingma & Welling 2014, Appendix B: KL = ½ Σ (σ² + μ² − 1 − log σ²).
    closed_form = 0.5 * (scale**2 + loc**2 - 1 - (scale**2).log()).sum(dim=1)
    assert torch.allclose(analytic, closed_form, rtol=0, atol=1e-12)

    z = posterior.sample((200_000,))  # (N, B, Z)
    log_ratio = posterior.log_prob(z) - prior.log_prob(z)  # (N, B)
    monte_carlo = log_ratio.mean(dim=0)
    standard_error = log_ratio.std(dim=0) / math.sqrt(len(z))
    message = f"analytic {analytic} vs Monte Carlo {monte_carlo} ± {standard_error}"
    assert ((analytic - monte_carlo).abs() < 4 * standard_error).all(), message

    log_likelihood = torch.randn(3, generator=generator, dtype=torch.float64)
    assert torch.allclose(elbo(log_likelihood, posterior, prior), log_likelihood - analytic, rtol=0, atol=1e-12)


@pytest.mark.slow
def test_iwae_bounds_rise_with_k_from_the_elbo(trained_vae, digits):
    model = copy.deepcopy(trained_vae).double()
    x = binarize_static(digits.test[:32]).double()  # (32, 1, 8, 8)
    with torch.no_grad():
        elbo_draws = torch.stack([model.elbo(x) for _ in range(200)])  # (200, 32)
    iwae_draws = {
        k: torch.stack([iwae_log_likelihood(model, x, k) for _ in range(repeats)])  # (repeats, 32)
        for k, repeats in ((1, 200), (5, 40), (50, 10), (500, 4))
    }
    elbo_mean, elbo_se = mean_and_standard_error(elbo_draws)
    iwae = {k: mean_and_standard_error(draws) for k, draws in iwae_draws.items()}
    summary = f"ELBO {elbo_mean:.3f} ± {elbo_se:.3f}; " + ", ".join(
        f"IWAE-{k} {mean:.3f} ± {se:.3f}" for k, (mean, se) in iwae.items()
    )

    # IWAE-1 and the ELBO (analytic KL) estimate the same expectation E_q[log p(x, z) − log q(z|x)].
    assert abs(iwae[1][0] - elbo_mean) < 4 * math.hypot(iwae[1][1], elbo_se), summary
    # Burda et al. 2016, Theorem 1: E[IWAE-k] is non-decreasing in k (up to 4 standard errors).
    for small, large in ((1, 5), (5, 50), (50, 500)):
        assert iwae[small][0] <= iwae[large][0] + 4 * math.hypot(iwae[small][1], iwae[large][1]), summary
    # ... and it rises by a clear margin: the bound is not a relabelled ELBO.
    assert iwae[500][0] - elbo_mean > 0.2, summary


@pytest.fixture(scope="module")
def sharp_one_dimensional_vae():
    """A 1-D-latent Gaussian VAE on 2-D points whose exact log p(x) is a quadrature on a fine grid.

    The decoder is made sharp (scale 0.1) and steep in z, so the untrained encoder's q(z|x) ≈ N(0, 1.1²)
    is far wider than the posterior: the ELBO sits nats below log p(x) and only the IWAE bound closes
    the gap. Returns (model, x (4, 2), exact log p(x) (4,)).
    """
    torch.manual_seed(0)
    model = build_model("vae", {"latent_dim": 1, "hidden_dim": 32}, (2,)).double().eval()
    with torch.no_grad():
        output_layer = model.decoder[-1]  # rows: 2 means, then 2 log-scales
        output_layer.weight[:2] *= 3
        output_layer.weight[2:] = 0
        output_layer.bias[2:] = math.log(0.1)
        z_true = torch.tensor([[-1.5], [-0.5], [0.5], [1.5]], dtype=torch.float64)  # (4, 1)
        x = model.decoder_mean(z_true) + 0.05 * torch.randn(4, 2, dtype=torch.float64)  # (4, 2)

        z_grid = torch.linspace(-8.0, 8.0, 40_001, dtype=torch.float64).view(-1, 1, 1)  # (G, 1, Z)
        log_joint = model.decode(z_grid).log_prob(x) + model.prior().log_prob(z_grid)  # (G, 4)
        exact_log_p = torch.logsumexp(log_joint, dim=0) + math.log(16.0 / 40_000)  # (4,) Riemann sum
        coarse_log_p = torch.logsumexp(log_joint[::4], dim=0) + math.log(16.0 / 10_000)
    assert torch.allclose(coarse_log_p, exact_log_p, rtol=0, atol=1e-4), "the quadrature grid is too coarse"
    return model, x, exact_log_p


def test_iwae_with_many_samples_reaches_the_integrated_log_likelihood(sharp_one_dimensional_vae):
    model, x, exact_log_p = sharp_one_dimensional_vae
    with torch.no_grad():
        mean_elbo = torch.stack([model.elbo(x) for _ in range(200)]).mean(dim=0)  # (4,)
    iwae = iwae_log_likelihood(model, x, 20_000, chunk_size=5000)  # (4,)

    summary = f"log p {exact_log_p.tolist()}\nIWAE-20000 {iwae.tolist()}\nELBO {mean_elbo.tolist()}"
    assert ((exact_log_p - mean_elbo) > 5.0).all(), summary
    assert torch.allclose(iwae, exact_log_p, rtol=0, atol=0.06), summary


def test_iwae_training_objective_is_the_k_sample_bound(sharp_one_dimensional_vae):
    # The IWAE model with the VAE's weights: its objective with k = 1 estimates the ELBO, and with
    # k = 20,000 reaches log p(x); so training on it ascends a bound that closes the gap (Theorem 1).
    vae, x, exact_log_p = sharp_one_dimensional_vae
    bounds = {}
    for k, repeats in ((1, 400), (20_000, 1)):
        iwae = build_model("iwae", {"latent_dim": 1, "hidden_dim": 32, "num_samples": k}, (2,)).double().eval()
        iwae.load_state_dict(vae.state_dict())
        with torch.no_grad():
            bounds[k] = torch.stack([iwae.objective(x) for _ in range(repeats)])  # (repeats, 4)
    with torch.no_grad():
        elbo_draws = torch.stack([vae.elbo(x) for _ in range(400)])  # (400, 4)
    one_mean, one_se = mean_and_standard_error(bounds[1])
    elbo_mean, elbo_se = mean_and_standard_error(elbo_draws)
    assert abs(one_mean - elbo_mean) < 4 * math.hypot(one_se, elbo_se), (one_mean, elbo_mean)
    assert torch.allclose(bounds[20_000][0], exact_log_p, rtol=0, atol=0.06), (bounds[20_000], exact_log_p)


def _recognition_and_generative_gradients(model, x: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    model.zero_grad()
    torch.manual_seed(seed)
    model.objective(x).sum().backward()
    flat = [torch.cat([p.grad.flatten() for p in net.parameters()]) for net in (model.encoder, model.decoder)]
    return flat[0], flat[1]


def test_dreg_estimates_the_iwae_gradient_without_bias_and_with_far_less_variance():
    # Tucker et al. 2019: the doubly reparameterised estimator changes only how the recognition network's
    # gradient is estimated, so the bound's value and the generative network's gradient stay eq. 14's.
    x = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(0)).round()
    config = {"latent_dim": 2, "hidden_dim": 8, "num_hidden_layers": 1, "num_samples": 16}
    torch.manual_seed(0)
    iwae = build_model("iwae", config, (1, 4, 4)).double()
    dreg = build_model("iwae", config | {"gradient": "dreg"}, (1, 4, 4)).double()
    dreg.load_state_dict(iwae.state_dict())
    x = x.double()
    torch.manual_seed(1)
    value = iwae.objective(x)
    torch.manual_seed(1)
    assert torch.allclose(dreg.objective(x), value, rtol=0, atol=1e-12)
    draws = {name: [_recognition_and_generative_gradients(m, x, s) for s in range(400)] for name, m in
             (("iwae", iwae), ("dreg", dreg))}  # fmt: skip
    for (_, generative_iwae), (_, generative_dreg) in zip(draws["iwae"], draws["dreg"], strict=True):
        assert torch.allclose(generative_dreg, generative_iwae, rtol=1e-10, atol=1e-12)
    recognition = {name: torch.stack([g for g, _ in pairs]) for name, pairs in draws.items()}  # (400, P) each
    mean_iwae, mean_dreg = recognition["iwae"].mean(0), recognition["dreg"].mean(0)
    standard_error = torch.hypot(recognition["iwae"].std(0), recognition["dreg"].std(0)) / 400**0.5
    moving = standard_error > 0  # weights behind a dead unit get no gradient from either estimator
    assert torch.equal(mean_iwae[~moving], mean_dreg[~moving])
    assert ((mean_iwae - mean_dreg).abs()[moving] < 4.5 * standard_error[moving]).all()
    variance_ratio = recognition["iwae"].var(0).sum() / recognition["dreg"].var(0).sum()
    assert variance_ratio > 1.5, f"DReG's recognition gradient is only {variance_ratio:.1f}x less variable"


@pytest.mark.parametrize("gradient", ["iwae", "dreg"])
def test_iwae_bound_under_bf16_autocast_keeps_float32_log_weights(gradient):
    # bf16 keeps ~3 significant digits; with log q(z|x) summed in it this bound was off by 0.14 nats (0.2-0.65
    # on a trained model), with log-densities in float32 only the bf16 matrix products remain (0.04)
    torch.manual_seed(0)
    config = {"latent_dim": 32, "hidden_dim": 512, "num_hidden_layers": 1, "gradient": gradient}
    model = build_model("iwae", config, (1, 28, 28))
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1)).round()
    torch.manual_seed(2)
    exact = model.objective(x)
    torch.manual_seed(2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model.objective(x)
    assert mixed.dtype == torch.float32
    assert (mixed - exact).abs().max() < 0.08, (mixed - exact).abs().max()


def test_beta_weights_only_the_kl_term():
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0)).round()
    model = build_model("vae", {"latent_dim": 3, "hidden_dim": 16, "beta": 4.0}, (1, 8, 8))
    torch.manual_seed(1)
    log_likelihood, kl = model.elbo_terms(x)
    torch.manual_seed(1)
    assert torch.allclose(model.objective(x), log_likelihood - 4.0 * kl, rtol=0, atol=1e-5)
    torch.manual_seed(1)
    assert torch.allclose(model.elbo(x), log_likelihood - kl, rtol=0, atol=1e-5)


def test_step_size_halves_every_half_life_down_to_the_final_rate():
    config = {"latent_dim": 2, "hidden_dim": 8, "learning_rate": 0.04, "learning_rate_half_life": 2}
    model = build_model("vae", config | {"final_learning_rate": 0.01}, (1, 8, 8))
    optimizers, x = model.optimizers(), torch.ones(4, 1, 8, 8)
    rates = []
    for _ in range(6):
        model.train_step(x, optimizers, lambda loss: loss.backward())
        rates.append(optimizers["adam"].param_groups[0]["lr"])
    assert rates == pytest.approx([0.04, 0.04 / 2**0.5, 0.02, 0.02 / 2**0.5, 0.01, 0.01])
    assert int(model.state_dict()["num_steps"]) == 6  # saved with the weights, so a resumed run goes on from here


@pytest.mark.slow
def test_vae_beats_independent_pixels_on_digits(trained_vae, digits):
    train_images, test_images = binarize_static(digits.train), binarize_static(digits.test)
    baseline_nll_nats = independent_pixel_nll_nats(train_images, test_images)
    torch.manual_seed(0)
    # IWAE-k is a lower bound on log p in expectation, so this NLL estimate errs against the VAE.
    vae_nll_nats = -mean_iwae_log_likelihood(trained_vae, test_images, num_samples=100)

    message = f"VAE IWAE-100 {vae_nll_nats:.2f} nats vs independent pixels {baseline_nll_nats:.2f} nats"
    assert vae_nll_nats < baseline_nll_nats - 2.0, message


@pytest.mark.slow
def test_latent_interpolation_runs_between_decoded_posterior_means(trained_vae, digits):
    x_start, x_end = digits.test[:3], digits.test[3:6]
    path = latent_interpolation(trained_vae, x_start, x_end, num_steps=5)  # (3, 5, 1, 8, 8)
    with torch.no_grad():
        z_start, z_end = trained_vae.encode(x_start).mean, trained_vae.encode(x_end).mean  # (3, Z)
        start, end = trained_vae.decoder_mean(z_start), trained_vae.decoder_mean(z_end)
        middle = trained_vae.decoder_mean((z_start + z_end) / 2)
    assert torch.allclose(path[:, 0], start, rtol=0, atol=1e-6)
    assert torch.allclose(path[:, -1], end, rtol=0, atol=1e-6)
    assert torch.allclose(path[:, 2], middle, rtol=0, atol=1e-6)
    assert (start - end).abs().max() > 0.1  # distinct endpoints, so the checks above can tell them apart


@pytest.mark.slow
def test_a_larger_beta_buys_a_smaller_kl_with_worse_reconstructions(trained_vae, digits):
    torch.manual_seed(0)
    beta_vae = fit(build_model("vae", {"beta": 4.0}, digits.shape), digits.train, steps=1500).eval()
    x = binarize_static(digits.test)
    torch.manual_seed(0)
    with torch.no_grad():
        (ll_1, kl_1), (ll_4, kl_4) = trained_vae.elbo_terms(x), beta_vae.elbo_terms(x)
    summary = f"β=1: KL {kl_1.mean():.2f}, log p(x|z) {ll_1.mean():.2f}; β=4: KL {kl_4.mean():.2f}, {ll_4.mean():.2f}"
    assert kl_4.mean() < 0.5 * kl_1.mean(), summary
    assert ll_4.mean() < ll_1.mean() - 1.0, summary


@pytest.mark.slow
def test_logistic_decoder_beats_independent_pixel_logistics_on_grey_digits(digits):
    # Baseline: one discretised logistic per pixel, fitted by maximum likelihood (the VAE without z).
    mean = torch.zeros(64, requires_grad=True)
    log_scale = torch.full((64,), -2.0, requires_grad=True)
    optimizer = torch.optim.Adam([mean, log_scale], lr=0.1)  # 400 steps: within 0.05 nats of 1,500 at lr 0.05
    train = digits.train.flatten(1)  # (N, 64) grey levels in [0, 1]
    for _ in range(400):
        optimizer.zero_grad()
        (-discretized_logistic_log_prob(train, mean, log_scale).sum(1).mean()).backward()
        optimizer.step()
    with torch.no_grad():
        baseline_nats = -discretized_logistic_log_prob(digits.test.flatten(1), mean, log_scale).sum(1).mean().item()

    torch.manual_seed(0)
    model = fit(build_model("vae", {"decoder": "logistic"}, digits.shape), digits.train, steps=700)
    nll_nats = -mean_iwae_log_likelihood(model, digits.test, num_samples=100)
    # Measured: 165.8 against 184.7 nats.
    assert nll_nats < baseline_nats - 10.0, f"VAE {nll_nats:.2f} nats vs independent logistics {baseline_nats:.2f}"


@pytest.mark.slow
def test_gaussian_decoder_beats_one_full_covariance_gaussian_on_moons():
    moons = load_dataset("moons")
    train = moons.train.double()
    gaussian = torch.distributions.MultivariateNormal(train.mean(0), torch.cov(train.T))
    baseline_nats = -gaussian.log_prob(moons.test.double()).mean().item()
    torch.manual_seed(0)
    model = fit(build_model("vae", {"latent_dim": 2, "hidden_dim": 64}, moons.shape), moons.train, steps=3000).eval()
    nll_nats = -mean_iwae_log_likelihood(model, moons.test, num_samples=100)
    assert nll_nats < baseline_nats - 0.2, f"VAE {nll_nats:.3f} nats vs one Gaussian {baseline_nats:.3f}"


@pytest.mark.slow
def test_iwae_beats_independent_pixels_on_digits(digits):
    torch.manual_seed(0)
    model = fit(build_model("iwae", {"num_samples": 5}, digits.shape), digits.train, steps=1000).eval()
    test_images = binarize_static(digits.test)
    baseline_nll_nats = independent_pixel_nll_nats(binarize_static(digits.train), test_images)
    nll_nats = -mean_iwae_log_likelihood(model, test_images, num_samples=100)
    assert nll_nats < baseline_nll_nats - 2.0, f"IWAE {nll_nats:.2f} nats vs independent pixels {baseline_nll_nats:.2f}"
