"""Lipschitz-constrained layers and critics: spectral normalisation, weight clipping, the Dudley critic.

An IPM critic must lie in a ball of functions: 1-Lipschitz for the Wasserstein distance, the bounded-
Lipschitz ball ‖f‖_BL = sup|f| + Lip(f) ≤ 1 for the Dudley metric. Lipschitz constants compose by
products, Lip(g ∘ h) ≤ Lip(g)·Lip(h), so a network whose every linear map has operator norm ≤ 1 and
whose every activation is 1-Lipschitz is 1-Lipschitz as a whole (in the Euclidean norm of the
flattened input).

Spectral normalisation (Miyato et al. 2018, Algorithm 1) divides each weight W by an estimate σ̂ of
its largest singular value, kept by power iteration:

1. v ← Wᵀu / ‖Wᵀu‖,  u ← Wv / ‖Wv‖   (one step per training forward; u, v are saved buffers),
2. σ̂ = uᵀWv                            (u, v held fixed, so the gradient flows through W only),
3. the layer computes with W / σ̂.

For a convolution, W above is the convolution *operator* on the layer's input, not the reshaped
(C_out, C_in·k·k) kernel matrix of Miyato et al. §2.1: the kernel matrix's norm is only a lower
bound on the operator's, which can be up to ⌈k/s⌉ times larger (each input pixel meets ⌈k/s⌉² windows;
2× for the 4×4 stride-2 kernels here), so a conv net normalised in their sense is not 1-Lipschitz
but up to 2× per layer. Here step 1 runs with v ∈ R^{C_in×H×W}, Wv = conv2d(v) and Wᵀu =
conv_transpose2d(u) (the exact adjoint), so σ̂ converges to the operator's true norm and W/σ̂ is
1-Lipschitz for inputs of the size the layer was built for (``input_size``; zero padding only).
The cost per step is one convolution of one image each way.

σ̂ from power iteration approaches the largest singular value from below, so W/σ̂ has norm ≥ 1 until
the iteration has converged; with one step per training forward it tracks the slowly moving weights.
In eval mode u and v are not updated, so evaluation never changes the model.

Weight clipping (Arjovsky et al. 2017, Algorithm 1, step 7) is ``clip_weights_`` after each critic update.

The Dudley critic (Abbasnejad, Shi & van den Hengel, "Deep Lipschitz networks and Dudley GANs",
2017/ICLR 2018 submission) bounds a Lipschitz body's output; see ``DudleyCritic``.

A K-Lipschitz critic is K times a 1-Lipschitz one (``Scaled``). For the Wasserstein objective K only
rescales the loss, but an f-GAN's critic feeds a nonlinearity: the GAN discriminator's logit should
approach log p_data/p_G, which changes by nats within a few σ of a narrow mode, where a 1-Lipschitz
logit can change by only a few σ. 1/K sets the length scale the critic resolves; for the Dudley ball
it is the metric's (``DudleyCritic(metric_scale=K)``).

References:
    Miyato, Kataoka, Koyama & Yoshida 2018, "Spectral Normalization for Generative Adversarial Networks".
    Arjovsky, Chintala & Bottou 2017, "Wasserstein Generative Adversarial Networks".
    Anil, Lucas & Grosse 2019, "Sorting Out Lipschitz Function Approximation" (GroupSort/MaxMin).
    Sedghi, Gupta & Long 2019, "The Singular Values of Convolutional Layers" (conv operator norms).

Example::

    critic = nn.Sequential(nn.Flatten(), lipschitz_mlp(2, 256, 1), nn.Flatten(0))  # (B, 2) -> (B,), Lip ≤ 1
    images = lipschitz_conv_critic((1, 28, 28), width=32)  # (B, 1, 28, 28) -> (B, 1), Lip ≤ 1
    dudley = DudleyCritic(lipschitz_mlp(2, 256, 1))  # (B, 2) -> (B,), sup|f| + Lip(f) ≤ 1
    steep = Scaled(critic, 10.0)  # (B, 2) -> (B,), Lip ≤ 10
"""

import copy
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import ConfigError, DataError
from .convnets import conv_encoder
from .mlp import Reshape, mlp


class _PowerIteration:
    """Steps 1-3 above for a layer that defines its linear map (``_operator``) and its adjoint (``_adjoint``)
    on single vectors shaped like the buffers ``right_vector`` (an input) and ``left_vector`` (an output)."""

    weight: torch.Tensor
    training: bool
    num_power_iterations: int
    left_vector: torch.Tensor  # u
    right_vector: torch.Tensor  # v

    def _operator(self, v: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _adjoint(self, u: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def reset_power_iteration(self, generator: torch.Generator | None = None) -> None:
        """Start over from a random v (and u = Wv/‖Wv‖), e.g. after the weight was overwritten."""
        with torch.no_grad():
            v = torch.randn(self.right_vector.shape, generator=generator).to(self.right_vector)
            self.right_vector.copy_(_unit(v))
            self.left_vector.copy_(_unit(self._operator(self.right_vector, self.weight)))

    def spectral_norm(self) -> torch.Tensor:
        """σ̂ = uᵀWv from the saved vectors (step 2), a scalar with a gradient through W; updates nothing."""
        u, v = self.left_vector.clone(), self.right_vector.clone()  # clones: a later update may not touch them
        with _full_precision(self.weight):
            return torch.sum(u * self._operator(v, self.weight))

    def normalized_weight(self) -> torch.Tensor:
        """W/σ̂ from the saved vectors, without a power-iteration step: what an eval-mode forward uses."""
        return self.weight / self.spectral_norm().clamp_min(1e-12)

    def _step_and_normalize(self) -> torch.Tensor:
        """W/σ̂ after ``num_power_iterations`` steps in training mode, none in eval mode (steps 1-3)."""
        if self.training:
            with torch.no_grad(), _full_precision(self.weight):  # 1. u and v carry no gradient
                u, v = self.left_vector, self.right_vector
                for _ in range(self.num_power_iterations):
                    v = _unit(self._adjoint(u, self.weight))  # shaped like an input
                    u = _unit(self._operator(v, self.weight))  # shaped like an output
                self.right_vector.copy_(v)
                self.left_vector.copy_(u)
        return self.normalized_weight()  # 2.-3.


def _full_precision(weight: torch.Tensor) -> torch.autocast:
    """No autocast: σ̂ in bfloat16 would be off by ~0.4%, and the bound with it."""
    return torch.autocast(weight.device.type, enabled=False)


def _unit(x: torch.Tensor) -> torch.Tensor:
    """x / ‖x‖ over all its entries, any shape."""
    return x / x.norm().clamp_min(1e-12)


class SpectralLinear(_PowerIteration, nn.Linear):
    """``nn.Linear`` with weight W/σ̂(W): (B, in_features) -> (B, out_features), 1-Lipschitz once σ̂ has converged.

    Buffers: ``left_vector`` u (out_features,), ``right_vector`` v (in_features,), saved in the state dict
    so that a resumed run continues the power iteration exactly.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, num_power_iterations: int = 1) -> None:
        super().__init__(in_features, out_features, bias)
        if num_power_iterations < 1:
            raise ConfigError(f"num_power_iterations must be >= 1, got {num_power_iterations}")
        self.num_power_iterations = num_power_iterations
        self.register_buffer("left_vector", torch.zeros(out_features))
        self.register_buffer("right_vector", torch.zeros(in_features))
        self.reset_power_iteration()

    def _operator(self, v: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return weight @ v  # (out,)

    def _adjoint(self, u: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return weight.T @ u  # (in,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self._step_and_normalize(), self.bias)  # (B, out_features)


class SpectralConv2d(_PowerIteration, nn.Conv2d):
    """``nn.Conv2d`` divided by the operator norm of its convolution on (C_in, *input_size) inputs.

    (B, C_in, H, W) -> (B, C_out, H', W') with (H, W) = ``input_size``, fixed at construction because the
    operator, and so its norm, depends on it; another size raises ``DataError``. Zero padding only.
    Buffers: ``right_vector`` v (1, C_in, H, W) and ``left_vector`` u (1, C_out, H', W').
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        *,
        input_size: tuple[int, int],
        bias: bool = True,
        num_power_iterations: int = 1,
    ) -> None:
        if isinstance(padding, str):
            raise ConfigError(f"SpectralConv2d takes integer padding, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        if num_power_iterations < 1:
            raise ConfigError(f"num_power_iterations must be >= 1, got {num_power_iterations}")
        self.num_power_iterations = num_power_iterations
        self.input_size = tuple(input_size)
        output_size = [
            (size + 2 * pad - kernel) // step + 1
            for size, pad, kernel, step in zip(
                self.input_size, self.padding, self.kernel_size, self.stride, strict=True
            )
        ]
        if min(output_size) < 1:
            raise DataError(f"input_size {self.input_size} is smaller than the kernel {self.kernel_size}")
        # conv_transpose2d maps (H', W') back to (H, W) only with the rows/columns a stride skipped restored
        self.adjoint_output_padding = tuple(
            size - ((out - 1) * step - 2 * pad + kernel)
            for size, out, pad, kernel, step in zip(
                self.input_size, output_size, self.padding, self.kernel_size, self.stride, strict=True
            )
        )
        self.register_buffer("left_vector", torch.zeros(1, out_channels, *output_size))
        self.register_buffer("right_vector", torch.zeros(1, in_channels, *self.input_size))
        self.reset_power_iteration()

    def _operator(self, v: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.conv2d(v, weight, None, self.stride, self.padding)  # (1, C_out, H', W')

    def _adjoint(self, u: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(
            u, weight, None, self.stride, self.padding, self.adjoint_output_padding
        )  # (1, C_in, H, W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.input_size:
            raise DataError(f"SpectralConv2d was built for {self.input_size} inputs, got {tuple(x.shape[-2:])}")
        return self._conv_forward(x, self._step_and_normalize(), self.bias)  # (B, C_out, H', W')


class MaxMin(nn.Module):
    """GroupSort with groups of two (Anil et al. 2019, §4): the features on dim 1 are split into halves a, b
    and replaced by (max(a, b), min(a, b)). 1-Lipschitz and gradient-norm preserving; (B, C, ...) -> (B, C, ...),
    C even."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] % 2:
            raise ConfigError(f"MaxMin needs an even number of features on dim 1, got {x.shape[1]}")
        a, b = x.chunk(2, dim=1)  # (B, C/2, ...) each
        return torch.cat([torch.maximum(a, b), torch.minimum(a, b)], dim=1)  # (B, C, ...)


# Modules passed through unchanged by ``spectral_normalized``: each is 1-Lipschitz (Sigmoid even 1/4).
_LIPSCHITZ_MODULES = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Identity, nn.Flatten, Reshape, MaxMin)


def spectral_normalized(network: nn.Module, input_shape: tuple[int, ...], num_power_iterations: int = 1) -> nn.Module:
    """A copy of ``network`` with every ``nn.Linear``/``nn.Conv2d`` replaced by its spectral-normalised
    counterpart (same weights, same shapes), for inputs (B, *input_shape).

    Containers are walked; every other module must be known to be 1-Lipschitz (ReLU, LeakyReLU with
    |slope| ≤ 1, Tanh, Sigmoid, Flatten, Reshape, Identity, MaxMin), else ``ConfigError``: a batch norm
    or dropout would void the bound. The result is 1-Lipschitz once power iteration has converged.
    """
    network = copy.deepcopy(network)
    input_sizes: dict[nn.Module, tuple[int, int]] = {}

    def record(module: nn.Module, args: tuple) -> None:
        input_sizes[module] = tuple(args[0].shape[-2:])

    hooks = []
    for module in network.modules():
        if isinstance(module, nn.Conv2d):
            if module.groups != 1 or module.dilation != (1, 1) or module.padding_mode != "zeros":
                raise ConfigError(f"spectral normalisation takes plain zero-padded convolutions, got {module}")
            hooks.append(module.register_forward_pre_hook(record))
        elif isinstance(module, nn.LeakyReLU):
            if abs(module.negative_slope) > 1:
                raise ConfigError(f"LeakyReLU slope must be in [-1, 1] to be 1-Lipschitz, got {module.negative_slope}")
        elif not (isinstance(module, (nn.Linear, *_LIPSCHITZ_MODULES)) or type(module) in (nn.Sequential, nn.Module)):
            raise ConfigError(f"{type(module).__name__} is not known to be 1-Lipschitz; cannot bound {network}")
    was_training = network.training
    network.eval()  # no power-iteration step in layers that are already spectral
    with torch.no_grad():
        parameter = next(network.parameters())
        network(torch.zeros(1, *input_shape, dtype=parameter.dtype, device=parameter.device))  # records conv inputs
    network.train(was_training)
    for hook in hooks:
        hook.remove()
    return _replace_layers(network, input_sizes, num_power_iterations)


def _replace_layers(module: nn.Module, input_sizes: dict, num_power_iterations: int) -> nn.Module:
    if isinstance(module, nn.Linear) and not isinstance(module, SpectralLinear):
        replacement = SpectralLinear(
            module.in_features, module.out_features, module.bias is not None, num_power_iterations
        )
    elif isinstance(module, nn.Conv2d) and not isinstance(module, SpectralConv2d):
        replacement = SpectralConv2d(
            module.in_channels,
            module.out_channels,
            module.kernel_size,
            module.stride,
            module.padding,
            input_size=input_sizes[module],
            bias=module.bias is not None,
            num_power_iterations=num_power_iterations,
        )
    else:
        for name, child in module.named_children():
            setattr(module, name, _replace_layers(child, input_sizes, num_power_iterations))
        return module
    replacement = replacement.to(module.weight)
    with torch.no_grad():
        replacement.weight.copy_(module.weight)
        if module.bias is not None:
            replacement.bias.copy_(module.bias)
    replacement.reset_power_iteration()
    return replacement


def lipschitz_mlp(
    in_features: int,
    hidden: int,
    out_features: int,
    num_hidden_layers: int = 2,
    activation: Callable[[], nn.Module] = nn.LeakyReLU,
    num_power_iterations: int = 1,
) -> nn.Sequential:
    """``nn.mlp`` with spectral-normalised layers: (B, in_features) -> (B, out_features), 1-Lipschitz.

    ``activation`` must build a 1-Lipschitz module (the default LeakyReLU(0.01), or ``MaxMin``)."""
    network = mlp(in_features, hidden, out_features, num_hidden_layers, activation)
    return spectral_normalized(network, (in_features,), num_power_iterations)


def lipschitz_conv_critic(
    data_shape: tuple[int, int, int], width: int = 32, out_features: int = 1, num_power_iterations: int = 1
) -> nn.Sequential:
    """``nn.convnets.conv_encoder`` with spectral-normalised layers: (B, C, H, W) -> (B, out_features),
    1-Lipschitz; H and W divisible by 4 (two stride-2 stages, LeakyReLU(0.2), a linear read-out)."""
    if len(data_shape) != 3 or data_shape[1] % 4 or data_shape[2] % 4:
        raise DataError(f"the conv critic needs (C, H, W) images with H, W divisible by 4, got {data_shape}")
    return spectral_normalized(conv_encoder(data_shape, out_features, width), data_shape, num_power_iterations)


class Scaled(nn.Module):
    """K·h for a module h: the same shapes, Lip(K·h) = K·Lip(h); (B, ...) -> (B, ...)."""

    def __init__(self, module: nn.Module, factor: float) -> None:
        super().__init__()
        if factor <= 0:
            raise ConfigError(f"the scale factor must be > 0, got {factor}")
        self.module = module
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor * self.module(x)


class DudleyCritic(nn.Module):
    """A critic in the bounded-Lipschitz ball ‖f‖_BL = sup|f| + Lip(f) ≤ 1, the function class of the
    Dudley metric β(P, Q) = sup_{‖f‖_BL ≤ 1} |E_P f − E_Q f| (Dudley 2002, §11.3) that the Dudley GAN
    (Abbasnejad, Shi & van den Hengel) trains its critic over.

    Construction: a body h: (B, *D) -> (B, 1) or (B,) with Lip(h) ≤ L (``body_lipschitz``; 1 for the
    spectral-normalised builders above) is squashed and scaled:

        f(x) = softsign(s · K · h(x)) / (1 + s·L),   softsign(u) = u / (1 + |u|),   s = softplus(ρ) > 0 learnt,

    softsign being bounded by 1 and 1-Lipschitz, so sup|f| ≤ 1/(1 + sL) and Lip(f) ≤ K·sL/(1 + sL). 1/K
    (``metric_scale`` K, 1 by default) is the ball's length scale: Lipschitz constants are measured in the
    metric d(x, y) = K‖x − y‖ (the Dudley metric of data scaled by K), in which Lip_d(f) ≤ sL/(1 + sL). The
    bounds on sup|f| and Lip_d(f) sum to 1 for every s, and the critic learns where in the ball to sit —
    large s gives a steep, small-amplitude f (the Lipschitz part of the norm dominates), small s a flat one.
    The paper builds its critic from Lipschitz-constrained layers and a bounded output in the same spirit; its exact
    parametrisation of the bound is not reproduced here (the paper has no public code): this one is
    chosen because it meets ‖f‖_BL ≤ 1 exactly, for any body, by construction. (B, *D) -> (B,).

    Why softsign and not tanh: a constant added to f leaves E_P f − E_Q f unchanged, and while s·h sits in
    the squash's near-linear part a shift of h nearly does too, so nothing holds h's offset in place. Once
    |s·h| is large on every sample a tanh critic is dead: tanh(u) rounds to 1 in float32 for |u| > 9, so its
    gradient 1 − tanh² is exactly 0 and neither the critic nor the generator gets a gradient again. On
    grid25 with PacGAN's generator that happened within 1,000 steps (f = sup bound on every sample, 8–15
    modes after 10,000). softsign'(u) = 1/(1 + |u|)² decays only polynomially (2e-3 at 20), so a saturated
    critic still has a gradient back: the same run covered 23 modes by step 2,500. The squash runs in at
    least float32 under autocast: in bfloat16 softsign's gradient is already 0 at |u| = 300.
    """

    def __init__(
        self, body: nn.Module, body_lipschitz: float = 1.0, initial_slope: float = 1.0, metric_scale: float = 1.0
    ) -> None:
        super().__init__()
        if min(body_lipschitz, initial_slope, metric_scale) <= 0:
            raise ConfigError(
                "body_lipschitz, initial_slope and metric_scale must be > 0, "
                f"got {body_lipschitz}, {initial_slope}, {metric_scale}"
            )
        self.body = body
        self.body_lipschitz = body_lipschitz
        self.metric_scale = metric_scale
        inverse_softplus = initial_slope + torch.log(-torch.expm1(torch.tensor(-initial_slope))).item()
        self.raw_slope = nn.Parameter(torch.tensor(inverse_softplus))  # ρ with softplus(ρ) = initial_slope

    def slope(self) -> torch.Tensor:
        """s = softplus(ρ) > 0, a scalar."""
        return F.softplus(self.raw_slope)

    def sup_bound(self) -> torch.Tensor:
        """The guaranteed bound on sup|f|: 1/(1 + sL)."""
        return 1 / (1 + self.slope() * self.body_lipschitz)

    def lipschitz_bound(self) -> torch.Tensor:
        """The guaranteed bound on Lip(f) in the metric K‖x − y‖: sL/(1 + sL) = 1 − ``sup_bound()`` (K times
        that in the Euclidean metric)."""
        return self.slope() * self.body_lipschitz * self.sup_bound()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.body(x).reshape(x.shape[0])  # (B,) Lipschitz with constant ≤ L
        scores = scores.to(torch.promote_types(scores.dtype, torch.float32))  # bfloat16 under autocast -> float32
        return F.softsign(self.slope() * self.metric_scale * scores) * self.sup_bound()  # (B,) in ±1/(1+sL)


def lipschitz_ratios(
    function: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """‖f(x_i) − f(y_i)‖ / ‖x_i − y_i‖ for each pair: x, y (B, *D) -> (B,). Every ratio is a lower bound
    on Lip(f); their maximum over many pairs is the empirical Lipschitz constant."""
    output_gap = (function(x) - function(y)).reshape(x.shape[0], -1).norm(dim=1)  # (B,)
    return output_gap / (x - y).reshape(x.shape[0], -1).norm(dim=1)  # (B,)


def bounded_lipschitz_norm_estimate(
    critic: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor, metric_scale: float = 1.0
) -> float:
    """max |f| on x and y plus the largest Lipschitz ratio over the pairs (x_i, y_i): a lower estimate of
    ‖f‖_BL = sup|f| + Lip(f) from samples x, y (B, *D) of a scalar critic, Lip in the metric K‖x − y‖
    (K = ``metric_scale``)."""
    with torch.no_grad():
        sup = torch.cat([critic(x), critic(y)]).abs().max()
        return (sup + lipschitz_ratios(critic, x, y).max() / metric_scale).item()


def clip_weights_(module_or_parameters: nn.Module | Iterable[torch.Tensor], clip_value: float) -> None:
    """Clamp every parameter into [−c, c] in place (Arjovsky et al. 2017, Algorithm 1, step 7: after
    each critic update, c = 0.01 in the paper)."""
    if clip_value <= 0:
        raise ConfigError(f"clip_value must be > 0, got {clip_value}")
    if isinstance(module_or_parameters, nn.Module):
        module_or_parameters = module_or_parameters.parameters()
    with torch.no_grad():
        for parameter in module_or_parameters:
            parameter.clamp_(-clip_value, clip_value)
