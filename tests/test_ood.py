"""Outlier scores: AUROC against a brute-force pair count, the independent-pixel background sums to one,
and a mixture of VAEs trained on digits 0–4 ranks digits 5–9 as more anomalous."""

import itertools

import pytest
import torch

from dgm.data import BatchStream, binarize_static, load_dataset
from dgm.eval.ood import IndependentPixels, auroc, ood_scores
from dgm.models import build_model


def brute_force_auroc(scores_in: torch.Tensor, scores_out: torch.Tensor) -> float:
    """Σ over every (inlier, outlier) pair of [s_out > s_in] + ½ [s_out = s_in], divided by the pair count."""
    wins = sum(float(o > i) + 0.5 * float(o == i) for i, o in itertools.product(scores_in, scores_out))
    return wins / (len(scores_in) * len(scores_out))


def test_auroc_is_the_mann_whitney_pair_count_with_ties_as_half():
    generator = torch.Generator().manual_seed(0)
    for n_in, n_out in ((1, 1), (7, 3), (40, 55)):
        scores_in = torch.randint(0, 6, (n_in,), generator=generator).double()  # few values: many ties
        scores_out = torch.randint(2, 8, (n_out,), generator=generator).double()
        assert abs(auroc(scores_in, scores_out) - brute_force_auroc(scores_in, scores_out)) < 1e-12
    ordered = torch.arange(10.0)
    assert auroc(ordered[:5], ordered[5:]) == 1.0 and auroc(ordered[5:], ordered[:5]) == 0.0
    assert auroc(torch.ones(4), torch.ones(6)) == 0.5


def test_independent_pixel_background_sums_to_one_over_every_binary_image():
    generator = torch.Generator().manual_seed(0)
    train = (torch.rand(50, 1, 2, 2, generator=generator) < 0.3).double()  # (50, 1, 2, 2)
    background = IndependentPixels.fit(train)
    every_image = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)), dtype=torch.float64).view(16, 1, 2, 2)
    total = background.log_prob(every_image).exp().sum().item()
    assert abs(total - 1.0) < 1e-12
    probs = (train.sum(dim=0) + 1) / 52  # Laplace smoothing, by hand
    by_hand = (train[0] * probs.log() + (1 - train[0]) * (1 - probs).log()).sum()
    assert torch.allclose(background.log_prob(train[:1]), by_hand.view(1), rtol=0, atol=1e-12)


@pytest.mark.slow
def test_a_mixture_trained_on_digits_0_to_4_finds_digits_5_to_9_more_anomalous():
    digits = load_dataset("digits")
    inlier_train = digits.train[digits.train_labels < 5]  # (≈750, 1, 8, 8)
    test = binarize_static(digits.test)
    is_inlier = digits.test_labels < 5
    torch.manual_seed(0)
    model = build_model("infinite-vae", {}, digits.shape)
    optimizers = model.optimizers()
    stream = BatchStream(inlier_train, model.batch_size, seed=0, binarize=True)
    for _ in range(600):
        model.train_step(next(stream), optimizers, lambda loss: loss.backward())
    model.eval()
    background = IndependentPixels.fit(binarize_static(inlier_train))
    torch.manual_seed(0)
    scores = ood_scores(model, test, background)
    areas = {name: auroc(score[is_inlier], score[~is_inlier]) for name, score in scores.items()}

    # Measured (seed 0): neg_elbo 0.84, neg_likelihood_ratio 0.91, new_component_log_prob 0.86; chance is 0.5.
    assert areas["neg_elbo"] > 0.78, areas
    assert areas["neg_likelihood_ratio"] > 0.85, areas
    assert areas["new_component_log_prob"] > 0.78, areas
    # Every score is oriented so that higher means more anomalous, the component entropy included.
    assert all(area > 0.6 for area in areas.values()), areas
