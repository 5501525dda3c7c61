"""Contract tests: every catalogued model fulfils its protocols with the shapes, dtypes and devices
that ``dgm.core.protocols`` promises, samples reproducibly from a ``torch.Generator`` and trains.
"""

import math
from dataclasses import dataclass, field

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
    "pixelrnn": {"hidden_channels": 4, "num_layers": 1, "head_channels": 8, "first_kernel_size": 3, "batch_size": 16},
    "vpn": {"channels": 8, "num_encoder_blocks": 1, "num_decoder_layers": 2, "first_kernel_size": 3, "batch_size": 4},
    "char-rnn": {"embedding_dim": 8, "hidden_dim": 16, "batch_size": 16},
    "made": {"hidden_sizes": (16,), "num_masks": 2, "order_agnostic": True, "batch_size": 16},
    "handwriting": {"hidden_size": 8, "num_layers": 2, "num_components": 3, "batch_size": 8},
    "wavenet": {"residual_channels": 8, "skip_channels": 8, "layers_per_cycle": 3, "batch_size": 4},
    "autoencoder": {"bottleneck_dim": 4, "hidden_dim": 32, "batch_size": 16},
    "vae": {"latent_dim": 4, "hidden_dim": 32, "batch_size": 16},
    "infinite-vae": {"max_components": 3, "latent_dim": 4, "hidden_dim": 32, "batch_size": 16},
    "iwae": {"latent_dim": 4, "hidden_dim": 32, "num_samples": 3, "batch_size": 16},
    "pixelvae": {"latent_dim": 4, "hidden_dim": 32, "pixel_channels": 8, "first_kernel_size": 3, "batch_size": 16},
    "iaf": {"latent_dim": 4, "hidden_dim": 32, "flow_hidden_sizes": (16,), "context_dim": 8, "batch_size": 16},
    "gan": {"latent_dim": 4, "hidden_dim": 32, "conv_width": 8, "batch_size": 16},
    "dcgan": {"latent_dim": 4, "conv_width": 8, "batch_size": 16},
    "m2": {"num_labels": 20, "latent_dim": 4, "hidden_dim": 32, "batch_size": 16, "labelled_batch_size": 4},
    "m1m2": {"num_labels": 20, "latent_dim": 4, "hidden_dim": 32, "m1_latent_dim": 4, "m1_hidden_dim": 32},
}
# Other versions of models, checked with the same contract: "name|variant" -> overrides. Conditional
# versions are given labels; the others are restricted to the kinds of data in VARIANT_KINDS.
VARIANT_OVERRIDES = {
    "gated-pixelcnn|conditional": SMALL_OVERRIDES["gated-pixelcnn"] | {"num_classes": 2},
    "wavenet|conditional": SMALL_OVERRIDES["wavenet"] | {"num_classes": 2},
    "handwriting|conditional": SMALL_OVERRIDES["handwriting"] | {"synthesis": True},
    "vae|conv": SMALL_OVERRIDES["vae"] | {"architecture": "conv", "conv_width": 4},
    "vae|logistic": SMALL_OVERRIDES["vae"] | {"decoder": "logistic"},
    "vae|gaussian": SMALL_OVERRIDES["vae"] | {"decoder": "gaussian"},
    "autoencoder|conv": SMALL_OVERRIDES["autoencoder"] | {"architecture": "conv", "conv_width": 4},
    "gan|wgan_gp": SMALL_OVERRIDES["gan"] | {"objective": "wasserstein", "critic": "gradient_penalty"},
    "gan|spectral": SMALL_OVERRIDES["gan"] | {"objective": "pearson", "critic": "spectral"},
    "gan|dudley": SMALL_OVERRIDES["gan"] | {"objective": "wasserstein", "critic": "dudley"},
    "dcgan|spectral": SMALL_OVERRIDES["dcgan"] | {"critic": "spectral"},
    "dcgan|averaged": SMALL_OVERRIDES["dcgan"] | {"generator_average": 0.9, "learning_rate_half_life": 3},
}
VARIANT_KINDS = {"vae|conv": ("image",), "vae|logistic": ("image",), "autoencoder|conv": ("image",)}
PROTOCOLS_OF_FAMILY = {
    "autoregressive": {DensityModel},
    "latent": {LatentVariableModel},
    "adversarial": {ImplicitGenerator},
    "semi-supervised": set(),  # M2, M1+M2: classifiers scored on test error and their own bounds
}
REPRESENTATION_ONLY = {"autoencoder"}  # latent-family models that compress but define no density or sampler


@dataclass(frozen=True)
class Kind:
    """A tiny stand-in for a data set of one kind: its example shape, its ``info`` and its value range."""

    shape: tuple[int, ...]
    info: dict = field(default_factory=dict)
    dtype: torch.dtype = torch.float32
    low: float | None = 0.0  # None: unbounded
    high: float | None = 1.0


ALPHABET = "ab "
KINDS = {
    "image": Kind((1, 8, 8)),
    "points": Kind((2,), low=None, high=None),
    "video": Kind((3, 1, 4, 4)),
    "audio": Kind((1, 32), {"sample_rate": 8000}, low=-1.0),
    "text": Kind((16,), {"alphabet": "abcdefgh \n"}, torch.int64, low=0, high=9),
    "strokes": Kind((12, 3), {"alphabet": ALPHABET, "pad_index": 3, "words": ["ab", "ba"]}, low=None, high=None),
}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
BATCH = 5


def cases(family: str | None = None, generative: bool = True) -> list:
    """(name, kind of data) for every model of ``family`` (all if None) and every kind of data it takes,
    with the versions of ``VARIANT_OVERRIDES``; ``generative=False`` keeps only ``REPRESENTATION_ONLY``
    models, ``True`` leaves them out, None keeps both."""
    found = []
    for name, entry in CATALOGUE.items():
        representation_only = name in REPRESENTATION_ONLY
        if family not in (None, entry.family) or (generative is not None and generative == representation_only):
            continue
        model_cls, _ = entry.load()
        variants = [name] + [v for v in VARIANT_OVERRIDES if v.partition("|")[0] == name]
        found += [
            pytest.param(v, kind, id=f"{v}-{kind}")
            for v in variants
            for kind in VARIANT_KINDS.get(v, model_cls.data_kinds)
        ]
    return found


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


def build(name: str, kind: str, device: torch.device):
    base = name.partition("|")[0]
    overrides = VARIANT_OVERRIDES.get(name, SMALL_OVERRIDES[base])
    return build_model(base, overrides, KINDS[kind].shape, KINDS[kind].info).to(device)


def parameter_device(model) -> torch.device:
    return next(model.parameters()).device


def example_batch(model, kind: str, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(n, *shape) inputs in the data range of ``kind`` (binary where the model binarises), and labels
    (text indices for strokes, classes otherwise) where the model is conditional, else None."""
    generator = torch.Generator().manual_seed(0)
    shape = KINDS[kind].shape
    if kind == "points":
        x = torch.randn(n, *shape, generator=generator)
    elif kind == "audio":
        x = torch.rand(n, *shape, generator=generator) * 2 - 1
    elif kind == "text":
        x = torch.randint(len(KINDS[kind].info["alphabet"]), (n, *shape), generator=generator)
    elif kind == "strokes":
        x = torch.randn(n, *shape, generator=generator)
        x[..., 2] = (torch.rand(n, shape[0], generator=generator) < 0.2).float()
    else:
        x = torch.rand(n, *shape, generator=generator)
        if getattr(model, "binarize_data", False):
            x = (x < 0.5).float()
    labels = None
    if getattr(model, "conditioning", False):
        if kind == "strokes":
            labels = torch.tensor([[0, 1, 3], [1, 2, 0]] * n)[:n]  # "ab" padded, "b a"
        else:
            labels = torch.arange(n) % 2
        labels = labels.to(parameter_device(model))
    return x.to(parameter_device(model)), labels


def log_prob_of(model, kind: str, n: int) -> torch.Tensor:
    x, labels = example_batch(model, kind, n)
    return model.log_prob(x) if labels is None else model.log_prob(x, labels)


def assert_float32_finite_on(tensor: torch.Tensor, model) -> None:
    assert tensor.dtype == torch.float32
    assert tensor.device == parameter_device(model)
    assert torch.isfinite(tensor).all()


def parameters_of(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p.detach() for group in optimizer.param_groups for p in group["params"]]


def assert_samples_of_kind(samples: torch.Tensor, kind: str, model) -> None:
    """Samples have the kind's dtype, live on the model's device, are finite and lie in the data's range."""
    spec = KINDS[kind]
    assert samples.dtype == spec.dtype, (samples.dtype, spec.dtype)
    assert samples.device == parameter_device(model)
    assert torch.isfinite(samples.float()).all()
    if spec.low is not None:
        assert bool(((samples >= spec.low) & (samples <= spec.high)).all()), (samples.min(), samples.max())
    if kind == "strokes":
        assert set(samples[..., 2].unique().tolist()) <= {0.0, 1.0}, "pen lifts must be 0 or 1"


def test_every_catalogued_model_has_a_contract_case():
    assert set(SMALL_OVERRIDES) == set(CATALOGUE)
    assert {get_entry(name).family for name in CATALOGUE} <= set(PROTOCOLS_OF_FAMILY)


@pytest.mark.parametrize(("name", "kind"), cases(generative=None))
def test_model_satisfies_exactly_its_family_protocols(name, kind, device):
    model = build(name, kind, device)
    assert isinstance(model, Trainable)
    base = name.partition("|")[0]
    expected = set() if base in REPRESENTATION_ONLY else PROTOCOLS_OF_FAMILY[get_entry(base).family]
    for protocol in (DensityModel, LatentVariableModel, ImplicitGenerator):
        assert isinstance(model, protocol) == (protocol in expected), f"{name} vs {protocol.__name__}"


@pytest.mark.parametrize(("name", "kind"), cases("autoregressive"))
def test_density_model_contract(name, kind, device):
    model = build(name, kind, device)
    log_prob = log_prob_of(model, kind, BATCH)
    assert log_prob.shape == (BATCH,)
    assert_float32_finite_on(log_prob, model)
    samples = model.sample(3)
    assert samples.shape == (3, *KINDS[kind].shape)
    assert_samples_of_kind(samples, kind, model)


@pytest.mark.parametrize(("name", "kind"), cases("latent"))
def test_latent_variable_model_contract(name, kind, device):
    model = build(name, kind, device)
    shape = KINDS[kind].shape
    x, _ = example_batch(model, kind, BATCH)
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
    assert_samples_of_kind(samples, kind, model)


@pytest.mark.parametrize(("name", "kind"), cases(generative=False))
def test_representation_model_contract(name, kind, device):
    model = build(name, kind, device)
    x, _ = example_batch(model, kind, BATCH)
    code = model.encode(x)
    assert code.shape == (BATCH, model.bottleneck_dim)
    assert_float32_finite_on(code, model)
    reconstruction = model.decode(code)
    assert reconstruction.shape == x.shape
    assert_float32_finite_on(reconstruction, model)
    if kind == "image":
        assert bool(((reconstruction >= 0) & (reconstruction <= 1)).all())


@pytest.mark.parametrize(("name", "kind"), cases("adversarial"))
def test_implicit_generator_contract(name, kind, device):
    model = build(name, kind, device)
    shape = KINDS[kind].shape
    z = torch.randn(BATCH, model.latent_dim, device=parameter_device(model))
    generated = model.generate(z)
    assert generated.shape == (BATCH, *shape)
    assert_float32_finite_on(generated, model)
    samples = model.sample(3)
    assert samples.shape == (3, *shape)
    assert_samples_of_kind(samples, kind, model)


def test_gan_objective_is_adversarial(device):
    assert isinstance(build("gan", "points", device).objective, Adversarial)


@pytest.mark.parametrize(("name", "kind"), cases())
def test_sampling_is_reproducible_from_a_generator_alone(name, kind, device):
    model = build(name, kind, device)

    def draw(seed: int) -> torch.Tensor:
        with torch.no_grad():
            return model.sample(4, generator=torch.Generator(device).manual_seed(seed))

    global_state = torch.get_rng_state()
    first, again, other = draw(3), draw(3), draw(4)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert torch.equal(torch.get_rng_state(), global_state), "sampling with a generator touched the global RNG"


@pytest.mark.parametrize(("name", "kind"), cases(generative=None))
def test_one_train_step_returns_finite_floats_and_moves_every_optimizer(name, kind, device):
    model = build(name, kind, device)
    x, labels = example_batch(model, kind, model.batch_size)
    batch = x if labels is None else (x, labels)
    optimizers = model.optimizers()
    before = {key: [p.clone() for p in parameters_of(optimizer)] for key, optimizer in optimizers.items()}

    losses = model.train_step(batch, optimizers, lambda loss: loss.backward())

    assert losses and all(type(value) is float and math.isfinite(value) for value in losses.values()), losses
    for key, optimizer in optimizers.items():
        moved = [not torch.equal(old, new) for old, new in zip(before[key], parameters_of(optimizer), strict=True)]
        assert any(moved), f"{name}: optimizer {key!r} changed no parameter"
