"""Signal study 2 (issue 21): the grokking runs of docs/signals-preregistration-2.md, resumable, blind-guarded.

    export OMP_NUM_THREADS=1
    nice -n 19 python benchmarks/study_signals.py run --part grokking-tune     # resumes; skips finished runs
    python benchmarks/study_signals.py status                                  # finished / partial / to do
    python benchmarks/study_signals.py score                                   # tuning half; writes rules.json
    nice -n 19 python benchmarks/study_signals.py run --part grokking-blind
    python benchmarks/study_signals.py score --blind                           # once every run is finished

Each finished run's series go to ``benchmarks/data/signals2/<run>.jsonl`` (``rawdata.write_rows``: a meta
line with the config, CPU and wall seconds and load averages, then one row per series: ``{"series":
name, "values": [one per evaluation]}``), written only when the run is finished. Checkpoints live in
``lidscope-out/signals2/<run>`` (not in git): an interrupted run resumes from its last evaluation.

Blind: the runner prints nothing but the step count of a blind run, and `read_run` refuses a blind run
unless `score --blind` has checked that every run is finished and that the rules chosen on the tuning
half (``rules.json``) were chosen on the tuning files as they are now.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import itertools
import json
import math
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from rawdata import DATA_DIR, path_of, read_rows, run_meta, write_rows  # noqa: E402

STUDY = "signals2"
OPS = {"+": "add", "-": "sub", "*": "mul", "/": "div"}
PRIMES = (59, 97, 113)
FRACTIONS = (0.2, 0.25, 0.3, 0.35)
#: controls: (kind, prime, fraction, weight decay, seed)
CONTROLS = (("control-wd0", 97, 0.3, 0.0, 4), ("control-wd0", 113, 0.3, 0.0, 4),
            ("control-fraction", 97, 0.1, 1.0, 5), ("control-fraction", 113, 0.08, 1.0, 5))
PARTS = ("grokking-tune", "grokking-blind")


@dataclass(frozen=True)
class Budget:
    """Steps, cadence and measurement of every run (docs/signals-preregistration-2.md)."""

    steps: int = 8_000
    chunk: int = 500
    eval_every: int = 100
    stop_after_c90: int = 1_000
    lid_points: int = 1_200
    lid_neighbors: int = 64
    ph_points: int = 500
    model: tuple = ()                    # GrokConfig overrides of the model (quick: a tiny one)


STUDY_BUDGET = Budget()
#: the seconds-long version for tests (mechanics only): p = 23, one small block
QUICK_BUDGET = Budget(steps=40, chunk=20, eval_every=10, stop_after_c90=10, lid_points=100, lid_neighbors=16,
                      ph_points=40, model=(("n_layers", 1), ("d_model", 32), ("n_heads", 2), ("d_ff", 64),
                                           ("batch_size", 64), ("warmup_steps", 5)))


@dataclass(frozen=True)
class Run:
    name: str
    op: str
    prime: int
    fraction: float
    weight_decay: float
    seed: int
    kind: str          # main | control-wd0 | control-fraction
    half: str          # tune | blind

    @property
    def control(self) -> bool:
        return self.kind != "main"


def run_name(op: str, prime: int, fraction: float, wd: float, seed: int) -> str:
    return f"{OPS[op]}-p{prime}-f{fraction:g}-wd{wd:g}-s{seed}"


def _hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _split(groups: list[list[tuple]]) -> list[Run]:
    """Within each group the half with the smallest sha256(name) is tune; run order: tune, then blind,
    each by hash."""
    runs = []
    for grp in groups:
        named = sorted(((run_name(*g[:5]), g) for g in grp), key=lambda x: _hash(x[0]))
        for k, (name, g) in enumerate(named):
            runs.append(Run(name, *g[:5], g[5], "tune" if k < len(named) // 2 else "blind"))
    return sorted(runs, key=lambda r: (r.half != "tune", _hash(r.name)))


def plan(quick: bool = False) -> list[Run]:
    """The 64 runs of the pre-registration (quick: 4 runs at p = 23 for tests)."""
    if quick:
        return _split([[(op, 23, 0.5, 1.0, s, "main") for s, op in enumerate(OPS)]])
    groups = [[(op, p, FRACTIONS[(s + i + j) % 4], 1.0, s, "main") for s in range(4)]
              for i, p in enumerate(PRIMES) for j, op in enumerate(OPS)]
    groups += [[(op, p, f, wd, s, kind) for op in OPS] for kind, p, f, wd, s in CONTROLS]
    return _split(groups)


def part_runs(part: str, quick: bool = False) -> list[Run]:
    if part not in PARTS:
        raise SystemExit(f"error: unknown part {part!r}: use one of {', '.join(PARTS)}")
    half = part.split("-", 1)[1]
    return [r for r in plan(quick) if r.half == half]


def grok_config(run: Run, budget: Budget, steps: int):
    from lidscope.experiments.grokking.train import GrokConfig

    return GrokConfig(prime=run.prime, op=run.op, train_fraction=run.fraction, weight_decay=run.weight_decay,
                      seed=run.seed, data_seed=run.seed, steps=steps, eval_every=budget.eval_every,
                      lid_points=budget.lid_points, lid_neighbors=budget.lid_neighbors, metrics=("all",),
                      ph_points=budget.ph_points, overlap_previous=True, **dict(budget.model))


# ---------------------------------------------------------------------------- the thin series

def _sig(prefix: str) -> list[str]:
    return [f"{prefix}_persistence_{h}_{k}_persistence" for h in ("h0", "h1") for k in ("total", "max")] + [
        f"{prefix}_anisotropy_mean_cosine", f"{prefix}_spectrum_effective_rank"]


#: the 30 label-free signals the pre-registration scores
SIGNALS: tuple[str, ...] = tuple(
    ["lid_train_mean", "lid_val_mean"]
    + [f"geo_{s}_scale_profile_mean_L{L}" for s in ("train", "val") for L in (16, 512)]
    + [f"geo_{s}_gride_dimension_n2={n}" for s in ("train", "val") for n in (2, 64)]
    + _sig("geo_train") + _sig("geo_val") + _sig("geo_embedding")
    + [f"geo_{s}_overlap_previous_mean" for s in ("train", "val")])
REFERENCES = ("val_loss", "train_loss")
#: kept beside them (outcomes, other scales, costs)
EXTRA = tuple(["val_acc", "train_acc"]
              + [f"geo_{s}_scale_profile_mean_L{L}" for s in ("train", "val") for L in (64,)]
              + [f"geo_{s}_gride_dimension_n2={n}" for s in ("train", "val") for n in (8, 512)]
              + ["train_cpu_seconds", "eval_cpu_seconds", "lid_cpu_seconds", "train_seconds", "eval_seconds",
                 "lid_seconds"])
COLUMNS = ("step",) + SIGNALS + REFERENCES + EXTRA


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return float(f"{v:.6g}") if math.isfinite(v) else None
    return v


def thin(history: Sequence[dict], loads: dict[int, float]) -> tuple[list[dict], dict[str, str]]:
    """One row per series (``COLUMNS`` and the load at each evaluation); the first reason of every
    unavailable descriptor column."""
    rows = [{"series": c, "values": [_round(r.get(c)) for r in history]} for c in COLUMNS]
    rows.append({"series": "load1", "values": [loads.get(int(r["step"])) for r in history]})
    unavailable: dict[str, str] = {}
    for r in history:
        for k, v in r.items():
            if k.endswith("_unavailable") and k not in unavailable:
                unavailable[k] = str(v)
    return rows, unavailable


def series(rows: Sequence[dict]) -> dict[str, list]:
    """The series of a raw file's rows as {name: values}."""
    return {r["series"]: r["values"] for r in rows}


# ---------------------------------------------------------------------------- running

@dataclass
class Paths:
    data_dir: Path = DATA_DIR
    work_dir: Path = ROOT / "lidscope-out" / STUDY

    def raw(self, run: Run) -> Path:
        return path_of(f"{STUDY}/{run.name}.jsonl", self.data_dir)

    def work(self, run: Run) -> Path:
        return self.work_dir / run.name


def is_finished(run: Run, paths: Paths) -> bool:
    """A raw file exists and says the run finished (without reading its series)."""
    p = paths.raw(run)
    if not p.is_file():
        return False
    with p.open(encoding="utf-8") as fh:
        meta = json.loads(fh.readline()).get("meta", {})
    return bool(meta.get("finished"))


def first_crossing(steps: Sequence[int], values: Sequence[float], level: float) -> int | None:
    return next((s for s, v in zip(steps, values) if v is not None and v >= level), None)


def _stop(history: Sequence[dict], budget: Budget) -> str | None:
    last = int(history[-1]["step"])
    c90 = first_crossing([int(r["step"]) for r in history], [r["val_acc"] for r in history], 0.9)
    if c90 is not None and last >= c90 + budget.stop_after_c90:
        return "generalised"
    if last >= budget.steps:
        return "budget"
    return None


def _checkpoint_step(out: Path) -> int:
    meta_path = out / "checkpoint" / "state.json"
    if not meta_path.is_file():
        return 0
    return int(json.loads(meta_path.read_text())["step"])


def run_one(run: Run, budget: Budget, paths: Paths, command: str, say=print) -> dict:
    """Train ``run`` in chunks until it stops (pre-registered rule), then write its raw file."""
    from lidscope.experiments.grokking.train import run as train_run

    out = paths.work(run)
    out.mkdir(parents=True, exist_ok=True)
    load_file = out / "loads.json"
    loads = {int(k): v for k, v in json.loads(load_file.read_text()).items()} if load_file.is_file() else {}

    def on_eval(row: dict) -> None:
        loads[int(row["step"])] = round(os.getloadavg()[0], 2)
        load_file.write_text(json.dumps(loads))
        if run.half == "blind":
            say(f"  {run.name} (blind): step {row['step']}")
        else:
            say(f"  {run.name}: step {row['step']} val acc {row['val_acc']:.3f} lid val {row.get('lid_val_mean', 0):.2f}")

    c0, t0 = time.process_time(), time.perf_counter()
    resumed_from = _checkpoint_step(out)
    target = min(budget.steps, (resumed_from // budget.chunk + 1) * budget.chunk) if resumed_from else budget.chunk
    while True:
        history = train_run(grok_config(run, budget, target), out, figure=False, on_eval=on_eval)
        reason = _stop(history, budget)
        if reason:
            break
        target = min(budget.steps, target + budget.chunk)
    rows, unavailable = thin(history, loads)
    ld = [v for v in loads.values() if v is not None]
    meta = run_meta(command=command)
    meta.update({
        "finished": True, "run": dataclasses.asdict(run), "budget": dataclasses.asdict(budget),
        "config": grok_config(run, budget, int(history[-1]["step"])).to_json(),
        "stopped": reason, "steps_run": int(history[-1]["step"]), "n_evaluations": len(history),
        "resumed_from_step": resumed_from,
        # the run's own work (every process it ran in): training + evaluations + descriptors
        "cpu_seconds": history[-1]["train_cpu_seconds"] + sum(r["eval_cpu_seconds"] + r["lid_cpu_seconds"] for r in history),
        "wall_seconds": history[-1]["train_seconds"] + sum(r["eval_seconds"] + r["lid_seconds"] for r in history),
        "this_process_cpu_seconds": time.process_time() - c0, "this_process_wall_seconds": time.perf_counter() - t0,
        "load_min": min(ld) if ld else None, "load_max": max(ld) if ld else None,
        "load_median": sorted(ld)[len(ld) // 2] if ld else None, "threads": os.environ.get("OMP_NUM_THREADS"),
        "nice": os.nice(0), "unavailable": unavailable,
    })
    write_rows(paths.raw(run), rows, meta=meta)
    return meta


def run_part(part: str, budget: Budget, paths: Paths, *, quick: bool = False, max_runs: int | None = None,
             command: str | None = None, say=print) -> list[str]:
    """Run every unfinished run of ``part`` in order, one at a time; returns the names run now."""
    from lidscope.threads import limit_threads

    limit_threads(1)
    command = command or "python " + " ".join(shlex.quote(a) for a in sys.argv)
    done = []
    for run in part_runs(part, quick):
        if is_finished(run, paths):
            continue
        if max_runs is not None and len(done) >= max_runs:
            break
        say(f"run {run.name} ({run.half}, {run.kind}); load {os.getloadavg()[0]:.2f}")
        meta = run_one(run, budget, paths, command, say=say)
        say(f"finished {run.name}: {meta['steps_run']} steps, {meta['cpu_seconds']:.0f} CPU s, "
            f"{meta['wall_seconds']:.0f} wall s, load {meta['load_min']}-{meta['load_max']}")
        done.append(run.name)
    return done


# ---------------------------------------------------------------------------- the blind guard

class BlindGuardError(RuntimeError):
    """A blind run's data was asked for outside `score --blind`."""


_BLIND_OPEN = False


@contextlib.contextmanager
def _blind_open() -> Iterator[None]:
    global _BLIND_OPEN
    _BLIND_OPEN = True
    try:
        yield
    finally:
        _BLIND_OPEN = False


def read_run(run: Run, paths: Paths) -> tuple[dict, dict[str, list]]:
    """(meta, series) of a finished run; a blind run only inside `score --blind`."""
    if run.half == "blind" and not _BLIND_OPEN:
        raise BlindGuardError(f"{run.name} is a blind run: its data is read only by `score --blind`, once every "
                              "run is finished and the rules are chosen on the tuning half")
    meta, rows = read_rows(paths.raw(run))
    return meta, series(rows)


def tune_digest(runs: Sequence[Run], paths: Paths) -> str:
    h = hashlib.sha256()
    for r in sorted(runs, key=lambda r: r.name):
        h.update(r.name.encode())
        h.update(paths.raw(r).read_bytes())
    return h.hexdigest()


def status(paths: Paths, quick: bool = False) -> list[dict]:
    """Per run: half, kind, finished / partial (checkpoint step) / to do. No outcomes."""
    out = []
    for r in plan(quick):
        state = "finished" if is_finished(r, paths) else (
            f"partial (step {_checkpoint_step(paths.work(r))})" if _checkpoint_step(paths.work(r)) else "to do")
        out.append({"run": r.name, "half": r.half, "kind": r.kind, "state": state})
    return out


# ---------------------------------------------------------------------------- scoring

def _cmdline(argv: Sequence[str] | None) -> str:
    return "python benchmarks/study_signals.py " + " ".join(shlex.quote(a) for a in (argv or []))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR, help="raw-data root (benchmarks/data)")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "lidscope-out" / STUDY, help="checkpoints")
    ap.add_argument("--quick", action="store_true", help="the seconds-long test plan (mechanics only)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run", help="run the unfinished runs of a part, one at a time")
    p_run.add_argument("--part", required=True, choices=PARTS)
    p_run.add_argument("--max-runs", type=int, default=None)
    sub.add_parser("status", help="finished / partial / to do, per run (no outcomes)")
    p_score = sub.add_parser("score", help="choose the rules on the tuning half; --blind: score them on the blind half")
    p_score.add_argument("--blind", action="store_true")
    a = ap.parse_args(argv)
    paths = Paths(a.data_dir, a.work_dir)
    budget = QUICK_BUDGET if a.quick else STUDY_BUDGET
    if a.cmd == "run":
        run_part(a.part, budget, paths, quick=a.quick, max_runs=a.max_runs, command=_cmdline(argv))
    elif a.cmd == "status":
        for s in status(paths, a.quick):
            print(f"{s['run']:28s} {s['half']:6s} {s['kind']:17s} {s['state']}")
    elif a.cmd == "score":
        import study_signals_score as scoring

        try:
            text = scoring.score(paths, quick=a.quick, blind=a.blind)
        except (BlindGuardError, scoring.NotReady) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
