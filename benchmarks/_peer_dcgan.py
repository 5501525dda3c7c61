"""The peer baseline of the Fashion-MNIST target, reproduced: torchgan 0.1.0's DCGAN as its tutorial trains it.

The issue's target is set against torchgan 0.1.0's DCGAN trained 3,000 steps on these machines (FID 24.1 on an
independent scorer we do not have). That scorer is not ours, so our FIDs cannot be held against 24.1; this
module retrains the peer's model, so that ``adversarial.py`` scores it beside our rows with the same features,
the same 2,000 test images and the same sample count, and reports our best FID over the peer's: the target's
0.7× measured on our scorer. torchgan itself needs torchvision, which does not import beside this torch, so its
model and training step are rewritten here in plain torch from the 0.1.0 wheel's source
(``torchgan/models/dcgan.py``, ``models/model.py``, ``losses/functional.py``, ``losses/loss.py``,
``trainer/base_trainer.py``) and the settings of its tutorial ("Introduction to TorchGAN", the configuration
its examples repeat):

1. Data: each 28×28 image resized to 32×32 by PIL's bilinear filter on its 8-bit pixels (torchvision's
   ``Resize((32, 32))``), then mapped to [−1, 1] (``Normalize(0.5, 0.5)``); shuffled minibatches of 64, the
   last of each epoch 32 (60,000 = 937 × 64 + 32).
2. Generator (``DCGANGenerator``, ``step_channels=32``): z of 100 values as a 1×1 map, transposed
   convolutions 100 → 128 (4×4) → 64 (8×8) → 32 (16×16) → 1 (32×32), batch norm and LeakyReLU(0.2) after
   all but the last, tanh on the output; every transposed-convolution weight Kaiming-normal, batch norm's
   scale 1 and shift 0, the biases PyTorch's default.
3. Discriminator (``DCGANDiscriminator``, ``step_channels=32``): convolutions 1 → 32 (16×16) → 64 (8×8) →
   128 (4×4), batch norm on all but the first, LeakyReLU(0.2), then a 4×4 convolution to one logit, which
   the tutorial's ``last_nonlinearity`` also passes through LeakyReLU(0.2) (the peer's quirk, kept).
4. One step (``Trainer.train_iter`` over ``[MinimaxGeneratorLoss(), MinimaxDiscriminatorLoss()]``, in that
   order): the generator's non-saturating loss BCE(D(G(z)), 1) on 64 fresh latents, Adam(1e-4, β = (0.5,
   0.999)); then the discriminator's BCE(D(x), 1) + BCE(D(G(z')), 0) on the minibatch and as many fresh
   latents (real and fake through batch norm apart), Adam(3e-4, β = (0.5, 0.999)). Both networks in train
   mode, float32.
5. Samples (our addition, as our rows are sampled): the generator in eval mode (batch norm's running
   statistics), its 32×32 output mapped back to [0, 1] and resized to 28×28 by antialiased bilinear
   interpolation (PIL's downscaling filter), for the 28×28 feature network.

References:
    Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep Convolutional Generative
    Adversarial Networks" (the architecture); Goodfellow et al. 2014, "Generative Adversarial Nets", §3 (the
    non-saturating generator loss); torchgan 0.1.0 (Pal & Das 2019), https://github.com/torchgan/torchgan.

Example::

    generator = train_peer(load_dataset("fashion-mnist").train, torch.Generator().manual_seed(0))
    images = sample_peer(generator, 16, torch.Generator().manual_seed(1))  # (16, 1, 28, 28) in [0, 1]
"""

import itertools

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

PEER_STEPS = 3000  # the measurement of the peer: 3,000 steps in 8 minutes
BATCH_SIZE = 64
LATENT_DIM = 100
WIDTH = 32  # torchgan's step_channels in the tutorial


def resize_to_32(images: torch.Tensor) -> torch.Tensor:
    """Step 1: (N, 1, 28, 28) in [0, 1] -> (N, 1, 32, 32) in [−1, 1], through 8-bit pixels as torchvision reads them."""
    pixels = (images.squeeze(1) * 255).round().clamp(0, 255).to(torch.uint8).numpy()  # (N, 28, 28)
    resized = np.stack([np.asarray(Image.fromarray(p).resize((32, 32), Image.BILINEAR)) for p in pixels])
    return torch.from_numpy(resized).float().div(255).mul(2).sub(1).unsqueeze(1)  # (N, 1, 32, 32)


def resize_to_28(images: torch.Tensor) -> torch.Tensor:
    """Step 5's resize: (N, 1, 32, 32) in [−1, 1] -> (N, 1, 28, 28) in [0, 1]."""
    images = images.add(1).div(2)  # (N, 1, 32, 32) in [0, 1]
    return F.interpolate(images, size=(28, 28), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def peer_generator() -> nn.Sequential:
    """Step 2: (B, 100) -> (B, 1, 32, 32) in (−1, 1)."""
    layers: list[nn.Module] = [nn.Unflatten(1, (LATENT_DIM, 1, 1))]  # (B, 100, 1, 1)
    widths = [LATENT_DIM, 4 * WIDTH, 2 * WIDTH, WIDTH]
    for index, (wide_in, wide_out) in enumerate(itertools.pairwise(widths)):
        stride, padding = (1, 0) if index == 0 else (2, 1)  # 1×1 -> 4×4, then doubling
        layers += [
            nn.ConvTranspose2d(wide_in, wide_out, 4, stride, padding, bias=False),
            nn.BatchNorm2d(wide_out),
            nn.LeakyReLU(0.2),
        ]
    layers += [nn.ConvTranspose2d(WIDTH, 1, 4, 2, 1), nn.Tanh()]  # (B, 1, 32, 32)
    return _kaiming(nn.Sequential(*layers), nn.ConvTranspose2d)


def peer_discriminator() -> nn.Sequential:
    """Step 3: (B, 1, 32, 32) -> (B,) logits (through a final LeakyReLU)."""
    layers: list[nn.Module] = [nn.Conv2d(1, WIDTH, 4, 2, 1), nn.LeakyReLU(0.2)]  # (B, 32, 16, 16)
    for wide_in in (WIDTH, 2 * WIDTH):  # -> (B, 64, 8, 8) -> (B, 128, 4, 4)
        layers += [nn.Conv2d(wide_in, 2 * wide_in, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * wide_in), nn.LeakyReLU(0.2)]
    layers += [nn.Conv2d(4 * WIDTH, 1, 4, 1, 0, bias=False), nn.LeakyReLU(0.2), nn.Flatten(0)]  # (B,)
    return _kaiming(nn.Sequential(*layers), nn.Conv2d)


def _kaiming(network: nn.Sequential, kind: type[nn.Module]) -> nn.Sequential:
    """torchgan's initialisation, in place: Kaiming-normal weights for the ``kind`` layers, batch norm at (1, 0)."""
    for module in network.modules():
        if isinstance(module, kind):
            nn.init.kaiming_normal_(module.weight)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return network


def train_peer(train_images: torch.Tensor, generator: torch.Generator, steps: int = PEER_STEPS) -> nn.Module:
    """Steps 1–4 for ``steps`` steps, every random draw (weights, shuffles, latents) from ``generator``; returns
    the generator network, in eval mode."""
    data = resize_to_32(train_images)  # (N, 1, 32, 32)
    with torch.random.fork_rng():  # the layers draw their initial weights from the global generator
        torch.manual_seed(int(torch.randint(2**62, (), generator=generator)))
        network, critic = peer_generator(), peer_discriminator()
    g_optimizer = torch.optim.Adam(network.parameters(), lr=1e-4, betas=(0.5, 0.999))
    d_optimizer = torch.optim.Adam(critic.parameters(), lr=3e-4, betas=(0.5, 0.999))
    order, start = torch.randperm(len(data), generator=generator), 0
    for _ in range(steps):
        if start >= len(data):  # a new epoch, reshuffled
            order, start = torch.randperm(len(data), generator=generator), 0
        real = data[order[start : start + BATCH_SIZE]]  # (≤ 64, 1, 32, 32)
        start += BATCH_SIZE
        # 4a. the generator: non-saturating loss on 64 fresh latents
        g_optimizer.zero_grad()
        fake_scores = critic(network(torch.randn(BATCH_SIZE, LATENT_DIM, generator=generator)))  # (64,)
        F.binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores)).backward()
        g_optimizer.step()
        # 4b. the discriminator: real and fake minibatches through batch norm apart
        d_optimizer.zero_grad()
        real_scores = critic(real)  # (≤ 64,)
        fake_scores = critic(network(torch.randn(len(real), LATENT_DIM, generator=generator)).detach())  # (≤ 64,)
        loss = F.binary_cross_entropy_with_logits(real_scores, torch.ones_like(real_scores))
        loss = loss + F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores))
        loss.backward()
        d_optimizer.step()
    return network.eval()


@torch.no_grad()
def sample_peer(network: nn.Module, n: int, generator: torch.Generator) -> torch.Tensor:
    """Step 5: (n, 1, 28, 28) in [0, 1]."""
    return resize_to_28(network(torch.randn(n, LATENT_DIM, generator=generator)))
