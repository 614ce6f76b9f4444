"""Cost of one grokking training step and one evaluation (LID only / every descriptor), single-threaded.

    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/study_signals_cost.py      # -> data/signals2/cost.jsonl

Sizes the budget of the second signal study (docs/signals-preregistration-2.md). For each prime it
builds the study's model (operation +, training fraction 0.25), times ``STEPS`` optimizer steps after a
warm-up, then evaluations with LID only and with every descriptor at the study's N, and each
descriptor alone (and persistent homology at several subsample sizes) on the trained model's
validation cloud. One thread everywhere (``limit_threads(1)``); the 1-minute load average is recorded
before and after each row.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from rawdata import run_meta, write_rows  # noqa: E402


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def measure(primes=(59, 97, 113), steps: int = 40, n_points: int = 1200, ph_points=(250, 500, 1000),
            repeats: int = 2) -> list[dict]:
    import numpy as np
    import torch

    import lidscope
    from lidscope.experiments.grokking.data import POSITION_SETS
    from lidscope.experiments.grokking.train import GrokConfig, build, evaluate, select_lid_points, train_step
    from lidscope.threads import limit_threads

    limit_threads(1)
    rows = []
    for p in primes:
        cfg = GrokConfig(prime=p, op="+", train_fraction=0.25, lid_points=n_points, lid_neighbors=64)
        data, model, opt = build(cfg)
        samples = {s: select_lid_points(data.train_tokens if s == "train" else data.val_tokens,
                                        POSITION_SETS["all"], n_points, cfg.seed, s) for s in ("train", "val")}
        for s in range(5):
            train_step(cfg, data, model, opt, s)
        l0 = _load()
        c0, t0 = time.process_time(), time.perf_counter()
        for s in range(5, 5 + steps):
            train_step(cfg, data, model, opt, s)
        rows.append({"kind": "train_step", "prime": p, "n_train": data.n_train, "steps": steps,
                     "cpu_s": (time.process_time() - c0) / steps, "wall_s": (time.perf_counter() - t0) / steps,
                     "load_before": l0, "load_after": _load()})
        full = dataclasses.replace(cfg, metrics=("all",))
        for label, c in (("eval_lid", cfg), ("eval_all", full)):
            evaluate(c, data, model, samples, 0)  # warm-up (numba compilation on the first call)
            for _ in range(repeats):
                l0 = _load()
                c0, t0 = time.process_time(), time.perf_counter()
                r = evaluate(c, data, model, samples, 0)
                rows.append({"kind": label, "prime": p, "n_points": n_points, "cpu_s": time.process_time() - c0,
                             "wall_s": time.perf_counter() - t0, "eval_cpu_s": r["eval_cpu_seconds"],
                             "lid_and_descriptors_cpu_s": r["lid_cpu_seconds"], "load_before": l0,
                             "load_after": _load()})
        # each descriptor alone on the validation cloud (and PH at several subsample sizes)
        model.eval()
        with torch.no_grad():
            _, hidden = model(data.val_tokens)
        cloud = hidden[samples["val"].examples, samples["val"].positions].numpy().astype(np.float64)
        for name in ("scale_profile", "gride", "anisotropy", "spectrum"):
            l0 = _load()
            c0 = time.process_time()
            lidscope.geometry(cloud, [name], random_state=0)
            rows.append({"kind": "descriptor", "prime": p, "descriptor": name, "n_points": n_points,
                         "cpu_s": time.process_time() - c0, "load_before": l0, "load_after": _load()})
        for k in ph_points:
            l0 = _load()
            c0 = time.process_time()
            lidscope.geometry(cloud, ["persistence"], ph_n_points=k, random_state=0)
            rows.append({"kind": "descriptor", "prime": p, "descriptor": "persistence", "ph_points": k,
                         "n_points": n_points, "cpu_s": time.process_time() - c0, "load_before": l0,
                         "load_after": _load()})
        print(f"p={p}: " + ", ".join(f"{r['kind']}{'/' + str(r.get('descriptor', '')) if 'descriptor' in r else ''}"
                                     f"{'@' + str(r['ph_points']) if 'ph_points' in r else ''} {r['cpu_s']:.3f}"
                                     for r in rows if r["prime"] == p), flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--primes", default="59,97,113")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--n-points", type=int, default=1200)
    ap.add_argument("--out", default="signals2/cost", help="raw-data name under benchmarks/data/")
    a = ap.parse_args(argv)
    meta = run_meta(threads=1, omp_num_threads=os.environ.get("OMP_NUM_THREADS"), nice=os.nice(0))
    rows = measure(tuple(int(x) for x in a.primes.split(",")), a.steps, a.n_points)
    meta["load_end"] = [round(x, 2) for x in os.getloadavg()]
    print(write_rows(a.out, rows, meta=meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
