"""GRIDE reference values from DADApy on scikit-dimension's 24 benchmark manifolds, as a test fixture.

DADApy 0.3.4 pins numpy < 2 and jax 0.4.30, so it cannot share lidscope's environment: this script
makes a separate venv (``--venv``, default /tmp/venv-dadapy) with ``pip install dadapy==0.3.4
scikit-dimension``, runs itself there, and writes tests/data/gride_dadapy.json: per manifold the
cloud's SHA-256 (float64 bytes) and a fingerprint (so the test knows it regenerated the same points), and DADApy's
``Data(X).return_id_scaling_gride(range_max=R)`` (ids, ids_err, rs).

    python benchmarks/dadapy_fixtures.py                      # n = 1000 points, R = 128
    python benchmarks/dadapy_fixtures.py --n 1000 --range-max 128 --venv /tmp/venv-dadapy

tests/descriptors/test_gride_dadapy.py regenerates the clouds with
``BenchmarkManifolds(random_state=0).generate(n=n)`` and compares lidscope's GRIDE with these values.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "gride_dadapy.json"
REQUIREMENTS = ["dadapy==0.3.4", "scikit-dimension"]


def cloud_sha256(X) -> str:
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(X, dtype=np.float64).tobytes()).hexdigest()


def cloud_fingerprint(X) -> list[float]:
    """Sum, sum of squares and first row of X: equal to rounding where numpy versions differ in the
    last bits of a generator's trigonometry (two manifolds do between numpy 1.26 and 2.x)."""
    import numpy as np

    return [float(X.sum()), float((X**2).sum()), *map(float, X[0])]


def manifolds(n: int) -> dict:
    from skdim.datasets import BenchmarkManifolds

    return BenchmarkManifolds(random_state=0).generate(n=n)


def inside(args) -> None:
    """Runs in the DADApy venv: prints the fixture as JSON."""
    import warnings

    import dadapy
    import numpy as np
    from dadapy import Data

    warnings.filterwarnings("ignore")
    rows = []
    for name, X in manifolds(args.n).items():
        X = np.ascontiguousarray(X, dtype=np.float64)
        t = time.perf_counter()
        ids, err, rs = Data(X, verbose=False).return_id_scaling_gride(range_max=args.range_max)
        rows.append({"name": name, "shape": list(X.shape), "sha256": cloud_sha256(X),
                     "fingerprint": cloud_fingerprint(X), "ids": ids.tolist(),
                     "ids_err": err.tolist(), "rs": rs.tolist(), "seconds": time.perf_counter() - t})
    print(json.dumps({"dadapy": dadapy.__version__ if hasattr(dadapy, "__version__") else "0.3.4",
                      "numpy": np.__version__, "rows": rows}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--range-max", type=int, default=128)
    p.add_argument("--venv", default="/tmp/venv-dadapy")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.inside:
        inside(args)
        return
    venv = Path(args.venv)
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    res = subprocess.run([str(py), __file__, "--inside", "--n", str(args.n), "--range-max", str(args.range_max)],
                         capture_output=True, text=True, check=True)
    payload = json.loads(res.stdout.strip().splitlines()[-1])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    fixture = {"meta": {"command": f"python benchmarks/dadapy_fixtures.py --n {args.n} --range-max {args.range_max}",
                        "commit": commit, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "load": os.getloadavg()[0], "dadapy": payload["dadapy"], "numpy": payload["numpy"],
                        "requirements": REQUIREMENTS, "generator": "skdim.datasets.BenchmarkManifolds(random_state=0)"
                        f".generate(n={args.n})", "call": f"dadapy.Data(X).return_id_scaling_gride(range_max={args.range_max})"},
               "n": args.n, "range_max": args.range_max, "manifolds": payload["rows"]}
    Path(args.out).write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {args.out}: {len(payload['rows'])} manifolds")


if __name__ == "__main__":
    main()
