"""MADE: exact normalisation (single masks and mask ensembles), the autoregressive property of
every mask set in its own order, the mask cycle of connectivity-agnostic training, and learning."""

import itertools

import pytest
import torch

from dgm.models import build_model
from dgm.nn.masked import made_degrees, made_masks
from helpers import digits_nll_and_baseline


def _random_made(config: dict, shape=(1, 2, 5)):
    model = build_model("made", config, shape).double()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter))  # far from initialisation: a sharp distribution
    return model


def _all_binary(shape):
    size = torch.Size(shape).numel()
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=size)), dtype=torch.float64).reshape(-1, *shape)


@pytest.mark.parametrize(
    "config",
    [
        {"hidden_sizes": (16,)},
        {"hidden_sizes": (16, 12), "num_masks": 4, "order_agnostic": True},
        {"hidden_sizes": (8,), "num_masks": 3, "order_agnostic": False},  # connectivity-agnostic only
    ],
)
def test_probabilities_of_all_1024_inputs_sum_to_one(config):
    model = _random_made(config)
    log_p = model.log_prob(_all_binary((1, 2, 5)))  # (1024,)
    assert log_p.exp().sum().item() == pytest.approx(1.0, abs=1e-6)
    assert log_p.max() - log_p.min() > 5  # not a near-uniform model that sums to one by accident


@pytest.mark.parametrize("order_agnostic", [False, True])
def test_every_mask_set_is_autoregressive_in_its_own_order(order_agnostic):
    model = _random_made({"hidden_sizes": (20, 20), "num_masks": 3, "order_agnostic": order_agnostic})
    x = torch.rand(1, 10, dtype=torch.float64)
    for index in range(3):
        model.use_mask(index)
        jacobian = torch.autograd.functional.jacobian(lambda v: model.logits(v)[0], x)[:, 0, :]  # (D out, D in)
        position = model.orders[index]  # (D,) generation position of each input
        later_or_same = position.unsqueeze(0) >= position.unsqueeze(1)  # [i, j]: j not before i
        assert torch.all(jacobian[later_or_same] == 0)
        first = int(torch.argmin(position))
        assert torch.all(jacobian[first] == 0)  # the first variable is unconditional
        assert (jacobian[~later_or_same] != 0).float().mean() > 0.5  # and the others do depend on the past
    if order_agnostic:
        assert not torch.equal(model.orders[1], model.orders[2])


def test_dropout_acts_in_training_only_with_inverted_scaling():
    model = _random_made({"hidden_sizes": (32,), "dropout": 0.5})
    x = _all_binary((1, 2, 5))
    model.train()
    assert not torch.equal(model.log_prob(x), model.log_prob(x))  # a fresh dropout draw each call
    # One hidden layer: the logits are linear in the dropped units, so their mean over draws is the
    # eval-mode logits only if the kept units are scaled by 1 / (1 − p).
    with torch.no_grad():
        draws = model.logits(x[7:8].expand(20000, -1, -1, -1))  # (20000, D)
        model.eval()
        expected = model.logits(x[7:8])[0]  # (D,)
    standard_error = draws.std(dim=0) / len(draws) ** 0.5
    assert torch.all((draws.mean(dim=0) - expected).abs() <= 5 * standard_error + 1e-12)
    log_p = model.log_prob(x)  # (1024,), eval mode
    assert torch.equal(log_p, model.log_prob(x))
    assert log_p.exp().sum().item() == pytest.approx(1.0, abs=1e-6)


def test_weight_decay_reaches_the_optimizer_decoupled():
    model = build_model("made", {"hidden_sizes": (8,), "weight_decay": 0.1, "learning_rate": 0.01}, (1, 2, 2))
    optimizer = model.optimizers()["adam"]
    before = model.layers[0].weight.detach().clone()
    model.zero_grad()
    for parameter in model.parameters():
        parameter.grad = torch.zeros_like(parameter)
    optimizer.step()  # zero gradient: only the decoupled decay moves the weights, by lr · wd · w
    torch.testing.assert_close(model.layers[0].weight.detach(), before * (1 - 0.01 * 0.1))


def test_output_connects_only_to_units_of_lower_degree():
    generator = torch.Generator().manual_seed(0)
    degrees = made_degrees(6, (8, 8), torch.randperm(6, generator=generator), generator)
    hidden_1, hidden_2, output = made_masks(degrees)
    connectivity = output @ hidden_2 @ hidden_1  # (6, 6): number of paths from input j to output i
    allowed = degrees[0].unsqueeze(1) > degrees[0].unsqueeze(0)
    assert torch.all(connectivity[~allowed] == 0)


def test_training_cycles_through_the_masks_and_the_cycle_is_saved():
    model = build_model("made", {"hidden_sizes": (8,), "num_masks": 3}, (1, 2, 2))
    optimizers = model.optimizers()
    used = []
    for _ in range(4):
        model.train_step(torch.ones(2, 1, 2, 2), optimizers, lambda loss: loss.backward())
        used.append(model.layers[0].mask.clone())
    assert torch.equal(used[0], used[3]) and not torch.equal(used[0], used[1])
    assert int(model.state_dict()["next_mask"]) == 4


@pytest.mark.slow
@pytest.mark.parametrize("config", [{}, {"num_masks": 4, "order_agnostic": True}])
def test_made_beats_the_independent_pixel_model_on_digits(config):
    nll, baseline = digits_nll_and_baseline("made", config, steps=1500)
    assert nll < baseline - 2, f"MADE test NLL {nll:.2f} nats vs independent pixels {baseline:.2f} nats"
