"""Observation models: the distribution p(x | decoder output) at the end of every VAE-style decoder.

Their arguments are not validated (``validate_args=False``): the check that every value of a
Bernoulli's input is 0 or 1 synchronises and costs 0.5 ms a step; models binarise their data.

A decoder emits ``PARAMS_PER_VALUE[kind]`` numbers per data value, stacked as (..., k, *D), and
``observation`` turns them into a ``torch.distributions`` object with event shape D:

- ``bernoulli``: logits of binary values (binarised images);
- ``gaussian``: mean and log-scale of a per-value Normal with learned variance (continuous data);
- ``logistic``: mean and log-scale of the 256-level discretised logistic (8-bit images; Kingma et
  al. 2016, appendix), whose bins sum to one, so its NLL is a proper discrete likelihood.

Example::

    params = decoder(z).reshape(B, PARAMS_PER_VALUE["logistic"], 1, 28, 28)
    log_px = observation("logistic", params).log_prob(images)  # (B,)
"""

from typing import Literal

import torch
from torch.distributions import Bernoulli, Distribution, Independent, Normal

from ..losses.discretized import DiscretizedLogistic

ObservationKind = Literal["bernoulli", "gaussian", "logistic"]
LOW_PRECISION = (torch.bfloat16, torch.float16)
PARAMS_PER_VALUE = {"bernoulli": 1, "gaussian": 2, "logistic": 2}
# keeps a scale from collapsing onto a training point; below the floor the log-scale gets no gradient
MIN_LOG_SCALE = {"gaussian": -6.0, "logistic": -7.0}


def full_precision(values: torch.Tensor) -> torch.Tensor:
    """``values`` in float32 if mixed precision left them 16-bit, otherwise unchanged. A log-density sums
    hundreds of terms, and bfloat16 keeps about 3 significant digits: a log q(z|x) of 100 nats would be
    off by up to 0.5, and IWAE's importance weights with it."""
    return values.float() if values.dtype in LOW_PRECISION else values


def observation(kind: ObservationKind, params: torch.Tensor, event_dims: int) -> Independent:
    """``params`` (..., k, *D) with ``event_dims`` = len(D) -> p(x|·), batch (...), event D, computed in
    at least float32 (``full_precision``)."""
    params = full_precision(params)
    if kind == "bernoulli":
        bernoulli = Bernoulli(logits=params.squeeze(-event_dims - 1), validate_args=False)  # (..., *D)
        return Independent(bernoulli, event_dims, validate_args=False)
    mean, log_scale = params.unbind(-event_dims - 1)  # (..., *D) each
    log_scale = log_scale.clamp(min=MIN_LOG_SCALE[kind])
    if kind == "gaussian":
        return Independent(Normal(mean, log_scale.exp(), validate_args=False), event_dims, validate_args=False)
    return Independent(DiscretizedLogistic(mean, log_scale), event_dims, validate_args=False)


def draw(distribution: Independent, generator: torch.Generator | None = None) -> torch.Tensor:
    """One sample of an ``observation`` distribution from an explicit ``generator``."""
    base: Distribution = distribution.base_dist
    if isinstance(base, Bernoulli):
        return torch.bernoulli(base.probs, generator=generator)
    if isinstance(base, Normal):
        noise = torch.randn(base.loc.shape, generator=generator, dtype=base.loc.dtype, device=base.loc.device)
        return base.loc + base.scale * noise
    return base.sample(generator=generator)
