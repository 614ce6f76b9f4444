"""What every neighbourhood estimator shares: scikit-learn's parameter API and one `fit` prologue."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ..neighbors import Neighbors, search_rescaled, to_input_units, to_rescaled_units
from ..scaling import rescaled
from ..validation import as_cloud, check_enough_points, check_neighbor_lists, check_neighbors_param, require_distinct


class NeighborhoodEstimator(BaseEstimator):
    """Base of the pointwise estimators: ``fit(X, neighbors=None)`` validates X, finds (or checks
    the given) neighbour lists, and the subclass turns them into ``dimension_pw_`` (n,).

    Fitted attributes: ``dimension_pw_``, ``dimension_`` (their mean), ``neighbors_``,
    ``n_features_in_``. Constructor parameters are stored as given (scikit-learn's rule) and
    checked in ``fit``.
    """

    #: Smallest n_neighbors the estimator can use.
    _min_neighbors = 3

    def _prepare(self, X, neighbors: Neighbors | None, n_neighbors: int | None = None) -> tuple[np.ndarray, Neighbors, int]:
        """(cloud (n, d), neighbour lists with >= k columns, k): the shared start of ``fit``.

        k is ``n_neighbors`` if given, else the estimator's ``n_neighbors`` parameter. The cloud and
        the lists' distances come rescaled by an exact power of two where the input's scale is
        outside the search's safe range (`lidscope.scaling`; ``self._scale`` records it), which no
        estimate depends on; ``self._input_neighbors`` are the lists in the input's units.
        """
        k = check_neighbors_param(self.n_neighbors if n_neighbors is None else n_neighbors, minimum=self._min_neighbors)
        X = as_cloud(X)
        scaled = rescaled(X)
        if neighbors is None:
            require_distinct(X)
            check_enough_points(X.shape[0], k)
            found = search_rescaled(scaled, k, backend=self.backend, device=getattr(self, "device", None))
            self._input_neighbors = to_input_units(found, scaled)
        else:
            check_neighbor_lists(X, neighbors, k)
            self._input_neighbors = neighbors
            found = to_rescaled_units(neighbors, scaled)
        self._scale = scaled
        self.n_features_in_ = X.shape[1]
        return scaled.X, found, k

    def _finish(self, dimension_pw: np.ndarray, neighbors: Neighbors):
        """Sets the fitted attributes; ``neighbors_`` are the lists in the input's units."""
        self.dimension_pw_ = dimension_pw
        self.neighbors_ = self._input_neighbors
        self.dimension_ = float(np.mean(dimension_pw))
        return self
