import os
import warnings
from contextlib import contextmanager

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["COLUMNS"] = "200"  # rich wraps CLI output at 80 columns without a terminal; tests read whole lines


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


import pytest  # noqa: E402


@pytest.fixture
def saved_figures(monkeypatch):
    """Every matplotlib figure saved during the test, in order, for reading the plotted data back."""
    from matplotlib.figure import Figure

    saved = []
    original = Figure.savefig

    def record(self, *args, **kwargs):
        saved.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return saved
