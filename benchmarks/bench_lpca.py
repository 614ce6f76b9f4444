"""LocalPCA spectra: lidscope (single-threaded BLAS per block, blocks on the thread pool) against the
plain NumPy loop with the BLAS library's default threads, side by side in one run.

Each path runs in its own subprocess on the same clouds (curved 10-dimensional manifolds, float32),
neighbour lists found once per cloud outside the timing; only the covariance spectra are timed.

    nice -n 10 python benchmarks/bench_lpca.py                      # 5,000 x 100 and 10,000 x 768
    python benchmarks/bench_lpca.py --sizes 2000x50 --threads 1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


def numpy_default_threads(X, members, block=256):
    """The loop LocalPCA ran before: batched Gram products and eigvalsh, BLAS at its default threads."""
    import numpy as np

    n, L = members.shape
    out = np.empty((n, L))
    for start in range(0, n, block):
        P = X[members[start : start + block]].astype(np.float64)
        P -= P.mean(axis=1, keepdims=True)
        G = P @ P.transpose(0, 2, 1) if P.shape[2] >= L else P.transpose(0, 2, 1) @ P
        ev = np.linalg.eigvalsh(G)[:, ::-1].clip(min=0.0) / (L - 1)
        out[start : start + block, : ev.shape[1]] = ev
        out[start : start + block, ev.shape[1] :] = 0.0
    return out


def child(path: str, n: int, d: int, L: int, threads: int | None) -> dict:
    import numpy as np

    from lidscope import kneighbors
    from lidscope.estimators.lpca import neighborhood_spectra
    from lidscope.synthetic import curved_manifold

    if threads:
        from lidscope.threads import limit_threads

        limit_threads(threads)
    X = curved_manifold(n, 10, d, seed=0)
    members = kneighbors(X, L).indices
    t = time.perf_counter()
    ev = numpy_default_threads(X, members) if path == "numpy" else neighborhood_spectra(X, members)
    return {"path": path, "n": n, "d": d, "seconds": time.perf_counter() - t, "checksum": float(np.sum(ev))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="5000x100,10000x768", help="comma-separated NxD")
    p.add_argument("--neighbors", type=int, default=128)
    p.add_argument("--threads", type=int, default=None, help="cap every pool (default: library defaults)")
    p.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        path, n, d = args.child
        print(json.dumps(child(path, int(n), int(d), args.neighbors, args.threads)))
        return
    for size in args.sizes.split(","):
        n, d = (int(v) for v in size.lower().split("x"))
        res = {}
        for path in ("numpy", "ours"):
            cmd = [sys.executable, __file__, "--child", path, str(n), str(d), "--neighbors", str(args.neighbors)]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            res[path] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            print(f"{n} x {d}, {path:5s}: {res[path]['seconds']:8.1f} s", flush=True)
        same = abs(res["numpy"]["checksum"] - res["ours"]["checksum"]) <= 1e-9 * abs(res["numpy"]["checksum"])
        print(f"{n} x {d}: numpy default threads / ours = {res['numpy']['seconds'] / res['ours']['seconds']:.1f}x "
              f"(same spectra: {same})", flush=True)


if __name__ == "__main__":
    main()
