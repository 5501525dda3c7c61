"""The reproduction of torchgan 0.1.0's tutorial DCGAN that the Fashion benchmark scores as its peer baseline."""

import importlib
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.fixture
def peer(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.delitem(sys.modules, "_peer_dcgan", raising=False)
    return importlib.import_module("_peer_dcgan")


def shapes(network: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in network.parameters()]


def test_networks_have_torchgans_parameters(peer):
    # torchgan 0.1.0's DCGANGenerator/DCGANDiscriminator(step_channels=32) for 1×32×32, read off the wheel
    # (the discriminator's final 4×4 convolution, registered first there, is last here)
    assert shapes(peer.peer_generator()) == [
        (100, 128, 4, 4), (128,), (128,), (128, 64, 4, 4), (64,), (64,), (64, 32, 4, 4), (32,), (32,),
        (32, 1, 4, 4), (1,),
    ]  # fmt: skip
    assert shapes(peer.peer_discriminator()) == [
        (32, 1, 4, 4), (32,), (64, 32, 4, 4), (64,), (64,), (128, 64, 4, 4), (128,), (128,), (1, 128, 4, 4),
    ]  # fmt: skip
    assert sum(p.numel() for p in peer.peer_generator().parameters()) == 369_601
    assert sum(p.numel() for p in peer.peer_discriminator().parameters()) == 166_816


def test_generator_is_tanh_images_and_discriminator_ends_in_leaky_relu(peer):
    torch.manual_seed(0)
    generator = peer.peer_generator()
    images = generator(torch.randn(5, 100))
    assert images.shape == (5, 1, 32, 32) and images.abs().max() <= 1 and isinstance(generator[-1], nn.Tanh)
    critic = peer.peer_discriminator().eval()
    x = torch.rand(16, 1, 32, 32) * 2 - 1
    logits = critic[:-2](x).flatten()  # before the final LeakyReLU
    assert (logits < 0).any()
    torch.testing.assert_close(critic(x), torch.where(logits < 0, 0.2 * logits, logits))


def test_resize_keeps_constant_images_and_maps_to_plus_minus_one(peer):
    images = torch.stack([torch.full((1, 28, 28), v / 255) for v in (0, 51, 255)])
    resized = peer.resize_to_32(images)
    assert resized.shape == (3, 1, 32, 32)
    for image, value in zip(resized, (-1.0, 51 / 255 * 2 - 1, 1.0), strict=True):
        torch.testing.assert_close(image, torch.full_like(image, value))


def test_training_wraps_epochs_and_samples_28_by_28(peer):
    torch.manual_seed(0)
    data = torch.rand(130, 1, 28, 28)  # batches of 64, 64, 2, then a reshuffled epoch
    generator = peer.train_peer(data, steps=4)
    assert not generator.training
    samples = peer.sample_peer(generator, 6, seed=3)
    assert samples.shape == (6, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    torch.testing.assert_close(samples, peer.sample_peer(generator, 6, seed=3))
