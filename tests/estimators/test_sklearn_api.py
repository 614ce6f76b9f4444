"""The estimators are scikit-learn estimators: parameters, clone, repr, and sklearn's own checks."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from lidscope import LocalMLE, LocalPCA, LocalTwoNN, TwoNN
from lidscope.settings import DISCARD_FRACTION, N_NEIGHBORS
from lidscope.synthetic import curved_manifold

#: sklearn checks that do not apply, and why (every other check runs and passes).
NOT_APPLICABLE = {
    # it fits on iris, whose rows repeat: the estimators refuse exact duplicates by design (they make
    # r1 = 0; lidscope.local_dimensions removes and counts them)
    "check_positive_only_tag_during_fit": "iris has duplicate rows, which the estimators refuse",
    # it wants a TypeError for a dict inside X; every bad input raises LIDInputError (a ValueError)
    "check_dtype_object": "bad input raises LIDInputError (ValueError), not TypeError",
}
ESTIMATORS = [LocalTwoNN(n_neighbors=5), LocalMLE(n_neighbors=5), LocalPCA(n_neighbors=5), TwoNN()]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: NOT_APPLICABLE)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("cls", [LocalTwoNN, LocalMLE, LocalPCA])
def test_one_default_neighbourhood_size(cls):
    """Every local estimator uses the one default L (LocalMLE used 20 where the rest used 128)."""
    assert cls().get_params()["n_neighbors"] == N_NEIGHBORS


def test_params_clone_and_repr():
    est = LocalTwoNN(n_neighbors=12, empirical_fraction="skdim-0.3.4")
    assert est.get_params()["discard_fraction"] == DISCARD_FRACTION
    copy = clone(est).set_params(n_neighbors=7)
    assert copy.n_neighbors == 7 and est.n_neighbors == 12
    assert repr(est) == "LocalTwoNN(empirical_fraction='skdim-0.3.4', n_neighbors=12)"
    X = curved_manifold(200, 3, 10, seed=0, dtype=np.float64)
    a, b = clone(est).fit(X), est.fit(X)
    np.testing.assert_array_equal(a.dimension_pw_, b.dimension_pw_)
    assert a.n_features_in_ == 10
