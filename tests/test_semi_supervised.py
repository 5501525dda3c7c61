"""M2 / M1+M2 and the generative classifier: the unlabelled bound sums over classes exactly, Bayes'
rule, label hiding, and learning on 8×8 digits against stated baselines."""

import copy
import itertools
import json
import math

import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from torch.distributions import Bernoulli, Independent, Normal

from dgm.data import BatchStream, binarize_static, load_dataset
from dgm.eval.classification import balanced_subset, generative_vs_discriminative_curve
from dgm.models import build_model
from dgm.models.latent.generative_classifier import BernoulliMixtureClassifier
from helpers import dgm

SMALL = {"num_labels": 100, "latent_dim": 3, "hidden_dim": 16}


def train(model, stream, steps: int) -> None:
    optimizers = model.optimizers()
    for _ in range(steps):
        model.train_step(next(stream), optimizers, lambda loss: loss.backward())


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.mark.parametrize("name", ["m2", "m1m2"])
def test_unlabelled_bound_is_the_exact_class_marginal_of_labelled_bounds(name):
    torch.manual_seed(0)
    model = build_model(name, SMALL | {"m1_latent_dim": 5, "m1_hidden_dim": 16}, (1, 8, 8)).double()
    generator = torch.Generator().manual_seed(1)
    x = (torch.rand(6, 1, 8, 8, generator=generator) < 0.4).double()  # (B, 1, 8, 8)
    features = model.features(x)  # (B, F)
    noise = torch.randn(10, 6, 3, generator=generator, dtype=torch.float64)  # (K, B, Z)
    with torch.no_grad():
        batched = model.unlabelled_bound(features, noise)  # (B,)
        q_y = model.classifier(features).softmax(dim=1)  # (B, K)
        explicit = torch.zeros(6, dtype=torch.float64)
        for y in range(10):
            y_onehot = F.one_hot(torch.full((6,), y), 10).double()  # (B, K)
            bound = model.labelled_bound(features, y_onehot, noise[y])  # (B,)

            # Eq. 6 by hand: log p(x|y, z) + log p(y) − KL(N(μ, σ²) ‖ N(0, I)) at z = μ + σ ε.
            mean, log_std = model.encoder(torch.cat([features, y_onehot], dim=1)).chunk(2, dim=1)
            z = mean + log_std.exp() * noise[y]
            params = model.decoder(torch.cat([z, y_onehot], dim=1))
            if name == "m2":
                likelihood = Independent(Bernoulli(logits=params), 1).log_prob(features)
            else:
                loc, log_scale = params.chunk(2, dim=1)
                likelihood = Independent(Normal(loc, log_scale.clamp(min=-6).exp()), 1).log_prob(features)
            kl = 0.5 * (mean**2 + (2 * log_std).exp() - 1 - 2 * log_std).sum(dim=1)
            assert torch.allclose(bound, likelihood - math.log(10) - kl, rtol=0, atol=1e-10)

            explicit += q_y[:, y] * bound - q_y[:, y] * q_y[:, y].log()  # Σ_y q(y|x)(−L(x, y)) + H(q(y|x))
    assert torch.allclose(batched, explicit, rtol=0, atol=1e-10), (batched, explicit)


def test_m1m2_neither_feeds_nor_models_m1_units_whose_posterior_mean_is_constant():
    torch.manual_seed(0)
    model = build_model("m1m2", SMALL | {"m1_latent_dim": 5, "m1_hidden_dim": 16}, (1, 8, 8)).double()
    mean_layer = model.m1.encoder[1][-1]  # the Linear whose first 5 outputs are E[z1|x]
    with torch.no_grad():
        mean_layer.weight[[1, 3]] = 0  # units 1 and 3: E[z1|x] is their bias, whatever x
        mean_layer.weight[[0, 2, 4]] *= 100  # the others vary with x
    x = (torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(1)) < 0.4).double()  # (B, 1, 8, 8)
    model.choose_active_units(x)
    assert model.active_units.tolist() == [True, False, True, False, True]

    features = model.features(x, sample=True)  # (B, 5)
    assert torch.equal(features[:, [1, 3]], torch.zeros(64, 2, dtype=torch.float64))
    assert features[:, [0, 2, 4]].std(dim=0).min() > 0.1
    y_onehot = F.one_hot(torch.arange(64) % 10, 10).double()  # (B, K)
    assert model.decode(torch.zeros(64, 3, dtype=torch.float64), y_onehot).event_shape == (3,)  # p(z1|y, z2): active
    assert model.unlabelled_bound(features).isfinite().all()
    samples = model.sample(4, generator=torch.Generator().manual_seed(2))  # M1 decodes z1 with 0 at units 1, 3
    assert samples.shape == (4, 1, 8, 8) and set(samples.unique().tolist()) <= {0.0, 1.0}


def test_generative_classifier_is_bayes_rule_over_normalised_class_densities():
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(40, 6, generator=generator) < 0.3).double()  # (N, D), D small enough to enumerate
    labels = torch.arange(40) % 3
    model = BernoulliMixtureClassifier.fit(x, labels, num_classes=3, num_components=2, generator=generator)

    every_x = torch.tensor(list(itertools.product([0.0, 1.0], repeat=6)), dtype=torch.float64)  # (64, D)
    class_likelihood = model.class_log_likelihood(every_x).exp()  # (64, K)
    assert torch.allclose(class_likelihood.sum(dim=0), torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-12)

    posterior = model.posterior(every_x)  # (64, K)
    assert torch.allclose(posterior.sum(dim=1), torch.ones(64, dtype=torch.float64), rtol=0, atol=1e-12)
    for i, point in enumerate(every_x[:10]):
        joint = []
        for y in range(3):
            weights, probs = model.log_weights[y].exp(), model.probs[y]  # (M,), (M, D)
            p_x_given_y = sum(
                weights[m] * math.prod(probs[m, d] if point[d] else 1 - probs[m, d] for d in range(6)) for m in range(2)
            )
            joint.append(p_x_given_y * model.log_class_prior[y].exp())  # p(x|y) p(y)
        bayes = torch.stack(joint) / sum(joint)
        assert torch.allclose(posterior[i], bayes, rtol=0, atol=1e-12)


def test_m2_keeps_a_balanced_labelled_set_and_never_reads_another_label(digits):
    torch.manual_seed(0)
    model = build_model("m2", SMALL, digits.shape)
    images = binarize_static(digits.train)  # binarised once, so kept examples can be found again
    stream = BatchStream((images, digits.train_labels), model.batch_size, seed=0)
    train(model, stream, steps=8)
    assert model.labelled_set_full()
    assert torch.equal(torch.bincount(model.labelled_y), torch.full((10,), 10))
    # Every kept example is a training image kept with its own label.
    matches = (model.labelled_x.flatten(1)[:, None] == images.flatten(1)[None]).all(dim=2)  # (100, N)
    assert all(
        digits.train_labels[row.nonzero()[:, 0]].eq(y).all() for row, y in zip(matches, model.labelled_y, strict=True)
    )

    # From here on, replacing every label of the stream changes nothing, bit for bit.
    scrambled = torch.randint(10, digits.train_labels.shape, generator=torch.Generator().manual_seed(5))
    runs = []
    for labels in (digits.train_labels, scrambled):
        copied_model, copied_stream = copy.deepcopy(model), copy.deepcopy(stream)
        copied_stream._tensors = (images, labels)
        copied_stream.data = copied_stream._tensors
        torch.manual_seed(1)
        train(copied_model, copied_stream, steps=20)
        runs.append(copied_model.state_dict())
    assert all(torch.equal(runs[0][key], runs[1][key]) for key in runs[0])
    assert not torch.equal(runs[0]["classifier.0.weight"], model.state_dict()["classifier.0.weight"])


@pytest.mark.slow
def test_m2_with_10_labels_per_class_beats_logistic_regression_on_the_same_labels(digits):
    torch.manual_seed(0)
    model = build_model("m2", {"num_labels": 100}, digits.shape)
    stream = BatchStream((digits.train, digits.train_labels), model.batch_size, seed=0, binarize=True)
    train(model, stream, steps=600)
    test = binarize_static(digits.test)
    with torch.no_grad():
        m2_error = model.extra_metrics(test, digits.test_labels)["test_error"]

    # The supervised-only baseline: the same 100 labelled (binarised) images, the same test images.
    logistic = LogisticRegression(max_iter=2000).fit(model.labelled_x.flatten(1).numpy(), model.labelled_y.numpy())
    baseline_error = (torch.from_numpy(logistic.predict(test.flatten(1).numpy())) != digits.test_labels).double().mean()

    message = f"M2 test error {m2_error:.3f} vs logistic regression on its 100 labels {baseline_error:.3f}"
    assert m2_error < baseline_error - 0.03, message
    assert m2_error < 0.25, message


def test_generative_classifier_beats_chance_from_one_label_per_class(digits):
    rows = generative_vs_discriminative_curve(
        binarize_static(digits.train).flatten(1),
        digits.train_labels,
        binarize_static(digits.test).flatten(1),
        digits.test_labels,
        labels_per_class=(1, 10),
        num_repeats=3,
    )
    one, ten = rows
    summary = json.dumps(rows)
    assert one["generative_test_error"] < 0.9 - 0.2, summary  # chance: 0.9
    assert ten["generative_test_error"] < 0.35, summary
    assert ten["generative_test_error"] < one["generative_test_error"] - 0.2, summary
    assert ten["discriminative_test_error"] < 0.35, summary


def test_balanced_subset_takes_exactly_per_class_of_each_class():
    labels = torch.arange(50) % 5
    chosen = balanced_subset(labels, 3, torch.Generator().manual_seed(0))
    assert len(chosen.unique()) == 15
    assert torch.equal(torch.bincount(labels[chosen]), torch.full((5,), 3))


def test_m2_trains_from_the_cli_and_reports_its_test_error_and_unlabelled_bound(tmp_path):
    run = tmp_path / "run"
    result = dgm("train", "m2", "--data", "digits", "--out", run, "--steps", "20", "--quiet", "--set", "num_labels=50")
    assert result.returncode == 0, result.stderr
    evaluation = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][-1]
    assert evaluation["kind"] == "eval"
    assert 0 <= evaluation["test_error"] <= 1
    assert evaluation["unlabelled_elbo_nats"] < 0
    assert "nll_nats" not in evaluation  # no exact or IWAE likelihood is claimed
