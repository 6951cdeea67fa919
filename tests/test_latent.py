"""minigan.latent: centroids and vectors by hand, decode(encode(x) + alpha v) at alpha = 0 is the
reconstruction and the latent point is linear in alpha, the Gaussian-quantile grid, the interpolation
demo's --quick run."""

import json
import math
import os
import pathlib
import subprocess
import sys
from statistics import NormalDist

import numpy as np
import pytest

import minigan as mg
from minigan import latent
from minigan.models import VAE

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_class_centroids_and_the_vector_between_them():
    z = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 3.0], [5.0, 5.0]])
    labels = np.array([0, 0, 2, 2])
    centroids = latent.class_centroids(z, labels, num_classes=3)
    np.testing.assert_allclose(centroids[0], [1.0, 0.0])
    np.testing.assert_allclose(centroids[2], [3.0, 4.0])
    assert np.all(np.isnan(centroids[1]))  # no example of class 1
    np.testing.assert_allclose(latent.centroid_vector(centroids, 2, 0), [2.0, 4.0])  # from 0 to 2: c_2 - c_0
    with pytest.raises(ValueError):
        latent.class_centroids(z, labels[:3])


def test_interpolation_at_alpha_zero_is_the_reconstruction_and_linear_in_alpha():
    mg.manual_seed(0)
    model = VAE(latent_dim=3, hidden=8, data_shape=(1, 4, 4))
    x = np.random.default_rng(0).random((5, 1, 4, 4)).astype(np.float32)
    encoder = lambda images: model.encode(images)[0]  # noqa: E731
    vector = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    alphas = [0.0, 0.5, 1.0, -2.0]
    images = latent.interpolate(encoder, model.decode_images, x, vector, alphas)
    assert images.shape == (4, 5, 1, 4, 4)
    np.testing.assert_allclose(images[0], model.reconstruct(x), rtol=1e-6)
    # the latent points the decoder sees: record them with an identity "decoder"
    points = latent.interpolate(encoder, lambda z: z, x, vector, alphas)  # (A, N, D)
    mu = encoder(x).numpy()
    for k, alpha in enumerate(alphas):
        np.testing.assert_allclose(points[k], mu + alpha * vector, rtol=1e-6, atol=1e-6)
    # linear in alpha: z(alpha) - z(0) = alpha (z(1) - z(0)) for every alpha
    np.testing.assert_allclose(points[3] - points[0], -2.0 * (points[2] - points[0]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(points[1], 0.5 * (points[0] + points[2]), rtol=1e-6, atol=1e-6)


def test_pixel_interpolation_baseline():
    x = np.full((2, 1, 2, 2), 0.5, dtype=np.float32)
    vector = np.array([[[1.0, -1.0], [0.2, 0.0]]], dtype=np.float32)
    out = latent.pixel_interpolate(x, vector, [0.0, 1.0])
    np.testing.assert_allclose(out[0], x)
    np.testing.assert_allclose(out[1, 0, 0], [[1.0, 0.0], [0.7, 0.5]])  # clipped to [0, 1]


def test_gaussian_grid_follows_the_quantiles_and_reads_like_a_scatter_plot():
    grid = latent.gaussian_grid(n=5, low=0.05, high=0.95).reshape(5, 5, 2)
    quantiles = [NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, 5)]
    np.testing.assert_allclose(grid[0, :, 0], quantiles)  # z1 increases along a row
    np.testing.assert_allclose(grid[:, 0, 1], quantiles[::-1])  # z2 decreases down the page
    np.testing.assert_allclose(grid[2, 2], [0.0, 0.0], atol=1e-12)
    model = VAE(latent_dim=2, hidden=4, data_shape=(1, 3, 3))
    images = latent.manifold_grid(model.decode_images, n=4)
    assert images.shape == (16, 1, 3, 3) and np.all((images >= 0) & (images <= 1))


def test_interpolation_demo_quick_writes_a_finite_report(tmp_path):
    command = [sys.executable, str(REPO / "demos" / "interpolation.py"), "--quick", "--out", str(tmp_path)]
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "NUMBA_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())["results"]
    numbers = (
        list(report["classifier_accuracy"].values())
        + report["fraction_target_at_alpha"]["vae"]
        + report["fraction_target_at_alpha"]["pixel"]
        + report["seven_along_6to0"]["vae"]["p0"]
    )
    assert all(math.isfinite(v) for v in numbers)
    assert len(report["fraction_target_at_alpha_1_per_pair"]["vae"]) == 90
    for name in ("pairs_vae.png", "pairs_pixel.png", "seven_along_6to0.png", "path_probabilities.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
