"""VAE with an inverse autoregressive flow posterior (Kingma, Salimans, Jozefowicz, Chen, Sutskever &
Welling 2016, "Improved Variational Inference with Inverse Autoregressive Flow").

The VAE's generative model p(z) p(x|z); the recognition model q(z|x) is a diagonal Gaussian pushed
through T invertible autoregressive steps (Algorithm 1):

1. Encode: μ_0, log σ_0, h = encoder(x); h is a context that every flow step reads.
2. Draw z_0 = μ_0 + σ_0 ⊙ ε, ε ~ N(0, I) (eq. 9), with log q(z_0|x) the diagonal Gaussian's.
3. For t = 1..T, the numerically stable step of eqs. 12–14:
   [m_t, s_t] = AutoregressiveNN[t](z_{t−1}, h) (eq. 12), a ``ContextMADE``;
   σ_t = sigmoid(s_t) (eq. 13);
   z_t = σ_t ⊙ z_{t−1} + (1 − σ_t) ⊙ m_t (eq. 14).
   m_t and σ_t depend on z_{t−1} only through the elements before each one in the step's order, so
   dz_t/dz_{t−1} is triangular with σ_t on its diagonal and log q(z_t|x) = log q(z_{t−1}|x) − Σ log σ_t
   (eqs. 5, 11). The order is reversed from one step to the next (end of §4); s_t starts near
   ``gate_bias`` so that each step begins close to the identity ("forget gate bias", §4).
4. ELBO (eq. 2) = E_q[log p(x|z_T) + log p(z_T) − log q(z_T|x)], one sample; the KL has no closed
   form, so it is the Monte-Carlo term log q(z_T|x) − log p(z_T). Training ascends
   log p(x|z_T) − β·(log q − log p(z_T)); β = 1 is the ELBO.

Training runs steps 1–4 on plain tensors, as Algorithm 1 does. ``encode`` returns the same posterior as
a ``torch.distributions.TransformedDistribution``: ``rsample`` runs steps 2–3 in parallel over the latent
dimensions; ``log_prob`` of the z it just drew reads the cached z_{t−1} and log σ_t of each step, and of
any other z inverts each step exactly with Z sequential passes, so ``dgm.eval``'s IWAE estimate of
log p(x) is correct. Its ``mean`` is T(μ_0), the flow's image of the base mean: E_q[z] has no closed form
and T(μ_0) equals it up to O(σ_0²) (first-order expansion).

Example::

    model = IAF(IAFConfig(latent_dim=8, num_flow_steps=2), data_shape=(1, 8, 8))
    loss = -model.elbo(x).mean()
"""

from dataclasses import dataclass

import torch
from torch import nn
from torch.distributions import Independent, Normal, Transform, TransformedDistribution, constraints

from ...core.config import check
from ...nn.likelihood import full_precision
from ...nn.masked import ContextMADE
from .vae import VAE, VAEConfig


@dataclass(frozen=True)
class IAFConfig(VAEConfig):
    num_flow_steps: int = 2  # T
    flow_hidden_sizes: tuple[int, ...] = (128, 128)  # hidden layers of each step's MADE
    context_dim: int = 32  # size of the encoder's extra output h
    gate_bias: float = 2.0  # initial s_t, so σ_t = sigmoid(s_t) starts near 0.88 (§4: "close to +1 or +2")

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.num_flow_steps >= 0, f"num_flow_steps must be >= 0, got {self.num_flow_steps}")
        check(
            len(self.flow_hidden_sizes) >= 1, "flow_hidden_sizes needs at least one layer, e.g. flow_hidden_sizes=128"
        )
        check(
            all(h >= 1 for h in self.flow_hidden_sizes), f"flow hidden sizes must be >= 1, got {self.flow_hidden_sizes}"
        )
        check(self.context_dim >= 1, f"context_dim must be >= 1, got {self.context_dim}")


def iaf_step(network: ContextMADE, z: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., Z), context (..., C) -> z_t and log σ_t, each (..., Z) (eqs. 12–14)."""
    shift, gate_logit = network(z, context).unbind(-2)  # 12. m_t, s_t: (..., Z) each
    gate = torch.sigmoid(gate_logit)  # 13. σ_t
    return shift + gate * (z - shift), nn.functional.logsigmoid(gate_logit)  # 14. σ_t ⊙ z_{t−1} + (1 − σ_t) ⊙ m_t


class IAFStep(Transform):
    """One step z_t = σ_t ⊙ z_{t−1} + (1 − σ_t) ⊙ m_t (eqs. 12–14) over the last dimension Z.

    ``network`` maps (..., Z), context (..., C) -> (..., 2, Z) = [m_t, s_t], autoregressive in its order.
    The forward pass keeps its log σ_t, so ``log_abs_det_jacobian`` of a just-drawn sample costs nothing.
    """

    domain = constraints.independent(constraints.real, 1)
    codomain = constraints.independent(constraints.real, 1)
    bijective = True

    def __init__(self, network: ContextMADE, context: torch.Tensor) -> None:
        super().__init__(cache_size=1)
        self.network = network
        self.context = context  # (B, C)
        self.last_log_gate: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None)  # (z_{t−1}, log σ_t)

    def _shift_and_gate(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., Z) -> m_t and s_t, each (..., Z) (eq. 12)."""
        shift, gate_logit = self.network(z, self.context).unbind(-2)  # (..., Z) each
        return shift, gate_logit

    def _call(self, z: torch.Tensor) -> torch.Tensor:
        z_next, log_gate = iaf_step(self.network, z, self.context)  # (..., Z) each
        self.last_log_gate = (z, log_gate)
        return z_next

    def _inverse(self, z_next: torch.Tensor) -> torch.Tensor:
        """Solve eq. 14 for z_{t−1}: pass k fixes the k-th element in the order, so Z passes are exact."""
        z = torch.zeros_like(z_next)  # (..., Z)
        for _ in range(z_next.shape[-1]):
            shift, gate_logit = self._shift_and_gate(z)
            gate = torch.sigmoid(gate_logit)
            z = (z_next - (1 - gate) * shift) / gate
        return z

    def log_abs_det_jacobian(self, z: torch.Tensor, z_next: torch.Tensor) -> torch.Tensor:
        """(..., Z) -> (...,) log |det dz_t/dz_{t−1}| = Σ log σ_t (eq. 11)."""
        cached_input, log_gate = self.last_log_gate
        if z is not cached_input:
            log_gate = nn.functional.logsigmoid(self._shift_and_gate(z)[1])  # (..., Z)
        return log_gate.sum(-1)


class IAFPosterior(TransformedDistribution):
    """q(z|x): N(loc, diag scale²) (eq. 9) through ``IAFStep``s; batch (B,), event (Z,)."""

    def __init__(
        self, loc: torch.Tensor, scale: torch.Tensor, context: torch.Tensor, networks: list[ContextMADE]
    ) -> None:
        # Built for every batch ``encode`` sees, so without argument checks: its scale = exp(·) is always positive.
        base = Independent(Normal(loc, scale, validate_args=False), 1, validate_args=False)
        super().__init__(base, [IAFStep(network, context) for network in networks], validate_args=False)

    @property
    def mean(self) -> torch.Tensor:
        """(B, Z) the flow's image of the base mean μ_0: E_q[z] up to O(σ_0²), which has no closed form."""
        z = self.base_dist.mean  # (B, Z)
        for step in self.transforms:
            z = step(z)
        return z


class IAF(VAE):
    """A VAE whose ``encode`` returns the IAF posterior and whose KL term is estimated by Monte Carlo."""

    def __init__(self, config: IAFConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__(config, data_shape, data_info)
        size = config.latent_dim
        self.flow = nn.ModuleList()
        for step in range(config.num_flow_steps):
            order = torch.arange(size) if step % 2 == 0 else torch.arange(size).flip(0)  # reversed between steps
            generator = torch.Generator().manual_seed(step)  # hidden degrees: a fixed function of the step
            network = ContextMADE(size, config.flow_hidden_sizes, config.context_dim, 2, order, generator)
            with torch.no_grad():
                network.output.bias[size:] = config.gate_bias  # rows of s_t
            self.flow.append(network)

    def _networks(self, config: IAFConfig, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
        """The VAE's networks, with the encoder's last ``Linear`` widened from 2Z to 2Z + C outputs for h."""
        encoder, decoder = super()._networks(config, data_shape)
        parent = encoder
        while isinstance(parent[-1], nn.Sequential):
            parent = parent[-1]
        last = parent[-1]
        parent[-1] = nn.Linear(last.in_features, last.out_features + config.context_dim)
        return encoder, decoder

    def _encoder_outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """1. (B, *D) -> μ_0 (B, Z), log σ_0 (B, Z) and the context h (B, C)."""
        size = self.latent_dim
        outputs = full_precision(self.encoder(x))  # (B, 2Z + C)
        loc, log_scale, context = outputs.split([size, size, self.config.context_dim], dim=-1)  # (B, ·) each
        return loc, log_scale, context

    def encode(self, x: torch.Tensor) -> IAFPosterior:
        """1. (B, *D) -> q(z|x), batch (B,), event (Z,)."""
        loc, log_scale, context = self._encoder_outputs(x)
        return IAFPosterior(loc, log_scale.exp(), context, list(self.flow))

    def elbo_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, *D) -> one-sample log p(x|z) and log q(z|x) − log p(z), each (B,), in nats (step 4)."""
        # Algorithm 1 as written: the z and densities of encode(x).rsample() and its log_prob, without the
        # torch.distributions machinery, whose per-call overhead costs more on a CPU than a flow step itself.
        loc, log_scale, context = self._encoder_outputs(x)  # 1.
        noise = torch.randn_like(loc)  # ε (B, Z)
        z = loc + log_scale.exp() * noise  # 2. z_0 (eq. 9)
        log_density = -0.5 * noise**2 - log_scale  # log q(z_0|x) + ½ log 2π per dimension, (B, Z)
        for network in self.flow:
            z, log_gate = iaf_step(network, z, context)  # 3. (B, Z) each
            log_density = log_density - log_gate  # eq. 11
        log_q_minus_log_p = (log_density + 0.5 * z**2).sum(-1)  # 4. log q(z_T|x) − log p(z_T), p = N(0, I), (B,)
        return self.decode(z).log_prob(x), log_q_minus_log_p
