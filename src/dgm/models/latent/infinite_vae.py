"""Infinite VAE: a Dirichlet-process mixture of VAEs (Abbasnejad, Dick & van den Hengel, CVPR 2017,
"Infinite Variational Autoencoder for Semi-Supervised Learning").

Generative model (the paper's §3): π ~ GEM(α) (stick-breaking, Sethuraman 1994), c ~ π,
z ~ N(0, I), x ~ p_c(x|z); each component c is a whole ``VAE`` with its own encoder and decoder,
so the number of autoencoders grows with the data. The paper infers the assignments c_i with a
Gibbs sampler under the Chinese-restaurant-process prior and trains each VAE on the data assigned
to it; a data point the present VAEs explain poorly opens a new one. Here, per training step:

1. Mixture weights (truncated stick-breaking): with n_c the assignment counts,
   v_c = E[Beta(1 + n_c, α + Σ_{j>c} n_j)] = (1 + n_c) / (1 + α + n_c + Σ_{j>c} n_j) and
   π_c = v_c Π_{j<c} (1 − v_j) over the active VAEs and one fresh slot after them, whose v is 1 (so
   Σ π = 1 exactly). With a single VAE holding n points, π_fresh = α / (1 + α + n): the CRP's
   "new table" probability α / (n + α), up to the GEM prior's pseudo-count.
2. Gibbs step (Neal 2000, "Markov chain sampling methods for Dirichlet process mixture models",
   Algorithm 8 with one auxiliary component, eq. 3.7): c_i ~ q(c | x_i) ∝ π_c exp(ELBO_c(x_i)), the
   component likelihood replaced by its evidence lower bound as in the paper. The auxiliary
   component is the fresh slot: a VAE freshly drawn from the base measure G₀, which here is the
   networks' random initialisation, so ∫ p(x|θ) dG₀(θ) is estimated by one draw θ ~ G₀.
3. Birth: a point assigned to the fresh slot makes it an active component (``active`` mask).
4. Counts: n_c ← ρ n_c + (points of the batch assigned to c), ρ = 1 − B / ``assignment_memory``,
   so the counts describe the last ``assignment_memory`` assignments (≈ one pass over the data).
5. Death: as a CRP table that loses its last customer disappears, a VAE whose count falls below
   e⁻¹ (a singleton not chosen again for ``assignment_memory`` / B steps, about one pass) leaves the
   mixture; its slot is redrawn from G₀ and its optimiser moments are cleared.
6. M-step: each VAE takes one Adam step on the mean ELBO (Kingma & Welling 2014, eq. 10) of the
   points assigned to it.

Simplifications against the paper, all forced by minibatch training:

- (step 2) q(c|x) uses ELBO_c evaluated at the posterior mean z = μ_c(x), a deterministic
  stand-in for the expected ELBO, so scores and bounds are reproducible; a sweep visits the points
  of one minibatch, not all N, and a point's own count is not removed from n_c (one in
  ``assignment_memory``).
- (steps 4–5) counts are decayed running sums, not exact counts over the data set, so a
  component dies one pass after it was last chosen rather than the moment it is empty.
- Truncation: at most ``max_components`` VAEs, allocated up front so that the growing model is a
  fixed set of parameters plus the ``active``/``counts`` buffers (checkpoints hold ``state_dict``
  only); slots are ordered by index in the stick-breaking, active or not.
- With random-initialisation draws as G₀, a new VAE is born only where the present ones are
  far worse than an untrained network (by log((1 + α + n) / α) nats): a new, distant cluster, or
  early in training. On data the first VAE already covers (the 8×8 digits), the mixture usually
  stays at one component.
- The paper's second half, semi-supervised classification from the mixture (a discriminative
  classifier on the components' latent codes, weighted by the responsibilities), is not here: this
  model is the unsupervised density and outlier model; dgm's semi-supervised models are ``m2`` and
  ``m1m2``.
- α is fixed (the paper's concentration is not resampled), and training is single-process:
  ``counts`` and ``active`` are not synchronised across data-parallel replicas.

Evaluation treats the mixture as one latent-variable model whose latent is the pair (c, z):
q(c, z | x) = q(c|x) q_c(z|x) and p(c, z) = π_c N(z; 0, I), written as one vector
(z, one_hot(c)) of size ``latent_dim = Z + max_components``. So ``elbo`` is the ELBO of that pair,
Σ_c q(c|x) [ELBO_c(x) + log π_c − log q(c|x)] ≤ log Σ_c π_c p_c(x) (it equals
log Σ_c π_c exp(ELBO_c) when q(c|x) is the exact posterior over c), and the IWAE bound of
``dgm.eval`` on encode/decode/prior is an honest bound on the mixture's log p(x). The fresh slot is
part of the mixture, with weight π_fresh: the DP's predictive probability of a new cluster.

Example::

    model = InfiniteVAE(InfiniteVAEConfig(), data_shape=(1, 8, 8))
    q_c = model.responsibilities(x)  # (B, max_components), rows sum to one
    bound = model.elbo(x)  # (B,) ≤ log p(x)
"""

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical, Distribution, Normal, constraints

from ...core.config import check
from ...core.protocols import Backward
from ...losses.elbo import elbo
from .vae import VAE, VAEConfig

DEATH_COUNT = math.exp(-1)  # a singleton's count after assignment_memory / B steps without a new point


@dataclass(frozen=True)
class InfiniteVAEConfig:
    max_components: int = 8  # truncation level: VAEs allocated up front
    concentration: float = 1.0  # α of the Dirichlet process
    assignment_memory: int = 1500  # assignments the counts n_c remember (≈ the training-set size)
    latent_dim: int = 8  # of each component VAE
    hidden_dim: int = 128
    num_hidden_layers: int = 2
    decoder: Literal["auto", "bernoulli", "gaussian", "logistic"] = "auto"  # auto: Bernoulli for images, else Gaussian
    batch_size: int = 64
    learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        check(self.max_components >= 2, f"max_components must be >= 2, got {self.max_components}")
        check(self.concentration > 0, f"concentration must be > 0, got {self.concentration}")
        check(
            self.assignment_memory >= self.batch_size,
            f"assignment_memory must be >= batch_size ({self.batch_size}), got {self.assignment_memory}",
        )
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(
            self.assignment_memory >= self.max_components,
            f"assignment_memory must be >= max_components ({self.max_components}), got {self.assignment_memory}",
        )
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")


def stick_breaking_weights(counts: torch.Tensor, in_play: torch.Tensor, concentration: float) -> torch.Tensor:
    """(K,) counts, (K,) bool slots in the mixture -> (K,) truncated stick-breaking weights (step 1).

    Over the in-play slots in order: v_c = (1 + n_c) / (1 + α + n_c + Σ_{j>c} n_j), the posterior mean
    of Beta(1 + n_c, α + Σ_{j>c} n_j), v = 1 for the last one, and π_c = v_c Π_{j<c} (1 − v_j); other slots get 0.
    """
    counts = counts * in_play
    later = counts.flip(0).cumsum(0).flip(0) - counts  # (K,) Σ_{j>c} n_j
    stick = (1 + counts) / (1 + concentration + counts + later)  # (K,) v_c
    last = torch.arange(len(counts), device=counts.device) == in_play.nonzero().max()  # (K,)
    stick = torch.where(last, 1.0, stick) * in_play
    remaining = torch.cat([stick.new_ones(1), (1 - stick).cumprod(0)[:-1]])  # (K,) Π_{j<c} (1 − v_j)
    return stick * remaining


class ComponentLatent(Distribution):
    """q(c, z) = q(c) N(z; loc_c, diag scale_c²) over a component c and its VAE's latent z.

    A value is the vector (z, one_hot(c)), event shape (Z + K,); ``log_prob`` reads c as the argmax
    of the last K entries. ``log_weights`` (..., K) are log q(c) (−inf for impossible components),
    ``loc``/``scale`` (..., K, Z).
    """

    arg_constraints: dict = {}
    support = constraints.real_vector
    has_rsample = True  # in z given c

    def __init__(self, log_weights: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> None:
        self.log_weights, self.loc, self.scale = log_weights, loc, scale
        self.num_components, self.component_dim = loc.shape[-2:]
        event = (self.component_dim + self.num_components,)
        super().__init__(log_weights.shape[:-1], torch.Size(event), validate_args=False)

    def _chosen(self, component: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(*S,) component indices -> (log q(c) (*S,), loc_c (*S, Z), scale_c (*S, Z)), params broadcast to S."""
        shape = component.shape
        index = component.unsqueeze(-1)  # (*S, 1)
        log_weight = self.log_weights.expand(*shape, self.num_components).gather(-1, index).squeeze(-1)
        index = index.unsqueeze(-1).expand(*shape, 1, self.component_dim)  # (*S, 1, Z)
        loc = self.loc.expand(*shape, *self.loc.shape[-2:]).gather(-2, index).squeeze(-2)  # (*S, Z)
        scale = self.scale.expand(*shape, *self.scale.shape[-2:]).gather(-2, index).squeeze(-2)  # (*S, Z)
        return log_weight, loc, scale

    def rsample(self, sample_shape: tuple[int, ...] = ()) -> torch.Tensor:
        """-> (*S, *batch, Z + K): c drawn without a gradient, then z = loc_c + scale_c ε reparameterised."""
        component = Categorical(logits=self.log_weights.detach()).sample(sample_shape)  # (*S, *batch)
        _, loc, scale = self._chosen(component)
        z = loc + scale * torch.randn_like(loc)  # (*S, *batch, Z)
        return torch.cat([z, F.one_hot(component, self.num_components).to(z.dtype)], dim=-1)  # (*S, *batch, Z + K)

    @torch.no_grad()
    def sample(self, sample_shape: tuple[int, ...] = ()) -> torch.Tensor:
        return self.rsample(sample_shape)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """(*S, *batch, Z + K) -> (*S, *batch): log q(c) + log N(z; loc_c, scale_c²)."""
        z, one_hot = value.split([self.component_dim, self.num_components], dim=-1)
        log_weight, loc, scale = self._chosen(one_hot.argmax(-1))
        return log_weight + Normal(loc, scale).log_prob(z).sum(-1)

    @property
    def mean(self) -> torch.Tensor:
        """(*batch, Z + K): (Σ_c q(c) loc_c, q(c))."""
        weights = self.log_weights.exp()  # (*batch, K)
        z_mean = (weights.unsqueeze(-1) * self.loc).sum(-2)  # (*batch, Z)
        return torch.cat([z_mean, weights], dim=-1)


class ComponentLikelihood(Distribution):
    """p(x | z, c) of a mixture of VAEs, each row decoded by the VAE its c names: batch (...,), event D.

    ``latent``: (..., Z + K) vectors (z, one_hot(c)); ``components``: the VAEs.
    """

    arg_constraints: dict = {}

    def __init__(self, latent: torch.Tensor, components: nn.ModuleList, data_shape: tuple[int, ...]) -> None:
        self.components = components
        self.z, one_hot = latent.split([latent.shape[-1] - len(components), len(components)], dim=-1)
        self.component = one_hot.argmax(-1)  # (...,)
        super().__init__(latent.shape[:-1], torch.Size(data_shape), validate_args=False)

    def _per_component(self, compute, shape: tuple[int, ...], x: torch.Tensor | None = None) -> torch.Tensor:
        """Assemble ``compute(vae, z_rows[, x_rows])`` -> (rows, *shape) over every component into (..., *shape)."""
        z = self.z.reshape(-1, self.z.shape[-1])  # (N, Z)
        component = self.component.reshape(-1)  # (N,)
        if x is not None:
            x = x.expand(*self.batch_shape, *self.event_shape).reshape(-1, *self.event_shape)  # (N, *D)
        out = z.new_empty(len(z), *shape)  # (N, *shape)
        for c in component.unique().tolist():
            rows = component == c
            args = (z[rows],) if x is None else (z[rows], x[rows])
            out[rows] = compute(self.components[c], *args)
        return out.reshape(*self.batch_shape, *shape)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """(*D) or broadcastable (..., *D) -> (...,) log p_c(x|z)."""
        return self._per_component(lambda vae, z, x_rows: vae.decode(z).log_prob(x_rows), (), x)

    @property
    def mean(self) -> torch.Tensor:
        """(..., *D): E[x | z, c]."""
        return self._per_component(lambda vae, z: vae.decode(z).mean, tuple(self.event_shape))


class InfiniteVAE(nn.Module):
    """Dirichlet-process mixture of ``VAE`` components for images (C, H, W) or points (d,)."""

    data_kinds = ("image", "points")
    mixture_latent = True  # (z, one_hot(c)): paths between two inputs' latents mix unrelated VAEs' spaces

    def __init__(self, config: InfiniteVAEConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__()
        self.config = config
        self.data_shape = data_shape
        self.batch_size = config.batch_size
        component_config = VAEConfig(
            latent_dim=config.latent_dim,
            hidden_dim=config.hidden_dim,
            num_hidden_layers=config.num_hidden_layers,
            decoder=config.decoder,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
        )
        # Every slot is a draw from the base measure G₀ (the initialisation); slot 0 starts active.
        self.components = nn.ModuleList(VAE(component_config, data_shape) for _ in range(config.max_components))
        self.binarize_data = self.components[0].binarize_data
        self.component_latent_dim = config.latent_dim
        self.latent_dim = config.latent_dim + config.max_components  # (z, one_hot(c))
        self.register_buffer("active", torch.arange(config.max_components) == 0)
        # As if every remembered point belonged to the first VAE: the paper starts from one autoencoder.
        self.register_buffer("counts", (torch.arange(config.max_components) == 0) * float(config.assignment_memory))

    @property
    def num_components(self) -> int:
        """Active VAEs."""
        return int(self.active.sum())

    def slots(self) -> torch.Tensor:
        """(S,) indices of the mixture's slots: the active VAEs and the first inactive (fresh) one, if any."""
        in_play = self.active.clone()
        inactive = (~self.active).nonzero()
        if len(inactive):
            in_play[inactive[0]] = True
        return in_play.nonzero().squeeze(1)

    def mixture_weights(self) -> torch.Tensor:
        """(K,) π: step 1's stick-breaking weights; zero outside the slots.

        The sticks are broken over the active VAEs first and the fresh slot last, wherever a death left
        it among the slots, so the fresh slot keeps the CRP's new-table weight ≈ α / (n + α).
        """
        slots = self.slots()
        order = torch.cat([slots[self.active[slots]], slots[~self.active[slots]]])  # (S,) active, then fresh
        in_play = torch.ones(len(order), dtype=torch.bool, device=order.device)
        weights = stick_breaking_weights(self.counts[order], in_play, self.config.concentration)  # (S,)
        return self.counts.new_zeros(self.config.max_components).index_copy(0, order, weights)  # (K,)

    def component_elbos(self, x: torch.Tensor, at_mean: bool = False) -> torch.Tensor:
        """(B, *D) -> (B, S) ELBO_c(x) of the slots: one-sample, or at z = μ_c(x)."""
        columns = []
        for c in self.slots().tolist():
            vae = self.components[c]
            if at_mean:
                posterior = vae.encode(x)
                columns.append(elbo(vae.decode(posterior.mean).log_prob(x), posterior, vae.prior()))
            else:
                columns.append(vae.elbo(x))
        return torch.stack(columns, dim=1)  # (B, S)

    @torch.no_grad()
    def log_responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *D) -> (B, S) log q(c|x) ∝ log π_c + ELBO_c(x at μ_c) over the slots (step 2)."""
        scores = self.mixture_weights()[self.slots()].log() + self.component_elbos(x, at_mean=True)  # (B, S)
        return scores.log_softmax(dim=1)

    def responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *D) -> (B, K) q(c|x); zero outside the slots, rows sum to one."""
        q = self.log_responsibilities(x).exp()  # (B, S)
        return q.new_zeros(len(x), self.config.max_components).index_copy(1, self.slots(), q)  # (B, K)

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *D) -> (B,): Σ_c q(c|x) [ELBO_c(x) + log π_c − log q(c|x)], one z-sample per component."""
        log_q = self.log_responsibilities(x)  # (B, S)
        log_weights = self.mixture_weights()[self.slots()].log()  # (S,)
        terms = log_q.exp() * (self.component_elbos(x) + log_weights - log_q)  # (B, S)
        return terms.sum(dim=1)

    def prior(self) -> Distribution:
        """p(c, z) = π_c N(z; 0, I), event shape (Z + K,)."""
        loc = torch.stack([vae.prior().base_dist.loc for vae in self.components])  # (K, Z)
        scale = torch.stack([vae.prior().base_dist.scale for vae in self.components])  # (K, Z)
        return ComponentLatent(self.mixture_weights().log(), loc, scale)

    def encode(self, x: torch.Tensor) -> Distribution:
        """(B, *D) -> q(c, z | x) = q(c|x) q_c(z|x), batch (B,), event (Z + K,)."""
        slots = self.slots()
        log_q = self.log_responsibilities(x)  # (B, S)
        posteriors = [self.components[c].encode(x).base_dist for c in slots.tolist()]
        loc = torch.stack([p.loc for p in posteriors], dim=1)  # (B, S, Z)
        scale = torch.stack([p.scale for p in posteriors], dim=1)  # (B, S, Z)
        shape = (len(x), self.config.max_components)
        return ComponentLatent(
            log_q.new_full(shape, -math.inf).index_copy(1, slots, log_q),  # (B, K)
            loc.new_zeros(*shape, loc.shape[-1]).index_copy(1, slots, loc),  # (B, K, Z)
            scale.new_ones(*shape, scale.shape[-1]).index_copy(1, slots, scale),  # (B, K, Z)
        )

    def decode(self, latent: torch.Tensor) -> Distribution:
        """(..., Z + K) vectors (z, one_hot(c)) -> p_c(x|z), batch (...,), event D; c is the argmax of the last K."""
        return ComponentLikelihood(latent, self.components, self.data_shape)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (n, *D): c ~ π (the fresh slot included: a new cluster), then x from VAE c."""
        choice = torch.multinomial(self.mixture_weights(), n, replacement=True, generator=generator)  # (n,)
        samples = self.counts.new_empty(n, *self.data_shape)  # (n, *D)
        for c in choice.unique().tolist():
            rows = choice == c
            samples[rows] = self.components[c].sample(int(rows.sum()), generator=generator)
        return samples

    def decoder_mean(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, Z + K) -> (B, *D): E[x | z, c]."""
        return self.decode(latent).mean

    def _fresh_position(self) -> int | None:
        """Where the fresh slot sits among ``slots()``; None once every slot is active."""
        fresh = (~self.active[self.slots()]).nonzero()
        return int(fresh[0]) if len(fresh) else None

    @torch.no_grad()
    def outlier_scores(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, *D) -> named (B,) scores, higher = more anomalous.

        ``new_component_log_prob``: log q(c = fresh | x), the posterior log-probability that x opens
        a new cluster (absent once every slot is active); ``component_entropy``: the entropy of
        q(c|x), how much the components disagree about which of them explains x.
        """
        log_q = self.log_responsibilities(x)  # (B, S)
        scores = {"component_entropy": torch.special.entr(log_q.exp()).sum(dim=1)}
        fresh = self._fresh_position()
        if fresh is not None:
            scores["new_component_log_prob"] = log_q[:, fresh]
        return scores

    @torch.no_grad()
    def extra_metrics(self, test_data: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        """``num_components`` and the mean q(c = fresh | x) over ``test_data`` (0 once every slot is active)."""
        metrics = {"num_components": float(self.num_components), "new_component_responsibility": 0.0}
        fresh = self._fresh_position()
        if fresh is not None:
            q_fresh = torch.cat([self.log_responsibilities(chunk)[:, fresh].exp() for chunk in test_data.split(256)])
            metrics["new_component_responsibility"] = q_fresh.double().mean().item()
        return metrics

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)}

    def _redraw(self, component: int, optimizer: torch.optim.Optimizer) -> None:
        """Give slot ``component`` a fresh draw from G₀ (new initial weights) and forget its Adam moments."""
        vae = self.components[component]
        for module in vae.modules():
            if module is not vae and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        for parameter in vae.parameters():
            optimizer.state.pop(parameter, None)

    def train_step(self, batch: torch.Tensor, optimizers: dict, backward: Backward) -> dict[str, float]:
        """Steps 2–6 of the module docstring on ``batch`` (B, *D); step 1 is read from the counts."""
        optimizer = optimizers["adam"]
        optimizer.zero_grad()
        # 2. Gibbs: c_i ~ q(c | x_i) ∝ π_c exp(ELBO_c(x_i)); one slot is the fresh VAE.
        slots = self.slots()
        choice = slots[Categorical(logits=self.log_responsibilities(batch)).sample()]  # (B,) component indices
        # 3. Birth: the fresh VAE joins the mixture when it wins a point.
        self.active[choice] = True
        # 4. Running CRP counts over the last ``assignment_memory`` assignments.
        decay = 1 - len(batch) / self.config.assignment_memory
        self.counts.mul_(decay).add_(torch.bincount(choice, minlength=self.config.max_components).to(self.counts))
        # 5. Death: a VAE no point has chosen for about one pass over the remembered data leaves the
        #    mixture, and its slot is redrawn from G₀.
        for c in (self.active & (self.counts < DEATH_COUNT)).nonzero().squeeze(1).tolist():
            self.active[c], self.counts[c] = False, 0.0
            self._redraw(c, optimizer)
        # 6. M-step: each VAE ascends the ELBO of its own points.
        loss = sum(-self.components[c].elbo(batch[choice == c]).sum() for c in choice.unique().tolist()) / len(batch)
        backward(loss)
        optimizer.step()
        return {"loss": loss.item(), "num_components": float(self.num_components)}
