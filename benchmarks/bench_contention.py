"""Wall time of lidscope's CLI workloads on an idle machine and beside 1 and 2 busy-loop processes.

    python benchmarks/bench_contention.py --quick          # ~5 min on an idle 2-core machine
    python benchmarks/bench_contention.py                  # the issue's sizes (grokking 300 steps)
    python benchmarks/bench_contention.py --spinning       # also the old defaults (spinning thread pools)

Each workload runs as its own `lidscope` process with default threads (every CPU), in one session:
idle, then with one competing busy loop, then with two, and the ratios to idle are printed. The
machine may be shared: the CPU time that neither the workload nor the busy loops used during each
run (from /proc/stat) is reported as background load, in cores, next to every time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).with_name("lidscope")
TICK = os.sysconf("SC_CLK_TCK")
#: The old defaults: no wait policy set (torch's OpenMP and OpenBLAS threads spin after each region).
SPINNING_ENV = {"OMP_WAIT_POLICY": "", "OPENBLAS_THREAD_TIMEOUT": "", "KMP_BLOCKTIME": ""}


def workloads(tmp: Path, quick: bool) -> dict[str, list[str]]:
    """name -> lidscope arguments. The main job at a small size, LocalPCA on 5,000 x 100, grokking p = 59."""
    import numpy as np

    from lidscope.synthetic import curved_manifold

    pts = tmp / "points-5000x100.npy"
    np.save(pts, curved_manifold(5_000, 10, 100, seed=0))
    m, n = (300, 2_000) if quick else (1_000, 6_000)
    steps = 150 if quick else 300
    return {
        f"measure (MiniLM, M = {m}, N = {n:,}, no cache)": [
            "measure", "-M", str(m), "-N", str(n), "--no-cache", "--no-figures", "--quiet", "--out", str(tmp / "measure")],
        "estimate --estimator lpca (5,000 x 100)": [
            "estimate", str(pts), "--estimator", "lpca", "--no-figure", "--no-progress", "--out", str(tmp / "estimate")],
        f"grokking (p = 59, {steps} steps)": [
            "grokking", "--prime", "59", "--steps", str(steps), "--lid-points", "1000", "--fresh", "--out", str(tmp / "grok")],
    }


def _busy_ticks() -> int:
    """CPU ticks spent by the whole machine so far (all CPUs, everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]


def _proc_ticks(pid: int) -> int:
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])  # utime + stime


def _start_busy(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def run_one(args: list[str], n_busy: int, env: dict[str, str]) -> dict[str, float]:
    """Time one workload beside ``n_busy`` busy loops; CPU used by others during it, in cores."""
    busy = _start_busy(n_busy)
    try:
        time.sleep(0.5)  # the loops are running before the clock starts
        busy0 = [_proc_ticks(p.pid) for p in busy]
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        m0, t0 = _busy_ticks(), time.perf_counter()
        proc = subprocess.run([str(BIN), *args], env={**os.environ, **env}, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        m1 = _busy_ticks()
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        loops = sum(_proc_ticks(p.pid) - b for p, b in zip(busy, busy0)) / TICK
    finally:
        for p in busy:
            p.kill()
            p.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"lidscope {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    ours = (ch1.ru_utime - ch0.ru_utime) + (ch1.ru_stime - ch0.ru_stime)
    machine = (m1 - m0) / TICK
    return {"wall_s": wall, "cpu_s": ours, "busy_loops_cores": loops / wall,
            "background_cores": max(0.0, machine - ours - loops) / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller measure and grokking runs")
    ap.add_argument("--only", default="", help="comma-separated workload name prefixes (measure, estimate, grokking)")
    ap.add_argument("--busy", default="0,1,2", help="numbers of competing busy loops [0,1,2]")
    ap.add_argument("--spinning", action="store_true", help="also run with the old spinning thread pools")
    ap.add_argument("--json", type=Path, help="write all rows here")
    a = ap.parse_args()
    busy_levels = [int(x) for x in a.busy.split(",")]
    policies = {"default (idle threads sleep)": {}}
    if a.spinning:
        policies["spinning pools (old default)"] = SPINNING_ENV
    print(f"# {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average "
          f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())}; command: python {' '.join(sys.argv)}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="lidscope-contention-") as tmp:
        jobs = workloads(Path(tmp), a.quick)
        pts = jobs[next(k for k in jobs if k.startswith("estimate"))][1]
        for args in (["estimate", pts, "--n-points", "600", "--estimator", "lpca", "--no-figure", "--no-progress",
                      "--out", f"{tmp}/warm"],
                     ["grokking", "--quick", "--fresh", "--out", f"{tmp}/warm-grok"]):
            subprocess.run([str(BIN), *args], capture_output=True)  # numba's on-disk compile cache, untimed
        for name, args in jobs.items():
            if a.only and not any(name.startswith(o) for o in a.only.split(",")):
                continue
            for policy, env in policies.items():
                base = None
                for n_busy in busy_levels:
                    r = run_one(args, n_busy, env)
                    base = base or (r["wall_s"] if n_busy == 0 else None)
                    ratio = r["wall_s"] / base if base else float("nan")
                    rows.append({"workload": name, "policy": policy, "busy_loops": n_busy, **r, "ratio_to_idle": ratio})
                    print(f"{name:<48} {policy:<30} busy {n_busy}: {r['wall_s']:7.1f} s wall ({ratio:4.2f}x idle), "
                          f"{r['cpu_s']:7.1f} s CPU, background load {r['background_cores']:.2f} cores, "
                          f"busy loops got {r['busy_loops_cores']:.2f} cores", flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
