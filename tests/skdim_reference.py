"""scikit-dimension as the reference in tests (a module of its own: several test folders have a conftest)."""

import warnings
from contextlib import contextmanager


def skdim_pointwise_twonn(X, n_neighbors, method="linear", discard_fraction=0.1):
    """scikit-dimension's pointwise TwoNN, the reference our numbers must equal."""
    import skdim

    with reference_context():
        est = skdim.id.TwoNN(discard_fraction=discard_fraction, method=method)
        return est.fit_pw(X, n_neighbors=n_neighbors).dimension_pw_


@contextmanager
def reference_context():
    """Quiet, single-threaded BLAS for scikit-dimension's many tiny per-neighbourhood fits
    (multi-threaded BLAS on 128 x 768 blocks only oversubscribes the cores under pytest-xdist)."""
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        yield
