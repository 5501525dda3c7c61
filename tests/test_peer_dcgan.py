"""The reproduction of torchgan 0.1.0's tutorial DCGAN that the Fashion benchmark scores as its peer baseline: its
networks, its training step as torchgan's trainer runs it, and its data pipeline."""

import importlib
import math
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


def test_initialisation_is_kaiming_normal_with_unit_batch_norm(peer):
    torch.manual_seed(0)
    for network, kind in ((peer.peer_generator(), nn.ConvTranspose2d), (peer.peer_discriminator(), nn.Conv2d)):
        for module in network.modules():
            if isinstance(module, kind) and module.weight.numel() > 2000:  # enough weights for a spread
                # Kaiming (fan_in mode) counts a transposed convolution's fan-in as weight.size(1) × k × k
                fan_in = module.weight[0].numel()
                assert module.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.1)
            elif isinstance(module, nn.BatchNorm2d):
                assert (module.weight == 1).all() and (module.bias == 0).all()


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


def test_resize_is_bilinear_on_8_bit_pixels_into_minus_one_to_one(peer):
    images = torch.stack([torch.full((1, 28, 28), v / 255) for v in (0, 51, 255)])
    for image, value in zip(peer.resize_to_32(images), (-1.0, 51 / 255 * 2 - 1, 1.0), strict=True):
        torch.testing.assert_close(image, torch.full_like(image, value))
    ramp = torch.arange(28.0).mul(8 / 255).expand(1, 1, 28, 28)  # 0, 8, ..., 216 out of 255 along the width
    row = (peer.resize_to_32(ramp)[0, 0, 5] + 1) / 2 * 255  # back to 0..255
    steps = row.diff()[2:-2]  # a linear ramp stays linear inside (nearest neighbour would repeat pixels)
    assert steps.min() > 6 and steps.max() < 8 and row[0] < 2 and row[-1] > 214
    torch.testing.assert_close(peer.resize_to_28(peer.resize_to_32(ramp)), ramp, atol=2 / 255, rtol=0)
    stripes = torch.tensor([1.0, -1.0]).repeat(16).expand(1, 1, 32, 32)  # one-pixel columns, white and black
    # antialiased, each output pixel averages over 8/7 input columns: within 1/3 of grey (0.43 without)
    assert (peer.resize_to_28(stripes) - 0.5).abs().max() < 0.34


def record_training(peer, monkeypatch, data: torch.Tensor, steps: int) -> list[tuple[str, torch.Tensor | None]]:
    """``train_peer`` for ``steps`` steps, recording in order every forward pass of either network (name, its
    input), every cross-entropy term (its target) and every optimizer step ("G step" at 1e-4, "D step" at 3e-4)."""
    calls: list[tuple[str, torch.Tensor | None]] = []
    for name, label in (("peer_generator", "G"), ("peer_discriminator", "D")):
        build = getattr(peer, name)

        def hooked(build=build, label=label):
            network = build()
            network.register_forward_hook(lambda m, args, out, label=label: calls.append((label, args[0].detach())))
            return network

        monkeypatch.setattr(peer, name, hooked)
    bce = peer.F.binary_cross_entropy_with_logits

    def loss(scores, targets, *args, **kwargs):  # the targets of each loss term: 1 or 0
        calls.append((f"BCE to {targets.unique().item():.0f}", None))
        return bce(scores, targets, *args, **kwargs)

    monkeypatch.setattr(peer.F, "binary_cross_entropy_with_logits", loss)
    adam_step = torch.optim.Adam.step

    def step(self, *args, **kwargs):
        calls.append(({1e-4: "G step", 3e-4: "D step"}[self.param_groups[0]["lr"]], None))
        return adam_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    assert not peer.train_peer(data, torch.Generator().manual_seed(0), steps=steps).training  # sampled in eval mode
    return calls


def test_a_step_updates_the_generator_then_the_discriminator_as_torchgans_trainer(peer, monkeypatch):
    data = torch.rand(130, 1, 28, 28)  # batches of 64, 64, then a short one of 2
    calls = record_training(peer, monkeypatch, data, steps=3)
    expected = []
    for real in (64, 64, 2):  # the generator's step always on 64 latents; the discriminator's on the minibatch's
        expected += [("G", 64), ("D", 64), ("BCE to 1", 0), ("G step", 0)]  # non-saturating: fakes labelled real
        expected += [("D", real), ("G", real), ("D", real), ("BCE to 1", 0), ("BCE to 0", 0), ("D step", 0)]
    assert [(name, 0 if x is None else len(x)) for name, x in calls] == expected
    d_inputs = [x for name, x in calls if name == "D"]
    assert (d_inputs[1] >= -1).all() and d_inputs[1].shape == (64, 1, 32, 32)  # the real minibatch, in [−1, 1]


def test_every_epoch_sees_each_image_once_then_reshuffles(peer, monkeypatch):
    data = torch.arange(130.0).div(255).view(-1, 1, 1, 1).expand(130, 1, 28, 28)  # image i is the constant i/255
    calls = record_training(peer, monkeypatch, data, steps=5)
    real = [x for (name, x), (before, _) in zip(calls[1:], calls, strict=False) if name == "D" and before == "G step"]
    ids = [((batch[:, 0, 0, 0] + 1) / 2 * 255).round().long().tolist() for batch in real]  # 64, 64, 2, 64, 64
    assert sorted(ids[0] + ids[1] + ids[2]) == list(range(130))
    assert len(set(ids[3] + ids[4])) == 128 and ids[3] != ids[0]
