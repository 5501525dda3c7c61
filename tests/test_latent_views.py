"""Latent-space views: spherical interpolation stays on the great circle, traversals move one
dimension, active units count what the encoder uses, and the rate–distortion table is honest."""

import math

import pytest
import torch
from torch.distributions import Independent, Normal

from dgm.eval.latent import active_units, latent_interpolation, latent_traversal, quantize, rate_distortion, slerp


class LinearLatentModel(torch.nn.Module):
    """q(z|x) = N(A x, I), p(x|z) = N(B z, I): known posterior means for the views to act on."""

    latent_dim = 3

    def __init__(self, encoder_matrix: torch.Tensor) -> None:
        super().__init__()
        self.encoder_matrix = encoder_matrix  # (Z, d)

    def encode(self, x):
        mean = x @ self.encoder_matrix.T  # (B, Z)
        return Independent(Normal(mean, torch.ones_like(mean)), 1)

    def decode(self, z):
        mean = z @ self.encoder_matrix  # (..., d)
        return Independent(Normal(mean, torch.ones_like(mean)), 1)


def test_slerp_keeps_equal_norms_and_moves_at_constant_angular_speed():
    generator = torch.Generator().manual_seed(0)
    z_start = torch.randn(4, 6, generator=generator, dtype=torch.float64)
    z_end = torch.randn(4, 6, generator=generator, dtype=torch.float64)
    z_end = z_end / z_end.norm(dim=1, keepdim=True) * z_start.norm(dim=1, keepdim=True)  # equal norms
    t = torch.linspace(0, 1, 11, dtype=torch.float64).view(-1, 1, 1)  # (T, 1, 1)
    path = slerp(z_start, z_end, t)  # (T, 4, 6)

    assert torch.allclose(path[0], z_start, atol=1e-12) and torch.allclose(path[-1], z_end, atol=1e-12)
    assert torch.allclose(path.norm(dim=-1), z_start.norm(dim=-1).expand(11, 4), atol=1e-10)
    cosine = torch.nn.functional.cosine_similarity(path, z_start.expand_as(path), dim=-1)  # (T, 4)
    angle = torch.acos(cosine.clamp(-1, 1))
    total = angle[-1]
    assert torch.allclose(angle, t.view(-1, 1) * total, atol=1e-7), "angle from the start must grow linearly in t"
    # The straight line between the same points dips inside the sphere; slerp does not.
    assert (((1 - 0.5) * z_start + 0.5 * z_end).norm(dim=-1) < z_start.norm(dim=-1) - 1e-3).all()


def test_slerp_of_parallel_vectors_falls_back_to_the_straight_line():
    z = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    t = torch.tensor([[0.25]], dtype=torch.float64)
    assert torch.allclose(slerp(z, 3 * z, t), 0.75 * z + 0.25 * 3 * z, atol=1e-12)


def test_interpolations_and_traversals_decode_the_intended_latent_points():
    matrix = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)  # (Z=3, d=2)
    model = LinearLatentModel(matrix)
    x_start, x_end = torch.tensor([[1.0, 0.0]], dtype=torch.float64), torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    for method in ("linear", "slerp"):
        path = latent_interpolation(model, x_start, x_end, num_steps=5, method=method)  # (1, 5, 2)
        z_start, z_end = x_start @ matrix.T, x_end @ matrix.T
        t = torch.linspace(0, 1, 5, dtype=torch.float64).view(5, 1)
        z = (1 - t) * z_start + t * z_end if method == "linear" else slerp(z_start, z_end, t)  # (5, Z)
        assert torch.allclose(path[0], z @ matrix, atol=1e-12)

    grid = latent_traversal(model, x_start[0], dims=[2, 0], num_steps=3, extent=2.0)  # (2, 3, 2)
    centre = (x_start @ matrix.T)[0]  # (Z,)
    for row, dim in enumerate([2, 0]):
        for step, value in enumerate([-2.0, 0.0, 2.0]):
            z = centre.clone()
            z[dim] = value
            assert torch.allclose(grid[row, step], z @ matrix, atol=1e-12)


def test_active_units_count_dimensions_whose_posterior_mean_varies_across_inputs():
    # Posterior means (x_1, 0.05 x_2, 0): variances 1, 0.0025 and 0 over standard-normal inputs,
    # so exactly one unit is above Burda et al.'s threshold of 0.01, two above 0.001.
    matrix = torch.tensor([[1.0, 0.0], [0.0, 0.05], [0.0, 0.0]], dtype=torch.float64)
    x = torch.randn(20_000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = LinearLatentModel(matrix)
    assert active_units(model, x) == 1
    assert active_units(model, x, threshold=1e-3) == 2


def test_quantize_is_the_nearest_of_evenly_spaced_levels():
    values = torch.tensor([[0.0], [0.33], [0.34], [1.0], [2.0]], dtype=torch.float64)
    low, high = torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    expected = torch.tensor([[0.0], [1 / 3], [1 / 3], [1.0], [1.0]], dtype=torch.float64)
    assert torch.allclose(quantize(values, low, high, bits=2), expected, atol=1e-12)  # levels 0, 1/3, 2/3, 1


class PCAAutoencoder(torch.nn.Module):
    """An autoencoder whose code is exactly PCA's scores, to check the table's two columns agree."""

    def __init__(self, data: torch.Tensor) -> None:
        super().__init__()
        flat = data.flatten(1)
        self.mean = flat.mean(dim=0)
        self.basis = torch.linalg.svd(flat - self.mean, full_matrices=False)[2]  # (D, D)
        self.shape = data.shape[1:]

    def encode(self, x):
        return (x.flatten(1) - self.mean) @ self.basis.T  # (B, D)

    def decode(self, code):
        return (code @ self.basis + self.mean).reshape(len(code), *self.shape)


def test_rate_distortion_of_a_pca_code_equals_the_pca_baseline_and_falls_with_rate():
    generator = torch.Generator().manual_seed(0)
    scales = torch.tensor([3.0, 2, 1, 0.5, 0.2, 0.1], dtype=torch.float64).view(1, 1, 2, 3)
    data = torch.randn(500, 1, 2, 3, generator=generator, dtype=torch.float64) * scales
    rows = rate_distortion(PCAAutoencoder(data), data, sizes=[1, 2, 4, 6], bits_per_value=16)
    for row in rows:
        assert row["rate_bits"] == 16 * row["code_dims"]
        assert row["squared_error"] == pytest.approx(row["pca_squared_error"], rel=1e-6, abs=1e-9)
    distortions = [row["squared_error"] for row in rows]
    assert all(a > b for a, b in zip(distortions, distortions[1:], strict=False))
    assert distortions[-1] < 1e-6, "all six components at 16 bits reconstruct almost exactly"
    # The first component alone leaves the variance of the other five: 4 + 1 + 0.25 + 0.04 + 0.01.
    assert distortions[0] == pytest.approx(5.30, rel=0.15)
    assert math.isfinite(distortions[0])
