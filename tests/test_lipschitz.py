"""Lipschitz constraints: spectral normalisation bounds the true operator norms, whole critics obey the
product bound, the Dudley critic stays in the bounded-Lipschitz ball, the gradient penalty's gradient
norm is the finite-difference one, weight clipping clips, and power-iteration state resumes exactly.

Float64 throughout, but for the saturated Dudley critic, which is about float32 rounding; tolerances are
stated at each assertion."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dgm.core.errors import ConfigError, DataError
from dgm.losses.ipm import critic_gradient_norms, gradient_penalty
from dgm.nn.convnets import conv_encoder
from dgm.nn.lipschitz import (
    DudleyCritic,
    MaxMin,
    Scaled,
    SpectralConv2d,
    SpectralLinear,
    bounded_lipschitz_norm_estimate,
    clip_weights_,
    lipschitz_conv_critic,
    lipschitz_mlp,
    lipschitz_ratios,
    spectral_normalized,
)
from dgm.nn.mlp import mlp


def converge(network: nn.Module, x: torch.Tensor, steps: int) -> None:
    """Run ``steps`` training-mode forwards (one power-iteration step each), then switch to eval mode."""
    network.train()
    with torch.no_grad():
        for _ in range(steps):
            network(x)
    network.eval()


def operator_norm(layer: nn.Module) -> torch.Tensor:
    """The exact largest singular value of the layer's normalised linear map, from its full matrix."""
    weight = layer.normalized_weight().detach()
    if isinstance(layer, SpectralLinear):
        return torch.linalg.svdvals(weight)[0]
    channels, (height, width) = layer.in_channels, layer.input_size
    size = channels * height * width
    basis = torch.eye(size, dtype=weight.dtype).reshape(size, channels, height, width)  # every unit input
    rows = F.conv2d(basis, weight, None, layer.stride, layer.padding).reshape(size, -1)  # (in, out): Mᵀ
    return torch.linalg.svdvals(rows)[0]


def spectral_layers(network: nn.Module) -> list[nn.Module]:
    return [m for m in network.modules() if isinstance(m, (SpectralLinear, SpectralConv2d))]


def test_spectral_linear_has_unit_largest_singular_value():
    layer = SpectralLinear(16, 32).double()
    converge(layer, torch.randn(4, 16, dtype=torch.float64), steps=300)
    # the estimate σ̂ converges to the true σ_max of the raw weight (relative 1e-9) ...
    assert layer.spectral_norm().item() == pytest.approx(torch.linalg.svdvals(layer.weight)[0].item(), rel=1e-9)
    # ... so the normalised weight has σ_max = 1, two-sided within 1e-3
    assert abs(operator_norm(layer).item() - 1) <= 1e-3


def test_spectral_conv_bounds_the_convolution_operator_not_the_kernel_matrix():
    layer = SpectralConv2d(2, 3, 4, stride=2, padding=1, input_size=(8, 8)).double()
    converge(layer, torch.randn(1, 2, 8, 8, dtype=torch.float64), steps=3000)
    # the full (48 × 128) operator matrix of x ↦ conv2d(x, W/σ̂) has σ_max = 1, two-sided within 1e-3
    assert abs(operator_norm(layer).item() - 1) <= 1e-3
    # Miyato's reshaped (C_out, C_in·k·k) kernel matrix has a smaller norm (a lower bound on the operator's):
    # normalising by it would leave this operator with norm 1/0.95 or more
    kernel_norm = torch.linalg.svdvals(layer.normalized_weight().detach().reshape(3, -1))[0].item()
    assert kernel_norm < 0.95


def test_spectral_conv_rejects_inputs_of_another_size():
    layer = SpectralConv2d(1, 2, 3, padding=1, input_size=(8, 8))
    with pytest.raises(DataError, match=r"\(8, 8\)"):
        layer(torch.randn(1, 1, 7, 8))


def test_spectral_gradient_is_that_of_weight_over_its_true_spectral_norm():
    """Step 2 keeps u, v fixed; at convergence ∂σ/∂W = u vᵀ, so the layer's gradient equals that of W/σ_max(W)."""
    layer = SpectralLinear(5, 7).double()
    x = torch.randn(6, 5, dtype=torch.float64)
    converge(layer, x, steps=500)
    probe = torch.randn(6, 7, dtype=torch.float64)
    (gradient,) = torch.autograd.grad((probe * layer(x)).sum(), layer.weight)
    exact = lambda w: (probe * F.linear(x, w / torch.linalg.svdvals(w)[0], layer.bias)).sum()  # noqa: E731
    (expected,) = torch.autograd.grad(exact(layer.weight), layer.weight)
    torch.testing.assert_close(gradient, expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize(
    "build, shape",
    [
        (lambda: lipschitz_mlp(3, 32, 1, num_hidden_layers=2), (3,)),
        (lambda: lipschitz_mlp(3, 32, 1, num_hidden_layers=2, activation=MaxMin), (3,)),
        (lambda: lipschitz_conv_critic((1, 8, 8), width=4), (1, 8, 8)),
    ],
    ids=["mlp-leaky-relu", "mlp-maxmin", "conv"],
)
def test_whole_critic_empirical_lipschitz_ratio_is_below_product_bound(build, shape):
    critic = build().double()
    converge(critic, torch.randn(2, *shape, dtype=torch.float64), steps=3000)
    product_bound = torch.stack([operator_norm(layer) for layer in spectral_layers(critic)]).prod().item()
    assert product_bound <= 1 + 1e-3  # every layer has σ_max ≤ 1 + ~1e-4 after convergence
    x = 3 * torch.randn(2000, *shape, dtype=torch.float64)
    far = 3 * torch.randn(2000, *shape, dtype=torch.float64)
    near = x + 1e-4 * torch.randn(2000, *shape, dtype=torch.float64)  # local slopes
    with torch.no_grad():
        ratios = torch.cat([lipschitz_ratios(critic, x, far), lipschitz_ratios(critic, x, near)])
    assert ratios.max().item() <= product_bound * (1 + 1e-9)
    assert ratios.max().item() > 0.05  # the critic is not trivially flat, so the check bites


def test_unnormalised_critic_exceeds_the_bound_the_normalised_one_keeps():
    """Control for the test above: the same weights without normalisation break the 1-Lipschitz bound."""
    plain = mlp(3, 32, 1, 2, nn.LeakyReLU).double()
    with torch.no_grad():
        for parameter in plain.parameters():
            parameter.mul_(4)
    normalised = spectral_normalized(plain, (3,))
    converge(normalised, torch.randn(2, 3, dtype=torch.float64), steps=3000)
    x = torch.randn(2000, 3, dtype=torch.float64)
    near = x + 1e-4 * torch.randn(2000, 3, dtype=torch.float64)
    with torch.no_grad():
        assert lipschitz_ratios(plain, x, near).max().item() > 1
        assert lipschitz_ratios(normalised, x, near).max().item() <= 1 + 1e-3


def test_conv_critic_mirrors_conv_encoder_shapes():
    critic, encoder = lipschitz_conv_critic((1, 28, 28), width=8), conv_encoder((1, 28, 28), 1, 8)
    parameter_shapes = lambda net: [tuple(p.shape) for p in net.parameters()]  # noqa: E731
    assert parameter_shapes(critic) == parameter_shapes(encoder)
    assert critic(torch.rand(5, 1, 28, 28)).shape == (5, 1)


def test_spectral_normalized_refuses_layers_that_are_not_lipschitz():
    with pytest.raises(ConfigError, match="BatchNorm1d"):
        spectral_normalized(nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)), (2,))


@pytest.mark.parametrize("tight", [False, True], ids=["mlp-body", "unit-linear-body"])
def test_dudley_critic_stays_in_the_bounded_lipschitz_ball(tight):
    """An MLP body, and a body h(x) = w·x + b with ‖w‖ = 1 whose f nearly attains ‖f‖_BL = 1 (the check bites)."""
    body = SpectralLinear(2, 1) if tight else lipschitz_mlp(2, 32, 1)
    critic = DudleyCritic(body, initial_slope=3.0).double()
    converge(critic, torch.randn(2, 2, dtype=torch.float64), steps=3000)
    sup_bound, lipschitz_bound = critic.sup_bound().item(), critic.lipschitz_bound().item()
    assert sup_bound + lipschitz_bound == pytest.approx(1, abs=1e-12)
    assert sup_bound == pytest.approx(1 / (1 + 3.0), rel=1e-6)  # the slope starts where asked (float32 init)
    # |f| ≤ 1/(1 + sL) everywhere, including inputs a million times the data scale
    inputs = torch.cat([scale * torch.randn(1000, 2, dtype=torch.float64) for scale in (1.0, 1e3, 1e6)])
    with torch.no_grad():
        values = critic(inputs)
    assert torch.isfinite(values).all()
    assert values.abs().max().item() <= sup_bound
    # the sample estimate sup|f| + max ratio is ≤ 1 (up to power-iteration error 1e-3), on far and near pairs
    x = torch.cat([2 * torch.randn(2000, 2, dtype=torch.float64), 1e3 * torch.randn(100, 2, dtype=torch.float64)])
    far, near = 2 * torch.randn_like(x), x + 1e-4 * torch.randn_like(x)
    estimates = [bounded_lipschitz_norm_estimate(critic, x, y) for y in (far, near)]
    assert max(estimates) <= 1 + 1e-3
    if tight:  # sup|f| ≈ 1/4 is reached far out, slope ≈ 3/4 near h = 0
        assert estimates[1] >= 0.95


def test_scaled_critic_is_k_lipschitz_and_attains_it():
    """K·h for a 1-Lipschitz h: every ratio ≤ K, and a unit-norm linear body reaches K (so the check bites)."""
    body = SpectralLinear(3, 1).double()
    converge(body, torch.randn(2, 3, dtype=torch.float64), steps=3000)
    critic = Scaled(body, 10.0)
    x = torch.randn(2000, 3, dtype=torch.float64)
    with torch.no_grad():
        ratios = lipschitz_ratios(critic, x, torch.randn_like(x))
        torch.testing.assert_close(critic(x), 10 * body(x), rtol=0, atol=0)
    assert ratios.max().item() <= 10 * (1 + 1e-3)
    assert ratios.max().item() >= 10 * 0.95  # pairs nearly along the weight's direction
    with pytest.raises(ConfigError, match="> 0"):
        Scaled(body, 0.0)


def test_dudley_critic_with_a_metric_scale_is_in_the_ball_of_the_scaled_metric():
    """With metric K‖x − y‖: sup|f| + Lip(f)/K ≤ 1, nearly attained by a unit linear body, while the Euclidean
    ‖f‖_BL exceeds 1 (K = 10): the ball is that of the data scaled by K."""
    body = SpectralLinear(2, 1).double()
    critic = DudleyCritic(body, initial_slope=3.0, metric_scale=10.0).double()
    converge(critic, torch.randn(2, 2, dtype=torch.float64), steps=3000)
    assert critic.sup_bound().item() + critic.lipschitz_bound().item() == pytest.approx(1, abs=1e-12)
    weight, bias = body.normalized_weight().detach()[0], body.bias.detach()  # h(x) = w·x + b, ‖w‖ ≈ 1
    y = torch.randn(1000, 2, dtype=torch.float64)
    on_zero_set = y - (y @ weight + bias)[:, None] * weight / weight.square().sum()  # h = 0: f steepest there
    x = torch.cat([on_zero_set, 1e3 * torch.randn(100, 2, dtype=torch.float64)])  # ... and sup|f| far out
    near = x + 1e-6 * torch.randn_like(x)
    scaled_estimate = bounded_lipschitz_norm_estimate(critic, x, near, metric_scale=10.0)
    assert 0.95 <= scaled_estimate <= 1 + 1e-3
    assert bounded_lipschitz_norm_estimate(critic, x, near) > 5  # Euclidean: Lip ≈ 10·3/4
    # the same as the unit-scale critic of the body 10·h (body_lipschitz 1 declared): the metric, not the body, scales
    unit = DudleyCritic(Scaled(body, 10.0), initial_slope=3.0).double().eval()
    with torch.no_grad():
        torch.testing.assert_close(critic(x), unit(x), rtol=1e-12, atol=1e-15)


def test_saturated_dudley_critic_recovers():
    """Nothing holds h's offset in place, and it can wander until |s·h| is large on every sample. From there the
    critic must find its way back to the estimate an unsaturated start reaches (with tanh, 1 − tanh²(u) is 0 in
    float32 for |u| > 9: no gradient, and the critic stays dead at E_P f − E_Q f = 0)."""

    def trained_gap(offset: float) -> tuple[float, float]:
        """-> min |s·h| over the data at the start, and E_P f − E_Q f after 500 Adam steps."""
        torch.manual_seed(0)
        body = SpectralLinear(2, 1)
        with torch.no_grad():
            body.bias.fill_(offset)
        critic = DudleyCritic(body)
        real, fake = torch.randn(256, 2) + torch.tensor([1.0, 0.0]), torch.randn(256, 2) - torch.tensor([1.0, 0.0])
        with torch.no_grad():
            start = (critic.slope() * body(torch.cat([real, fake]))).abs().min().item()  # min |s·h| over 512 points
        optimizer = torch.optim.Adam(critic.parameters(), lr=0.05)
        for _ in range(500):
            optimizer.zero_grad()
            gap = critic(real).mean() - critic(fake).mean()  # the Dudley metric's estimate, maximised
            (-gap).backward()
            optimizer.step()
        return start, gap.item()

    start, last = trained_gap(30.0)
    _, reference = trained_gap(0.0)
    assert start > 20  # saturated on every sample: tanh's float32 gradient is 0 beyond 9
    assert reference > 0.3
    assert last == pytest.approx(reference, rel=0.02)


def test_saturated_dudley_critic_keeps_its_gradient_under_bfloat16_autocast():
    """bfloat16 would round softsign's gradient 1/(1 + |u|)² at u = 300 (1.1e-5) to 0; the squash runs in float32."""
    body = SpectralLinear(2, 1)
    with torch.no_grad():
        body.bias.fill_(300.0)
    critic = DudleyCritic(body)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        values = critic(torch.randn(64, 2))  # (64,)
    values.sum().backward()
    assert values.dtype == torch.float32
    assert body.bias.grad.abs().item() > 1e-6


def test_gradient_norms_equal_finite_differences():
    critic = nn.Sequential(nn.Flatten(), mlp(6, 8, 1, 1, nn.Tanh), nn.Flatten(0)).double()
    x = torch.randn(4, 1, 2, 3, dtype=torch.float64)  # image-shaped data (B, C, H, W)
    step = 1e-6
    finite_differences = torch.zeros(4, 6, dtype=torch.float64)
    with torch.no_grad():
        for i in range(6):
            shift = torch.zeros(6, dtype=torch.float64)
            shift[i] = step
            shift = shift.reshape(1, 1, 2, 3)
            finite_differences[:, i] = (critic(x + shift) - critic(x - shift)) / (2 * step)  # central, O(step²)
    torch.testing.assert_close(critic_gradient_norms(critic, x), finite_differences.norm(dim=1), rtol=1e-8, atol=1e-10)


def test_gradient_penalty_is_zero_for_unit_gradient_and_lambda_for_gradient_two():
    real, fake = torch.randn(16, 5, dtype=torch.float64), torch.randn(16, 5, dtype=torch.float64)
    direction = torch.randn(5, dtype=torch.float64)
    unit = lambda x: x @ (direction / direction.norm())  # noqa: E731  ‖∇f‖ = 1 everywhere
    steep = lambda x: x @ (2 * direction / direction.norm())  # noqa: E731  ‖∇f‖ = 2 everywhere
    assert gradient_penalty(unit, real, fake).item() == pytest.approx(0, abs=1e-20)
    assert gradient_penalty(steep, real, fake, weight=10.0).item() == pytest.approx(10.0, rel=1e-12)
    half = lambda x: x @ (0.5 * direction / direction.norm())  # noqa: E731
    assert gradient_penalty(half, real, fake, one_sided=True).item() == 0  # norms below 1 are free one-sided
    assert gradient_penalty(half, real, fake).item() == pytest.approx(10 * 0.25, rel=1e-12)


def test_gradient_penalty_towards_norm_k():
    """target K: zero for ‖∇f‖ = K, λ(‖∇f‖ − K)² otherwise; a non-positive target is refused."""
    real, fake = torch.randn(16, 5, dtype=torch.float64), torch.randn(16, 5, dtype=torch.float64)
    direction = torch.randn(5, dtype=torch.float64)
    direction = direction / direction.norm()
    at_target = gradient_penalty(lambda x: x @ (10 * direction), real, fake, target=10.0)
    below = gradient_penalty(lambda x: x @ (7 * direction), real, fake, weight=2.0, target=10.0)
    assert at_target.item() == pytest.approx(0, abs=1e-20)
    assert below.item() == pytest.approx(2 * 9, rel=1e-12)
    above = gradient_penalty(lambda x: x @ (13 * direction), real, fake, one_sided=True, target=10.0)
    assert gradient_penalty(lambda x: x @ (7 * direction), real, fake, one_sided=True, target=10.0).item() == 0
    assert above.item() == pytest.approx(10 * 9, rel=1e-12)  # the default λ = 10
    with pytest.raises(ConfigError, match="target"):
        gradient_penalty(lambda x: x @ direction, real, fake, target=0.0)


def test_gradient_penalty_value_and_its_gradient_in_the_critic_parameters():
    """D(x) = a·‖x‖²/2 has ∇D(x̂) = a·x̂: penalty λ·mean((a‖x̂‖ − 1)²), ∂/∂a = λ·mean(2(a‖x̂‖ − 1)‖x̂‖)."""
    scale = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    critic = lambda x: scale * x.square().flatten(1).sum(1) / 2  # noqa: E731
    real, fake = torch.randn(8, 2, 3, dtype=torch.float64), torch.randn(8, 2, 3, dtype=torch.float64)
    penalty = gradient_penalty(critic, real, fake, weight=10.0, generator=torch.Generator().manual_seed(3))
    mix = torch.rand(8, 1, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)  # the same ε
    norms = (mix * real + (1 - mix) * fake).flatten(1).norm(dim=1)  # ‖x̂‖ (B,)
    expected_value = 10 * (0.7 * norms - 1).square().mean()
    expected_gradient = 10 * (2 * (0.7 * norms - 1) * norms).mean()
    assert penalty.item() == pytest.approx(expected_value.item(), rel=1e-12)
    (gradient,) = torch.autograd.grad(penalty, scale)  # needs create_graph=True inside the penalty
    assert gradient.item() == pytest.approx(expected_gradient.item(), rel=1e-12)


def test_gradient_penalty_rejects_mismatched_batches():
    with pytest.raises(DataError, match="same shape"):
        gradient_penalty(lambda x: x.sum(1), torch.zeros(4, 2), torch.zeros(4, 3))


def test_weight_clipping_clips_exactly():
    network = mlp(3, 8, 1, 1)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.normal_(0, 0.05)
    before = [p.detach().clone() for p in network.parameters()]
    clip_weights_(network, 0.03)
    for old, new in zip(before, network.parameters(), strict=True):
        assert torch.equal(new, old.clamp(-0.03, 0.03))  # inside untouched, outside exactly ±c
    clipped = torch.cat([p.detach().abs().flatten() for p in network.parameters()])
    assert clipped.max() == torch.tensor(0.03) and (clipped == torch.tensor(0.03)).sum() > 1  # some hit c exactly
    weight = torch.tensor([-2.0, 0.5, 3.0])
    clip_weights_([weight], 1.0)  # a plain iterable of tensors works too
    assert weight.tolist() == [-1.0, 0.5, 1.0]
    with pytest.raises(ConfigError):
        clip_weights_(network, 0.0)


def test_power_iteration_state_resumes_bit_identically():
    critic = lipschitz_conv_critic((1, 8, 8), width=4)
    x = torch.rand(3, 1, 8, 8)
    converge(critic, x, steps=5)  # part-way: the vectors are not yet at their fixed point
    assert any("left_vector" in key for key in critic.state_dict())
    torch.manual_seed(1)
    restored = lipschitz_conv_critic((1, 8, 8), width=4)  # other weights and vectors
    restored.load_state_dict(critic.state_dict())
    restored.eval()
    assert torch.equal(restored(x), critic(x))
    critic.train(), restored.train()
    for _ in range(3):  # the power iteration continues identically
        assert torch.equal(restored(x), critic(x))


def test_eval_mode_leaves_power_iteration_buffers_alone():
    critic = lipschitz_mlp(3, 16, 1)
    x = torch.randn(5, 3)
    saved = {name: buffer.clone() for name, buffer in critic.named_buffers()}
    critic.eval()
    for _ in range(3):
        critic(x)
    assert all(torch.equal(buffer, saved[name]) for name, buffer in critic.named_buffers())
    critic.train()
    critic(x)
    assert not all(torch.equal(buffer, saved[name]) for name, buffer in critic.named_buffers())  # training does


def test_spectral_norm_is_computed_in_full_precision_under_autocast():
    layer = SpectralLinear(16, 32)
    converge(layer, torch.randn(2, 16), steps=50)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = layer.spectral_norm()
        output = layer(torch.randn(3, 16))
    assert under_autocast.dtype == torch.float32 and torch.equal(under_autocast, layer.spectral_norm())
    assert output.dtype == torch.bfloat16  # the layer itself still runs in bfloat16
