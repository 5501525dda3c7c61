"""Deep order-agnostic NADE: exactly normalised ensembles, conditionals blind to unobserved pixels,
a training loss whose expectation is the NLL averaged over orderings, a sampler that draws from
log_prob, and better likelihoods than independent pixels."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from dgm.core.errors import DataError
from dgm.models import build_model
from helpers import all_binary_images, digits_nll_and_baseline, redraw_weights


def perturbed_deep_nade(data_shape: tuple[int, ...], weight_std: float = 0.7, **config):
    """A float64 Deep NADE whose weights are redrawn so its conditionals are far from uniform."""
    model = build_model("deep-nade", {"hidden_dim": 16, **config}, data_shape).double()
    return redraw_weights(model, weight_std)


def chained_log_prob(model, x: torch.Tensor, ordering: list[int]) -> torch.Tensor:
    """(B, *D) -> (B,): Σ_d log p(x_{o_d} | x_{o_<d}) from one conditional_logits call per step."""
    pixels = x.flatten(1)  # (B, D)
    mask = torch.zeros_like(pixels)  # (B, D)
    log_prob = torch.zeros(len(x), dtype=x.dtype)  # (B,)
    for pixel in ordering:
        logit = model.conditional_logits(x, mask.view_as(x))[:, pixel]  # (B,)
        log_prob -= F.binary_cross_entropy_with_logits(logit, pixels[:, pixel], reduction="none")
        mask[:, pixel] = 1
    return log_prob


@pytest.mark.parametrize("num_orderings", [1, 3])
def test_probabilities_of_all_1024_images_sum_to_one(num_orderings):
    model = perturbed_deep_nade((1, 2, 5), num_orderings=num_orderings)
    images = all_binary_images((1, 2, 5))  # (1024, 1, 2, 5)
    with torch.no_grad():
        log_p = model.log_prob(images)  # (1024,)
    assert log_p.exp().sum().item() == pytest.approx(1.0, abs=1e-6)
    assert log_p.max() - log_p.min() > 5, "the test needs a distribution far from uniform to have teeth"
    if num_orderings > 1:
        # Every component is normalised on its own, and the components differ: a real mixture.
        components = torch.stack([model.log_prob_in_order(images, o) for o in model.orderings]).exp()  # (K, 1024)
        assert torch.allclose(components.sum(dim=1), torch.ones(num_orderings, dtype=torch.float64), atol=1e-6)
        assert (components[0] - components[1]).abs().sum() > 0.01


def test_chunked_likelihood_equals_one_pass():
    # log_prob splits its D·B network rows into chunks; the chunk size must not change the answer.
    whole = perturbed_deep_nade((1, 2, 5), num_orderings=2)
    chunked = perturbed_deep_nade((1, 2, 5), num_orderings=2, max_rows_per_pass=7)
    images = all_binary_images((1, 2, 5))[::7]  # (147, 1, 2, 5): 7 rows give one step per chunk
    with torch.no_grad():
        assert torch.allclose(whole.log_prob(images), chunked.log_prob(images), rtol=0, atol=1e-12)


def test_conditionals_do_not_depend_on_unobserved_pixels():
    # Jacobian of every logit w.r.t. the input values, at a continuous input, for several random masks.
    model = perturbed_deep_nade((1, 2, 5))
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(1, 1, 2, 5, generator=generator, dtype=torch.float64)
    for _ in range(5):
        mask = (torch.rand(1, 1, 2, 5, generator=generator) < 0.5).double()  # (1, 1, 2, 5)
        jacobian = torch.autograd.functional.jacobian(lambda v, m=mask: model.conditional_logits(v, m)[0], x)
        jacobian = jacobian.reshape(10, 10)  # [i, j] = ∂logit_i / ∂x_j
        observed = mask.flatten().bool()  # (10,)
        assert jacobian[:, ~observed].abs().max().item() == 0.0
        if observed.any():  # ... and the check can see dependence on the observed pixels
            assert (jacobian[:, observed].abs() > 0).float().mean() > 0.5


def test_every_ordering_is_evaluated_in_its_own_order():
    model = perturbed_deep_nade((1, 2, 2), num_orderings=3)
    images = all_binary_images((1, 2, 2))  # (16, 1, 2, 2)
    with torch.no_grad():
        for ordering in model.orderings:
            expected = chained_log_prob(model, images, ordering.tolist())  # (16,)
            assert torch.allclose(model.log_prob_in_order(images, ordering), expected, rtol=0, atol=1e-12)
    assert model.orderings[0].tolist() == [0, 1, 2, 3]  # ordering 0 is the raster order


def test_training_loss_is_unbiased_for_the_nll_averaged_over_orderings():
    # D = 4: enumerate all 24 orderings and the 4 split points d (both uniform in training), weigh the
    # loss for each (o, d) equally, and compare with the mean over orderings of −log p_o(x), computed
    # from chained conditionals. Both sides are exact in float64; tolerance 1e-10 nats.
    num_pixels = 4
    model = perturbed_deep_nade((1, 2, 2))
    images = all_binary_images((1, 2, 2))  # (16, 1, 2, 2)
    orderings = list(itertools.permutations(range(num_pixels)))  # 24
    with torch.no_grad():
        losses, naive_losses = [], []
        for ordering in orderings:
            for d in range(num_pixels):
                mask = torch.zeros(len(images), num_pixels, dtype=torch.float64)  # (16, D)
                mask[:, list(ordering[:d])] = 1  # o_<d observed
                loss = model.order_agnostic_loss(images, mask)  # (16,)
                losses.append(loss)
                naive_losses.append(loss * (num_pixels - d) / num_pixels)  # the unweighted sum, for teeth
        expected_loss = torch.stack(losses).mean(dim=0)  # (16,)
        mean_nll = -torch.stack([chained_log_prob(model, images, list(o)) for o in orderings]).mean(dim=0)  # (16,)
    assert torch.allclose(expected_loss, mean_nll, rtol=0, atol=1e-10), (expected_loss - mean_nll).abs().max()
    # The weighting D / (D − d) matters: without it the expectation is off by far more than the tolerance.
    assert (torch.stack(naive_losses).mean(dim=0) - mean_nll).abs().max() > 0.1


def test_observed_masks_are_uniform_split_points_of_uniform_orderings():
    # P(S) = 1 / (D · C(D, |S|)) for every subset with |S| < D, and 0 for the full set. 200,000 draws;
    # each frequency must be within 5 standard errors of its probability (two-sided).
    num_pixels, num_draws = 4, 200_000
    model = build_model("deep-nade", {"hidden_dim": 4}, (1, 2, 2))
    masks = model.draw_observed_mask(num_draws)  # (N, D)
    codes = (masks.long() * (2 ** torch.arange(num_pixels))).sum(dim=1)  # (N,) subset as a bit pattern
    frequency = torch.bincount(codes, minlength=2**num_pixels).double() / num_draws  # (16,)
    for code in range(2**num_pixels):
        size = bin(code).count("1")
        probability = 0.0 if size == num_pixels else 1 / (num_pixels * math.comb(num_pixels, size))
        standard_error = math.sqrt(max(probability * (1 - probability), 1e-12) / num_draws)
        assert abs(frequency[code].item() - probability) <= 5 * standard_error, (code, frequency[code], probability)


def test_train_step_reports_the_order_agnostic_loss_on_a_mask_from_the_global_rng():
    model = build_model("deep-nade", {"hidden_dim": 8, "batch_size": 8}, (1, 2, 2))
    batch = (torch.rand(8, 1, 2, 2) < 0.5).float()
    torch.manual_seed(3)
    with torch.no_grad():
        expected = model.order_agnostic_loss(batch, model.draw_observed_mask(8)).mean().item()
    torch.manual_seed(3)
    reported = model.train_step(batch, model.optimizers(), lambda loss: loss.backward())["loss"]
    assert reported == pytest.approx(expected, rel=1e-6)


def test_samples_follow_the_ensemble_density():
    # Pearson chi-square of 20,000 samples over the 16 images of a 2×2 model against exp(log_prob);
    # 15 degrees of freedom, rejected above 45 (p ≈ 1e-4). A sampler that ignored the drawn pixels
    # would score in the thousands (checked below against the product of the marginals).
    model = perturbed_deep_nade((1, 2, 2), num_orderings=3, weight_std=1.0)
    images = all_binary_images((1, 2, 2))  # (16, 1, 2, 2)
    with torch.no_grad():
        probabilities = model.log_prob(images).exp()  # (16,)
    num_samples = 20_000
    samples = model.sample(num_samples, generator=torch.Generator().manual_seed(5))  # (n, 1, 2, 2)
    codes = (samples.flatten(1).long() * (2 ** torch.arange(3, -1, -1))).sum(dim=1)  # (n,) first pixel slowest
    counts = torch.bincount(codes, minlength=16).double()  # (16,)

    def chi_square(p: torch.Tensor) -> float:
        return (((counts - num_samples * p) ** 2) / (num_samples * p)).sum().item()

    assert chi_square(probabilities) < 45
    marginals = (probabilities[:, None] * images.flatten(1)).sum(dim=0)  # (4,) p(x_i = 1)
    independent = (images.flatten(1) * marginals + (1 - images.flatten(1)) * (1 - marginals)).prod(dim=1)  # (16,)
    assert chi_square(independent) > 200


def test_deep_nade_rejects_shapes_it_cannot_model():
    with pytest.raises(DataError, match="images"):
        build_model("deep-nade", {}, (64,))
    model = build_model("deep-nade", {"hidden_dim": 4}, (1, 8, 8))
    with pytest.raises(DataError, match="shape"):
        model.log_prob(torch.zeros(3, 1, 8, 9))
    with pytest.raises(DataError, match="mask"):
        model.conditional_logits(torch.zeros(3, 1, 8, 8), torch.zeros(3, 64))


@pytest.mark.slow
def test_deep_nade_beats_independent_pixels_on_digits():
    # Measured: about 23.0 nats (4-ordering ensemble) vs 26.8 nats for independent pixels.
    deep_nade_nll_nats, baseline_nll_nats = digits_nll_and_baseline("deep-nade", {}, steps=2000)

    message = f"Deep NADE {deep_nade_nll_nats:.2f} nats vs independent pixels {baseline_nll_nats:.2f} nats"
    assert deep_nade_nll_nats < baseline_nll_nats - 2.0, message
