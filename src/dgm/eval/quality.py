"""Sample-quality metrics of implicit models in a feature space: FID, KID, precision and recall.

References:
    Heusel, Ramsauer, Unterthiner, Nessler & Hochreiter (2017), "GANs Trained by a Two Time-Scale
    Update Rule Converge to a Local Nash Equilibrium" — the Fréchet Inception Distance.
    Bińkowski, Sutherland, Arbel & Gretton (2018), "Demystifying MMD GANs" — the Kernel Inception
    Distance: unbiased MMD² with the kernel k(x, y) = (x·y/d + 1)³, averaged over subsets.
    Kynkäänniemi, Karras, Laine, Lehtinen & Aila (2019), "Improved Precision and Recall Metric for
    Assessing Generative Models" — §2: manifolds of k-nearest-neighbour balls, k = 3.

FID and KID follow torchmetrics' computation (``FrechetInceptionDistance``,
``KernelInceptionDistance``); every sum runs in float64. The features come from a network trained
in-repo per data set (``dgm.eval.features``), not Inception, so the numbers compare models on one
data set, not with published Inception-based figures.

>>> # ‖μ1 − μ2‖² + Σ_i (√σ1_i² − √σ2_i²)² for diagonal covariances: 2 + 2·(1 − 2)² = 4
>>> frechet_distance_of_gaussians(torch.zeros(2), torch.eye(2), torch.ones(2), 4 * torch.eye(2))
4.0
"""

import torch

from ..core.errors import DataError
from .features import FeatureNet


def _as_features(features: torch.Tensor, name: str) -> torch.Tensor:
    if features.dim() != 2 or len(features) < 2:
        raise DataError(f"expected {name} features of shape (N, F) with N ≥ 2, got {tuple(features.shape)}")
    return features.detach().double()


def gaussian_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (F,) and covariance (F, F), normalised by N − 1, of ``features`` (N, F), in float64."""
    features = _as_features(features, "the")
    mean = features.mean(dim=0)  # (F,)
    centred = features - mean  # (N, F)
    covariance = centred.T @ centred / (len(features) - 1)  # (F, F)
    return mean, covariance


def frechet_distance_of_gaussians(
    mean_1: torch.Tensor, covariance_1: torch.Tensor, mean_2: torch.Tensor, covariance_2: torch.Tensor
) -> float:
    """d² = ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2 tr (Σ1 Σ2)^½ (Heusel et al. 2017), in float64.

    tr (Σ1 Σ2)^½ is the sum of the square roots of the eigenvalues of Σ1 Σ2, which are real and
    non-negative for covariances (Σ1 Σ2 is similar to Σ1^½ Σ2 Σ1^½); rounding leaves them complex
    with tiny parts, whose real part is kept, as torchmetrics does.
    """
    mean_1, mean_2 = mean_1.double(), mean_2.double()
    covariance_1, covariance_2 = covariance_1.double(), covariance_2.double()
    mean_term = (mean_1 - mean_2).square().sum()
    trace_term = covariance_1.trace() + covariance_2.trace()
    eigenvalues = torch.linalg.eigvals(covariance_1 @ covariance_2)  # (F,) complex
    cross_term = eigenvalues.sqrt().real.sum()
    return float(mean_term + trace_term - 2 * cross_term)


def frechet_distance(real_features: torch.Tensor, fake_features: torch.Tensor) -> float:
    """FID: the Fréchet distance between Gaussians fitted to real (N, F) and fake (M, F) features."""
    return frechet_distance_of_gaussians(*gaussian_statistics(real_features), *gaussian_statistics(fake_features))


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, degree: int = 3, coef: float = 1.0) -> torch.Tensor:
    """k(x, y) = (x·y / d + coef)^degree for rows of ``x`` (N, d) and ``y`` (M, d) -> (N, M)."""
    kernel = x @ y.T  # (N, M)
    return kernel.div_(x.shape[1]).add_(coef).pow_(degree)


def unbiased_mmd2(k_xx: torch.Tensor, k_xy: torch.Tensor, k_yy: torch.Tensor) -> torch.Tensor:
    """MMD²_u of two samples of one size m from their kernel matrices (m, m) (Gretton et al. 2012, eq. 3):

    1/(m(m−1)) Σ_{i≠j} k(x_i, x_j) + 1/(m(m−1)) Σ_{i≠j} k(y_i, y_j) − 2/m² Σ_{i,j} k(x_i, y_j).
    """
    m = len(k_xx)
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return within - 2 * k_xy.sum() / m**2


def kernel_inception_distance(
    real_features: torch.Tensor,
    fake_features: torch.Tensor,
    num_subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    coef: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """KID: mean and standard deviation (over subsets, 1/n) of MMD²_u with the polynomial kernel.

    For each of ``num_subsets`` draws (Bińkowski et al. 2018; torchmetrics' defaults):

    1. pick ``subset_size`` real (N, F) and ``subset_size`` fake (M, F) features without replacement;
    2. compute the kernel matrices k(real, real), k(real, fake), k(fake, fake), each (s, s);
    3. take their unbiased MMD², which is 0 in expectation when both come from one distribution
       (single values may be negative).
    """
    real_features, fake_features = _as_features(real_features, "real"), _as_features(fake_features, "fake")
    if not 2 <= subset_size <= min(len(real_features), len(fake_features)):
        raise DataError(
            f"expected 2 ≤ subset_size ≤ the number of real ({len(real_features)}) and fake "
            f"({len(fake_features)}) features, got subset_size {subset_size}"
        )
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    estimates = []
    for _ in range(num_subsets):
        # 1. subsets
        real = real_features[torch.randperm(len(real_features), generator=generator)[:subset_size]]  # (s, F)
        fake = fake_features[torch.randperm(len(fake_features), generator=generator)[:subset_size]]  # (s, F)
        # 2. kernel matrices
        k_xx = polynomial_kernel(real, real, degree, coef)  # (s, s)
        k_xy = polynomial_kernel(real, fake, degree, coef)  # (s, s)
        k_yy = polynomial_kernel(fake, fake, degree, coef)  # (s, s)
        # 3. unbiased MMD²
        estimates.append(unbiased_mmd2(k_xx, k_xy, k_yy))
    estimates = torch.stack(estimates)  # (num_subsets,)
    return float(estimates.mean()), float(estimates.std(correction=0))


def _kth_neighbour_radii(features: torch.Tensor, k: int, batch_size: int) -> torch.Tensor:
    """Distance (N,) from each row of ``features`` (N, F) to its k-th nearest other row."""
    radii = [
        torch.cdist(chunk, features).kthvalue(k + 1, dim=1).values  # the smallest distance, 0, is the row itself
        for chunk in features.split(batch_size)
    ]
    return torch.cat(radii)  # (N,)


def _fraction_inside(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, batch_size: int) -> float:
    """The fraction of ``queries`` (M, F) inside at least one ball (``centres`` (N, F), ``radii`` (N,))."""
    inside = [
        (torch.cdist(chunk, centres) <= radii).any(dim=1)  # (b, N) -> (b,)
        for chunk in queries.split(batch_size)
    ]
    return float(torch.cat(inside).double().mean())


def precision_recall(
    real_features: torch.Tensor, fake_features: torch.Tensor, k: int = 3, batch_size: int = 1000
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of fake (M, F) against real (N, F) features.

    1. the real manifold: the union of balls around every real feature with the radius to its k-th
       nearest real neighbour; likewise the fake manifold;
    2. precision: the fraction of fake features inside the real manifold;
    3. recall: the fraction of real features inside the fake manifold.
    """
    real_features, fake_features = _as_features(real_features, "real"), _as_features(fake_features, "fake")
    if not 1 <= k < min(len(real_features), len(fake_features)):
        raise DataError(f"expected 1 ≤ k < the number of real and fake features, got k {k}")
    # 1. manifolds
    real_radii = _kth_neighbour_radii(real_features, k, batch_size)  # (N,)
    fake_radii = _kth_neighbour_radii(fake_features, k, batch_size)  # (M,)
    # 2. precision, 3. recall
    precision = _fraction_inside(fake_features, real_features, real_radii, batch_size)
    recall = _fraction_inside(real_features, fake_features, fake_radii, batch_size)
    return precision, recall


NUM_FID_IMAGES = 2000  # real and generated images per FID/KID/precision-recall score: FID's bias depends on it


def implicit_metrics(
    real_images: torch.Tensor,
    fake_images: torch.Tensor,
    feature_net: FeatureNet,
    k: int = 3,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """``fid``, ``kid_mean``, ``kid_std``, ``precision``, ``recall`` of images (N, C, H, W), (M, C, H, W) in [0, 1].

    KID uses subsets of min(1000, N, M) features; ``generator`` draws them (seed 0 when None).
    """
    real_features = feature_net.features(real_images).cpu()  # (N, F)
    fake_features = feature_net.features(fake_images).cpu()  # (M, F)
    subset_size = min(1000, len(real_features), len(fake_features))
    kid_mean, kid_std = kernel_inception_distance(
        real_features, fake_features, subset_size=subset_size, generator=generator
    )
    precision, recall = precision_recall(real_features, fake_features, k)
    return {
        "fid": frechet_distance(real_features, fake_features),
        "kid_mean": kid_mean,
        "kid_std": kid_std,
        "precision": precision,
        "recall": recall,
    }
