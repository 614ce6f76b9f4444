"""Noise of the mean from the token sample alone: one model, one fixed sequence sample, several token seeds.

    python benchmarks/bench_noise.py --threads 1          # docs/reproductions.md "Noise of the mean" (minutes)

Bundled MiniLM on chit-chat validation, last layer, L = 128; for each size (M sequences, N points) the
same M sequences (``data_seed`` fixed) measured with token-sample seeds 0..S-1. Writes one row per
(size, seed) to ``benchmarks/data/noise/token-seeds.jsonl`` (docs/reproductions.md is re-scored from it).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rawdata import run_meta, write_rows  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="500x5000,1000x10000", help="MxN,... (default: %(default)s)")
    ap.add_argument("--seeds", type=int, default=5, help="token-sample seeds 0..S-1 (default: %(default)s)")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--data", default="chitchat:validation")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=None, help="embedding cache (default: a temporary folder)")
    ap.add_argument("--name", default="noise/token-seeds", help="raw-data file under benchmarks/data/")
    args = ap.parse_args(argv)

    import torch

    from lidscope.measure import measure
    from lidscope.settings import DATA_SEED

    torch.set_num_threads(args.threads)
    meta = run_meta(threads=args.threads, model=args.model, data=args.data)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp)
        for size in args.sizes.split(","):
            m, n = (int(x) for x in size.lower().split("x"))
            for seed in range(args.seeds):
                t = time.perf_counter()
                r = measure(args.model, args.data, n_sequences=m, n_points=n, seed=seed, figures=False,
                            cache_dir=cache)
                row = {"M": m, "N": n, "seed": seed, "data_seed": DATA_SEED, "mean": float(r.mean), "seconds": round(time.perf_counter() - t, 2),
                       "load": [round(x, 2) for x in os.getloadavg()]}
                rows.append(row)
                print(row, flush=True)
    path = write_rows(args.name, rows, meta=meta)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
