"""Descriptors of a point cloud beyond one LID: scale profile, GRIDE, persistent homology, anisotropy,
rank and isotropy, and the neighbourhood overlap of two clouds. Numerics only: nothing here knows
models. `lidscope.geometry` computes any of them on one cloud in one call (docs/geometry.md)."""

from .api import GeometryResult, geometry
from .overlap import Overlap, neighborhood_overlap
from .scale import GRIDE, ScaleProfile
from .spectrum import Anisotropy, Spectrum, mean_pairwise_cosine
from .topology import Persistence

__all__ = ["GRIDE", "Anisotropy", "GeometryResult", "Overlap", "Persistence", "ScaleProfile", "Spectrum",
           "geometry", "mean_pairwise_cosine", "neighborhood_overlap"]
