"""Evaluation as a library: one function per metric, and ``evaluate_model`` choosing the strongest
metrics a model's family allows. The loop, ``dgm eval`` and the benchmarks all call these.
"""

import math

import torch

from ..core.protocols import DensityModel, ImplicitGenerator, LatentVariableModel
from .coverage import mode_coverage
from .features import FeatureNet
from .likelihood import bits_per_dim, mean_elbo, mean_iwae_log_likelihood, mean_log_prob
from .quality import NUM_FID_IMAGES, implicit_metrics
from .sample_stats import mmd_rbf

NUM_SAMPLES_FOR_SAMPLE_METRICS = 2500


def evaluate_model(
    model: torch.nn.Module,
    test_data: torch.Tensor,
    importance_samples: int = 100,
    modes: torch.Tensor | None = None,
    mode_std: float | None = None,
    labels: torch.Tensor | None = None,
    feature_net: FeatureNet | None = None,
) -> dict[str, float]:
    """Metrics on held-out ``test_data`` (N, *D), already binarised if the model needs it.

    - density models: ``nll_nats`` (exact) and ``bits_per_dim`` (not for a model of continuous data,
      ``continuous_data = True``, whose density has no meaning in bits per dimension);
    - latent-variable models: ``elbo_nats``, and ``nll_nats``/``bits_per_dim`` from the
      IWAE-``importance_samples`` bound (an upper bound on the true NLL, in expectation);
    - implicit generators: ``mmd2`` between samples and test data, mode coverage when the data
      are a known mixture (``modes``, ``mode_std``), and ``fid``, ``kid_mean``, ``kid_std``, ``precision``
      and ``recall`` of images in the features of ``feature_net`` (``features.feature_net_for``);
    - a conditional model (``conditioning = True``) is scored on log p(x | ``labels``);
    - a model's own ``extra_metrics(test_data, labels)`` (baselines, per-point units) are merged in.
    """
    labels = labels if getattr(model, "conditioning", False) else None
    num_dims = math.prod(test_data.shape[1:])
    metrics: dict[str, float] = {}
    if isinstance(model, LatentVariableModel):
        metrics["elbo_nats"] = mean_elbo(model, test_data)
        metrics["nll_nats"] = -mean_iwae_log_likelihood(model, test_data, importance_samples)
        metrics["iwae_k"] = float(importance_samples)
        metrics["bits_per_dim"] = bits_per_dim(metrics["nll_nats"], num_dims)
    elif isinstance(model, DensityModel):
        metrics["nll_nats"] = -mean_log_prob(model, test_data, labels=labels)
        if not getattr(model, "continuous_data", False):
            metrics["bits_per_dim"] = bits_per_dim(metrics["nll_nats"], num_dims)
    if isinstance(model, ImplicitGenerator):
        count = min(len(test_data), NUM_SAMPLES_FOR_SAMPLE_METRICS)
        samples = model.sample(count).float().cpu()
        metrics["mmd2"] = mmd_rbf(samples[:1000], test_data[:1000].cpu())
        if modes is not None and mode_std is not None:
            metrics.update(mode_coverage(samples, modes, mode_std))
        if feature_net is not None:  # the last NUM_FID_IMAGES test images, as the adversarial benchmark scores
            n = min(len(test_data), len(samples), NUM_FID_IMAGES)
            metrics.update(implicit_metrics(test_data[-n:].cpu().float(), samples[:n], feature_net))
    if hasattr(model, "extra_metrics"):
        with torch.no_grad():
            metrics.update(model.extra_metrics(test_data, labels))
    return metrics


__all__ = [
    "bits_per_dim",
    "evaluate_model",
    "mean_elbo",
    "mean_iwae_log_likelihood",
    "mean_log_prob",
    "mode_coverage",
]
