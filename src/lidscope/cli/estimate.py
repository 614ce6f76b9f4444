"""``lidscope estimate``: local dimensions of a point cloud stored in a file."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from typing_extensions import Annotated

from ..settings import BACKEND, DISCARD_FRACTION, N_NEIGHBORS, SEED, TWONN_FRACTION, check_backend
from ..threads import THREADS_HELP, limit_threads
from ._console import json_option, print_json
from ._progress import console, stage_progress


class Estimator(str, Enum):
    twonn = "twonn"
    twonn_mle = "twonn_mle"
    mle = "mle"
    lpca = "lpca"


def estimate(
    points: Annotated[Optional[Path], typer.Argument(
        help="Point cloud file: .npy, .npz, .safetensors, or Parquet (a list/array column, or numeric "
             "columns). Omit it to run on a generated 10-dimensional curved manifold in 768-D.")] = None,
    key: Annotated[Optional[str], typer.Option(help="Array name in .npz/.safetensors, or column in Parquet.")] = None,
    neighbors: Annotated[int, typer.Option("--neighbors", "-L", help="Neighbourhood size L (the point itself excluded).")] = N_NEIGHBORS,
    estimator: Annotated[Estimator, typer.Option(help="twonn (linear fit, as the paper), twonn_mle, mle (Levina-Bickel) or lpca.")] = Estimator.twonn,
    discard_fraction: Annotated[float, typer.Option(help="Share of the largest TwoNN ratios dropped in each fit.")] = DISCARD_FRACTION,
    twonn_fraction: Annotated[str, typer.Option(help="TwoNN fit as scikit-dimension skdim-0.5 (F = i/N) or skdim-0.3.4 (F = (i-1)/N, the paper's locked release).")] = TWONN_FRACTION,
    n_points: Annotated[Optional[int], typer.Option(help="Shuffle (with --seed), drop duplicates, keep the first N points. Default: all.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the shuffle used with --n-points.")] = SEED,
    dedup: Annotated[bool, typer.Option(help="Remove exact duplicate rows (counted). With --no-dedup, duplicates are an error.")] = True,
    backend: Annotated[str, typer.Option(help="auto (CUDA via torch if present, else faiss + numba), numba, or torch.")] = BACKEND,
    device: Annotated[Optional[str], typer.Option(help="Device for --backend torch, e.g. cuda:0.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for summary.json, estimates.parquet and histogram.png.")] = Path("lidscope-out/estimate"),
    figure: Annotated[bool, typer.Option(help="Draw histogram.png.")] = True,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, help=THREADS_HELP)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and check the points, print the plan and an "
                                                            "estimated time, and stop.")] = False,
    json_out: Annotated[bool, json_option(annotated=True)] = False,
) -> None:
    """Local intrinsic dimension of every point in POINTS; prints a summary and writes results to --out."""
    import numpy as np

    from .. import LIDInputError, local_dimensions
    from ..pointsio import load_points
    from ..provenance import array_sha256, environment, fingerprint_path
    from ..outputs import check_output, write_json, write_parquet

    try:
        check_backend(backend, device)
        check_output(out)
        limit_threads(threads)
        if points is None:
            from ..synthetic import curved_manifold

            X = curved_manifold(10_000, 10, 768, seed=0)
            source = {"generated": "curved_manifold(n=10000, intrinsic_dim=10, ambient_dim=768, seed=0)"}
            console.print("No POINTS given: using a generated 10-dimensional curved manifold in 768-D (10,000 points).")
        else:
            read_notes: list[str] = []
            X = load_points(points, key, notes=read_notes)
            source = {**fingerprint_path(points), "key": key, **({"notes": read_notes} if read_notes else {})}
            for note in read_notes:
                console.print(f"[yellow]note:[/] {escape(note)}")
        if dry_run:
            from ..validation import as_cloud, check_enough_points, check_neighbors_param
            from ._dryrun import plan_estimate

            X = as_cloud(X)
            check_neighbors_param(neighbors)
            check_enough_points(min(len(X), n_points or len(X)), neighbors)
            plan_estimate(console, X, neighbors, estimator.value, n_points, out)
            raise typer.Exit(0)
        with stage_progress(progress) as update:
            r = local_dimensions(
                X, n_neighbors=neighbors, estimator=estimator.value, discard_fraction=discard_fraction,
                empirical_fraction=twonn_fraction,
                n_points=n_points, random_state=seed, dedup=dedup, backend=backend, device=device, progress=update,
            )
    except LIDInputError as exc:
        message = str(exc).replace(
            "use dedup=True (the default) to drop them", "run without --no-dedup to drop them (the default)")  # the option, not the argument
        console.print(f"[bold red]error:[/] {escape(message)}")
        raise typer.Exit(2) from None

    summary = {**r.summary(), "input": {**source, "shape": list(np.shape(X)), "sha256_array": array_sha256(np.asarray(X))},
               "environment": environment()}
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "summary.json", summary)
        write_parquet(out / "estimates.parquet", {
            "row": np.arange(r.n_input), "estimate": r.estimates, "kept": np.isin(np.arange(r.n_input), r.kept_index),
            "duplicate_of": r.duplicate_of,
        }, metadata={"params": r.params})
        if figure:
            from ..plots import plot_distribution

            plot_distribution(r.values, out / "histogram.png",
                              title=f"{r.params['estimator']}, L = {neighbors}, N = {r.n_points:,}")
    except OSError as exc:  # --out is a file, not writable, disk full
        console.print(f"[bold red]error:[/] cannot write the results to --out {escape(str(out))}: {escape(str(exc))}")
        raise typer.Exit(2) from None
    _print_summary(r, out)  # on stderr
    if json_out:
        print_json(summary)


def _print_summary(r, out: Path) -> None:
    from rich.table import Table

    t = Table(title="Local intrinsic dimension", show_header=False, title_justify="left")
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold")  # long paths wrap, never end in an ellipsis
    q = r.quantiles
    for name, value in [
        ("mean", f"{r.mean:.4f}"), ("median", f"{r.median:.4f}"), ("std (ddof=1)", f"{r.std:.4f}"),
        ("quartiles", f"{q[0.25]:.4f} / {q[0.5]:.4f} / {q[0.75]:.4f}"), ("global TwoNN", f"{r.global_estimate:.4f}"),
        ("points", f"{r.n_points:,} (of {r.n_input:,} rows; {r.n_duplicates_removed:,} duplicates removed)"),
        ("undefined estimates", str(r.n_undefined)),
        ("time", ", ".join(f"{k} {v:.2f} s" for k, v in r.timings.items())),
        ("written to", str(out)),
    ]:
        t.add_row(name, value)
    console.print(t)


def register(app: typer.Typer) -> None:
    app.command("estimate")(estimate)
