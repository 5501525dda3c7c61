"""Mode coverage of samples from a mixture of Gaussians (protocol of PacGAN, Lin et al. 2018, §5.1).

A sample is *high quality* when it lies within 3σ of its nearest mode; a mode is *covered* when at
least one high-quality sample is nearest to it; the *reverse KL* compares the histogram of
high-quality samples over modes with the uniform distribution, KL(hist ‖ uniform).
"""

import math

import torch


def mode_coverage(samples: torch.Tensor, modes: torch.Tensor, std: float) -> dict[str, float]:
    """``samples`` (N, d), ``modes`` (M, d) -> modes_covered, high_quality_fraction, reverse_kl_modes."""
    distances = torch.cdist(samples.double(), modes.double())  # (N, M)
    nearest_distance, nearest = distances.min(dim=1)  # (N,), (N,)
    high_quality = nearest_distance <= 3 * std
    counts = torch.bincount(nearest[high_quality], minlength=len(modes)).double()  # (M,)
    covered = int((counts > 0).sum())
    if counts.sum() > 0:
        hist = counts / counts.sum()
        present = hist > 0
        reverse_kl = float((hist[present] * (hist[present] * len(modes)).log()).sum())
    else:
        reverse_kl = math.inf
    return {
        "modes_covered": float(covered),
        "num_modes": float(len(modes)),
        "high_quality_fraction": float(high_quality.double().mean()),
        "reverse_kl_modes": reverse_kl,
    }
