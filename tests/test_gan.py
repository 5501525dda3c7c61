"""GAN: the objective's formulas, the optimal critic of Goodfellow et al. 2014, and learning ring8."""

import math

import pytest
import torch
from scipy import integrate, stats

import dgm
from dgm.core.errors import ConfigError, DataError
from dgm.data import BatchStream, load_dataset
from dgm.eval.coverage import mode_coverage
from dgm.losses.divergences import OBJECTIVES, OriginalGAN
from dgm.models import build_model, check_data_kind, make_config
from dgm.models.adversarial import gan as gan_module
from dgm.models.adversarial.gan import GAN, jacobian_frobenius_norms
from dgm.nn.lipschitz import MaxMin
from dgm.report.figures import save_mode_coverage

# A fixed "generator" distribution q against the data distribution p, both 1-D Gaussians. The
# optimal critic's logit log p(x) − log q(x) is quadratic in x, so the critic has to bend.
DATA_MEAN, DATA_STD = 0.0, 1.0
FAKE_MEAN, FAKE_STD = 1.0, 2.0


def scores(n: int, seed: int) -> torch.Tensor:
    return 4 * torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_value_and_losses_are_the_log_sigmoid_formulas():
    real, fake = scores(50, 0), scores(40, 1)
    log_d_real = torch.sigmoid(real).log()  # log D(x)
    log_one_minus_d_fake = (1 - torch.sigmoid(fake)).log()  # log(1 − D(G(z)))
    value = log_d_real.mean() + log_one_minus_d_fake.mean()  # eq. 1
    for kind, generator_loss in (
        ("minimax", log_one_minus_d_fake.mean()),
        ("non_saturating", -torch.sigmoid(fake).log().mean()),
    ):
        objective = OriginalGAN(kind)
        assert objective.value(real, fake).item() == pytest.approx(value.item(), abs=1e-12)
        assert objective.critic_loss(real, fake).item() == pytest.approx(-value.item(), abs=1e-12)
        assert objective.generator_loss(fake).item() == pytest.approx(generator_loss.item(), abs=1e-12)


def test_value_stays_finite_for_confident_critics():
    # log sigmoid(−100) = −100 − log(1 + e^−100); the naive log of sigmoid underflows to −inf.
    objective = OriginalGAN()
    real, fake = torch.tensor([-100.0], dtype=torch.float64), torch.tensor([100.0], dtype=torch.float64)
    assert objective.value(real, fake).item() == pytest.approx(-200.0, abs=1e-9)


def test_both_generator_losses_push_fake_scores_up_and_non_saturating_does_not_vanish():
    # ∂/∂s log(1 − σ(s)) = −σ(s) and ∂/∂s −log σ(s) = −(1 − σ(s)): both negative, so both raise
    # the critic's score of fakes; where the critic rejects fakes (s ≪ 0) the minimax gradient
    # vanishes like σ(s) while the non-saturating one stays near −1 (Goodfellow et al. 2014, §3).
    fake = scores(64, 2)
    gradients = {}
    for kind in ("minimax", "non_saturating"):
        fake_scores = fake.clone().requires_grad_(True)
        OriginalGAN(kind).generator_loss(fake_scores).backward()
        gradients[kind] = fake_scores.grad * len(fake)  # per-example gradient
    assert torch.allclose(gradients["minimax"], -torch.sigmoid(fake), rtol=0, atol=1e-12)
    assert torch.allclose(gradients["non_saturating"], -(1 - torch.sigmoid(fake)), rtol=0, atol=1e-12)
    assert (gradients["minimax"] < 0).all() and (gradients["non_saturating"] < 0).all()
    rejected = fake < -3
    assert rejected.any()
    assert (gradients["non_saturating"][rejected].abs() > 20 * gradients["minimax"][rejected].abs()).all()


def jensen_shannon_nats() -> float:
    """JSD(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m), m = (p + q) / 2, by adaptive quadrature."""
    p, q = stats.norm(DATA_MEAN, DATA_STD), stats.norm(FAKE_MEAN, FAKE_STD)

    def integrand(x: float) -> float:
        px, qx = p.pdf(x), q.pdf(x)
        m = (px + qx) / 2
        return 0.5 * (px * math.log(px / m) if px > 0 else 0.0) + 0.5 * (qx * math.log(qx / m) if qx > 0 else 0.0)

    value, _ = integrate.quad(integrand, -30, 30, points=[DATA_MEAN, FAKE_MEAN], limit=200)
    return value


def optimal_critic_logit(x: torch.Tensor) -> torch.Tensor:
    """log p(x) − log q(x): D*(x) = p / (p + q) = sigmoid of this (Goodfellow et al. 2014, Prop. 1)."""
    data = torch.distributions.Normal(DATA_MEAN, DATA_STD)
    fake = torch.distributions.Normal(FAKE_MEAN, FAKE_STD)
    return data.log_prob(x) - fake.log_prob(x)


def draw(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 1) data from p and (n, 1) fakes from q."""
    real = DATA_MEAN + DATA_STD * torch.randn(n, 1, generator=generator, dtype=torch.float64)
    fake = FAKE_MEAN + FAKE_STD * torch.randn(n, 1, generator=generator, dtype=torch.float64)
    return real, fake


def test_value_at_the_optimal_critic_is_minus_log_four_plus_twice_the_jsd():
    # Theorem 1: V(D*, G) = −log 4 + 2·JSD(p ‖ q); a Monte-Carlo check of the objective's estimator.
    real, fake = draw(400_000, torch.Generator().manual_seed(0))
    expected = -math.log(4) + 2 * jensen_shannon_nats()
    log_terms_real = torch.nn.functional.logsigmoid(optimal_critic_logit(real))
    log_terms_fake = torch.nn.functional.logsigmoid(-optimal_critic_logit(fake))
    standard_error = math.hypot(log_terms_real.std().item(), log_terms_fake.std().item()) / math.sqrt(len(real))
    value = OriginalGAN().value(optimal_critic_logit(real)[:, 0], optimal_critic_logit(fake)[:, 0]).item()
    assert value == pytest.approx(expected, abs=4 * standard_error), f"V(D*) {value:.5f}, theory {expected:.5f}"
    assert jensen_shannon_nats() > 0.1  # far from 0, so −log 4 alone would fail


@pytest.mark.slow
def test_trained_critic_approaches_the_optimal_discriminator():
    torch.manual_seed(0)
    critic = build_model("gan", {"hidden_dim": 32}, (1,)).critic.double()
    objective = OriginalGAN()
    optimizer = torch.optim.Adam(critic.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(1)
    for _ in range(2000):
        real, fake = draw(512, generator)
        optimizer.zero_grad()
        objective.critic_loss(critic(real), critic(fake)).backward()
        optimizer.step()

    with torch.no_grad():
        grid = torch.linspace(-2, 2, 81, dtype=torch.float64).unsqueeze(1)  # (81, 1), where p and q both have mass
        error = (torch.sigmoid(critic(grid)) - torch.sigmoid(optimal_critic_logit(grid)[:, 0])).abs()
        real, fake = draw(200_000, generator)
        trained_value = objective.value(critic(real), critic(fake)).item()
    optimal_value = -math.log(4) + 2 * jensen_shannon_nats()
    assert error.mean() < 0.03 and error.max() < 0.05, f"mean |D − D*| {error.mean():.4f}, max {error.max():.4f}"
    # V(D, G) ≤ V(D*, G) for every D; the trained critic comes within 0.01 nats (MC s.e. ≈ 0.002).
    assert optimal_value - 0.01 < trained_value < optimal_value + 0.01, (
        f"V(D) {trained_value:.4f} vs {optimal_value:.4f}"
    )


def gan_trained_on(dataset, overrides: dict, steps: int) -> torch.nn.Module:
    """A GAN trained ``steps`` generator steps on ``dataset`` from seed 0, in eval mode."""
    torch.manual_seed(0)
    model = build_model("gan", overrides, dataset.shape)
    optimizers = model.optimizers()
    stream = BatchStream(dataset.train, model.batch_size, seed=0)
    for _ in range(steps):
        model.train_step(next(stream), optimizers, lambda loss: loss.backward())
    return model.eval()


def samples_of(model: torch.nn.Module, jacobian_truncation: float = 0.0) -> torch.Tensor:
    """2,500 samples (N, 2) from seed 1."""
    with torch.no_grad():
        return model.sample(2500, generator=torch.Generator().manual_seed(1), jacobian_truncation=jacobian_truncation)


def samples_after_training_on(dataset, overrides: dict, steps: int) -> torch.Tensor:
    """2,500 samples (N, 2) of a GAN trained ``steps`` generator steps on ``dataset`` from seed 0."""
    return samples_of(gan_trained_on(dataset, overrides, steps))


@pytest.mark.slow
def test_gan_covers_the_modes_of_ring8():
    ring8 = load_dataset("ring8")
    overrides = {"latent_dim": 2, "hidden_dim": 128, "learning_rate": 1e-3, "batch_size": 256}
    samples = samples_after_training_on(ring8, overrides, steps=2000)  # (2500, 2)
    coverage = mode_coverage(samples, ring8.modes, ring8.mode_std)
    distance_to_nearest_mode = torch.cdist(samples, ring8.modes).min(dim=1).values  # (2500,)
    near_a_mode = (distance_to_nearest_mode < 0.3).float().mean().item()

    # Covering 6 of 8 modes asks for mass at the modes, not only spread over the plane: N(0, I)
    # samples would cover 3.6 on average. Points spread evenly along the circle would cover all 8, but
    # put only 8 · 0.6 / 4π ≈ 38% of the mass within 0.3 (15σ) of a mode, so that share must be higher.
    # The share within 3σ swings between snapshots of the adversarial game and is reported only.
    message = f"{coverage}, within 0.3 of a mode: {near_a_mode:.3f}"
    assert coverage["modes_covered"] >= 6, message
    assert near_a_mode >= 0.6, message


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_algorithm_1_takes_k_critic_steps_on_k_minibatches_then_one_generator_step(optimizer):
    model = build_model("gan", {"num_critic_steps": 3, "batch_size": 4, "optimizer": optimizer}, (2,))
    optimizers = model.optimizers()
    kind = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}[optimizer]
    assert all(isinstance(o, kind) for o in optimizers.values())
    steps_taken = []
    for name, opt in optimizers.items():
        opt.register_step_post_hook(lambda *args, name=name: steps_taken.append(name))
    critic_inputs = []
    model.critic.register_forward_hook(lambda module, inputs, output: critic_inputs.append(inputs[0].detach()))
    batch = torch.randn(12, 2)  # k·m examples
    assert model.batch_size == 12
    model.train_step(batch, optimizers, lambda loss: loss.backward())
    assert steps_taken == ["critic", "critic", "critic", "generator"]
    # critic calls: real and fake in one batch (m + m) per critic step, then the fake of the generator step.
    assert [len(inputs) for inputs in critic_inputs] == [8, 8, 8, 4]
    reals = [inputs[:4] for inputs in critic_inputs[:3]]
    assert all(torch.equal(real, chunk) for real, chunk in zip(reals, batch.split(4), strict=True))


def test_pacgan_critic_scores_packs_of_consecutive_samples_concatenated_on_the_first_axis():
    model = build_model("gan", {"pack": 2, "batch_size": 2, "num_critic_steps": 2}, (2,))  # minibatches of 2 packs
    assert model.batch_size == 8
    critic_inputs = []
    model.critic.register_forward_hook(lambda module, inputs, output: critic_inputs.append(inputs[0].detach()))
    batch = torch.randn(8, 2)  # k·m examples
    model.train_step(batch, model.optimizers(), lambda loss: loss.backward())
    # per critic step 2 real packs then 2 fake ones, each (4,) = two samples side by side; then 2 fake packs
    assert [tuple(inputs.shape) for inputs in critic_inputs] == [(4, 4), (4, 4), (2, 4)]
    for inputs, real in zip(critic_inputs[:2], batch.split(4), strict=True):
        torch.testing.assert_close(
            inputs[:2], torch.stack([torch.cat([real[0], real[1]]), torch.cat([real[2], real[3]])])
        )


@pytest.mark.parametrize("critic", ["plain", "gradient_penalty", "spectral", "dudley"])
def test_pacgan_packs_images_along_channels_with_every_critic(critic):
    objective = "gan" if critic == "plain" else "wasserstein"
    overrides = {"pack": 2, "batch_size": 2, "conv_width": 8, "objective": objective, "critic": critic}
    model = build_model("dcgan", overrides, (1, 28, 28))
    images = torch.rand(4, 1, 28, 28)
    assert model.critic(model._packed(images)).shape == (2,)
    torch.testing.assert_close(model._packed(images)[1], images[2:].squeeze(1))  # pack 1: images 2 and 3 as channels
    losses = model.train_step(images, model.optimizers(), lambda loss: loss.backward())
    assert all(math.isfinite(value) for value in losses.values()), losses


def test_a_minibatch_cut_short_drops_its_last_incomplete_pack_and_pack_0_is_a_user_error():
    model = build_model("gan", {"pack": 2, "batch_size": 4}, (2,))  # minibatches of 8 samples
    critic_inputs = []
    model.critic.register_forward_hook(lambda module, inputs, output: critic_inputs.append(inputs[0].detach()))
    model.train_step(torch.randn(7, 2), model.optimizers(), lambda loss: loss.backward())  # a training set of 7
    assert [tuple(inputs.shape) for inputs in critic_inputs] == [(6, 4), (4, 4)]  # 3 real + 3 fake packs; 4 fake
    with pytest.raises(ConfigError, match="pack must be >= 1, got 0"):
        make_config("gan", {"pack": 0})


@pytest.mark.slow
def test_pacgan_covers_the_modes_of_ring8():
    ring8 = load_dataset("ring8")
    # 128 packs of 2: the 256 samples per minibatch of test_gan_covers_the_modes_of_ring8
    overrides = {"latent_dim": 2, "hidden_dim": 128, "learning_rate": 1e-3, "batch_size": 128, "pack": 2}
    samples = samples_after_training_on(ring8, overrides, steps=2000)  # (2500, 2)
    coverage = mode_coverage(samples, ring8.modes, ring8.mode_std)
    near_a_mode = (torch.cdist(samples, ring8.modes).min(dim=1).values < 0.3).float().mean().item()
    # The bounds of test_gan_covers_the_modes_of_ring8 (explained there): packing still learns the ring. Whether it
    # collapses less is a matter of many seeds, measured by the benchmark's pacgan4 row.
    assert coverage["modes_covered"] >= 6 and near_a_mode >= 0.6, (coverage, near_a_mode)


@pytest.mark.parametrize("critic", ["plain", "clip", "gradient_penalty", "spectral", "dudley"])
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_every_objective_trains_with_every_critic(objective, critic):
    if objective == "wasserstein" and critic == "plain":
        pytest.skip("refused by the config: see test_wasserstein_without_a_constrained_critic_is_a_user_error")
    torch.manual_seed(0)
    model = build_model("gan", {"objective": objective, "critic": critic, "hidden_dim": 16, "batch_size": 8}, (2,))
    optimizers = model.optimizers()
    before = [p.detach().clone() for p in model.generator.parameters()]
    losses = model.train_step(torch.randn(8, 2), optimizers, lambda loss: loss.backward())
    assert all(math.isfinite(value) for value in losses.values()), losses
    assert any(not torch.equal(a, b) for a, b in zip(before, model.generator.parameters(), strict=True))


def test_wasserstein_without_a_constrained_critic_is_a_user_error():
    with pytest.raises(ConfigError, match="clip|gradient_penalty|spectral|dudley"):
        build_model("gan", {"objective": "wasserstein"}, (2,))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["objective=wgan"], "expected one of total_variation, kl, reverse_kl"),
        (["critic=lipschitz"], "expected one of plain, clip, gradient_penalty, spectral, dudley"),
        (["objective=alpha", "alpha=1"], "alpha must be finite, not 0 and not 1, got 1.0"),
        (["objective=weighted_js", "pi=1.5"], "pi must be in \\(0, 1\\), got 1.5"),
        (["critic=spectral", "lipschitz_constant=0"], "lipschitz_constant must be a finite number > 0, got 0"),
        (["critic=spectral", "lipschitz_constant=inf"], "lipschitz_constant must be a finite number > 0, got inf"),
        (["critic=spectral", "lipschitz_constant=nan"], "lipschitz_constant must be a finite number > 0, got nan"),
        (["critic=clip", "objective=wasserstein", "lipschitz_constant=10"], "clip_value sets its bound"),
        (["lipschitz_constant=10"], "lipschitz_constant is for critic=spectral|dudley|gradient_penalty, got"),
    ],
)
def test_unknown_names_and_out_of_range_parameters_list_the_valid_choices(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_config("gan", overrides)


def test_clipped_critic_weights_stay_in_the_box_after_every_critic_step():
    model = build_model("gan", {"objective": "wasserstein", "critic": "clip", "clip_value": 0.02}, (2,))
    optimizers = model.optimizers()
    for _ in range(3):
        model.train_step(5 * torch.randn(64, 2), optimizers, lambda loss: loss.backward())
    assert max(p.abs().max().item() for p in model.critic.parameters()) == pytest.approx(0.02)


@pytest.mark.parametrize(("architecture", "shape"), [("mlp", (2,)), ("conv", (1, 8, 8)), ("dcgan", (1, 28, 28))])
def test_spectral_and_dudley_critics_are_lipschitz_in_every_architecture(architecture, shape):
    torch.manual_seed(0)
    for critic_kind in ("spectral", "dudley"):
        config = {"architecture": architecture, "critic": critic_kind, "objective": "wasserstein", "conv_width": 8}
        critic = build_model("gan", config, shape).critic
        for _ in range(30):  # power iteration converges on the untrained weights
            critic(torch.randn(2, *shape))
        critic.eval()
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in critic.modules())
        x, y = torch.randn(500, *shape), torch.randn(500, *shape)
        ratios = (critic(x) - critic(y)).abs() / (x - y).flatten(1).norm(dim=1)
        assert ratios.max() <= 1 + 1e-3, f"{critic_kind}: largest ratio {ratios.max():.4f}"
        if critic_kind == "dudley":
            assert critic(1e4 * x).abs().max() + ratios.max() <= 1 + 1e-3


def test_lipschitz_constant_scales_the_spectral_critic_the_dudley_metric_and_the_penalty_target(monkeypatch):
    """K = 10: the spectral critic is 10 times the K = 1 critic of the same weights, the Dudley critic squashes
    10 times the K = 1 critic's body (the ball of the metric 10‖x − y‖), and the penalty aims at gradient norm 10."""
    x = torch.randn(64, 2)
    for kind in ("spectral", "dudley"):
        critics = []
        for k in (1.0, 10.0):
            torch.manual_seed(0)
            critics.append(build_model("gan", {"critic": kind, "lipschitz_constant": k}, (2,)).critic.eval())
        unit, steep = critics
        with torch.no_grad():
            if kind == "spectral":
                expected = 10 * unit(x)
            else:  # f = softsign(s·K·h(x)) / (1 + s), with h the body
                expected = torch.nn.functional.softsign(unit.slope() * 10 * unit.body(x)) * unit.sup_bound()
            torch.testing.assert_close(steep(x), expected)
            assert (steep(x) - unit(x)).abs().max() > 1e-3
    targets = []
    penalty = gan_module.gradient_penalty

    def recording(*args, **kwargs):
        targets.append(kwargs["target"])
        return penalty(*args, **kwargs)

    monkeypatch.setattr(gan_module, "gradient_penalty", recording)
    config = {"critic": "gradient_penalty", "objective": "wasserstein", "lipschitz_constant": 10}
    model = build_model("gan", config, (2,))
    model.train_step(torch.randn(64, 2), model.optimizers(), lambda loss: loss.backward())
    assert targets == [10]


def test_gradient_penalty_critics_have_no_batch_norm_and_plain_dcgan_critics_do():
    def batch_norms(critic: str) -> int:
        model = build_model("dcgan", {"critic": critic, "objective": "wasserstein", "conv_width": 8}, (1, 28, 28))
        return sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.critic.modules())

    assert batch_norms("gradient_penalty") == 0 and batch_norms("clip") == 1


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_dcgan_follows_the_papers_guidelines(shape):
    model = build_model("dcgan", {"conv_width": 8}, shape)
    assert model.config.learning_rate == 2e-4 and model.config.momentum == 0.5 and model.config.batch_size == 128
    layers = list(model.generator)
    # no pooling; batch norm everywhere but the generator's output and the discriminator's input
    assert not any(isinstance(m, torch.nn.MaxPool2d | torch.nn.AvgPool2d) for m in model.modules())
    assert isinstance(layers[-2], torch.nn.ConvTranspose2d) and isinstance(layers[-1], torch.nn.Sigmoid)
    first, second = list(model.critic)[:2]
    assert isinstance(first, torch.nn.Conv2d) and isinstance(second, torch.nn.LeakyReLU)
    strided = [m for m in model.critic.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(m.stride == (2, 2) for m in strided) and len(strided) == {28: 2, 32: 3}[shape[1]]
    weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)]
    assert all(abs(w.std().item() - 0.02) < 0.005 and abs(w.mean().item()) < 0.005 for w in weights)  # N(0, 0.02²)
    images = model.sample(3)
    assert images.shape == (3, *shape) and images.min() >= 0 and images.max() <= 1
    assert model.critic(images).shape == (3,)


def test_dcgan_refuses_points():
    with pytest.raises(DataError, match="expects image data, got points"):
        check_data_kind("dcgan", "points")


@pytest.mark.slow
def test_wgan_gp_covers_the_modes_of_ring8():
    # Gulrajani et al.'s settings for toy data: 5 critic steps, λ = 0.1, Adam(β = (0.5, 0.9)), at a step of 1e-3
    # for 1,000 generator steps. (With λ = 10 and 1e-4, coverage after 1,000 steps depended on the seed.)
    ring8 = load_dataset("ring8")
    overrides = {
        "objective": "wasserstein", "critic": "gradient_penalty", "penalty_weight": 0.1, "num_critic_steps": 5,
        "learning_rate": 1e-3, "beta2": 0.9, "batch_size": 256, "hidden_dim": 128, "latent_dim": 2,
    }  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the game's trajectory depends on the summation order: fix it, as the seed
    try:
        model = gan_trained_on(ring8, overrides, steps=1000)
        samples, truncated = samples_of(model), samples_of(model, jacobian_truncation=0.2)  # (2500, 2) each
    finally:
        torch.set_num_threads(threads)
    coverage = mode_coverage(samples, ring8.modes, ring8.mode_std)
    # seeds 0-3 gave 8 modes and a reverse KL of 0.05-0.26: the high-quality samples are spread over the modes
    assert coverage["modes_covered"] >= 7 and coverage["reverse_kl_modes"] <= 0.5, coverage
    # Jacobian-based truncation rejects latents on the paths between modes: more of the rest lie within 3σ
    # (seed 0: 37% high quality, 46% with 20% of the latents rejected; rejecting at random would keep 37%)
    kept = mode_coverage(truncated, ring8.modes, ring8.mode_std)
    assert kept["high_quality_fraction"] > coverage["high_quality_fraction"] + 0.05, (coverage, kept)
    assert kept["modes_covered"] >= 7, kept


def test_a_run_on_a_mixture_reports_its_mode_coverage(tmp_path, monkeypatch):
    draws, sample = [], GAN.sample  # (n, jacobian_truncation) of every GAN.sample call

    def recorded(self, n, *, generator=None, jacobian_truncation=0.0):
        draws.append((n, jacobian_truncation))
        return sample(self, n, generator=generator, jacobian_truncation=jacobian_truncation)

    monkeypatch.setattr(GAN, "sample", recorded)
    run = tmp_path / "ring"
    dgm.train_model("gan", "ring8", steps=20, out=run, overrides={"hidden_dim": 16}, eval_every=20)
    assert (2500, 0.0) in draws and (2500, 0.2) in draws  # the plain figure's samples and the truncated one's
    assert (run / "mode_coverage.png").stat().st_size > 0
    assert (run / "mode_coverage_truncated.png").stat().st_size > 0
    report = dgm.write_report(run).read_text()
    assert "Mode coverage of 2,500 samples" in report and "Jacobian-based truncation" in report


def test_mode_coverage_figure_returns_the_protocols_figures(tmp_path):
    ring8 = load_dataset("ring8")
    on_two_modes = ring8.modes[:2].repeat(50, 1) + 0.01 * torch.randn(100, 2)  # (100, 2) all within 3σ
    figures = save_mode_coverage(on_two_modes, ring8.modes, ring8.mode_std, tmp_path / "modes.png")
    assert figures == mode_coverage(on_two_modes, ring8.modes, ring8.mode_std)
    assert figures["modes_covered"] == 2 and figures["high_quality_fraction"] == 1.0


def test_maxmin_critics_are_lipschitz_and_an_unknown_activation_lists_the_choices():
    torch.manual_seed(0)
    config = {"objective": "wasserstein", "critic": "spectral", "critic_activation": "maxmin"}
    critic = build_model("gan", config, (2,)).critic
    assert any(isinstance(m, MaxMin) for m in critic.modules())
    for _ in range(30):  # power iteration converges on the untrained weights
        critic(torch.randn(2, 2))
    critic.eval()
    x, y = torch.randn(500, 2), torch.randn(500, 2)
    assert ((critic(x) - critic(y)).abs() / (x - y).norm(dim=1)).max() <= 1 + 1e-3
    with pytest.raises(ConfigError, match="expected one of leaky_relu, maxmin"):
        make_config("gan", ["critic_activation=relu"])


def test_both_step_sizes_halve_every_half_life_down_to_the_final_one():
    config = {"hidden_dim": 8, "batch_size": 4, "learning_rate": 1e-3}
    model = build_model("gan", config | {"learning_rate_half_life": 2, "final_learning_rate": 3e-4}, (2,))
    optimizers = model.optimizers()
    for t in range(6):
        model.train_step(torch.randn(4, 2), optimizers, lambda loss: loss.backward())
        rates = [group["lr"] for optimizer in optimizers.values() for group in optimizer.param_groups]
        assert rates == pytest.approx([max(1e-3 * 0.5 ** (t / 2), 3e-4)] * 2), t  # iteration t: 1e-3 · 2^(−t/2)
    assert int(model.num_steps) == 6
    # TTUR: the critic starts from its own step size and halves on the same clock
    ttur = {"learning_rate_half_life": 2, "critic_learning_rate": 4e-3, "final_learning_rate": 5e-4}
    model = build_model("gan", config | ttur, (2,))
    optimizers = model.optimizers()
    for t in range(6):
        model.train_step(torch.randn(4, 2), optimizers, lambda loss: loss.backward())
        assert optimizers["critic"].param_groups[0]["lr"] == pytest.approx(max(4e-3 * 0.5 ** (t / 2), 5e-4))
        assert optimizers["generator"].param_groups[0]["lr"] == pytest.approx(max(1e-3 * 0.5 ** (t / 2), 5e-4))
    constant = build_model("gan", config | {"critic_learning_rate": 4e-3}, (2,)).optimizers()
    assert constant["critic"].defaults["lr"] == 4e-3 and constant["generator"].defaults["lr"] == 1e-3


def test_learning_rate_hold_delays_the_halving_of_both_step_sizes():
    config = {"hidden_dim": 8, "batch_size": 4, "learning_rate": 1e-3}
    # the halving delayed by 3 iterations: iterations 0-3 at the first step sizes, then halving every 2
    held = {"learning_rate_half_life": 2, "learning_rate_hold": 3, "critic_learning_rate": 4e-3}
    model = build_model("gan", config | held, (2,))
    optimizers = model.optimizers()
    for t in range(7):
        model.train_step(torch.randn(4, 2), optimizers, lambda loss: loss.backward())
        halvings = max(0, t - 3) / 2  # 0, 0, 0, 0, 1/2, 1, 3/2
        assert optimizers["critic"].param_groups[0]["lr"] == pytest.approx(4e-3 * 0.5**halvings), t
        assert optimizers["generator"].param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5**halvings), t
    with pytest.raises(ConfigError, match="learning_rate_hold must be >= 0, got -1"):
        make_config("gan", ["learning_rate_hold=-1"])
    with pytest.raises(ConfigError, match="it needs learning_rate_half_life > 0, got 0"):
        make_config("gan", ["learning_rate_hold=100"])


def test_the_averaged_generator_is_the_moving_average_of_g_and_is_sampled_in_eval_mode_only():
    torch.manual_seed(0)
    model = build_model("gan", {"hidden_dim": 8, "batch_size": 4, "generator_average": 0.9}, (2,))
    optimizers = model.optimizers()
    average = [p.detach().clone() for p in model.generator.parameters()]
    for t in range(1, 31):
        model.train_step(torch.randn(4, 2), optimizers, lambda loss: loss.backward())
        decay = min(0.9, (1 + t) / (10 + t))  # a short memory while t is small
        average = [
            decay * a + (1 - decay) * p.detach() for a, p in zip(average, model.generator.parameters(), strict=True)
        ]
    assert all(torch.allclose(a, b) for a, b in zip(average, model.average_generator.parameters(), strict=True))
    z = torch.randn(5, model.latent_dim)
    with torch.no_grad():
        assert not torch.allclose(model.generator(z), model.average_generator(z))
        assert torch.equal(model.generate(z), model.generator(z))  # training mode: G itself
        assert torch.equal(model.eval().generate(z), model.average_generator(z))


def test_the_averaged_batch_norm_generator_keeps_running_statistics_of_its_own_activations():
    torch.manual_seed(0)
    config = {"latent_dim": 4, "conv_width": 8, "batch_size": 8, "generator_average": 0.5}
    model = build_model("dcgan", config, (1, 28, 28))
    optimizers = model.optimizers()
    norm = next(m for m in model.average_generator.modules() if isinstance(m, torch.nn.BatchNorm2d))
    inputs = []
    norm.register_forward_hook(lambda module, args, output: inputs.append(args[0].detach()))
    for _ in range(3):
        before = norm.running_mean.clone()
        model.train_step(torch.rand(8, 1, 28, 28), optimizers, lambda loss: loss.backward())
        assert len(inputs) == 1  # Ḡ ran once, on the generator step's noise
        momentum = norm.momentum  # running ← (1 − momentum)·running + momentum·batch mean
        expected = (1 - momentum) * before + momentum * inputs.pop().mean(dim=(0, 2, 3))
        assert torch.allclose(norm.running_mean, expected, atol=1e-6)
    live = next(m for m in model.generator.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert not torch.allclose(norm.running_mean, live.running_mean)


def test_batch_norm_critics_score_real_and_fake_minibatches_apart():
    model = build_model(
        "dcgan", {"latent_dim": 4, "conv_width": 8, "batch_size": 4, "num_critic_steps": 2}, (1, 28, 28)
    )
    sizes = []
    model.critic.register_forward_hook(lambda module, inputs, output: sizes.append(len(inputs[0])))
    model.train_step(torch.rand(8, 1, 28, 28), model.optimizers(), lambda loss: loss.backward())
    assert sizes == [4, 4, 4, 4, 4]  # (real, fake) per critic step, then the generator step's fake


@pytest.mark.parametrize(
    ("architecture", "overrides", "message"),
    [
        ("mlp", {"hidden_dim": 33}, "hidden_dim must be even, got 33"),
        ("conv", {}, "critic_activation=maxmin is for the MLP critic"),
    ],
)
def test_maxmin_needs_an_mlp_critic_of_even_width(architecture, overrides, message):
    config = {"critic": "spectral", "critic_activation": "maxmin", "architecture": architecture} | overrides
    with pytest.raises(ConfigError, match=message):
        build_model("gan", config, (1, 8, 8) if architecture == "conv" else (2,))


def test_the_mlp_generator_can_be_shaped_apart_from_the_critic_with_batch_norm():
    # PacGAN's generator for the 2-D mixtures (4 hidden layers of 400 with batch norm), here narrower: 4 × 40
    overrides = {"generator_hidden_dim": 40, "generator_hidden_layers": 4, "generator_batch_norm": True}
    model = build_model("gan", {"hidden_dim": 16, "latent_dim": 2} | overrides, (2,))
    layers = [type(m).__name__ for m in model.generator[0]]
    assert layers == ["Linear", "BatchNorm1d", "ReLU"] * 4 + ["Linear"]  # normalised before the activation
    assert [m.out_features for m in model.generator.modules() if isinstance(m, torch.nn.Linear)] == [40] * 4 + [2]
    assert [m.out_features for m in model.critic.modules() if isinstance(m, torch.nn.Linear)] == [16, 16, 1]
    model.train_step(torch.randn(64, 2), model.optimizers(), lambda loss: loss.backward())
    # in eval mode batch norm uses its running statistics: an example does not depend on the others in its batch
    model.eval()
    z = torch.randn(5, 2)
    torch.testing.assert_close(model.generate(z[:1]), model.generate(z)[:1])
    with pytest.raises(ConfigError, match="generator_batch_norm shape the MLP generator: expected architecture=mlp"):
        build_model("gan", {"generator_batch_norm": True}, (1, 8, 8))
    with pytest.raises(ConfigError, match="batch_size must be >= 2, got 1"):
        make_config("gan", ["generator_batch_norm=true", "batch_size=1"])


class TwoModes(torch.nn.Module):
    """A hand-made generator of a 1-D latent: x = (2·tanh(4z), 0), two modes at (±2, 0) joined by a path.
    ‖∂x/∂z‖ = 8·sech²(4z) falls with |z|: the latents nearest 0 sample the path and are the steepest."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, 1) -> (B, 2)
        return torch.cat([2 * torch.tanh(4 * z), torch.zeros_like(z)], dim=1)


def test_jacobian_truncation_keeps_the_least_steep_latents_in_draw_order():
    model = build_model("gan", {"latent_dim": 1}, (2,)).double().eval()
    model.generator = TwoModes()
    n, rejected = 80, 0.2
    drawn = model.sample(100, generator=torch.Generator().manual_seed(3))  # (100, 2): the pool, ⌈80 / 0.8⌉
    kept = model.sample(n, generator=torch.Generator().manual_seed(3), jacobian_truncation=rejected)  # (80, 2)
    # the steepest latents are those nearest 0, i.e. the samples nearest the middle of the path
    z = torch.atanh(drawn[:, 0] / 2) / 4  # (100,)
    expected = drawn[(z.abs() >= z.abs().sort().values[100 - n]).nonzero().squeeze(1)]
    torch.testing.assert_close(kept, expected, rtol=0, atol=0)
    assert (kept[:, 0].abs() > drawn[:, 0].abs().sort().values[19]).all()  # off the middle fifth of the path
    plain = model.sample(n, generator=torch.Generator().manual_seed(3), jacobian_truncation=0.0)
    torch.testing.assert_close(plain, drawn[:n], rtol=0, atol=0)  # r = 0 is the plain sampler


def test_jacobian_truncated_samples_carry_no_gradient():
    # outside torch.no_grad, a generator with parameters: the Z forward passes keep no graph
    model = build_model("gan", {"latent_dim": 2}, (2,)).eval()
    assert model.sample(8).requires_grad  # the plain sampler keeps G's graph
    assert not model.sample(8, jacobian_truncation=0.2).requires_grad


def test_jacobian_truncation_in_chunks_keeps_the_same_samples(monkeypatch):
    model = build_model("gan", {"latent_dim": 2}, (2,)).double().eval()
    whole = model.sample(40, generator=torch.Generator().manual_seed(0), jacobian_truncation=0.5)  # pool of 80
    monkeypatch.setattr(gan_module, "JACOBIAN_CHUNK", 7)
    sizes = []

    def counted(function, z):
        sizes.append(len(z))
        return jacobian_frobenius_norms(function, z)

    monkeypatch.setattr(gan_module, "jacobian_frobenius_norms", counted)
    chunked = model.sample(40, generator=torch.Generator().manual_seed(0), jacobian_truncation=0.5)
    assert sizes == [7] * 11 + [3]
    torch.testing.assert_close(chunked, whole)


@pytest.mark.parametrize("name, shape", [("gan", (2,)), ("dcgan", (1, 28, 28))])
def test_jacobian_frobenius_norms_match_autograd_per_example(name, shape):
    overrides = {"latent_dim": 3} | ({"conv_width": 8} if name == "dcgan" else {"generator_batch_norm": True})
    model = build_model(name, overrides, shape).double()
    model.train()
    for _ in range(2):  # give batch norm running statistics that are not the identity
        model.generator(torch.randn(16, 3, dtype=torch.float64))
    model.eval()
    z = torch.randn(5, 3, dtype=torch.float64)
    samples, norms = jacobian_frobenius_norms(model.generate, z)  # (5, *D), (5,)
    torch.testing.assert_close(samples, model.generate(z))
    for b in range(5):
        jacobian = torch.autograd.functional.jacobian(lambda v: model.generate(v[None])[0], z[b], vectorize=True)
        torch.testing.assert_close(norms[b], jacobian.norm())


def test_a_jacobian_truncation_outside_0_1_or_of_a_batch_norm_generator_in_training_mode_is_a_user_error():
    model = build_model("gan", {"latent_dim": 2}, (2,))
    for rejected in (-0.1, 1.0):
        with pytest.raises(ConfigError, match=rf"expected a number in \[0, 1\), got {rejected}"):
            model.sample(4, jacobian_truncation=rejected)
    model = build_model("gan", {"latent_dim": 2, "generator_batch_norm": True}, (2,))
    with pytest.raises(ConfigError, match=r"needs the model in eval mode \(model.eval\(\)\)"):
        model.sample(4, jacobian_truncation=0.2)
    assert model.eval().sample(4, jacobian_truncation=0.2).shape == (4, 2)


@pytest.mark.parametrize("n, rejected, pool", [(10, 0.3, 15), (1, 0.8, 5), (2500, 0.2, 3125)])
def test_jacobian_truncation_draws_n_over_1_minus_r_latents_rounded_up(n, rejected, pool):
    model = build_model("gan", {"latent_dim": 1}, (2,)).eval()
    generator, reference = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert model.sample(n, generator=generator, jacobian_truncation=rejected).shape == (n, 2)
    torch.randn(pool, 1, generator=reference)
    torch.testing.assert_close(torch.randn(3, generator=generator), torch.randn(3, generator=reference))


def test_jacobian_truncation_keeps_the_earlier_of_equal_norms_and_samples_the_averaged_generator():
    model = build_model("gan", {"latent_dim": 2}, (2,)).double().eval()
    model.generator = torch.nn.Linear(2, 2).double()  # affine: every latent's Jacobian is the same matrix
    kept = model.sample(2500, generator=torch.Generator().manual_seed(0), jacobian_truncation=0.2)
    z = torch.randn(3125, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(kept, model.generator(z)[:2500], rtol=0, atol=0)
    model = build_model("gan", {"latent_dim": 2, "generator_average": 0.9}, (2,)).double()
    model.train_step(torch.randn(64, 2, dtype=torch.float64), model.optimizers(), lambda loss: loss.backward())
    model.eval()
    kept = model.sample(20, generator=torch.Generator().manual_seed(0), jacobian_truncation=0.5)  # (20, 2)
    z = torch.randn(40, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    averaged, live = model.average_generator(z), model.generator(z)  # (40, 2) each
    assert all((averaged == row).all(1).any() and not (live == row).all(1).any() for row in kept)
