import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def skdim_pointwise_twonn(X, n_neighbors, method="linear", discard_fraction=0.1):
    """scikit-dimension's pointwise TwoNN, the reference our numbers must equal."""
    import skdim

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = skdim.id.TwoNN(discard_fraction=discard_fraction, method=method)
        return est.fit_pw(X, n_neighbors=n_neighbors).dimension_pw_
