"""Handwriting RNN (Graves 2013): the mixture density likelihood against torch.distributions, the
soft window, causality, the padding convention, text validation, the end rule, and learning."""

import math

import pytest
import torch
from torch.distributions import Bernoulli, Categorical, MixtureSameFamily, MultivariateNormal

from dgm.core.errors import ConfigError, DataError
from dgm.data.strokes import ALPHABET, WORDS, decode_texts, load_hershey, pad_strokes, sequence_lengths
from dgm.losses.mdn import PenMixture, fit_single_gaussian
from dgm.models.autoregressive.handwriting import Handwriting, HandwritingConfig

INFO = {"alphabet": ALPHABET, "pad_index": len(ALPHABET), "points_per_character": 4.0}
PAD = len(ALPHABET)


def random_pen(batch: tuple[int, ...], m: int, generator: torch.Generator, spread: float = 1.0) -> PenMixture:
    def draw(*shape: int) -> torch.Tensor:
        return spread * torch.randn((*batch, *shape), generator=generator, dtype=torch.float64)

    return PenMixture(draw(), draw(m), draw(m, 2), 0.5 * draw(m, 2), draw(m))


def reference_log_prob(pen: PenMixture, x: torch.Tensor) -> torch.Tensor:
    """log p by eqs. 23–25 written with torch.distributions: a MultivariateNormal mixture times a Bernoulli."""
    scales = pen.log_scales.exp()  # (*B, M, 2)
    rho = torch.tanh(pen.correlation_logits)  # (*B, M)
    covariance_xy = rho * scales[..., 0] * scales[..., 1]
    covariance = torch.stack(
        [torch.stack([scales[..., 0] ** 2, covariance_xy], -1), torch.stack([covariance_xy, scales[..., 1] ** 2], -1)],
        -2,
    )  # (*B, M, 2, 2)
    mixture = MixtureSameFamily(Categorical(logits=pen.mixture_logits), MultivariateNormal(pen.means, covariance))
    return mixture.log_prob(x[..., :2]) + Bernoulli(logits=pen.lift_logits).log_prob(x[..., 2])


def random_strokes(batch: int, length: int, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
    x = torch.randn(batch, length, 3, generator=generator, dtype=dtype)
    x[..., 2] = (torch.rand(batch, length, generator=generator) < 0.2).to(dtype)
    return x


def tiny_model(synthesis: bool, **overrides) -> Handwriting:
    torch.manual_seed(0)
    config = HandwritingConfig(
        synthesis=synthesis, hidden_size=8, num_layers=2, num_components=3, num_window_components=2, **overrides
    )
    return Handwriting(config, (12, 3), INFO).double()


def labels_for(*texts: str) -> torch.Tensor:
    width = max(map(len, texts))
    return torch.tensor([[ALPHABET.index(c) for c in t] + [PAD] * (width - len(t)) for t in texts])


# ---------------------------------------------------------------- the mixture density output


def test_pen_mixture_log_prob_equals_torch_distributions_on_random_parameters():
    generator = torch.Generator().manual_seed(0)
    pen = random_pen((7, 5), m=4, generator=generator)
    x = random_strokes(7, 5, generator)
    expected = reference_log_prob(pen, x)
    assert pen.log_prob(x).shape == (7, 5)
    torch.testing.assert_close(pen.log_prob(x), expected, rtol=1e-12, atol=1e-12)


def test_sampling_bias_sharpens_scales_and_weights_as_in_graves_eqs_61_62():
    generator = torch.Generator().manual_seed(1)
    output = torch.randn(4, PenMixture.output_size(3), generator=generator, dtype=torch.float64)
    plain, biased = PenMixture.from_network_output(output, 3), PenMixture.from_network_output(output, 3, bias=2.0)
    torch.testing.assert_close(biased.log_scales, plain.log_scales - 2.0, rtol=0, atol=0)
    torch.testing.assert_close(biased.mixture_logits.softmax(-1), (3.0 * plain.mixture_logits).softmax(-1))
    torch.testing.assert_close(biased.means, plain.means, rtol=0, atol=0)


def test_log_prob_stays_finite_and_exact_where_correlations_saturate_float32():
    generator = torch.Generator().manual_seed(2)
    pen64 = random_pen((50,), m=3, generator=generator)
    pen64.correlation_logits = pen64.correlation_logits.sign() * 12.0  # tanh(12) rounds to 1 in float32
    x = random_strokes(50, 1, generator)[:, 0]
    names = ("lift_logits", "mixture_logits", "means", "log_scales", "correlation_logits")
    pen32 = PenMixture(*(getattr(pen64, name).float() for name in names))
    log_prob32 = pen32.log_prob(x.float())
    assert torch.isfinite(log_prob32).all()
    torch.testing.assert_close(log_prob32.double(), pen64.log_prob(x), rtol=1e-4, atol=1e-3)


def test_samples_match_the_mixture_moments():
    """Mean, covariance and lift rate of 400k draws vs their closed forms, within 5 standard errors."""
    generator = torch.Generator().manual_seed(3)
    pen = random_pen((), m=3, generator=generator, spread=0.7)
    draws = pen.sample((400_000,), generator=generator)  # (S, 3)
    weights, means, scales = pen.mixture_logits.softmax(-1), pen.means, pen.log_scales.exp()
    rho = torch.tanh(pen.correlation_logits)
    mean = (weights[:, None] * means).sum(0)  # (2,)
    covariance_xy = rho * scales[:, 0] * scales[:, 1]
    within = torch.stack(
        [torch.stack([scales[:, 0] ** 2, covariance_xy], -1), torch.stack([covariance_xy, scales[:, 1] ** 2], -1)], -2
    )  # (M, 2, 2)
    second_moment = within + means[:, :, None] * means[:, None, :]  # (M, 2, 2) E[x xᵀ] per component
    covariance = (weights[:, None, None] * second_moment).sum(0) - mean[:, None] * mean[None, :]
    standard_error = covariance.diagonal().sqrt() / math.sqrt(len(draws))
    assert ((draws[:, :2].mean(0) - mean).abs() < 5 * standard_error).all()
    torch.testing.assert_close(torch.cov(draws[:, :2].T), covariance, rtol=0.02, atol=0.02)
    lift = torch.sigmoid(pen.lift_logits)
    assert abs(draws[:, 2].mean() - lift) < 5 * math.sqrt(lift * (1 - lift) / len(draws))


def test_single_gaussian_baseline_is_the_maximum_likelihood_fit():
    """Moving any parameter of the fitted baseline away from the fit lowers the likelihood."""
    generator = torch.Generator().manual_seed(4)
    points = random_strokes(1, 500, generator)[0] * torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64)
    points[:, 1] += 0.6 * points[:, 0]
    fit = fit_single_gaussian(points)
    best = fit.log_prob(points).mean()
    names = ("lift_logits", "mixture_logits", "means", "log_scales", "correlation_logits")
    for name in ("lift_logits", "means", "log_scales", "correlation_logits"):
        for step in (-0.01, 0.01):
            moved = PenMixture(*(getattr(fit, k) for k in names))
            setattr(moved, name, getattr(fit, name) + step)
            assert moved.log_prob(points).mean() < best


# ---------------------------------------------------------------- the data convention


def test_hershey_strokes_follow_the_padding_convention_and_carry_their_text():
    data = load_hershey(num_train=40, num_test=10)
    assert data.kind == "strokes" and data.train.shape[1:] == (200, 3) and data.test.shape == (10, 200, 3)
    lengths = sequence_lengths(data.train)
    for sequence, length in zip(data.train, lengths, strict=True):
        assert sequence[length - 1, 2] == 1.0  # the last real point lifts the pen
        assert (sequence[length:] == torch.tensor([0.0, 0.0, 1.0])).all()
        assert not (sequence[:length] == torch.tensor([0.0, 0.0, 1.0])).all(dim=1).any()
    texts = decode_texts(data.train_labels, data.info["alphabet"])
    assert all(word in WORDS for text in texts for word in text.split(" "))
    assert (data.train_labels[data.train_labels >= len(ALPHABET)] == data.info["pad_index"]).all()
    again = load_hershey(num_train=40, num_test=10)
    assert torch.equal(again.train, data.train) and torch.equal(again.train_labels, data.train_labels)


def test_sequence_lengths_and_padding_round_trip():
    generator = torch.Generator().manual_seed(5)
    sequences = [random_strokes(1, n, generator, torch.float32)[0] for n in (3, 7, 1)]
    assert sequence_lengths(pad_strokes(sequences, 9)).tolist() == [3, 7, 1]


# ---------------------------------------------------------------- the network


@pytest.mark.parametrize("synthesis", [False, True])
def test_output_at_step_t_depends_only_on_earlier_points(synthesis):
    """Exact zero Jacobian of the parameters of p(x_t | ·) with respect to x_s for every s ≥ t."""
    model = tiny_model(synthesis)
    generator = torch.Generator().manual_seed(6)
    x = random_strokes(1, 6, generator)
    labels = labels_for("hello") if synthesis else None
    jacobian = torch.autograd.functional.jacobian(lambda x: model.network_output(x, labels), x)  # (1, 6, P, 1, 6, 3)
    influence = jacobian[0, :, :, 0].abs().sum(dim=(1, 3))  # (6 outputs, 6 inputs)
    assert torch.equal(influence.triu(), torch.zeros_like(influence))
    assert (influence.tril(-1)[1:, :-1].diagonal() > 0).all()  # and each output does see the point before it


def test_log_prob_scores_real_points_only_and_ignores_extra_padding():
    model = tiny_model(synthesis=True)
    generator = torch.Generator().manual_seed(7)
    x = random_strokes(2, 9, generator)
    x[0, 5:] = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)  # first sequence: 5 points
    labels = labels_for("ab", "cab")
    log_prob = model.log_prob(x, labels)
    pen = PenMixture.from_network_output(model.network_output(x, labels), model.config.num_components)
    per_point = pen.log_prob(x)  # (2, 9)
    torch.testing.assert_close(log_prob, torch.stack([per_point[0, :5].sum(), per_point[1].sum()]))
    padded = torch.cat([x, torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64).expand(2, 4, 3)], dim=1)
    wider_labels = torch.cat([labels, torch.full((2, 3), PAD)], dim=1)
    torch.testing.assert_close(model.log_prob(padded, wider_labels), log_prob, rtol=1e-12, atol=1e-12)


def test_window_location_never_moves_backwards_and_padding_characters_are_invisible():
    model = tiny_model(synthesis=True)
    with torch.no_grad():
        model.window_head.weight.normal_(0.0, 2.0, generator=torch.Generator().manual_seed(8))
    generator = torch.Generator().manual_seed(9)
    inputs = random_strokes(3, 30, generator)
    labels = labels_for("hello", "ab", "zebra  x")
    _, _, attention = model.run(inputs, model.one_hot_text(labels), model.initial_state(3))
    kappa = attention.kappa  # (3, 30, K)
    assert (kappa.diff(dim=1) > 0).all() and (kappa[:, 0] > 0).all()  # eq. 51: κ_t = κ_{t−1} + exp(κ̂) > κ_{t−1}
    assert (attention.phi >= 0).all() and attention.phi.shape == (3, 30, labels.shape[1] + 1)
    wider = torch.cat([labels, torch.full((3, 4), PAD)], dim=1)
    output, _, _ = model.run(inputs, model.one_hot_text(labels), model.initial_state(3))
    output_wider, _, _ = model.run(inputs, model.one_hot_text(wider), model.initial_state(3))
    torch.testing.assert_close(output_wider, output, rtol=0, atol=0)


def test_stepwise_run_equals_the_whole_sequence_at_once():
    """Sampling runs one step at a time from carried state; it must be the same network as training."""
    model = tiny_model(synthesis=True)
    generator = torch.Generator().manual_seed(10)
    inputs = random_strokes(2, 7, generator)
    text = model.one_hot_text(labels_for("hi", "dog"))
    whole, _, _ = model.run(inputs, text, model.initial_state(2))
    state, steps = model.initial_state(2), []
    for t in range(7):
        output, state, _ = model.run(inputs[:, t : t + 1], text, state)
        steps.append(output)
    torch.testing.assert_close(torch.cat(steps, dim=1), whole, rtol=1e-12, atol=1e-12)


def test_synthesis_stops_by_the_attention_end_rule():
    """With κ advancing exactly one character per point and α = β = 1, φ(t, U + 1) first exceeds every
    φ(t, u ≤ U) at step U (counting from 0), so a text of U characters gets exactly U points."""
    model = tiny_model(synthesis=True)
    with torch.no_grad():
        model.window_head.weight.zero_()
        model.window_head.bias.zero_()
    samples = model.sample(4, text="abc", length=10, generator=torch.Generator().manual_seed(11))
    assert samples.shape == (4, 10, 3)
    assert sequence_lengths(samples).tolist() == [3, 3, 3, 3]
    assert (samples[:, 3:] == torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)).all()
    # Without a length, a long text gets twice the data's points per character (4 here) per character.
    assert model.sample(1, text="abcdefgh").shape == (1, 2 * 4 * 8, 3)


# ---------------------------------------------------------------- conditions the user gives


def test_text_outside_the_alphabet_is_a_config_error():
    model = tiny_model(synthesis=True)
    with pytest.raises(ConfigError, match="characters"):
        model.sample(1, text="Hello!")
    with pytest.raises(ConfigError, match="non-empty"):
        model.sample(1, text="")


def test_unconditional_model_refuses_text_and_labels():
    model = tiny_model(synthesis=False)
    with pytest.raises(ConfigError, match="writes no given text"):
        model.sample(1, text="hello")
    with pytest.raises(DataError, match="takes no labels"):
        model.log_prob(torch.zeros(1, 4, 3, dtype=torch.float64), labels_for("a"))


def test_prompt_and_bad_length_are_config_errors_and_synthesis_needs_labels():
    model = tiny_model(synthesis=True)
    with pytest.raises(ConfigError, match="not a prompt"):
        model.sample(1, prompt="ROMEO:")
    with pytest.raises(ConfigError, match="length"):
        model.sample(1, text="a", length=0)
    with pytest.raises(DataError, match="labels"):
        model.log_prob(torch.zeros(1, 4, 3, dtype=torch.float64))
    with pytest.raises(DataError, match="alphabet"):
        Handwriting(HandwritingConfig(synthesis=True), (12, 3), {})


def test_unconditional_sample_runs_for_the_requested_length():
    model = tiny_model(synthesis=False)
    samples = model.sample(3, length=15, generator=torch.Generator().manual_seed(12))
    assert samples.shape == (3, 15, 3) and sequence_lengths(samples).tolist() == [15, 15, 15]
    assert set(samples[..., 2].unique().tolist()) <= {0.0, 1.0}


# ---------------------------------------------------------------- learning


@pytest.mark.slow
@pytest.mark.parametrize("synthesis", [False, True])
def test_short_training_beats_the_single_gaussian_baseline_per_point(synthesis):
    from dgm.data import BatchStream
    from dgm.eval import evaluate_model

    data = load_hershey(num_train=400, num_test=100)
    torch.manual_seed(0)
    config = HandwritingConfig(
        synthesis=synthesis, hidden_size=32, num_layers=1, num_components=5, batch_size=16, learning_rate=5e-3
    )
    model = Handwriting(config, data.shape, data.info)
    optimizers = model.optimizers()
    stream = BatchStream((data.train, data.train_labels) if synthesis else data.train, model.batch_size, seed=0)
    for _ in range(60):
        model.train_step(next(stream), optimizers, lambda loss: loss.backward())
    with torch.no_grad():
        metrics = evaluate_model(model, data.test, labels=data.test_labels)
    assert metrics["nll_per_point_nats"] < metrics["single_gaussian_nll_per_point_nats"] - 0.5, metrics
    assert "bits_per_dim" not in metrics, "a density over pen offsets has no bits per dimension"
