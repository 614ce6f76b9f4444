"""GRIDE equals DADApy 0.3.4's return_id_scaling_gride on scikit-dimension's 24 benchmark manifolds.

The reference values come from DADApy in its own venv (numpy < 2): benchmarks/dadapy_fixtures.py
wrote tests/data/gride_dadapy.json, with the command in its meta.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from lidscope.descriptors import GRIDE

FIXTURE = json.loads((Path(__file__).parents[1] / "data" / "gride_dadapy.json").read_text())


@pytest.fixture(scope="module")
def clouds():
    import warnings

    from skdim.datasets import BenchmarkManifolds

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BenchmarkManifolds(random_state=0).generate(n=FIXTURE["n"])


def _sha256(X):
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(X, dtype=np.float64).tobytes()).hexdigest()


def test_fixture_covers_the_24_benchmark_manifolds():
    assert len({m["name"] for m in FIXTURE["manifolds"]}) == 24


@pytest.mark.parametrize("ref", FIXTURE["manifolds"], ids=lambda m: m["name"])
def test_gride_equals_dadapy(ref, clouds):
    X = np.ascontiguousarray(clouds[ref["name"]], dtype=np.float64)
    if _sha256(X) != ref["sha256"]:  # numpy 1.26 (DADApy's) and 2.x differ in last bits on two manifolds
        fp = [X.sum(), (X**2).sum(), *X[0]]
        np.testing.assert_allclose(fp, ref["fingerprint"], rtol=1e-12, err_msg="other points than DADApy saw")
    g = GRIDE(max_rank=FIXTURE["range_max"]).fit(X)
    # the bisection stops within 1e-7 of the root: equal to rounding
    np.testing.assert_allclose(g.dimension_, ref["ids"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(g.dimension_err_, ref["ids_err"], rtol=1e-6)
    np.testing.assert_allclose(g.scale_, ref["rs"], rtol=1e-10)
