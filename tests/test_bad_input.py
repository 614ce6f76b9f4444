"""Bad point clouds and parameters get a clear LIDInputError, never a deep traceback."""

import numpy as np
import pytest

from lidscope import LIDInputError, LocalTwoNN, local_dimensions

GOOD = np.random.default_rng(0).normal(size=(200, 5))


@pytest.mark.parametrize(
    "X, match",
    [
        (np.vstack([GOOD, [[np.nan] * 5]]), "NaN or inf .*rows 200"),
        (np.vstack([GOOD, [[np.inf] * 5]]), "NaN or inf"),
        (GOOD[:, 0], "2-D .*reshape"),
        (np.array([["a", "b"], ["c", "d"]]), "must hold numbers"),
        (np.empty((0, 3)), "empty"),
        (np.ones((500, 4)), "identical"),
        (GOOD[:100], "Only 100 distinct points"),
        (np.vstack([GOOD[:60]] * 5), "after removing 240 exact duplicate"),
        ([[1, 2], [3]], "numeric array"),
    ],
    ids=["nan", "inf", "1-d", "strings", "empty", "all-identical", "too-few", "too-few-after-dedup", "ragged"],
)
def test_bad_clouds(X, match):
    with pytest.raises(LIDInputError, match=match):
        local_dimensions(X, n_neighbors=128)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_neighbors": 2}, "at least 3"),
        ({"n_neighbors": 5.5}, "integer"),
        ({"discard_fraction": 1.0}, r"\[0, 1\)"),
        ({"estimator": "magic"}, "estimator must be"),
        ({"n_points": 0}, "positive"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(LIDInputError, match=match):
        local_dimensions(GOOD, **kwargs)


def test_estimator_class_refuses_duplicates_with_the_fix():
    with pytest.raises(LIDInputError, match="local_dimensions does this"):
        LocalTwoNN(10).fit(np.vstack([GOOD, GOOD[:3]]))


def test_lid_input_error_is_a_value_error():
    assert issubclass(LIDInputError, ValueError)
