"""f-GAN objectives (Nowozin et al. 2016): every row of Tables 1–2 against closed forms, in float64.

For each row: the variational bound at T* = f'(p/q) equals D_f(P ‖ Q) computed independently (SciPy's
entropy and Jensen–Shannon distance, or the textbook sums), any other critic gives less, Fenchel–Young
holds with equality, g_f lands in dom f*, and the stable forms of f*(g_f(v)) equal the composition.
"""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon
from scipy.special import lambertw
from scipy.stats import entropy, wasserstein_distance

from dgm.core.errors import ConfigError
from dgm.core.protocols import Adversarial
from dgm.losses.divergences import OBJECTIVES, OriginalGAN, Wasserstein, make_objective
from dgm.losses.fgan import (
    F_DIVERGENCES,
    AlphaAboveOne,
    AlphaBelowOne,
    FDivergence,
    FGANObjective,
    JensenShannon,
    PearsonChiSquared,
    SquaredHellinger,
    TotalVariation,
    WeightedJensenShannon,
    log_lambert_w_of_exp,
    make_divergence,
)

ROWS: list[FDivergence] = [
    *(make_divergence(name) for name in F_DIVERGENCES if name not in ("weighted_js", "alpha")),
    WeightedJensenShannon(0.5),
    WeightedJensenShannon(0.2),
    AlphaBelowOne(-1.5),
    AlphaBelowOne(0.5),
    AlphaAboveOne(1.5),
    AlphaAboveOne(3.0),
]
SMOOTH_ROWS = [row for row in ROWS if not isinstance(row, TotalVariation)]  # f differentiable, f* strictly convex

# Two distributions on five points as counts out of 20, so a batch of 20 scores holds P exactly;
# p ≠ q everywhere, so every row's divergence is positive and T* is unique.
P_COUNTS, Q_COUNTS = torch.tensor([2, 5, 1, 7, 5]), torch.tensor([4, 3, 6, 3, 4])
PAIRS = {
    "counts": (P_COUNTS.double() / 20, Q_COUNTS.double() / 20),
    "skewed": (
        torch.tensor([0.01, 0.09, 0.9], dtype=torch.float64),
        torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64),
    ),
}


def closed_form(row: FDivergence, p: torch.Tensor, q: torch.Tensor) -> float:
    """D_f(P ‖ Q) from formulas that do not use the row's f."""
    p_np, q_np = p.numpy(), q.numpy()
    js = jensenshannon(p_np, q_np) ** 2  # ½ KL(P‖M) + ½ KL(Q‖M), natural log
    if isinstance(row, WeightedJensenShannon):
        mixture = row.pi * p_np + (1 - row.pi) * q_np
        return row.pi * entropy(p_np, mixture) + (1 - row.pi) * entropy(q_np, mixture)
    if isinstance(row, (AlphaBelowOne, AlphaAboveOne)):
        alpha = row.alpha
        return (np.sum(p_np**alpha * q_np ** (1 - alpha)) - 1) / (alpha * (alpha - 1))
    return {
        "total_variation": 0.5 * np.abs(p_np - q_np).sum(),
        "kl": entropy(p_np, q_np),
        "reverse_kl": entropy(q_np, p_np),
        "pearson": np.sum((p_np - q_np) ** 2 / q_np),
        "neyman": np.sum((p_np - q_np) ** 2 / p_np),
        "hellinger": np.sum((np.sqrt(p_np) - np.sqrt(q_np)) ** 2),
        "jeffrey": entropy(p_np, q_np) + entropy(q_np, p_np),
        "js": 2 * js,
        "gan": 2 * js - math.log(4),
    }[row.name]


def value_at_one(row: FDivergence) -> float:
    """f(1) = D_f(Q ‖ Q): 0, except −log 4 for the GAN row, whose D_f is 2 JS − log 4 (Table 1's caption)."""
    return -math.log(4) if row.name == "gan" else 0.0


def derivative(row: FDivergence, u: torch.Tensor) -> torch.Tensor:
    """f'(u) by autograd, independent of the row's hand-written f*, g_f and f'(1)."""
    u = u.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(row.convex_function(u).sum(), u)
    return gradient


def variational_bound(row: FDivergence, critic: torch.Tensor, p: torch.Tensor, q: torch.Tensor) -> float:
    """E_P[T] − E_Q[f*(T)] for a critic T given by its value on each point."""
    return (p * critic).sum().item() - (q * row.conjugate(critic)).sum().item()


def inverse_activation(row: FDivergence, t: torch.Tensor) -> torch.Tensor:
    """The score v with g_f(v) = t, by bisection on [−60, 60] (every g_f is increasing)."""
    low, high = torch.full_like(t, -60.0), torch.full_like(t, 60.0)
    for _ in range(200):
        middle = (low + high) / 2
        below = row.activation(middle) < t
        low, high = torch.where(below, middle, low), torch.where(below, high, middle)
    return (low + high) / 2


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_bound_at_the_optimal_critic_is_the_divergence_and_any_other_critic_gives_less(row, pair):
    p, q = PAIRS[pair]
    expected = closed_form(row, p, q)
    optimal = derivative(row, p / q)  # T*(x) = f'(p(x)/q(x))
    assert row.in_domain(optimal).all()
    assert variational_bound(row, optimal, p, q) == pytest.approx(expected, rel=1e-12, abs=1e-14)
    assert expected > 0.01 or row.name == "gan"  # D_gan = 2 JS − log 4 < 0
    # the critic that cannot tell P from Q (T = f'(1)) scores f(1) = D_f(Q ‖ Q); one that has them swapped
    # scores less than D_f
    constant = torch.full_like(p, row.derivative_at_one)
    assert variational_bound(row, constant, p, q) == pytest.approx(value_at_one(row), abs=1e-14)
    assert variational_bound(row, derivative(row, q / p), p, q) < expected - 1e-3


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_objective_on_scores_that_realise_the_optimal_critic_is_the_divergence(row):
    p, q = PAIRS["counts"]
    scores = inverse_activation(row, derivative(row, p / q))  # (5,) v* with g_f(v*) = T*
    real_scores = scores.repeat_interleave(P_COUNTS)  # (20,): the batch mean is E_P exactly
    fake_scores = scores.repeat_interleave(Q_COUNTS)  # (20,)
    objective = FGANObjective(row)
    expected = closed_form(row, p, q)
    assert objective.value(real_scores, fake_scores).item() == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert objective.critic_loss(real_scores, fake_scores).item() == pytest.approx(-expected, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_fenchel_young_equality_at_the_derivative(row):
    # f*(f'(u)) = u f'(u) − f(u): the supremum defining f*(t) is attained at the u with f'(u) = t.
    u = torch.logspace(-3, 3, 121, dtype=torch.float64)
    slope = derivative(row, u)
    assert row.in_domain(slope).all()
    torch.testing.assert_close(row.conjugate(slope), u * slope - row.convex_function(u), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("row", SMOOTH_ROWS, ids=repr)
def test_conjugate_derivative_inverts_the_derivative(row):
    # (f*)'(f'(u)) = u: the gradients the critic trains on, including the Lambert-W row's implicit one.
    u = torch.logspace(-2, 2, 41, dtype=torch.float64)
    slope = derivative(row, u).requires_grad_(True)
    (conjugate_slope,) = torch.autograd.grad(row.conjugate(slope).sum(), slope)
    torch.testing.assert_close(conjugate_slope, u, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_f_at_one_and_its_slope_there_is_the_tables_critical_level(row):
    one = torch.ones(1, dtype=torch.float64)
    assert row.convex_function(one).item() == pytest.approx(value_at_one(row), abs=1e-15)
    assert derivative(row, one).item() == pytest.approx(row.derivative_at_one, abs=1e-14)
    # Fenchel–Young at u = 1: f*(f'(1)) = f'(1) − f(1)
    critical = one * row.derivative_at_one
    assert row.conjugate(critical).item() == pytest.approx(row.derivative_at_one - value_at_one(row), abs=1e-14)


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_activation_is_increasing_and_lands_in_the_conjugates_domain(row):
    generator = torch.Generator().manual_seed(0)
    wide = torch.cat([10 * torch.randn(10_000, generator=generator, dtype=torch.float64), torch.tensor([-30.0, 30.0])])
    scores = wide.clamp(-30, 30).double()  # where float64 still resolves g_f(v) from dom f*'s open end
    assert row.in_domain(row.activation(scores)).all()
    assert row.conjugate_of_activation(scores).isfinite().all()
    grid = torch.linspace(-10, 10, 2001, dtype=torch.float64)
    assert (row.activation(grid).diff() > 0).all()


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_stable_conjugate_of_activation_equals_the_composition_and_stays_finite(row):
    scores = torch.linspace(-10, 10, 401, dtype=torch.float64, requires_grad=True)
    stable = row.conjugate_of_activation(scores)
    composed = row.conjugate(row.activation(scores))
    torch.testing.assert_close(stable, composed, rtol=1e-9, atol=1e-12)
    (stable_slope,) = torch.autograd.grad(stable.sum(), scores)
    (composed_slope,) = torch.autograd.grad(composed.sum(), scores)
    torch.testing.assert_close(stable_slope, composed_slope, rtol=1e-8, atol=1e-12)
    # Large scores: finite in float64 up to |v| = 200, in float32 up to |v| = 30 (a confident critic),
    # where composing g_f and f* naively rounds g_f(v) onto dom f*'s end and returns inf.
    far = torch.linspace(-200, 200, 801, dtype=torch.float64)
    assert row.conjugate_of_activation(far).isfinite().all()
    single = torch.linspace(-30, 30, 241, dtype=torch.float32)
    objective = FGANObjective(row, "single_step")
    assert objective.critic_loss(single, single.flip(0)).isfinite()
    assert objective.generator_loss(single).isfinite()
    if not isinstance(row, PearsonChiSquared):  # f* is non-decreasing on g_f's range
        assert (row.conjugate_of_activation(far).diff() >= 0).all()


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_critic_gain_on_a_sample_only_the_generator_makes_is_f_at_zero(row):
    """Where Q has mass and P none (u = p/q = 0), the bound's integrand is −f*(T), whose supremum over dom f* is
    the biconjugate f**(0) = f(0⁺). Finite for most rows; infinite for reverse KL, Neyman χ², Jeffrey and α < 0,
    whose critic gains without limit by pushing the score of such a sample down: the mode benchmark's reverse KL
    and Neyman rows blow up that way."""
    falling = -torch.logspace(-3, 12, 1501, dtype=torch.float64)  # −1e-3 .. −1e12
    scores = torch.cat([falling, torch.linspace(-50, 50, 10_001, dtype=torch.float64)])
    gain = -row.conjugate_of_activation(scores)
    at_zero = row.convex_function(torch.tensor(1e-300, dtype=torch.float64)).item()  # f(0⁺), or ≥ 690 if infinite
    if at_zero > 100:
        assert row.name in ("reverse_kl", "neyman", "jeffrey") or (row.name == "alpha" and row.alpha < 0)
        far = gain[: len(falling)]  # Neyman's 2·exp(−v/2) overflows to inf from v ≈ −1420
        finite = far[far.isfinite()]
        assert (finite.diff() > 0).all()  # grows as the score falls ...
        v = falling[-1].item()  # ... without limit, at the rate of each row's closed form
        if row.name == "reverse_kl":
            assert far[-1].item() == pytest.approx(1 - v, rel=1e-12)
        elif row.name == "neyman":
            assert far[-1].item() == math.inf and far[600].item() == pytest.approx(2 * math.exp(-falling[600] / 2) - 2)
        elif row.name == "jeffrey":  # 1 + log W(e^(1 − v)) − 1/W ≈ 1 + log(1 − v)
            assert far[-1].item() == pytest.approx(1 + math.log(1 - v), rel=1e-9)
        else:  # f*(t) ≈ ((1 − α)|t|)^(α/(α − 1)) / α as t ≈ v → −∞: a power of |v|
            assert (far[-1] / far[-601]).item() == pytest.approx(1e6 ** (row.alpha / (row.alpha - 1)), rel=1e-3)
    else:
        assert gain.max().item() <= at_zero + 1e-12
        assert gain.max().item() == pytest.approx(at_zero, abs=1e-10)  # α = ½ approaches 2 as 4/|v|


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_both_generator_updates_raise_the_critic_on_fakes_except_single_step_pearson_below_minus_two(row):
    scores = torch.linspace(-8, 8, 161, dtype=torch.float64)
    slopes = {}
    for update in ("single_step", "alternative"):
        fake_scores = scores.clone().requires_grad_(True)
        FGANObjective(row, update).generator_loss(fake_scores).backward()
        slopes[update] = fake_scores.grad
    assert (slopes["alternative"] < 0).all()  # descending the loss raises T = g_f(v) on every fake
    if isinstance(row, PearsonChiSquared):  # (t²/4 + t)' = t/2 + 1 < 0 for t < −2: single step pushes T down
        assert (slopes["single_step"][scores < -2] > 0).all() and (slopes["single_step"][scores > -2] < 0).all()
    else:
        assert (slopes["single_step"] <= 0).all()


def test_alpha_family_contains_hellinger_pearson_and_tends_to_kl():
    u = torch.logspace(-2, 2, 41, dtype=torch.float64)
    torch.testing.assert_close(AlphaBelowOne(0.5).convex_function(u), 2 * SquaredHellinger().convex_function(u))
    torch.testing.assert_close(AlphaAboveOne(2.0).convex_function(u), 0.5 * PearsonChiSquared().convex_function(u))
    torch.testing.assert_close(WeightedJensenShannon(0.5).convex_function(u), 0.5 * JensenShannon().convex_function(u))
    p, q = PAIRS["counts"]
    kl = entropy(p.numpy(), q.numpy())
    for alpha in (1 - 1e-6, 1 + 1e-6):
        row = make_divergence("alpha", alpha=alpha)
        assert (q * row.convex_function(p / q)).sum().item() == pytest.approx(kl, rel=1e-5)


def test_lambert_w_matches_scipy():
    y = torch.linspace(-600, 600, 4001, dtype=torch.float64)
    expected = torch.from_numpy(np.log(np.real(lambertw(np.exp(y.numpy())))))
    torch.testing.assert_close(log_lambert_w_of_exp(y), expected, rtol=1e-14, atol=1e-15)


def test_original_gan_at_the_optimal_discriminator_is_minus_log_four_plus_twice_the_jsd():
    # Goodfellow et al. 2014, Theorem 1: D* = p / (p + q), i.e. the logit log(p/q); V(D*, G) = −log 4 + 2 JSD.
    p, q = PAIRS["counts"]
    optimal_logits = (p / q).log()  # (5,)
    real_scores, fake_scores = optimal_logits.repeat_interleave(P_COUNTS), optimal_logits.repeat_interleave(Q_COUNTS)
    expected = -math.log(4) + 2 * jensenshannon(p.numpy(), q.numpy()) ** 2
    for objective in (make_objective("gan"), OriginalGAN("minimax"), OriginalGAN("non_saturating")):
        assert objective.value(real_scores, fake_scores).item() == pytest.approx(expected, rel=1e-13)
    worse = make_objective("gan").value(real_scores + 0.3, fake_scores + 0.3).item()
    assert worse < expected - 1e-3


def test_gan_row_single_step_is_minimax_and_alternative_is_non_saturating():
    generator = torch.Generator().manual_seed(1)
    real, fake = (
        3 * torch.randn(50, generator=generator, dtype=torch.float64),
        3 * torch.randn(40, generator=generator, dtype=torch.float64),
    )
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    value = d_real.log().mean() + (1 - d_fake).log().mean()  # eq. 1
    minimax, non_saturating = (1 - d_fake).log().mean(), -d_fake.log().mean()
    for update, generator_loss in (("single_step", minimax), ("alternative", non_saturating)):
        objective = make_objective("gan", generator_update=update)
        assert objective.critic_loss(real, fake).item() == pytest.approx(-value.item(), abs=1e-12)
        assert objective.generator_loss(fake).item() == pytest.approx(generator_loss.item(), abs=1e-12)
    assert OriginalGAN("minimax").generator_loss(fake).item() == pytest.approx(minimax.item(), abs=1e-12)
    assert OriginalGAN("non_saturating").generator_loss(fake).item() == pytest.approx(non_saturating.item(), abs=1e-12)


def test_jensen_shannon_and_gan_rows_differ_by_constants_so_they_train_alike():
    # f_JS(u) − f_GAN(u) = (u + 1)·log 2 is affine in u: the bounds differ by log 4, the generator losses by
    # log 2, whatever the scores, so both rows take identical gradient steps (the bench's js and gan rows agree)
    generator = torch.Generator().manual_seed(3)
    real, fake = (3 * torch.randn(30, generator=generator, dtype=torch.float64) for _ in range(2))
    for update, offset in (("alternative", -math.log(2)), ("single_step", math.log(2))):
        js, gan = make_objective("js", generator_update=update), make_objective("gan", generator_update=update)
        assert (js.critic_loss(real, fake) - gan.critic_loss(real, fake)).item() == pytest.approx(-math.log(4))
        assert (js.generator_loss(fake) - gan.generator_loss(fake)).item() == pytest.approx(offset)


def test_wasserstein_with_the_optimal_critic_of_a_shift_is_the_earth_movers_distance():
    # Q = P shifted left by 0.7: the 1-Lipschitz critic x ↦ x is optimal and the value is W1(P, Q) = 0.7.
    real = 1 + torch.randn(1000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    fake = real - 0.7
    objective = make_objective("wasserstein")
    assert isinstance(objective, Wasserstein)
    assert objective.value(real, fake).item() == pytest.approx(wasserstein_distance(real.numpy(), fake.numpy()))
    assert objective.critic_loss(real, fake).item() == pytest.approx((fake.mean() - real.mean()).item(), abs=1e-12)
    assert objective.generator_loss(fake).item() == pytest.approx(-fake.mean().item(), abs=1e-12)


def test_every_name_builds_an_adversarial_and_alpha_picks_its_row_by_its_side_of_one():
    assert OBJECTIVES == (
        "total_variation", "kl", "reverse_kl", "pearson", "neyman", "hellinger", "jeffrey", "js",
        "weighted_js", "gan", "alpha", "wasserstein",
    )  # fmt: skip
    for name in OBJECTIVES:
        for update in ("single_step", "alternative"):
            assert isinstance(make_objective(name, generator_update=update), Adversarial)
    assert isinstance(make_objective("alpha", alpha=-0.5).divergence, AlphaBelowOne)
    assert isinstance(make_objective("alpha", alpha=2.0).divergence, AlphaAboveOne)
    assert make_objective("weighted_js", pi=0.3).divergence.pi == 0.3


def test_unknown_names_and_out_of_range_parameters_are_config_errors_listing_the_choices():
    with pytest.raises(ConfigError, match="unknown objective 'wgan'; expected one of: ") as error:
        make_objective("wgan")
    assert all(name in str(error.value) for name in OBJECTIVES)
    for pi in (0.0, 1.0, -0.1, 1.5, math.nan):
        with pytest.raises(ConfigError, match=r"pi must be in \(0, 1\), got"):
            make_objective("weighted_js", pi=pi)
    for alpha in (0, 1, 0.0, 1.0, math.inf, math.nan):
        with pytest.raises(ConfigError, match="alpha must be finite, not 0 and not 1, got"):
            make_objective("alpha", alpha=alpha)
    for name in ("kl", "wasserstein"):
        with pytest.raises(ConfigError, match="generator_update must be one of: single_step, alternative; got 'nsgan'"):
            make_objective(name, generator_update="nsgan")
    with pytest.raises(ConfigError, match="generator_loss must be one of: minimax, non_saturating"):
        OriginalGAN("heuristic")
