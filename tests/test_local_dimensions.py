"""local_dimensions: sampling, deduplication, the result object and its summary."""

import json

import numpy as np
import pytest

from lidscope import LIDInputError, local_dimensions
from lidscope.synthetic import curved_manifold


@pytest.fixture(scope="module")
def cloud():
    return curved_manifold(600, 4, 64, seed=0, dtype=np.float64)


def test_duplicates_are_removed_counted_and_never_inf(cloud):
    X = np.vstack([cloud, cloud[:50], cloud[:10]])
    r = local_dimensions(X, n_neighbors=32)
    assert r.n_duplicates_removed == 60 and r.n_points == 600
    assert np.isnan(r.estimates[600:]).all() and np.isfinite(r.estimates[:600]).all()
    np.testing.assert_array_equal(r.duplicate_of[600:650], np.arange(50))
    np.testing.assert_allclose(r.estimates[:600], local_dimensions(cloud, n_neighbors=32).estimates)


def test_dedup_false_refuses_duplicates(cloud):
    with pytest.raises(LIDInputError, match="duplicate"):
        local_dimensions(np.vstack([cloud, cloud[:1]]), n_neighbors=32, dedup=False)


def test_negative_zero_counts_as_duplicate():
    X = np.random.default_rng(0).normal(size=(100, 3))
    X[0, 0] = 0.0
    Y = np.vstack([X, X[:1] * np.array([-1.0, 1.0, 1.0])])
    Y[-1, 1:] = X[0, 1:]
    Y[-1, 0] = -0.0
    assert local_dimensions(Y, n_neighbors=10).n_duplicates_removed == 1


def test_n_points_samples_dedups_then_keeps_the_first(cloud):
    X = np.vstack([cloud, cloud])
    r = local_dimensions(X, n_neighbors=32, n_points=300, random_state=1)
    order = np.random.default_rng(1).permutation(len(X))
    seen, expected = set(), []
    for i in order:
        key = i % 600
        if key not in seen:
            seen.add(key)
            expected.append(i)
    np.testing.assert_array_equal(r.kept_index, expected[:300])
    assert np.count_nonzero(np.isfinite(r.estimates)) == 300


def test_summary_is_json_and_complete(cloud):
    r = local_dimensions(cloud, n_neighbors=32)
    s = json.loads(json.dumps(r.summary()))
    v = r.values
    assert s["mean"] == pytest.approx(v.mean()) and s["median"] == pytest.approx(np.median(v))
    assert s["std"] == pytest.approx(v.std(ddof=1))
    assert s["quantiles"]["0.25"] == pytest.approx(np.quantile(v, 0.25))
    assert s["params"]["n_neighbors"] == 32 and s["params"]["self_excluded"] is True
    assert {"neighbors", "estimates", "total"} <= set(s["timings_s"])


def test_return_neighbors_maps_to_input_rows(cloud):
    X = np.vstack([cloud[:1], cloud])  # row 1 duplicates row 0: kept rows are 0, 2, 3, ...
    r = local_dimensions(X, n_neighbors=8, return_neighbors=True)
    assert r.neighbor_indices.shape == (600, 8)
    assert 1 not in r.neighbor_indices
    d = np.linalg.norm(X[r.kept_index[:, None]] - X[r.neighbor_indices], axis=-1)
    np.testing.assert_allclose(d, r.neighbor_distances, rtol=1e-12)


def test_accepts_torch_tensors(cloud):
    import torch

    r = local_dimensions(torch.from_numpy(cloud), n_neighbors=16)
    np.testing.assert_allclose(r.values, local_dimensions(cloud, n_neighbors=16).values)


def test_lattice_gives_counted_nan_and_a_warning():
    g = np.stack(np.meshgrid(np.arange(12), np.arange(12)), -1).reshape(-1, 2).astype(float)
    with pytest.warns(RuntimeWarning, match="undefined"):
        r = local_dimensions(g, n_neighbors=4)
    assert r.n_undefined > 0 and r.summary()["n_undefined"] == r.n_undefined


def test_estimating_leaves_torch_thread_count_alone():
    import subprocess
    import sys

    code = (
        "import torch, numpy as np, lidscope; torch.set_num_threads(1); "
        "lidscope.local_dimensions(np.random.default_rng(0).normal(size=(300, 5)), n_neighbors=10); "
        "print(torch.get_num_threads())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"
