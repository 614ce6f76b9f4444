"""Intrinsic-dimension estimators on point clouds: pure numerics, no knowledge of models."""

from .lpca import LocalPCA
from .mle import LocalMLE
from .twonn import LocalTwoNN, TwoNN, twonn_from_distances

__all__ = ["LocalMLE", "LocalPCA", "LocalTwoNN", "TwoNN", "twonn_from_distances"]
