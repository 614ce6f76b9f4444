"""One place for the CPU threads of torch, BLAS and numba (and faiss): how many, and how they wait.

Two things make a multi-threaded numerical job slow on a machine that is busy with other work:

* **Spinning pools.** By default GNU OpenMP (torch's and MKL's pool) and OpenBLAS keep their worker
  threads spinning for a while after each parallel region, so that the next one starts quickly. When
  another process holds a core, the spinning threads take CPU from the threads doing the work. On
  this project's 2-core machine under load a grokking training step took 8x longer (and used 8x the
  CPU) with two spinning torch threads than with one (docs/performance.md). :func:`set_wait_policy`
  makes the pools sleep when idle; it must run before torch and NumPy are first imported, so
  ``import lidscope`` calls it (only for variables that are not set already: yours win).
* **Nested or side-by-side pools.** A BLAS call inside numba's parallel workers, or torch's pool
  beside numba's, runs threads x threads workers on the same cores. :func:`limit_threads` caps every
  pool at the same number, and :func:`single_threaded_blas` keeps BLAS single-threaded inside a
  parallel region.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

#: Environment defaults applied by :func:`set_wait_policy` (``setdefault``: explicit settings win).
WAIT_POLICY_ENV: dict[str, str] = {
    "OMP_WAIT_POLICY": "PASSIVE",  # GNU/LLVM OpenMP (torch, MKL): idle threads sleep instead of spinning
    "OPENBLAS_THREAD_TIMEOUT": "4",  # OpenBLAS: spin 2**4 cycles (not 2**28) before sleeping
    "KMP_BLOCKTIME": "0",  # Intel OpenMP, if a library brings it
}


#: Help text of every command's ``--threads`` option (one meaning everywhere).
THREADS_HELP = ("CPU threads for torch, BLAS and numba (and faiss), all capped together "
                "(default: every CPU this process may use; idle threads sleep, so a busy machine is shared fairly).")


def set_wait_policy() -> dict[str, str]:
    """Make OpenMP and OpenBLAS worker threads sleep instead of spinning when idle.

    Takes effect for libraries loaded after the call (OpenMP and OpenBLAS read these variables when
    they start). Returns the variables it set.
    """
    applied = {}
    for key, value in WAIT_POLICY_ENV.items():
        if key not in os.environ:
            os.environ[key] = value
            applied[key] = value
    return applied


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. a container's or taskset's share)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads: int | None) -> int:
    """The thread count a ``--threads`` value means: ``None`` -> every available CPU; must be >= 1."""
    if threads is None:
        return available_cpus()
    if int(threads) < 1:
        raise ValueError(f"--threads must be at least 1, got {threads}.")
    return int(threads)


def limit_threads(n: int | None = None) -> int:
    """Cap torch, numba, the BLAS libraries and faiss at ``n`` threads in this process (default: all CPUs).

    All pools get the same size, so torch's pool beside numba's never exceeds the machine. Also sets
    OMP_NUM_THREADS for child processes. Returns the number used.
    """
    n = resolve_threads(n)
    os.environ["OMP_NUM_THREADS"] = str(n)
    try:
        import torch

        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:  # already fixed once any inter-op work has started
            pass
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
    except ImportError:  # pragma: no cover - faiss is an optional dependency
        pass
    return n


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS/LAPACK single-threaded inside the block (e.g. many small matrices, or numba workers)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
