"""Sample-based distances for models without a likelihood."""

import torch


def mmd_rbf(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased squared MMD with a Gaussian kernel (Gretton et al. 2012, eq. 3).

    ``x`` (N, ...) and ``y`` (M, ...) are flattened; the bandwidth is the median pairwise distance
    of the pooled samples. 0 in expectation when both come from one distribution.
    """
    x, y = x.flatten(1).double(), y.flatten(1).double()
    pooled = torch.cat([x, y])
    bandwidth = torch.cdist(pooled, pooled).median().clamp(min=1e-12)

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.exp(-torch.cdist(a, b).square() / (2 * bandwidth**2))

    n, m = len(x), len(y)
    k_xx = (kernel(x, x).sum() - n) / (n * (n - 1))
    k_yy = (kernel(y, y).sum() - m) / (m * (m - 1))
    return float(k_xx + k_yy - 2 * kernel(x, y).mean())
