"""Point cloud: seeded sample without replacement, dedup keeping first, first N, text order."""

from __future__ import annotations

import numpy as np

from lidscope.cloud import build_cloud, first_unique_rows, sample_order


def test_sample_is_seeded_without_replacement():
    a = sample_order(1000, 300, seed=42)
    assert len(set(a.tolist())) == 300 and a.max() < 1000
    np.testing.assert_array_equal(a, sample_order(1000, 300, seed=42))
    assert not np.array_equal(a, sample_order(1000, 300, seed=1))
    assert sorted(sample_order(50, 150_000).tolist()) == list(range(50))


def test_first_unique_rows_keeps_first_occurrence():
    X = np.array([[1, 2], [3, 4], [1, 2], [0.0, 5], [-0.0, 5], [3, 4]], dtype=np.float32)
    np.testing.assert_array_equal(first_unique_rows(X), [0, 1, 3])


def test_build_cloud_dedups_then_takes_first_n():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4)).astype(np.float32)
    X[250:] = X[:250]  # every vector twice
    c = build_cloud(X, sample_size=400, n_points=100, seed=42)
    assert c.counts["sampled"] == 400 and c.counts["points"] == 100
    drawn = sample_order(500, 400, 42)
    unique = first_unique_rows(X[drawn])
    assert c.counts["duplicates_removed"] == 400 - len(unique) > 0
    assert len(first_unique_rows(c.vectors)) == 100
    keep = unique[:100]
    np.testing.assert_array_equal(c.rows, drawn[keep])
    assert not c.notes


def test_fewer_points_than_n_uses_all_and_says_so():
    X = np.eye(30, dtype=np.float32)
    c = build_cloud(X, n_points=100)
    assert c.counts["points"] == 30 and c.notes and "instead of N = 100" in c.notes[0]


def test_cloud_is_independent_of_storage_order():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    meta = {"seq_index": np.repeat(np.arange(20), 10), "position": np.tile(np.arange(10), 20),
            "token_id": np.arange(200)}
    perm = rng.permutation(200)
    a = build_cloud(X, meta=meta, sample_size=150, n_points=50)
    b = build_cloud(X[perm], meta={k: v[perm] for k, v in meta.items()}, sample_size=150, n_points=50)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    np.testing.assert_array_equal(a.meta["token_id"], b.meta["token_id"])
    g = build_cloud(lambda rows: X[rows], 200, meta=meta, sample_size=150, n_points=50)
    np.testing.assert_array_equal(g.vectors, a.vectors)
