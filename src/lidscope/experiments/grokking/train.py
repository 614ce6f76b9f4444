"""Train the grokking transformer and track accuracy and LID of its last block's hidden states.

One run writes to its output directory:

- ``metrics.parquet``: one row per evaluation step (losses, accuracies, LID summaries, timings),
- ``config.json``: the run's configuration,
- ``grokking.png``: accuracy and mean LID against step (log-scaled),
- ``analysis.json``: the lead-time analysis (see ``analysis.py``) of the validation LID,
- ``checkpoint/``: ``state.safetensors`` (model and AdamW tensors) + ``state.json`` (step, scalars,
  history); no pickle. A run started again on the same directory resumes from it.

Determinism: the batch indices and dropout masks of step ``s`` come from a generator seeded with
``(seed, s)``, so an interrupted and resumed run repeats the uninterrupted one exactly (same thread count).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from .data import POSITION_SETS, ModularData, check_operation, check_train_fraction, make_data
from .analysis import LeadTime, lead_time
from .data import distinct_prefixes, vocab_size
from .model import GrokTransformer, ModelConfig
from ...descriptors import geometry
from ...errors import LIDInputError
from ...extract.models import embedding_matrix
from ...outputs import write_json, write_table
from ...settings import parse_measure_metrics
from ...settings import DISCARD_FRACTION, GROKKING_N_NEIGHBORS, GROKKING_N_POINTS, PH_N_POINTS

CHECKPOINT_DIR = "checkpoint"
METRICS_FILE = "metrics.parquet"
CONFIG_FILE = "config.json"
FIGURE_FILE = "grokking.png"
ANALYSIS_FILE = "analysis.json"
SPLITS = ("train", "val")
#: Config fields that may differ between a checkpoint and the run resuming it.
RESUMABLE_CHANGES = frozenset({"steps"})
#: Settings added after runs were saved, with the value those runs had.
ADDED_DEFAULTS: dict[str, Any] = {"metrics": [], "ph_points": PH_N_POINTS, "overlap_previous": False}


@dataclass(frozen=True)
class GrokConfig:
    """Everything that defines a grokking run; defaults follow the paper (method.md, Grokking)."""

    prime: int = 97
    op: str = "+"
    train_fraction: float = 0.3
    data_seed: int = 0
    seed: int = 0
    steps: int = 5_000
    batch_size: int = 512
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = 1.0
    warmup_steps: int = 10
    eval_every: int = 500
    lid: bool = True
    lid_points: int = GROKKING_N_POINTS
    lid_neighbors: int = GROKKING_N_NEIGHBORS
    lid_positions: str = "all"
    #: geometry descriptors at each evaluation (`lidscope.geometry`, docs/geometry.md): of both splits'
    #: hidden-state clouds and of the token embedding matrix (Tang et al.); () = LID only
    metrics: tuple[str, ...] = ()
    #: subsample size of the persistent homology of each cloud (with ``persistence`` in ``metrics``)
    ph_points: int = PH_N_POINTS
    #: also the neighbourhood overlap of each split's cloud with the same points at the previous evaluation
    #: (``geo_{split}_overlap_previous_mean``; none at step 0)
    overlap_previous: bool = False
    n_layers: int = 2
    d_model: int = 128
    n_heads: int = 4
    d_ff: int = 512
    dropout: float = 0.1

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "metrics", parse_measure_metrics(self.metrics))
        except LIDInputError as exc:
            raise ValueError(str(exc)) from None

    def validate(self) -> None:
        """Raise ``ValueError`` naming the fix for any unusable setting (data-independent checks)."""
        check_operation(self.op, self.prime)
        check_train_fraction(self.train_fraction)
        positive = ("steps", "batch_size", "eval_every", "lid_points", "lid_neighbors", "d_model", "ph_points")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.lr <= 0:
            raise ValueError("warmup_steps and weight_decay must be >= 0 and lr > 0")
        if self.lid_positions not in POSITION_SETS:
            raise ValueError(
                f"unknown lid_positions {self.lid_positions!r}: use one of {', '.join(POSITION_SETS)}"
            )
        if self.lid and self.lid_points <= self.lid_neighbors:
            raise ValueError(
                f"lid_points N={self.lid_points} must exceed lid_neighbors L={self.lid_neighbors} "
                "(each point needs L neighbours): raise N or lower L"
            )

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        d["metrics"] = list(self.metrics)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> GrokConfig:
        d = dict(d)
        d["betas"] = tuple(d["betas"])
        d["metrics"] = tuple(d.get("metrics", ()))
        return cls(**d)


def quick_config(**overrides: Any) -> GrokConfig:
    """A seconds-long configuration for tests: mechanics, not science."""
    base = dict(
        prime=23, train_fraction=0.5, steps=30, batch_size=64, eval_every=10, warmup_steps=5,
        lid_points=120, lid_neighbors=16, n_layers=1, d_model=32, n_heads=2, d_ff=64,
    )
    base.update(overrides)
    return GrokConfig(**base)


@dataclass
class LIDSample:
    """Fixed (example, position) pairs measured at every evaluation of one split."""

    examples: torch.Tensor  # (n,) int64 row into the split's tokens
    positions: torch.Tensor  # (n,) int64


def select_lid_points(tokens: torch.Tensor, positions: tuple[int, ...], n_points: int, seed: int,
                      split: str) -> LIDSample:
    """Seeded shuffle of all (example, position) pairs, dedup by causal prefix, keep the first N.

    In eval mode the hidden state at position k is a function of the prefix ``tokens[:k+1]``, so pairs
    with the same prefix give the same vector; dropping them here is the paper's exact-duplicate
    removal done without float comparisons. The same pairs are used at every step, so LID is tracked
    on one fixed point set. Raises ``ValueError`` when the split has fewer than N distinct prefixes.
    """
    available = distinct_prefixes(tokens, positions)
    if available < n_points:
        raise ValueError(
            f"the {split} split has only {available} distinct (input, position) points for "
            f"positions {positions}, fewer than lid_points N={n_points}: lower --lid-points, use a larger "
            f"--prime, or move --train-fraction so the {split} split is bigger"
        )
    n, t = tokens.shape
    pairs_ex = torch.arange(n).repeat_interleave(len(positions))
    pairs_pos = torch.tensor(positions).repeat(n)
    gen = torch.Generator().manual_seed(_mix(seed, SPLITS.index(split), 7919))
    order = torch.randperm(len(pairs_ex), generator=gen)
    pairs_ex, pairs_pos = pairs_ex[order], pairs_pos[order]
    # prefix key: tokens up to the position, -1 beyond it
    keys = tokens[pairs_ex].clone()
    keys[torch.arange(t).unsqueeze(0) > pairs_pos.unsqueeze(1)] = -1
    _, inverse = torch.unique(keys, dim=0, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), len(inverse), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(len(inverse)), reduce="amin")
    keep = torch.sort(first).values[:n_points]
    return LIDSample(examples=pairs_ex[keep], positions=pairs_pos[keep])


def _mix(*ints: int) -> int:
    """A deterministic 63-bit seed from integers."""
    h = 1469598103934665603
    for x in ints:
        h = ((h ^ (x & 0xFFFFFFFFFFFFFFFF)) * 1099511628211) % (1 << 63)
    return h


@dataclass
class RunState:
    """What a run carries between steps (and what a checkpoint restores)."""

    step: int
    history: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0
    train_cpu_seconds: float = 0.0


def build(config: GrokConfig) -> tuple[ModularData, GrokTransformer, torch.optim.AdamW]:
    """Data, model (seeded init; this sets torch's global seed) and optimizer for ``config``."""
    data = make_data(config.prime, config.op, config.train_fraction, config.data_seed)
    torch.manual_seed(_mix(config.seed, 1))
    model = GrokTransformer(
        ModelConfig(
            vocab_size=vocab_size(config.prime), n_classes=config.prime, n_layers=config.n_layers,
            d_model=config.d_model, n_heads=config.n_heads, d_ff=config.d_ff, dropout=config.dropout,
        )
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
    )
    return data, model, optimizer


def lr_at(config: GrokConfig, step: int) -> float:
    """Linear warm-up over ``warmup_steps``, then constant (``step`` counts from 0)."""
    if config.warmup_steps == 0:
        return config.lr
    return config.lr * min(1.0, (step + 1) / config.warmup_steps)


def train_step(config: GrokConfig, data: ModularData, model: GrokTransformer,
               optimizer: torch.optim.AdamW, step: int) -> float:
    """One AdamW step on a batch drawn without replacement; RNG seeded by ``(seed, step)``."""
    model.train()
    torch.manual_seed(_mix(config.seed, 2, step))
    batch = torch.randperm(data.n_train)[: config.batch_size]
    for group in optimizer.param_groups:
        group["lr"] = lr_at(config, step)
    logits, _ = model(data.train_tokens[batch], last_only=True)
    loss = F.cross_entropy(logits, data.train_labels[batch])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


EVAL_CHUNK = 16_384


def _forward_chunked(model: GrokTransformer, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval forward in chunks of ``EVAL_CHUNK`` inputs (one chunk for every split of p <= 127)."""
    if len(tokens) <= EVAL_CHUNK:
        return model(tokens)
    parts = [model(tokens[i : i + EVAL_CHUNK]) for i in range(0, len(tokens), EVAL_CHUNK)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def geometry_columns(prefix: str, cloud: np.ndarray, config: GrokConfig) -> dict[str, Any]:
    """History columns ``<prefix>_<descriptor>_<value>`` of `lidscope.geometry` on ``cloud``: every number,
    every entry of a per-scale list named by its scale (``_L64``, ``_n2=8``), and for a descriptor that
    cannot be computed ``<prefix>_<descriptor>_unavailable`` with the reason (never a silent NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        g = geometry(cloud, config.metrics, random_state=config.seed, ph_n_points=config.ph_points)
    scale_keys = {"scale_profile": ("n_neighbors", "L"), "gride": ("n2", "n2=")}
    out: dict[str, Any] = {}
    for name, vals in g.values.items():
        scale, tag = scale_keys.get(name, (None, ""))
        for key, v in vals.items():
            if isinstance(v, list):
                if scale and key not in ("n1", "n2", "n_neighbors"):
                    out.update({f"{prefix}_{name}_{key}_{tag}{s}": float(x) for s, x in zip(vals[scale], v)})
            else:
                out[f"{prefix}_{name}_{key}"] = v
    for name, reason in g.unavailable.items():
        out[f"{prefix}_{name}_unavailable"] = reason
    return out


def _split(data: ModularData, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    return (data.train_tokens, data.train_labels) if split == "train" else (data.val_tokens, data.val_labels)


def _cloud(hidden: torch.Tensor, sample: LIDSample) -> np.ndarray:
    return hidden[sample.examples, sample.positions].numpy().astype(np.float64)


@torch.no_grad()
def lid_clouds(model: GrokTransformer, data: ModularData, samples: dict[str, LIDSample]) -> dict[str, np.ndarray]:
    """Each split's LID cloud as `evaluate` computes it (same forward pass, bit for bit)."""
    model.eval()
    return {split: _cloud(_forward_chunked(model, _split(data, split)[0])[1], samples[split]) for split in SPLITS}


def overlap_columns(split: str, previous: np.ndarray, cloud: np.ndarray) -> dict[str, Any]:
    """``geo_<split>_overlap_previous_mean``: mean shared fraction of the k nearest neighbours (settings
    ``OVERLAP_NEIGHBORS``) of the same points at the previous evaluation and now; or ``..._unavailable``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        g = geometry(cloud, ["overlap"], other=previous)
    if "overlap" in g.values:
        return {f"geo_{split}_overlap_previous_mean": float(g.values["overlap"]["mean"])}
    return {f"geo_{split}_overlap_previous_unavailable": g.unavailable["overlap"]}


@torch.no_grad()
def evaluate(config: GrokConfig, data: ModularData, model: GrokTransformer,
             samples: dict[str, LIDSample] | None, step: int,
             previous: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Loss and accuracy on both splits, and mean/median/std LID of the last block's hidden states.

    With ``config.overlap_previous``, ``previous`` holds the clouds of the last evaluation (empty at the
    first): their overlap with this evaluation's is added, and ``previous`` is updated to this evaluation's.
    """
    import lidscope

    model.eval()
    row: dict[str, Any] = {"step": step}
    lid_seconds = lid_cpu = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    for split in SPLITS:
        tokens, labels = _split(data, split)
        logits, hidden = _forward_chunked(model, tokens)
        row[f"{split}_loss"] = float(F.cross_entropy(logits, labels))
        row[f"{split}_acc"] = float((logits.argmax(-1) == labels).float().mean())
        if samples is not None:
            t1, c1 = time.perf_counter(), time.process_time()
            cloud = _cloud(hidden, samples[split])
            threads = torch.get_num_threads()
            res = lidscope.local_dimensions(
                cloud, n_neighbors=config.lid_neighbors, estimator="twonn", discard_fraction=DISCARD_FRACTION,
                dedup=True, random_state=config.seed,
            )
            # numba's OpenMP layer can share torch's libgomp and reset its thread count: restore it
            torch.set_num_threads(threads)
            row[f"lid_{split}_mean"] = float(res.mean)
            row[f"lid_{split}_median"] = float(res.median)
            row[f"lid_{split}_std"] = float(res.std)
            row[f"lid_{split}_n"] = int(res.n_points)
            if config.metrics:
                row.update(geometry_columns(f"geo_{split}", cloud, config))
            if config.overlap_previous and previous is not None:
                if split in previous:
                    row.update(overlap_columns(split, previous[split], cloud))
                previous[split] = cloud
            lid_seconds += time.perf_counter() - t1
            lid_cpu += time.process_time() - c1
    if config.metrics:
        t1, c1 = time.perf_counter(), time.process_time()
        row.update(geometry_columns("geo_embedding", embedding_matrix(model), config))
        lid_seconds += time.perf_counter() - t1
        lid_cpu += time.process_time() - c1
    row["eval_seconds"] = time.perf_counter() - t0 - lid_seconds
    row["eval_cpu_seconds"] = time.process_time() - c0 - lid_cpu
    row["lid_seconds"] = lid_seconds
    row["lid_cpu_seconds"] = lid_cpu
    return row


def save_checkpoint(out: Path, config: GrokConfig, model: GrokTransformer,
                    optimizer: torch.optim.AdamW, state: RunState) -> None:
    """Write model + AdamW state (safetensors) and step/history (JSON); replaces the previous one."""
    tensors: dict[str, torch.Tensor] = {
        f"model.{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items()
    }
    opt = optimizer.state_dict()
    for idx, st in opt["state"].items():
        for key, value in st.items():
            tensors[f"optim.{idx}.{key}"] = torch.as_tensor(value).detach().clone().contiguous()
    meta = {
        "format": "lidscope-grokking-checkpoint/1",
        "config": config.to_json(),
        "step": state.step,
        "train_seconds": state.train_seconds,
        "train_cpu_seconds": state.train_cpu_seconds,
        "history": state.history,
        "param_groups": opt["param_groups"],
    }
    tmp = out / (CHECKPOINT_DIR + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(tensors, str(tmp / "state.safetensors"))
    write_json(tmp / "state.json", meta, indent=1)
    final = out / CHECKPOINT_DIR
    old = out / (CHECKPOINT_DIR + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(out: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]] | None:
    """The checkpoint's JSON metadata and tensors, or ``None`` if ``out`` holds none."""
    for name in (CHECKPOINT_DIR, CHECKPOINT_DIR + ".old"):
        d = out / name
        if (d / "state.json").exists() and (d / "state.safetensors").exists():
            try:
                meta = json.loads((d / "state.json").read_text())
                return meta, load_file(str(d / "state.safetensors"))
            except Exception as exc:  # noqa: BLE001 -- any damage: name the folder and the fix
                raise ValueError(f"the checkpoint in {d} cannot be read ({type(exc).__name__}: {exc}); "
                                 "pass --fresh to start over, or choose another --out") from None
    return None


def check_out_dir(out: Path) -> None:
    """Raise ``ValueError`` naming the fix if ``out`` cannot hold a run (a file, not writable)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder: choose a folder path")
    parent = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
    if not parent.is_dir():
        raise ValueError(f"--out {out}: {parent} is a file, so the folder cannot be created")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: no permission to write in {parent}: choose a writable folder")


def restore(meta: dict[str, Any], tensors: dict[str, torch.Tensor], model: GrokTransformer,
            optimizer: torch.optim.AdamW) -> RunState:
    """Load checkpoint tensors into ``model`` and ``optimizer``; return the saved run state."""
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, idx, key = k.split(".", 2)
            state.setdefault(int(idx), {})[key] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return RunState(step=int(meta["step"]), history=list(meta["history"]),
                    train_seconds=float(meta["train_seconds"]),
                    train_cpu_seconds=float(meta["train_cpu_seconds"]))


def _check_resumable(saved: dict[str, Any], config: GrokConfig, out: Path) -> None:
    current = config.to_json()
    saved = {**ADDED_DEFAULTS, **saved}  # runs saved before a setting existed had its default
    diff = sorted(k for k in set(saved) | set(current)
                  if saved.get(k) != current.get(k) and k not in RESUMABLE_CHANGES)
    if diff:
        detail = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in diff)
        raise ValueError(
            f"{out} holds a checkpoint of a different run ({detail}): pass the same settings to resume, "
            "choose another --out, or pass --fresh to start over"
        )


def write_outputs(out: Path, config: GrokConfig, history: list[dict[str, Any]], figure: bool = True) -> None:
    """Parquet metrics, config JSON and (optionally) the figure, each written atomically."""
    import pyarrow as pa

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / CONFIG_FILE, config.to_json(), indent=1)
    if history:
        write_table(out / METRICS_FILE, pa.Table.from_pylist(history))
        if figure:
            from .plots import plot_run

            marks: dict[str, float | None] = {}
            summary = analyse(history)
            if summary is not None:
                write_json(out / ANALYSIS_FILE, summary.as_dict(), indent=1)
                marks = {"LID fall onset": summary.fall_onset, "val acc 0.5": summary.val_acc_050,
                         "val acc 0.9": summary.val_acc_090}
            plot_run(history, out / FIGURE_FILE, title=run_title(config), marks=marks)


def analyse(history: list[dict[str, Any]]) -> LeadTime | None:
    """Lead-time analysis of the validation LID, or ``None`` when the run has too few LID evaluations."""
    if not any("lid_val_mean" in r for r in history):
        return None
    try:
        return lead_time(history, "lid_val_mean")
    except ValueError:
        return None


def run_title(config: GrokConfig) -> str:
    return (f"a {config.op} b mod {config.prime}, train fraction {config.train_fraction:g}, "
            f"wd {config.weight_decay:g}, seed {config.seed}")


def eval_steps(config: GrokConfig) -> list[int]:
    """Steps at which a run evaluates: 0, every ``eval_every`` and the last step."""
    steps = list(range(0, config.steps + 1, config.eval_every))
    if steps[-1] != config.steps:
        steps.append(config.steps)
    return steps


def run(
    config: GrokConfig,
    out: str | Path,
    *,
    fresh: bool = False,
    figure: bool = True,
    on_step: Callable[[int, float], None] | None = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train ``config`` with outputs in ``out``; resume from ``out``'s checkpoint unless ``fresh``.

    ``on_step(step, loss)`` is called after every optimizer step, ``on_eval(row)`` after every
    evaluation. Returns the metrics history (one dict per evaluation step).
    """
    config.validate()
    with torch.random.fork_rng():  # the per-step seeding must not leak into the caller's RNG
        return _run(config, Path(out), fresh=fresh, figure=figure, on_step=on_step, on_eval=on_eval)


def _run(config: GrokConfig, out: Path, *, fresh: bool, figure: bool,
         on_step: Callable[[int, float], None] | None,
         on_eval: Callable[[dict[str, Any]], None] | None) -> list[dict[str, Any]]:
    check_out_dir(out)
    data, model, optimizer = build(config)
    samples: dict[str, LIDSample] | None = None
    if config.lid:
        positions = POSITION_SETS[config.lid_positions]
        samples = {
            split: select_lid_points(
                data.train_tokens if split == "train" else data.val_tokens,
                positions, config.lid_points, config.seed, split,
            )
            for split in SPLITS
        }
    if fresh:
        for name in (CHECKPOINT_DIR, CHECKPOINT_DIR + ".old", METRICS_FILE, FIGURE_FILE, ANALYSIS_FILE):
            p = out / name
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    loaded = None if fresh else load_checkpoint(out)
    if loaded is not None:
        meta, tensors = loaded
        _check_resumable(meta["config"], config, out)
        state = restore(meta, tensors, model, optimizer)
        state.history = [r for r in state.history if r["step"] <= config.steps]
    else:
        state = RunState(step=0)
    schedule = [s for s in eval_steps(config) if s >= state.step]
    previous: dict[str, np.ndarray] | None = None
    if config.overlap_previous and samples is not None:
        # resumed: the checkpoint holds the model of the last evaluation, so its clouds are those clouds
        previous = lid_clouds(model, data, samples) if state.history else {}
    if state.step == 0 and not state.history:
        row = evaluate(config, data, model, samples, 0, previous)
        row["train_seconds"] = row["train_cpu_seconds"] = 0.0
        state.history.append(row)
        if on_eval:
            on_eval(row)
        save_checkpoint(out, config, model, optimizer, state)
        write_outputs(out, config, state.history, figure=False)
    for target in schedule:
        if target <= state.step:
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        while state.step < target:
            loss = train_step(config, data, model, optimizer, state.step)
            state.step += 1
            if on_step:
                on_step(state.step, loss)
        state.train_seconds += time.perf_counter() - t0
        state.train_cpu_seconds += time.process_time() - c0
        row = evaluate(config, data, model, samples, state.step, previous)
        row["train_seconds"] = state.train_seconds
        row["train_cpu_seconds"] = state.train_cpu_seconds
        state.history.append(row)
        if on_eval:
            on_eval(row)
        save_checkpoint(out, config, model, optimizer, state)
        write_outputs(out, config, state.history, figure=False)
    write_outputs(out, config, state.history, figure=figure)
    return state.history


def read_metrics(out: str | Path) -> list[dict[str, Any]]:
    """The metrics rows of a finished or running run directory."""
    import pyarrow.parquet as pq

    path = Path(out) / METRICS_FILE
    if not path.exists():
        raise FileNotFoundError(f"no {METRICS_FILE} in {out}: run `lidscope grokking --out {out}` first")
    return pq.read_table(path).to_pylist()


def lid_cost(history: list[dict[str, Any]]) -> dict[str, float]:
    """LID, evaluation and training time (wall and process CPU seconds), LID as % of training.

    CPU seconds are the CPU time of the whole process over each stretch (``time.process_time``: every
    thread, numba's and torch's workers included): on a shared machine they measure the work, while
    wall seconds also count waiting for a core. ``*_percent_of_training`` uses each clock separately.
    """
    out: dict[str, float] = {}
    for suffix in ("seconds", "cpu_seconds"):
        lid = sum(r.get(f"lid_{suffix}", 0.0) for r in history)
        ev = sum(r.get(f"eval_{suffix}", 0.0) for r in history)
        tr = history[-1].get(f"train_{suffix}", 0.0) if history else 0.0
        clock = "" if suffix == "seconds" else "_cpu"
        out[f"lid_{suffix}"] = lid
        out[f"eval_{suffix}"] = ev
        out[f"train_{suffix}"] = tr
        out[f"lid{clock}_percent_of_training"] = 100.0 * lid / tr if tr > 0 else math.nan
    return out
