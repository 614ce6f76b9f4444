"""Costs of the geometry descriptors, peers side by side in one run (docs/geometry.md, "Cost").

Parts (each path in its own subprocess: clean peak memory, numba's JIT warmed on a small cloud first):

* ``profile``: the TwoNN scale profile at L = 16 ... 512 (one search at 512) against one LID at
  L = 512 (`local_dimensions`), same cloud: a 10-dimensional curved manifold in 768-D, float32.
* ``gride``: lidscope's GRIDE against DADApy 0.3.4's ``return_id_scaling_gride`` (run in its own venv,
  made by benchmarks/dadapy_fixtures.py's requirements) on the same cloud, range 64 (DADApy's default).
* ``ph``: persistent homology of the default subsample (settings.PH_N_POINTS) of a 768-D cloud.
* ``measure``: a quick ``lidscope measure`` (bundled MiniLM, bundled corpus, no cache) without and with
  ``--metrics all`` (what the descriptors add).

    OMP_NUM_THREADS=2 python benchmarks/bench_geometry.py --parts profile,gride,ph --n 20000
Rows go to benchmarks/data/geometry/<part>.jsonl.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from rawdata import run_meta, write_rows  # noqa: E402

DADAPY_VENV = Path(os.environ.get("DADAPY_VENV", "/tmp/venv-dadapy"))


def _cloud(n: int, d: int):
    from lidscope.synthetic import curved_manifold

    return curved_manifold(n, 10, d, seed=0)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_path(path: str, n: int, d: int) -> dict:
    import numpy as np

    X = _cloud(n, d)
    out: dict = {"path": path, "n": n, "d": d}
    if path in ("lid512", "profile"):
        import lidscope
        from lidscope.descriptors import ScaleProfile

        lidscope.local_dimensions(X[:2000], n_neighbors=512)  # JIT warm-up
        ScaleProfile((16, 512)).fit(X[:2000])
        base = _rss_mb()
        t = time.perf_counter()
        if path == "lid512":
            r = lidscope.local_dimensions(X, n_neighbors=512)
            out["mean"] = [r.mean]
        else:
            r = lidscope.geometry(X, ["scale_profile"])
            out["mean"] = r["scale_profile"]["mean"]
            out["n_neighbors"] = r["scale_profile"]["n_neighbors"]
        out["seconds"] = time.perf_counter() - t
    elif path == "gride-ours":
        from lidscope.descriptors import GRIDE

        GRIDE(64).fit(X[:2000])
        base = _rss_mb()
        t = time.perf_counter()
        g = GRIDE(64).fit(X)
        out["seconds"] = time.perf_counter() - t
        out["ids"] = g.dimension_.tolist()
    elif path == "gride-dadapy":
        import warnings

        from dadapy import Data

        warnings.filterwarnings("ignore")
        X = np.asarray(X, dtype=np.float64)  # DADApy's own dtype handling: float64 as lidscope's re-rank
        base = _rss_mb()
        t = time.perf_counter()
        ids, _, _ = Data(X, verbose=False).return_id_scaling_gride(range_max=64)
        out["seconds"] = time.perf_counter() - t
        out["ids"] = ids.tolist()
    elif path == "ph":
        from lidscope.descriptors import Persistence
        from lidscope.settings import PH_N_POINTS

        Persistence(50).fit(X[:100])
        base = _rss_mb()
        t = time.perf_counter()
        ph = Persistence().fit(X)
        out["seconds"] = time.perf_counter() - t
        out.update(n_points=PH_N_POINTS, n_h1=int(ph.n_features_[1]))
    else:
        raise ValueError(path)
    out["peak_extra_mb"] = _rss_mb() - base
    return out


def _sub(path: str, n: int, d: int, python: str | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "src"))
    res = subprocess.run([python or sys.executable, __file__, "--one", path, str(n), str(d)], capture_output=True,
                         text=True, env=env)
    if res.returncode:
        return {"path": path, "n": n, "d": d, "error": res.stderr.strip().splitlines()[-3:]}
    row = json.loads(res.stdout.strip().splitlines()[-1])
    row["load_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(row), flush=True)
    return row


def part_measure(args) -> list[dict]:
    """Wall time of a quick ``lidscope measure`` (bundled MiniLM and corpus, no cache: the forward pass
    included), without and with ``--metrics all``, alternating, ``--repeats`` times each."""
    import tempfile

    rows = []
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "src"))
    exe = str(Path(sys.executable).parent / "lidscope")
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for metrics in ("lid", "all"):
                t = time.perf_counter()
                res = subprocess.run([exe, "measure", "--out", f"{tmp}/{metrics}", "--quiet", "--no-cache",
                                      "--no-figures", "--metrics", metrics] + args.measure_args,
                                     capture_output=True, text=True, env=env)
                row = {"path": f"measure-quick --metrics {metrics}", "repeat": rep, "rc": res.returncode,
                       "seconds": time.perf_counter() - t}
                if res.returncode == 0:
                    s = json.loads(Path(f"{tmp}/{metrics}/summary.json").read_text())
                    row["timings_s"] = s["timings_s"]
                    row["n_points"] = s["counts"]["points"]
                    g = s["layers"][s["layer"]].get("geometry")
                    if g:
                        row["geometry_timings_s"] = g["timings_s"]
                else:
                    row["tail"] = (res.stdout + res.stderr).strip().splitlines()[-3:]
                row["load_after"] = round(os.getloadavg()[0], 2)
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default="profile,gride,ph,measure")
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--measure-args", nargs="*", default=[])
    p.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_path(args.one[0], int(args.one[1]), int(args.one[2]))))
        return
    threads = os.environ.get("OMP_NUM_THREADS")
    for part in args.parts.split(","):
        meta = run_meta(threads=threads)
        if part == "profile":
            rows = [_sub(x, args.n, args.d) for x in ("lid512", "profile")]
        elif part == "gride":
            rows = [_sub("gride-ours", args.n, args.d),
                    _sub("gride-dadapy", args.n, args.d, python=str(DADAPY_VENV / "bin" / "python"))]
        elif part == "ph":
            rows = [_sub("ph", args.n, args.d)]
        elif part == "measure":
            rows = part_measure(args)
        else:
            raise SystemExit(f"unknown part {part}")
        meta["load_end"] = [round(x, 2) for x in os.getloadavg()]
        write_rows(f"geometry/{part}", rows, meta=meta)


if __name__ == "__main__":
    main()
