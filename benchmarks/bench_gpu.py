"""lidscope's exact neighbour search and LID on a GPU, against the torch peers, in one run.

Parts (``--parts``, default all):
- ``env``: device, versions, and the GPU's float32 GEMM rate (TF32 off) measured here: the floor is
  2 N^2 D flops at that rate.
- ``exact``: a clustered cloud far from the origin: the torch/CUDA lists against the CPU (numba)
  lists, index for index, their distances and TwoNN estimates; the peers' recall on the same cloud.
- ``speed``: N points (``--sizes``) at D = 768, L = 128: `local_dimensions` on CUDA end to end and
  its search alone (from its timings), against ``torch.cdist`` + ``topk`` and a float32 GEMM +
  ``topk`` (the algorithm of faiss's exact GPU index; faiss-gpu itself is not installed), each
  with peak GPU memory.
- ``measure``: `measure` end to end on the GPU for SmolLM2 (``--smollm2 FILE.gguf``) on
  ``--texts FILE.jsonl`` at the paper's M and N, then the lists of a middle layer with massive
  activations (layer -4) on CUDA against the CPU.

Every result is one JSON line in ``OUT/gpu.jsonl`` (first line: the meta), written as it comes, so a
run cut short keeps what it measured. Runs on the CPU too (``--device cpu``, small sizes) as a check of
the script itself.

    python benchmarks/bench_gpu.py --out runs/gpu --sizes 100000,300000,1000000 \
        --smollm2 SmolLM2-135M-Instruct.Q4_1.gguf --texts texts.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from lidscope import local_dimensions
from lidscope.estimators import LocalTwoNN
from lidscope.neighbors import kneighbors

D, L = 768, 128


class Log:
    def __init__(self, out: Path, meta: dict) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.f = open(out / "gpu.jsonl", "w")
        self.write({"meta": meta})

    def write(self, row: dict) -> None:
        self.f.write(json.dumps(row, default=float) + "\n")
        self.f.flush()
        print(json.dumps(row, default=float), flush=True)


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gb(device: str) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None


def fp32_rate(device: str, n: int = 8192, reps: int = 10) -> float:
    """float32 GEMM flops/s on ``device`` with TF32 off (the precision the search uses)."""
    import torch

    torch.set_float32_matmul_precision("highest")
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    sync(device)
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t)


def clustered_far(n: int, seed: int = 0) -> np.ndarray:
    """(n, 768) float64: 200 Gaussian clusters (spread 1, centres 3 apart per axis) around a point
    1,000 from the origin on every axis: float32 GEMM distances of raw coordinates lose most digits."""
    rng = np.random.default_rng(seed)
    centres = 1000.0 + 3.0 * rng.standard_normal((200, D))
    return centres[rng.integers(0, 200, n)] + rng.standard_normal((n, D))


def manifold(n: int, device: str, seed: int = 0) -> np.ndarray:
    """(n, 768) float32: a 10-dimensional curved manifold with small noise, generated on ``device``."""
    import torch

    g = torch.Generator(device=device).manual_seed(seed)
    z = torch.randn(n, 10, generator=g, device=device)
    W = torch.randn(10, D, generator=g, device=device)
    X = torch.sin(z @ W) + 0.01 * torch.randn(n, D, generator=g, device=device)
    return X.cpu().numpy()


def peer_lists(X: np.ndarray, k: int, device: str, mode: str, rows: int) -> tuple[np.ndarray, float, float | None]:
    """k + 1 nearest by float32 distances, self included as the peers return it: "cdist" (torch.cdist,
    which uses the |x|^2 + |y|^2 - 2 x.y GEMM form above 25 rows) or "gemm" (addmm + topk)."""
    import torch

    torch.set_float32_matmul_precision("highest")
    reset_peak(device)
    Xt = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32), device=device)
    sync(device)
    t = time.perf_counter()
    n = Xt.shape[0]
    out = torch.empty((n, k + 1), dtype=torch.int64, device=device)
    sq = (Xt * Xt).sum(1)
    with torch.inference_mode():
        for s in range(0, n, rows):
            q = Xt[s:s + rows]
            if mode == "cdist":
                d = torch.cdist(q, Xt)
            else:
                d = torch.addmm(sq[None, :], q, Xt.T, alpha=-2.0).add_(sq[s:s + rows, None])
            out[s:s + rows] = d.topk(k + 1, dim=1, largest=False).indices
    sync(device)
    seconds = time.perf_counter() - t
    return out.cpu().numpy(), seconds, peak_gb(device)


def recall(peer: np.ndarray, exact: np.ndarray) -> tuple[float, float]:
    """Mean recall@k of peer lists (self removed) against exact lists, and the share of rows whose
    list is exactly the exact one."""
    n, k = exact.shape
    hits, same = 0, 0
    for i in range(n):
        p = peer[i][peer[i] != i][:k]
        hits += np.intersect1d(p, exact[i]).size
        same += bool(np.array_equal(p, exact[i]))
    return hits / (n * k), same / n


def compare_lists(X: np.ndarray, device: str) -> dict:
    """The torch lists on ``device`` against the CPU lists of the same cloud, and their estimates."""
    t = time.perf_counter()
    g = kneighbors(X, L, backend="torch", device=device)
    sync(device)
    t_gpu = time.perf_counter() - t
    t = time.perf_counter()
    c = kneighbors(X, L, backend="numba")
    t_cpu = time.perf_counter() - t
    rows_differ = int((g.indices != c.indices).any(axis=1).sum())
    rel = np.abs(g.distances - c.distances) / np.maximum(c.distances, 1e-300)
    est_g = LocalTwoNN(L).fit(X, neighbors=g).dimension_pw_
    est_c = LocalTwoNN(L).fit(X, neighbors=c).dimension_pw_
    return {
        "n": int(X.shape[0]), "d": int(X.shape[1]), "seconds_torch": t_gpu, "seconds_cpu": t_cpu,
        "rows_with_different_lists": rows_differ, "max_rel_distance_diff": float(rel.max()),
        "n_searched_again_torch": g.n_searched_again, "n_searched_again_cpu": c.n_searched_again,
        "mean_torch": float(np.nanmean(est_g)), "mean_cpu": float(np.nanmean(est_c)),
        "max_abs_estimate_diff": float(np.nanmax(np.abs(est_g - est_c))),
        "estimates_bit_identical": bool(np.array_equal(est_g, est_c, equal_nan=True)),
        "_lists": c.indices,
    }


def part_exact(log: Log, device: str, n: int) -> None:
    X = clustered_far(n)
    row = compare_lists(X, device)
    exact = row.pop("_lists")
    log.write({"part": "exact", "cloud": "200 clusters 1,000 from the origin", **row})
    for mode in ("cdist", "gemm"):
        lists, seconds, peak = peer_lists(X, L, device, mode, rows=2048)
        r, same = recall(lists, exact)
        log.write({"part": "exact_peer", "peer": mode, "n": n, "recall_at_L": r, "rows_exact": same,
                   "seconds": seconds})


def part_speed(log: Log, device: str, sizes: list[int], rate: float | None) -> None:
    for n in sizes:
        X = manifold(n, device)
        floor = 2 * n * n * D / rate if rate else None
        reset_peak(device)
        sync(device)
        t = time.perf_counter()
        r = local_dimensions(X, n_neighbors=L, backend="torch", device=device)
        sync(device)
        total = time.perf_counter() - t
        log.write({"part": "speed", "method": "lidscope", "n": n, "d": D, "seconds_end_to_end": total,
                   "seconds_search": r.timings.get("neighbors"), "timings": r.timings,
                   "n_searched_again": r.n_searched_again, "mean": r.mean, "peak_gpu_gb": peak_gb(device),
                   "floor_seconds": floor, "search_over_floor": (r.timings.get("neighbors") / floor) if floor else None})
        for mode in ("gemm", "cdist"):
            _, seconds, peak = peer_lists(X, L, device, mode, rows=2048)
            log.write({"part": "speed", "method": f"torch-{mode}+topk", "n": n, "d": D, "seconds_search": seconds,
                       "peak_gpu_gb": peak, "floor_seconds": floor,
                       "search_over_floor": seconds / floor if floor else None})
        del X


def part_measure(log: Log, device: str, gguf: Path, texts_file: Path) -> None:
    import torch

    from lidscope.extract.models import load_model
    from lidscope.measure import measure
    from lidscope.settings import MeasureSettings

    texts = [json.loads(line)["text"] for line in texts_file.read_text().splitlines() if line.strip()]
    t = time.perf_counter()
    lm = load_model(str(gguf))
    t_load = time.perf_counter() - t
    lm.model.to(device)
    paper = MeasureSettings.paper()
    for layers in ((-1,), (-4,)):
        reset_peak(device)
        t = time.perf_counter()
        res = measure(lm, texts, n_sequences=None, layers=layers, n_points=paper.n_points,
                      backend="torch", use_cache=False, figures=False, keep_neighbors=0)
        total = time.perf_counter() - t
        label = res.first.layer
        cloud = res.layers[label].cloud.vectors
        log.write({"part": "measure", "model": "SmolLM2-135M-Instruct Q4_1", "layer": label,
                   "n_sequences": len(texts), "n_points": int(cloud.shape[0]), "mean": res.mean,
                   "seconds_end_to_end": total, "seconds_model_load": t_load, "timings": res.summary.get("timings_s"),
                   "peak_gpu_gb": peak_gb(device),
                   "max_row_norm": float(np.linalg.norm(cloud, axis=1).max()),
                   "median_row_norm": float(np.median(np.linalg.norm(cloud, axis=1)))})
        row = compare_lists(np.asarray(cloud, dtype=np.float64), device)
        row.pop("_lists")
        log.write({"part": "measure_exact", "layer": label, **row})
    del lm
    torch.cuda.empty_cache() if device.startswith("cuda") else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--parts", default="env,exact,speed,measure")
    ap.add_argument("--sizes", default="100000,300000,1000000")
    ap.add_argument("--exact-n", type=int, default=100_000)
    ap.add_argument("--smollm2", type=Path, default=None, help="SmolLM2 .gguf file (part 'measure')")
    ap.add_argument("--texts", type=Path, default=None, help="JSON lines with a 'text' field (part 'measure')")
    a = ap.parse_args()
    import torch

    import lidscope

    parts = a.parts.split(",")
    meta = {"command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "lidscope": lidscope.__version__, "torch": torch.__version__, "cuda": torch.version.cuda,
            "numpy": np.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
            "device": torch.cuda.get_device_name() if a.device.startswith("cuda") else platform.processor()}
    try:
        meta["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        meta["nvidia_smi"] = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                                             "--format=csv,noheader"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    log = Log(a.out, meta)
    # compile the numba kernels and warm the GPU before anything is timed
    local_dimensions(manifold(3000, a.device), n_neighbors=L, backend="torch", device=a.device)
    kneighbors(clustered_far(600), 20, backend="numba")
    rate = None
    if "env" in parts:
        rate = fp32_rate(a.device, n=8192 if a.device.startswith("cuda") else 1024, reps=10 if a.device.startswith("cuda") else 2)
        log.write({"part": "env", "fp32_gemm_flops": rate})
    steps = [("exact", lambda: part_exact(log, a.device, a.exact_n)),
             ("speed", lambda: part_speed(log, a.device, [int(s) for s in a.sizes.split(",")], rate)),
             ("measure", lambda: part_measure(log, a.device, a.smollm2, a.texts))]
    for name, step in steps:
        if name not in parts:
            continue
        if name == "measure" and not (a.smollm2 and a.smollm2.exists() and a.texts and a.texts.exists()):
            log.write({"part": "measure", "skipped": "no --smollm2 file or --texts file"})
            continue
        t = time.perf_counter()
        try:
            step()
        except Exception as exc:  # keep the other parts' results; say what failed
            log.write({"part": name, "error": f"{type(exc).__name__}: {exc}"})
            import traceback

            traceback.print_exc()
        log.write({"part": name, "done_seconds": time.perf_counter() - t})


if __name__ == "__main__":
    main()
