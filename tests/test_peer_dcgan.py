"""The reproduction of torchgan 0.1.0's tutorial DCGAN that the Fashion benchmark scores as its peer baseline: its
networks, its training step as torchgan's trainer runs it, and its data pipeline."""

import math

import pytest
import torch
from torch import nn


@pytest.fixture
def peer(bench_module):
    return bench_module("_peer_dcgan")


def layers(network: nn.Module) -> list[str]:
    """The network's layers in the order they run, as printed (a reused activation once per use)."""
    return [
        repr(m)
        for _, m in network.named_modules(remove_duplicate=False)
        if not list(m.children()) and not isinstance(m, nn.Flatten | nn.Unflatten)
    ]


BN = "eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True"
LEAKY = "LeakyReLU(negative_slope=0.2)"


def test_networks_are_torchgans_layer_for_layer(peer):
    # torchgan 0.1.0's DCGANGenerator/DCGANDiscriminator(step_channels=32, LeakyReLU(0.2), last Tanh() and
    # LeakyReLU(0.2)) for 1×32×32, printed from the wheel the same way
    assert layers(peer.peer_generator()) == [
        "ConvTranspose2d(100, 128, kernel_size=(4, 4), stride=(1, 1), bias=False)", f"BatchNorm2d(128, {BN})", LEAKY,
        "ConvTranspose2d(128, 64, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)",
        f"BatchNorm2d(64, {BN})", LEAKY,
        "ConvTranspose2d(64, 32, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)",
        f"BatchNorm2d(32, {BN})", LEAKY,
        "ConvTranspose2d(32, 1, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))", "Tanh()",
    ]  # fmt: skip
    assert layers(peer.peer_discriminator()) == [
        "Conv2d(1, 32, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))", LEAKY,
        "Conv2d(32, 64, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)", f"BatchNorm2d(64, {BN})",
        LEAKY,
        "Conv2d(64, 128, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)", f"BatchNorm2d(128, {BN})",
        LEAKY,
        "Conv2d(128, 1, kernel_size=(4, 4), stride=(1, 1), bias=False)", LEAKY,
    ]  # fmt: skip


def test_initialisation_is_kaiming_normal_with_unit_batch_norm(peer):
    torch.manual_seed(0)
    for build, kind in ((peer.peer_generator, nn.ConvTranspose2d), (peer.peer_discriminator, nn.Conv2d)):
        networks = [build() for _ in range(20)]  # pooled, so that the small last layers have enough weights too
        for modules in zip(*(network.modules() for network in networks), strict=True):
            if isinstance(modules[0], kind):
                weights = torch.cat([m.weight.flatten() for m in modules])
                # Kaiming (fan_in mode) counts a transposed convolution's fan-in as weight.size(1) × k × k
                fan_in = modules[0].weight[0].numel()
                assert weights.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.1)
                assert weights.abs().max() / weights.std() > 2.8  # normal tails (a uniform stops at √3 std)
            elif isinstance(modules[0], nn.BatchNorm2d):
                assert all((m.weight == 1).all() and (m.bias == 0).all() for m in modules)


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
    input), every cross-entropy term (its target), and every optimizer's ``zero_grad`` and ``step`` ("G ..." for
    the one at 1e-4, "D ..." at 3e-4)."""
    calls: list[tuple[str, torch.Tensor | None]] = []
    for name, label in (("peer_generator", "G"), ("peer_discriminator", "D")):
        build = getattr(peer, name)

        def hooked(build=build, label=label):
            network = build()
            network.register_forward_hook(lambda m, args, out, label=label: calls.append((label, args[0].detach())))
            return network

        monkeypatch.setattr(peer, name, hooked)
    bce = peer.F.binary_cross_entropy_with_logits

    def loss(scores, targets, *args, **kwargs):  # each loss term's targets (1 or 0), a mean over the batch
        assert not args and not kwargs
        calls.append((f"BCE to {targets.unique().item():.0f}", None))
        return bce(scores, targets)

    monkeypatch.setattr(peer.F, "binary_cross_entropy_with_logits", loss)
    adam = {"step": torch.optim.Adam.step, "zero_grad": torch.optim.Adam.zero_grad}

    def noting(action):
        def run(self, *args, **kwargs):
            assert self.defaults["betas"] == (0.5, 0.999)
            calls.append((f"{ {1e-4: 'G', 3e-4: 'D'}[self.defaults['lr']] } {action}", None))
            return adam[action](self, *args, **kwargs)

        return run

    for action in adam:
        monkeypatch.setattr(torch.optim.Adam, action, noting(action))
    assert not peer.train_peer(data, torch.Generator().manual_seed(0), steps=steps).training  # sampled in eval mode
    return calls


def test_a_step_updates_the_generator_then_the_discriminator_as_torchgans_trainer(peer, monkeypatch):
    data = torch.rand(130, 1, 28, 28)  # batches of 64, 64, then a short one of 2
    calls = record_training(peer, monkeypatch, data, steps=3)
    expected = []
    for real in (64, 64, 2):  # the generator's step always on 64 latents; the discriminator's on the minibatch's
        expected += [("G zero_grad", 0), ("G", 64), ("D", 64), ("BCE to 1", 0), ("G step", 0)]  # non-saturating
        expected += [("D zero_grad", 0), ("D", real), ("G", real), ("D", real), ("BCE to 1", 0), ("BCE to 0", 0)]
        expected += [("D step", 0)]
    assert [(name, 0 if x is None else len(x)) for name, x in calls] == expected
    latents = torch.cat([x for name, x in calls if name == "G"])  # (198, 100): z ~ N(0, I)
    assert latents.mean().abs() < 0.05 and latents.std().item() == pytest.approx(1, abs=0.05)
    d_inputs = [x for name, x in calls if name == "D"]
    assert (d_inputs[1] >= -1).all() and d_inputs[1].shape == (64, 1, 32, 32)  # the real minibatch, in [−1, 1]


def test_every_epoch_sees_each_image_once_then_reshuffles(peer, monkeypatch):
    data = torch.arange(130.0).div(255).view(-1, 1, 1, 1).expand(130, 1, 28, 28)  # image i is the constant i/255
    calls = record_training(peer, monkeypatch, data, steps=5)
    real = [
        x for (name, x), (before, _) in zip(calls[1:], calls, strict=False) if name == "D" and before == "D zero_grad"
    ]
    ids = [((batch[:, 0, 0, 0] + 1) / 2 * 255).round().long().tolist() for batch in real]  # 64, 64, 2, 64, 64
    assert sorted(ids[0] + ids[1] + ids[2]) == list(range(130)) and ids[0] != list(range(64))  # shuffled from the start
    assert len(set(ids[3] + ids[4])) == 128 and ids[3] != ids[0]
