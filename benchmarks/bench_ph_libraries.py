"""Vietoris-Rips H0/H1 of one subsample: ripser, giotto-ph and gudhi side by side, same points.

Each (library, n) runs in its own subprocess (clean peak memory: ru_maxrss minus the RSS after
loading the cloud and the library). The cloud: a 10-dimensional curved manifold in 768-D
(lidscope.synthetic.curved_manifold), float64, the first n rows. Full filtration (no threshold),
Euclidean distances, maxdim = 1. Writes JSON lines to benchmarks/data/geometry/ph_libraries.jsonl.

    OMP_NUM_THREADS=1 python benchmarks/bench_ph_libraries.py --sizes 250,500,1000,2000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

LIBRARIES = ("ripser", "giotto-ph", "giotto-ph-2threads", "gudhi")


def run_one(lib: str, n: int) -> dict:
    import numpy as np

    from lidscope.synthetic import curved_manifold

    X = curved_manifold(n, 10, 768, seed=0).astype(np.float64)
    if lib == "ripser":
        from ripser import ripser

        def go():
            dgms = ripser(X, maxdim=1)["dgms"]
            return dgms[0], dgms[1]
    elif lib.startswith("giotto-ph"):
        from gph import ripser_parallel

        threads = 2 if lib.endswith("2threads") else 1

        def go():
            dgms = ripser_parallel(X, maxdim=1, n_threads=threads)["dgms"]
            return dgms[0], dgms[1]
    else:
        import gudhi

        def go():
            st = gudhi.RipsComplex(points=X).create_simplex_tree(max_dimension=2)
            st.compute_persistence()
            return st.persistence_intervals_in_dimension(0), st.persistence_intervals_in_dimension(1)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    h0, h1 = go()
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finite0 = h0[np.isfinite(h0[:, 1])]
    return {
        "library": lib, "n": n, "d": 768, "seconds": seconds, "peak_extra_mb": (peak - base) / 1024,
        "n_h0": int(len(h0)), "n_h1": int(len(h1)),
        "h0_total_persistence": float((finite0[:, 1] - finite0[:, 0]).sum()),
        "h1_total_persistence": float((h1[:, 1] - h1[:, 0]).sum()),
        "h1_max_persistence": float((h1[:, 1] - h1[:, 0]).max()) if len(h1) else 0.0,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="250,500,1000,2000")
    p.add_argument("--libraries", default=",".join(LIBRARIES))
    p.add_argument("--gudhi-max", type=int, default=500)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(Path(__file__).parent / "data" / "geometry" / "ph_libraries.jsonl"))
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]))))
        return
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    meta = {"command": " ".join(["python"] + sys.argv), "commit": commit,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load": os.getloadavg()[0],
            "threads": os.environ.get("OMP_NUM_THREADS")}
    rows = []
    for n in map(int, args.sizes.split(",")):
        for lib in args.libraries.split(","):
            if lib == "gudhi" and n > args.gudhi_max:
                continue  # its full Rips complex holds every triangle: 1.2 GB at n = 500, ~8x that per doubling
            try:
                res = subprocess.run([sys.executable, __file__, "--one", lib, str(n)], capture_output=True,
                                     text=True, timeout=args.timeout)
                row = json.loads(res.stdout.strip().splitlines()[-1]) if res.returncode == 0 else {
                    "library": lib, "n": n, "error": res.stderr.strip().splitlines()[-1:]}
            except subprocess.TimeoutExpired:
                row = {"library": lib, "n": n, "error": f"over {args.timeout} s"}
            row["load_after"] = os.getloadavg()[0]
            print(json.dumps(row), flush=True)
            rows.append(row)
    meta["load_end"] = os.getloadavg()[0]
    with open(args.out, "w") as f:
        f.write(json.dumps({"meta": meta}) + "\n")
        for row in rows:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
