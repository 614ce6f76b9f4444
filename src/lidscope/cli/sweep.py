"""`lidscope sweep` (LID of every saved checkpoint) and `lidscope plot` (LID and metrics vs step)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from lidscope.cli.measure import DRY_RUN_HELP, LAYERS, METRICS_HELP, TWONN_FRACTION_HELP, parse_layer_option
from lidscope.extract.models import quiet_transformers
from lidscope.settings import PAPER, SWEEP
from lidscope.threads import THREADS_HELP, limit_threads


def _signals_table(console: Any, store: Any, layer: Optional[str]) -> None:
    from rich.table import Table

    from lidscope.training.signals import drop, plateau

    df = store.read()
    if df.empty:
        return
    layer = layer if layer is not None else df["layer"].iloc[0]
    t = Table(title=f"Mean LID by step (layer {layer}) and signals")
    for col in ("data", "run", "steps", "mean LID first -> last", "change first -> last (95 % interval)",
                "drops (step: from -> to)", "plateau from step"):
        t.add_column(col)
    for (data, run), g in df[df["layer"] == layer].groupby(["data", "run"], sort=False):
        g = g.sort_values("step")
        x, y = g["step"].tolist(), g["mean"].tolist()
        drops = ", ".join(f"{e.step}: {e.from_value:.2f} -> {e.to_value:.2f}" for e in drop(y, x)) or "-"
        p = plateau(y, x) if len(y) >= 3 else None
        t.add_row(str(g["data_name"].iloc[0]), str(run), str(len(x)),
                  f"{_mean_text(g.iloc[0])} -> {_mean_text(g.iloc[-1])}", _change_text(store, data, run, layer, g),
                  drops, str(p.start_step) if p else "-")
    console.print(t)


def _profiles(console: Any, store: Any, out: Path, plot: bool) -> None:
    """--layer all: per run and dataset, the profile of every checkpoint side by side (a column per
    step) and STORE/layers-<run>-<data>.png with one line per checkpoint."""
    from lidscope.outputs import slug
    from lidscope.profile import store_profiles

    from ._profile import peak_text, side_by_side_table

    for (run, data_name), by_step in store_profiles(store.read()).items():
        profiles = {f"step {k}": p for k, p in by_step.items()}
        console.print(side_by_side_table(profiles, f"Layer profile per checkpoint: {run} on {data_name} "
                                                   "(mean LID [95 % interval]; * = interior peak)"))
        for name, p in profiles.items():
            console.print(f"{name}: {escape(peak_text(p.peak))}")
        if plot:
            from lidscope.plots import plot_layer_profile

            path = plot_layer_profile(profiles, Path(out) / f"layers-{slug(run)}-{slug(data_name)}.png",
                                      f"Mean LID by layer per checkpoint: {run} on {data_name}")
            console.print(f"figure: {escape(str(path))}")


def _mean_text(row: Any) -> str:
    """``8.412 [8.30, 8.52]`` with a replicate interval, else the mean alone."""
    lo, hi = row.get("mean_low"), row.get("mean_high")
    if lo is not None and hi is not None and lo == lo and hi == hi:
        return f"{row['mean']:.3f} [{lo:.2f}, {hi:.2f}]"
    return f"{row['mean']:.3f}"


def _change_text(store: Any, data: str, run: str, layer: str, g: Any) -> str:
    """The last step against the first (`lidscope.training.uncertainty.step_changes`): relative change,
    its paired 95 % interval and verdict; with one replicate the change and why there is no interval."""
    from lidscope.training.uncertainty import step_changes

    if len(g) < 2:
        return "-"
    ch = step_changes(store, data=data, run=run, layer=layer).iloc[-1]
    if ch["relative_change_low"] != ch["relative_change_low"]:
        return f"{100 * ch['relative_change']:+.1f} % (no interval: one replicate; --replicates 3 gives one)"
    return (f"{100 * ch['relative_change']:+.1f} % [{100 * ch['relative_change_low']:+.1f}, "
            f"{100 * ch['relative_change_high']:+.1f}] %: {ch['verdict']}")


def register(app: typer.Typer) -> None:
    """Add the ``sweep`` and ``plot`` commands."""

    @app.command("sweep")
    def sweep_cmd(
        checkpoints: list[str] = typer.Argument(..., help="Training output folders (with checkpoint-<step> "
                                                          "sub-folders), checkpoint-<step> folders, or MODEL_DIR@STEP."),
        data: list[str] = typer.Option(["chitchat:validation"], "--data", "-d",
                                       help="Data spec; repeat for several (chitchat:validation, wikipedia:validation, "
                                            "bbc:test, a .txt/.jsonl/.csv/.parquet file, PATH:SPLIT)."),
        out: Path = typer.Option(Path("lidscope-out/sweep"), "--out", "-o",
                                 help="Results store folder (Parquet rows, per-token files, metrics). Re-running "
                                      "with the same --out resumes: finished measurements are never recomputed."),
        layer: str = typer.Option(LAYERS, "--layer", "-l", help="Hidden-state indices, comma separated (-1 = last); "
                                                              "'all': every layer, a layer profile per checkpoint."),
        n_sequences: int = typer.Option(SWEEP.n_sequences, "--n-sequences", "-M",
                                        help="M: sequences sampled per data spec, the same for every checkpoint "
                                             f"(paper {PAPER.n_sequences:,}). 0 = all."),
        n_points: int = typer.Option(SWEEP.n_points, "--n-points", "-N",
                                     help=f"N: points measured (paper {PAPER.n_points:,})."),
        neighbors: int = typer.Option(SWEEP.n_neighbors, "--neighbors", "-L", help="L: neighbours per point."),
        sample_size: int = typer.Option(SWEEP.sample_size, "--sample-size", help="Token vectors sampled before dedup."),
        max_length: int = typer.Option(SWEEP.max_length, "--max-length", help="Truncate sequences at this many tokens."),
        seed: int = typer.Option(SWEEP.seed, "--seed", help="Seed of the token sample."),
        replicates: int = typer.Option(SWEEP.n_replicates, "--replicates", "-R", min=1,
                                       help="R: replicates per checkpoint (own sequence and token sample each, the "
                                            "same for every checkpoint, so step changes are paired): the table and "
                                            "plot then show 95 % intervals and each run's last-vs-first verdict. "
                                            "1: means without interval (docs/statistics.md)."),
        data_seed: int = typer.Option(SWEEP.data_seed, "--data-seed", help="Seed of the sequence sample."),
        estimator: str = typer.Option(SWEEP.estimator, "--estimator", help="twonn (paper), twonn_mle, mle, lpca."),
        discard_fraction: float = typer.Option(SWEEP.discard_fraction, "--discard-fraction",
                                               help="Share of the largest TwoNN ratios discarded in each fit."),
        twonn_fraction: str = typer.Option(SWEEP.twonn_fraction, "--twonn-fraction", help=TWONN_FRACTION_HELP),
        text_column: Optional[str] = typer.Option(None, "--text-column", help="Text column of tabular data."),
        metrics: str = typer.Option("lid", "--metrics", help=METRICS_HELP + " Stored per checkpoint and layer "
                                                                        "(the store's geometry column)."),
        tokenizer: Optional[Path] = typer.Option(None, "--tokenizer",
                                                 help="Tokenizer folder for every checkpoint (for checkpoints "
                                                      "saved without one)."),
        base_model: Optional[Path] = typer.Option(None, "--base-model",
                                                  help="Base model folder for LoRA adapter checkpoints."),
        executor: str = typer.Option("local", "--executor", help="Executor running the jobs: local (in this "
                                                                 "process) or ray (needs lidscope[ray])."),
        address: Optional[str] = typer.Option(None, "--address", help="With --executor ray: auto (the cluster this "
                                                                      "machine belongs to), ray://HEAD:10001 or "
                                                                      "HEAD:6379; default: a private local Ray."),
        plot: bool = typer.Option(True, "--plot/--no-plot", help="Draw STORE/training.png/.svg at the end."),
        threads: Optional[int] = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
        dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
    ) -> None:
        """Measure LID of every checkpoint of a training run on every dataset/split (resumable)."""
        from ._console import make_console

        from lidscope.executors import ExecutorError, get_executor
        from lidscope.extract.errors import ExtractError
        from lidscope.settings import MeasureSettings
        from lidscope.training.sweep import SweepError, plan_sweep, run_sweep

        console = make_console()
        limit_threads(threads)
        quiet_transformers()
        try:
            from lidscope.outputs import check_output

            check_output(out)
            settings = MeasureSettings(n_sequences=n_sequences or None, n_points=n_points, n_neighbors=neighbors,
                                       layers=parse_layer_option(layer), sample_size=sample_size, seed=seed, data_seed=data_seed,
                                       max_length=max_length, estimator=estimator, discard_fraction=discard_fraction,
                                       text_column=text_column, n_replicates=replicates,
                                       twonn_fraction=twonn_fraction, metrics=metrics)
            if address is not None and executor != "ray":
                raise ValueError("--address applies to --executor ray only.")
            ex = get_executor(executor, **({"address": address} if address is not None else {}))
            plan = plan_sweep(checkpoints, data, out, settings, tokenizer=tokenizer, base_model=base_model,
                              write=not dry_run)
            if dry_run:
                from ._dryrun import plan_sweep_run

                plan_sweep_run(console, plan, settings)
                raise typer.Exit(0)
        except (SweepError, ExtractError, ValueError, ExecutorError, OSError) as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
        for s in plan.skipped:
            console.print(f"[yellow]skipped[/] {escape(str(s['checkpoint']))}: {escape(str(s['reason']))}")
        for note in plan.notes:
            console.print(f"[yellow]note:[/] {escape(str(note))}")
        console.print(f"{len(plan.checkpoints)} checkpoints x {len(data)} data specs: {plan.already_done} already "
                      f"in {out}, {plan.n_units} to measure in {len(plan.jobs)} jobs.")

        def event(kind: str, info: dict[str, Any]) -> None:
            if kind == "done":
                console.print(f"[green]done[/] step {info['step']}  {info['checkpoint']}  ({info['seconds']:.1f} s)")
            else:
                console.print(f"[red]failed[/] step {info['step']}  {escape(str(info['checkpoint']))}: {escape(str(info['error']))} "
                              "(recorded in the store; skipped, retried on the next run)")

        try:
            report = run_sweep(plan, ex, on_event=event)
        except (ExecutorError, OSError) as exc:  # cluster unreachable, paths not shared, store not writable
            console.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
        for note in report.notes:
            console.print(f"[yellow]note:[/] {escape(str(note))}")
        _signals_table(console, report.store, None)
        if settings.layers == "all":
            _profiles(console, report.store, out, plot)
        if plot and not report.store.read().empty:
            from lidscope.training.plots import plot_training

            paths = plot_training(report.store)
            console.print(f"figure: {', '.join(map(str, paths))}")
            from lidscope.report import write_report

            console.print(f"report: {write_report([out], Path(out) / 'report.html')}")
        console.print(f"results store: {out} ({len(report.finished)} new, {report.already_done} reused, "
                      f"{len(report.failed)} failed, {len(report.skipped)} skipped)")
        if report.failed:
            raise typer.Exit(1)

    @app.command("plot")
    def plot_cmd(
        results: Path = typer.Argument(..., help="Results store folder (from `lidscope sweep --out` or LIDCallback(store=))."),
        metric: Optional[list[str]] = typer.Option(None, "--metric", "-m",
                                                   help="Metric for the second axis; repeat for several (default: "
                                                        "eval_* metrics, else the training loss). 'none' for none."),
        layer: Optional[str] = typer.Option(None, "--layer", "-l", help="Layer label (default: the first measured)."),
        data: Optional[list[str]] = typer.Option(None, "--data", "-d", help="Only these data specs/names."),
        stat: str = typer.Option("mean", "--stat", help="Statistic: mean, median, global_estimate."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output path stem (default RESULTS/training); "
                                                                     ".png and .svg are written."),
    ) -> None:
        """Draw mean LID (with a band) against step per dataset/split, task metrics on a second axis."""
        from ._console import make_console

        from lidscope.training.plots import plot_training
        from lidscope.training.store import ResultsStore, StoreError

        console = make_console()
        metrics = None if not metric else ([] if metric == ["none"] else list(metric))
        try:
            paths = plot_training(ResultsStore(results), out, metrics=metrics, layer=layer, data=data, stat=stat)
        except StoreError as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
        _signals_table(console, ResultsStore(results), layer)
        console.print(f"figure: {', '.join(map(str, paths))}")
