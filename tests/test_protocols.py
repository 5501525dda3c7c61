"""Contract tests: every catalogued model fulfils its protocols with the shapes, dtypes and devices
that ``dgm.core.protocols`` promises, samples reproducibly from a ``torch.Generator`` and trains.
"""

import math

import pytest
import torch

from dgm.core.protocols import Adversarial, DensityModel, ImplicitGenerator, LatentVariableModel, Trainable
from dgm.models import CATALOGUE, build_model, get_entry

# Small but complete versions of each model, so the contract runs in a moment.
SMALL_OVERRIDES = {
    "nade": {"hidden_dim": 16, "batch_size": 16},
    "deep-nade": {"hidden_dim": 16, "num_hidden_layers": 1, "num_orderings": 2, "batch_size": 16},
    "pixelcnn": {"channels": 8, "num_residual_blocks": 1, "first_kernel_size": 3, "batch_size": 16},
    "gated-pixelcnn": {"channels": 8, "num_layers": 2, "first_kernel_size": 3, "batch_size": 16},
    "made": {"hidden_sizes": (16,), "num_masks": 2, "order_agnostic": True, "batch_size": 16},
    "vae": {"latent_dim": 4, "hidden_dim": 32, "batch_size": 16},
    "gan": {"latent_dim": 4, "hidden_dim": 32, "conv_width": 8, "batch_size": 16},
}
PROTOCOLS_OF_FAMILY = {
    "autoregressive": {DensityModel},
    "latent": {LatentVariableModel},
    "adversarial": {ImplicitGenerator},
}
SHAPES_OF_KIND = {"image": (1, 8, 8), "points": (2,)}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
BATCH = 5


def cases(family: str | None = None) -> list:
    """(name, data shape) for every model of ``family`` (all if None) and every kind of data it takes."""
    found = []
    for name, entry in CATALOGUE.items():
        if family in (None, entry.family):
            model_cls, _ = entry.load()
            found += [pytest.param(name, SHAPES_OF_KIND[kind], id=f"{name}-{kind}") for kind in model_cls.data_kinds]
    return found


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


def build(name: str, shape: tuple[int, ...], device: torch.device):
    return build_model(name, SMALL_OVERRIDES[name], shape).to(device)


def parameter_device(model) -> torch.device:
    return next(model.parameters()).device


def example_batch(model, shape: tuple[int, ...], n: int) -> torch.Tensor:
    """(n, *shape) inputs in the model's data range: {0, 1} pixels where it binarises, [0, 1] images, or points."""
    generator = torch.Generator().manual_seed(0)
    if len(shape) == 1:
        x = torch.randn(n, *shape, generator=generator)
    else:
        x = torch.rand(n, *shape, generator=generator)
        if getattr(model, "binarize_data", False):
            x = (x < 0.5).float()
    return x.to(parameter_device(model))


def assert_float32_finite_on(tensor: torch.Tensor, model) -> None:
    assert tensor.dtype == torch.float32
    assert tensor.device == parameter_device(model)
    assert torch.isfinite(tensor).all()


def parameters_of(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p.detach() for group in optimizer.param_groups for p in group["params"]]


def in_data_range(samples: torch.Tensor, shape: tuple[int, ...]) -> bool:
    return len(shape) == 1 or bool(((samples >= 0) & (samples <= 1)).all())


def test_every_catalogued_model_has_a_contract_case():
    assert set(SMALL_OVERRIDES) == set(CATALOGUE)
    assert {get_entry(name).family for name in CATALOGUE} <= set(PROTOCOLS_OF_FAMILY)


@pytest.mark.parametrize(("name", "shape"), cases())
def test_model_satisfies_exactly_its_family_protocols(name, shape, device):
    model = build(name, shape, device)
    assert isinstance(model, Trainable)
    expected = PROTOCOLS_OF_FAMILY[get_entry(name).family]
    for protocol in (DensityModel, LatentVariableModel, ImplicitGenerator):
        assert isinstance(model, protocol) == (protocol in expected), f"{name} vs {protocol.__name__}"


@pytest.mark.parametrize(("name", "shape"), cases("autoregressive"))
def test_density_model_contract(name, shape, device):
    model = build(name, shape, device)
    log_prob = model.log_prob(example_batch(model, shape, BATCH))
    assert log_prob.shape == (BATCH,)
    assert_float32_finite_on(log_prob, model)
    samples = model.sample(3)
    assert samples.shape == (3, *shape)
    assert_float32_finite_on(samples, model)
    assert in_data_range(samples, shape)


@pytest.mark.parametrize(("name", "shape"), cases("latent"))
def test_latent_variable_model_contract(name, shape, device):
    model = build(name, shape, device)
    x = example_batch(model, shape, BATCH)
    elbo = model.elbo(x)
    assert elbo.shape == (BATCH,)
    assert_float32_finite_on(elbo, model)

    posterior = model.encode(x)
    assert posterior.batch_shape == (BATCH,) and posterior.event_shape == (model.latent_dim,)
    z = posterior.rsample()  # (B, Z)
    assert_float32_finite_on(z, model)
    prior = model.prior()
    assert prior.batch_shape == () and prior.event_shape == (model.latent_dim,)
    likelihood = model.decode(z)
    assert likelihood.batch_shape == (BATCH,) and likelihood.event_shape == shape
    assert_float32_finite_on(likelihood.log_prob(x), model)

    samples = model.sample(3)
    assert samples.shape == (3, *shape)
    assert_float32_finite_on(samples, model)
    assert in_data_range(samples, shape)


@pytest.mark.parametrize(("name", "shape"), cases("adversarial"))
def test_implicit_generator_contract(name, shape, device):
    model = build(name, shape, device)
    z = torch.randn(BATCH, model.latent_dim, device=parameter_device(model))
    generated = model.generate(z)
    assert generated.shape == (BATCH, *shape)
    assert_float32_finite_on(generated, model)
    samples = model.sample(3)
    assert samples.shape == (3, *shape)
    assert_float32_finite_on(samples, model)
    assert in_data_range(samples, shape)


def test_gan_objective_is_adversarial(device):
    assert isinstance(build("gan", (2,), device).objective, Adversarial)


@pytest.mark.parametrize(("name", "shape"), cases())
def test_sampling_is_reproducible_from_a_generator_alone(name, shape, device):
    model = build(name, shape, device)

    def draw(seed: int) -> torch.Tensor:
        with torch.no_grad():
            return model.sample(4, generator=torch.Generator(device).manual_seed(seed))

    global_state = torch.get_rng_state()
    first, again, other = draw(3), draw(3), draw(4)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert torch.equal(torch.get_rng_state(), global_state), "sampling with a generator touched the global RNG"


@pytest.mark.parametrize(("name", "shape"), cases())
def test_one_train_step_returns_finite_floats_and_moves_every_optimizer(name, shape, device):
    model = build(name, shape, device)
    batch = example_batch(model, shape, model.batch_size)
    optimizers = model.optimizers()
    before = {key: [p.clone() for p in parameters_of(optimizer)] for key, optimizer in optimizers.items()}

    losses = model.train_step(batch, optimizers, lambda loss: loss.backward())

    assert losses and all(type(value) is float and math.isfinite(value) for value in losses.values()), losses
    for key, optimizer in optimizers.items():
        moved = [not torch.equal(old, new) for old, new in zip(before[key], parameters_of(optimizer), strict=True)]
        assert any(moved), f"{name}: optimizer {key!r} changed no parameter"
