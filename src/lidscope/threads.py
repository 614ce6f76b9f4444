"""One place to cap the CPU threads of torch and of the core's libraries (numba, BLAS, faiss)."""

from __future__ import annotations

import os


def limit_threads(n: int) -> None:
    """Cap torch, numba, the BLAS libraries and faiss at ``n`` threads in this process.

    Also sets OMP_NUM_THREADS for child processes.
    """
    n = max(1, int(n))
    os.environ["OMP_NUM_THREADS"] = str(n)
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except ImportError:  # pragma: no cover - numba is a dependency
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)  # NumPy's BLAS (the symmetric kNN search's GEMMs) and any OpenMP pool
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        pass
    try:
        import faiss

        faiss.omp_set_num_threads(n)
    except ImportError:  # pragma: no cover - faiss is a dependency
        pass
