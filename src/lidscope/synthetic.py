"""Point clouds of known intrinsic dimension, for demos, tests and benchmarks."""

from __future__ import annotations

import numpy as np


def curved_manifold(
    n: int,
    intrinsic_dim: int,
    ambient_dim: int = 768,
    *,
    noise: float = 0.01,
    frequency: float = 0.1,
    seed: int = 0,
    dtype=np.float32,
) -> np.ndarray:
    """(n, ambient_dim) points on a smooth curved ``intrinsic_dim``-manifold plus Gaussian noise.

    Latent points are uniform in [0, 1]^k; the embedding is a random Fourier feature map
    x = sqrt(2 / D) cos(z W + b), W ~ N(0, (2 pi frequency)^2), so the manifold bends in every
    direction. ``noise`` is the per-coordinate standard deviation, relative to the unit-scale map.
    """
    rng = np.random.default_rng(seed)
    z = rng.random((n, intrinsic_dim))
    W = rng.normal(0.0, 2 * np.pi * frequency, size=(intrinsic_dim, ambient_dim))
    b = rng.uniform(0, 2 * np.pi, size=ambient_dim)
    X = np.sqrt(2.0 / ambient_dim) * np.cos(z @ W + b)
    X += rng.normal(0.0, noise / np.sqrt(ambient_dim), size=X.shape)
    return X.astype(dtype)


def linear_subspace(n: int, intrinsic_dim: int, ambient_dim: int = 768, *, seed: int = 0) -> np.ndarray:
    """(n, ambient_dim) standard-normal points on a random ``intrinsic_dim``-dimensional subspace."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(ambient_dim, intrinsic_dim)))
    return rng.normal(size=(n, intrinsic_dim)) @ basis.T


def sphere(n: int, intrinsic_dim: int, *, ambient_dim: int | None = None, seed: int = 0) -> np.ndarray:
    """(n, intrinsic_dim + 1) uniform points on the unit ``intrinsic_dim``-sphere, zero-padded."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, intrinsic_dim + 1))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    if ambient_dim is not None and ambient_dim > X.shape[1]:
        X = np.hstack([X, np.zeros((n, ambient_dim - X.shape[1]))])
    return X


def torus(n: int, *, major: float = 2.0, minor: float = 1.0, seed: int = 0) -> np.ndarray:
    """(n, 3) points on a 2-torus in R^3 (uniform in the angles)."""
    rng = np.random.default_rng(seed)
    u, v = rng.uniform(0, 2 * np.pi, size=(2, n))
    return np.column_stack(
        [(major + minor * np.cos(v)) * np.cos(u), (major + minor * np.cos(v)) * np.sin(u), minor * np.sin(v)]
    )


def near_tie_cloud(n: int = 3000, d: int = 24, *, seed: int = 0) -> np.ndarray:
    """(n, d) float64 cloud that float32 search gets wrong: far from the origin (1,000 per coordinate,
    spread 0.01), 300 near-duplicates 1e-7 apart, and 2 d points in exact distance ties around one
    point. For testing that a search proves its neighbour lists exact. n >= 350 + 2 d.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * 0.01 + 1000.0
    X[:300] = X[0] + rng.normal(size=(300, d)) * 1e-7
    i = np.arange(2 * d)
    X[300 : 300 + 2 * d] = X[350] + np.eye(d)[i % d] * 0.003 * (1 - 2 * (i[:, None] // d))
    return X
