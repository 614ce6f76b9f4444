"""``lidscope geometry``: the descriptors beyond one LID of a point cloud stored in a file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from typing_extensions import Annotated

from ..settings import (BACKEND, GEOMETRY_METRICS, GRIDE_MAX_RANK, OVERLAP_NEIGHBORS, PH_N_POINTS,
                        SCALE_PROFILE_NEIGHBORS, SEED, check_backend)
from ..threads import THREADS_HELP, limit_threads
from ._progress import console

_SIZES = ",".join(map(str, SCALE_PROFILE_NEIGHBORS))


def geometry(
    points: Annotated[Path, typer.Argument(help="Point cloud file: .npy, .npz, .safetensors or Parquet (as for estimate).")],
    key: Annotated[Optional[str], typer.Option(help="Array name in .npz/.safetensors, or column in Parquet.")] = None,
    metrics: Annotated[str, typer.Option(help=f"Descriptors, comma-separated: {', '.join(GEOMETRY_METRICS)}, or all "
                                              "(all includes overlap only with --other).")] = "all",
    other: Annotated[Optional[Path], typer.Option(help="Second file with the same points (same rows, another layer or "
                                                       "checkpoint) for the neighbourhood overlap.")] = None,
    other_key: Annotated[Optional[str], typer.Option(help="Array name or column in --other.")] = None,
    scale_neighbors: Annotated[str, typer.Option(help="Neighbourhood sizes L of the TwoNN scale profile.")] = _SIZES,
    gride_max_rank: Annotated[int, typer.Option(help="Largest neighbour rank n2 of GRIDE's doubling scales.")] = GRIDE_MAX_RANK,
    ph_points: Annotated[int, typer.Option(help="Points of the random subsample for persistent homology.")] = PH_N_POINTS,
    overlap_neighbors: Annotated[int, typer.Option(help="k of the neighbourhood overlap.")] = OVERLAP_NEIGHBORS,
    seed: Annotated[int, typer.Option(help="Seed of the persistent-homology subsample.")] = SEED,
    backend: Annotated[str, typer.Option(help="auto (CUDA via torch if present, else numba), numba, or torch.")] = BACKEND,
    device: Annotated[Optional[str], typer.Option(help="Device for --backend torch, e.g. cuda:0.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for summary.json (every descriptor, parameters, timings, "
                                           "the persistence diagrams).")] = Path("lidscope-out/geometry"),
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout instead of a table.")] = False,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, help=THREADS_HELP)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and check the points, print the plan and an "
                                                            "estimated time, and stop.")] = False,
) -> None:
    """Descriptors of the cloud in POINTS beyond one LID (scale profile, GRIDE, persistent homology, anisotropy,
    rank, overlap); prints a summary and writes summary.json to --out. A descriptor that cannot be computed
    on these points is listed with the reason."""
    import warnings

    import numpy as np

    from .. import LIDInputError
    from ..descriptors import geometry as compute
    from ..descriptors.api import parse_metrics
    from ..jsonio import dumps
    from ..outputs import write_json
    from ..pointsio import load_points
    from ..provenance import array_sha256, environment, fingerprint_path

    try:
        check_backend(backend, device)
        limit_threads(threads)
        names = parse_metrics(metrics)
        if metrics.strip() == "all" and other is None:
            names = tuple(m for m in names if m != "overlap")
        if "overlap" in names and other is None:
            raise LIDInputError("--metrics overlap needs --other: a second file with the same points.")
        try:
            sizes = [int(s) for s in scale_neighbors.split(",") if s.strip()]
        except ValueError:
            raise LIDInputError(f"--scale-neighbors takes integers separated by commas, got {scale_neighbors!r}.") from None
        X = load_points(points, key)
        Y = load_points(other, other_key) if other is not None else None
        if dry_run:
            from ..validation import as_cloud
            from ._dryrun import plan_geometry

            X = as_cloud(X)
            plan_geometry(console, X, names, sizes, gride_max_rank, ph_points, out)
            raise typer.Exit(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # unavailable descriptors are shown below
            r = compute(X, names, other=Y, scale_neighbors=sizes, gride_max_rank=gride_max_rank, ph_n_points=ph_points,
                        overlap_neighbors=overlap_neighbors, random_state=seed, backend=backend, device=device)
    except LIDInputError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None

    summary = {**r.summary(), "input": {**fingerprint_path(points), "key": key, "shape": list(np.shape(X)),
                                        "sha256_array": array_sha256(np.asarray(X))},
               "environment": environment()}
    if other is not None:
        summary["other"] = {**fingerprint_path(other), "key": other_key, "shape": list(np.shape(Y))}
    if r.diagrams is not None:
        summary["persistence_diagrams"] = {"h0": r.diagrams[0].tolist(), "h1": r.diagrams[1].tolist()}
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "summary.json", summary)
    except OSError as exc:
        console.print(f"[bold red]error:[/] cannot write the results to --out {escape(str(out))}: {escape(str(exc))}")
        raise typer.Exit(2) from None
    if json_out:
        slim = {k: v for k, v in summary.items() if k not in ("persistence_diagrams", "environment")}
        typer.echo(dumps(slim, indent=None))  # strict JSON: null for NaN, inf
        return
    _print_summary(r, out)


def _print_summary(r, out: Path) -> None:
    from rich.table import Table

    t = Table(title="Geometry", show_header=False, title_justify="left")
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold")
    v = r.values
    if "scale_profile" in v:
        s = v["scale_profile"]
        t.add_row("TwoNN scale profile", "mean " + ", ".join(f"L={L}: {m:.3f}" for L, m in zip(s["n_neighbors"], s["mean"])))
    if "gride" in v:
        g = v["gride"]
        t.add_row("GRIDE", ", ".join(f"{a}/{b}: {d:.3f} ± {e:.3f}" for a, b, d, e in
                                     zip(g["n1"], g["n2"], g["dimension"], g["dimension_err"])))
    if "persistence" in v:
        p = v["persistence"]
        t.add_row("persistent homology", f"H0 total {p['h0_total_persistence']:.4g}, max {p['h0_max_persistence']:.4g}; "
                  f"H1 total {p['h1_total_persistence']:.4g}, max {p['h1_max_persistence']:.4g}, "
                  f"{p['n_h1_features']} features, {p['n_long_lived_h1']} long-lived "
                  f"({r.params['persistence']['n_points_used']:,} points)")
    if "anisotropy" in v:
        t.add_row("anisotropy (mean cosine)", f"{v['anisotropy']['mean_cosine']:.4f}")
    if "spectrum" in v:
        s = v["spectrum"]
        t.add_row("rank and isotropy", f"effective rank {s['effective_rank']:.2f}, RankMe {s['rankme']:.2f}, "
                  f"participation ratio {s['participation_ratio']:.2f}, IsoScore {s['isoscore']:.4f}")
    if "overlap" in v:
        t.add_row("neighbourhood overlap", f"{v['overlap']['mean']:.4f} (k = {v['overlap']['n_neighbors']})")
    for name, reason in r.unavailable.items():
        t.add_row(f"[yellow]{name}: not computed[/]", escape(reason))
    p = r.params
    t.add_row("points", f"{p['n_points']:,} (of {p['n_input']:,} rows; {p['n_duplicates_removed']:,} duplicates removed)")
    t.add_row("time", ", ".join(f"{k} {s:.2f} s" for k, s in r.timings.items()))
    t.add_row("written to", str(out / "summary.json"))
    console.print(t)


def register(app: typer.Typer) -> None:
    app.command("geometry")(geometry)
