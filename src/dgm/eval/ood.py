"""Outlier (out-of-distribution) scores and their AUROC: "trained on dogs, uncertain about other images".

Every score is per example and oriented so that higher = more anomalous:

- ``neg_log_prob``: −log p(x) of a ``DensityModel`` (exact);
- ``neg_elbo``: −ELBO(x) of a ``LatentVariableModel``, averaged over ``elbo_samples`` draws (an
  upper bound on −log p(x) in expectation);
- ``neg_likelihood_ratio``: log p_background(x) − log p_model(x), minus the log-likelihood ratio
  LLR(x) of Ren et al. 2019 ("Likelihood Ratios for Out-of-Distribution Detection"), which divides
  out what a simple model also explains (how many pixels are on, the background statistics) and
  keeps what only the model's semantics explain. Ren et al. train the background model on
  perturbed inputs; here it is the simpler ``IndependentPixels`` model fitted to the same training
  data (per-dimension Bernoulli or Gaussian), and log p_model is the ELBO (or exact log p);
- a model's own ``outlier_scores(x)`` (for the infinite VAE: the posterior probability of a new
  component and the components' disagreement), merged in.

``auroc`` is the probability that an outlier scores higher than an inlier, ties counted 1/2
(the Mann–Whitney U statistic over n_in · n_out pairs), via scikit-learn's exact ``roc_auc_score``.

Example::

    background = IndependentPixels.fit(train_images)
    scores_in = ood_scores(model, test_inliers, background)
    scores_out = ood_scores(model, test_outliers, background)
    {name: auroc(scores_in[name], scores_out[name]) for name in scores_in}
"""

import torch
from sklearn.metrics import roc_auc_score

from ..core.protocols import DensityModel, LatentVariableModel

MIN_STD = 1e-3  # keeps a constant dimension from giving the Gaussian background an infinite density


def auroc(scores_in: torch.Tensor, scores_out: torch.Tensor) -> float:
    """(N_in,), (N_out,) scores, higher = more anomalous -> P(s_out > s_in) + ½ P(s_out = s_in)."""
    labels = torch.cat([torch.zeros(len(scores_in)), torch.ones(len(scores_out))])  # (N_in + N_out,)
    scores = torch.cat([scores_in.flatten(), scores_out.flatten()]).double()  # (N_in + N_out,)
    return float(roc_auc_score(labels.numpy(), scores.cpu().numpy()))


class IndependentPixels:
    """A product of per-dimension distributions fitted in closed form: the likelihood-ratio background.

    Binary data: Bernoulli(p_d) with Laplace smoothing p_d = (Σ x_d + 1) / (N + 2); other data:
    N(mean_d, std_d²) with std_d ≥ ``MIN_STD``.
    """

    def __init__(self, distribution: torch.distributions.Distribution) -> None:
        self.distribution = distribution

    @classmethod
    def fit(cls, train: torch.Tensor) -> "IndependentPixels":
        """``train`` (N, *D): binary data get Bernoulli factors, anything else Gaussian ones."""
        train = train.double()
        if ((train == 0) | (train == 1)).all():
            probs = (train.sum(dim=0) + 1) / (len(train) + 2)  # (*D,)
            factors = torch.distributions.Bernoulli(probs=probs)
        else:
            factors = torch.distributions.Normal(train.mean(dim=0), train.std(dim=0).clamp(min=MIN_STD))  # (*D,)
        return cls(torch.distributions.Independent(factors, train.dim() - 1))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *D) -> (B,) exact log p(x) in nats."""
        return self.distribution.log_prob(x.double())

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (n, *D) independent draws of every dimension."""
        base = self.distribution.base_dist
        if isinstance(base, torch.distributions.Bernoulli):
            return torch.bernoulli(base.probs.expand(n, *base.probs.shape), generator=generator)
        noise = torch.randn(n, *base.loc.shape, generator=generator, dtype=base.loc.dtype)  # (n, *D)
        return base.loc + base.scale * noise


@torch.no_grad()
def ood_scores(
    model: torch.nn.Module, x: torch.Tensor, background: IndependentPixels | None = None, elbo_samples: int = 8
) -> dict[str, torch.Tensor]:
    """(B, *D) -> named (B,) scores, higher = more anomalous (see the module docstring).

    ``background``: the likelihood-ratio reference model; without it ``neg_likelihood_ratio`` is left out.
    """
    scores: dict[str, torch.Tensor] = {}
    log_p = None
    if isinstance(model, LatentVariableModel):
        log_p = torch.stack([model.elbo(x) for _ in range(elbo_samples)]).mean(dim=0)  # (B,)
        scores["neg_elbo"] = -log_p
    elif isinstance(model, DensityModel):
        log_p = model.log_prob(x)  # (B,)
        scores["neg_log_prob"] = -log_p
    if background is not None and log_p is not None:
        scores["neg_likelihood_ratio"] = background.log_prob(x).to(log_p) - log_p
    if hasattr(model, "outlier_scores"):
        scores.update(model.outlier_scores(x))
    return scores
