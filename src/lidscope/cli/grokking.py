"""`lidscope grokking` and `lidscope grokking-sweep`: train the modular-arithmetic transformer, track LID."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from lidscope.settings import GROKKING_N_NEIGHBORS, GROKKING_N_POINTS
from lidscope.threads import THREADS_HELP, limit_threads

from ._console import make_console

if TYPE_CHECKING:
    from rich.progress import Progress

    from lidscope.experiments.grokking.train import GrokConfig

OPS_HELP = "operation: + - * / (division needs a prime modulus)"


def _config(quick: bool, **given: Any) -> GrokConfig:
    """The paper's defaults (or the quick test configuration) with the options actually given."""
    from lidscope.experiments.grokking.train import GrokConfig, quick_config

    base = quick_config() if quick else GrokConfig()
    overrides = {k: v for k, v in given.items() if v is not None}
    return dataclasses.replace(base, **overrides)


def _default_out(out: Optional[Path], quick: bool, name: str) -> Path:
    """``--out`` if given, else ``lidscope-out/<name>`` (``<name>-quick`` for --quick, so runs never mix)."""
    return out if out is not None else Path("lidscope-out") / (f"{name}-quick" if quick else name)


def _fmt(row: dict[str, Any]) -> str:
    text = f"acc train {row['train_acc']:.2f} val {row['val_acc']:.2f}"
    if "lid_val_mean" in row:
        text += f" | LID train {row['lid_train_mean']:.1f} val {row['lid_val_mean']:.1f}"
    return text


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.progress import TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.fields[name]}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.description}"), TimeElapsedColumn(), TimeRemainingColumn(),
        refresh_per_second=2, console=make_console(),
    )


def _on_step(progress: Progress, task: Callable[[], Any]) -> Callable[[int, float], None]:
    """Advance the bar every 10 steps (updating on every step costs CPU for nothing)."""

    def update(step: int, loss: float) -> None:
        if step % 10 == 0:
            progress.update(task(), completed=step)

    return update


def _report(rows: list[dict[str, Any]], out: Path) -> None:
    from lidscope.experiments.grokking.train import analyse, lid_cost

    console = make_console()
    last = rows[-1]
    console.print(f"step {last['step']}: {_fmt(last)}")
    lt = analyse(rows)
    if lt is not None:
        console.print(lt.describe())
    cost = lid_cost(rows)
    if cost["train_seconds"] > 0:
        console.print(
            f"LID {cost['lid_seconds']:.1f} s = {cost['lid_percent_of_training']:.1f} % of training time "
            f"({cost['train_seconds']:.1f} s wall); in CPU time {cost['lid_cpu_seconds']:.1f} s = "
            f"{cost['lid_cpu_percent_of_training']:.1f} % of {cost['train_cpu_seconds']:.1f} s; "
            f"accuracy evaluation {cost['eval_seconds']:.1f} s wall"
        )
    console.print(f"results in {out}")


def _bad_input(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=2)


def register(app: typer.Typer) -> None:
    """Add the grokking commands to the lidscope app."""

    @app.command("grokking")
    def grokking(
        out: Optional[Path] = typer.Option(None, "--out", help="output directory (resumes if it holds a checkpoint) "
                                                               "[lidscope-out/grokking; quick: lidscope-out/grokking-quick]"),
        prime: Optional[int] = typer.Option(None, help="modulus p [97; quick: 23]"),
        op: Optional[str] = typer.Option(None, "--op", help=f"{OPS_HELP} [+]"),
        train_fraction: Optional[float] = typer.Option(None, help="fraction of all equations for training [0.3]"),
        steps: Optional[int] = typer.Option(None, help="optimizer steps [5000; quick: 30]"),
        weight_decay: Optional[float] = typer.Option(None, help="AdamW weight decay [1.0]"),
        warmup_steps: Optional[int] = typer.Option(None, help="linear learning-rate warm-up steps [10]"),
        batch_size: Optional[int] = typer.Option(None, help="batch size [512]"),
        eval_every: Optional[int] = typer.Option(None, help="evaluate accuracy and LID every K steps [500]"),
        lid_points: Optional[int] = typer.Option(None, help=f"N points per LID cloud [{GROKKING_N_POINTS}]"),
        lid_neighbors: Optional[int] = typer.Option(None, help=f"L neighbours per local estimate [{GROKKING_N_NEIGHBORS}]"),
        lid_positions: Optional[str] = typer.Option(None, help="'all' or 'operands' (positions of a and b) [all]"),
        lid: bool = typer.Option(True, "--lid/--no-lid", help="measure LID at each evaluation"),
        metrics: Optional[str] = typer.Option(None, "--metrics", help="geometry descriptors at each evaluation, of "
                                              "both splits' clouds and of the token embedding matrix: any of "
                                              "scale_profile, gride, persistence, anisotropy, spectrum, or all "
                                              "(docs/geometry.md) [none: LID only]"),
        seed: Optional[int] = typer.Option(None, help="seed of init, batches and dropout [0]"),
        data_seed: Optional[int] = typer.Option(None, help="seed of the train/validation split [0]"),
        threads: Optional[int] = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
        quick: bool = typer.Option(False, "--quick", help="tiny seconds-long configuration (tests)"),
        fresh: bool = typer.Option(False, "--fresh", help="discard a checkpoint in --out and start over"),
        dry_run: bool = typer.Option(False, "--dry-run", help="check the configuration, print the plan and an "
                                                              "estimated time (from a few timed steps), and stop"),
    ) -> None:
        """Train a small transformer on a op b = c mod p; track accuracy and LID of its last block."""
        from lidscope.experiments.grokking.train import run

        out = _default_out(out, quick, "grokking")
        try:
            config = _config(
                quick, prime=prime, op=op, train_fraction=train_fraction, steps=steps,
                weight_decay=weight_decay, warmup_steps=warmup_steps, batch_size=batch_size,
                eval_every=eval_every, lid_points=lid_points, lid_neighbors=lid_neighbors,
                lid_positions=lid_positions, lid=lid, seed=seed, data_seed=data_seed, metrics=metrics,
            )
            config.validate()
        except ValueError as exc:
            _bad_input(exc)
        limit_threads(threads)
        if dry_run:
            from ._dryrun import plan_grokking

            try:
                plan_grokking(make_console(), config, out)
            except ValueError as exc:
                _bad_input(exc)
            raise typer.Exit(0)
        with _progress() as progress:
            task = progress.add_task("starting", total=config.steps, name=f"frac {config.train_fraction:g}")
            try:
                rows = run(
                    config, out, fresh=fresh,
                    on_step=_on_step(progress, lambda: task),
                    on_eval=lambda r: progress.update(task, completed=r["step"], description=_fmt(r)),
                )
            except (ValueError, OSError) as exc:  # bad settings, --out problems, a damaged checkpoint
                progress.stop()
                _bad_input(exc)
        _report(rows, out)

    @app.command("grokking-sweep")
    def grokking_sweep(
        out: Optional[Path] = typer.Option(None, "--out", help="output directory; one sub-directory per fraction "
                                                               "[lidscope-out/grokking-sweep; quick: lidscope-out/grokking-sweep-quick]"),
        train_fractions: str = typer.Option(
            "0.2,0.3,0.5", help="comma-separated train fractions, e.g. 0.1,0.2,0.3"
        ),
        primes: Optional[str] = typer.Option(None, help="comma-separated moduli, e.g. 59,97 [97; quick: 23]"),
        ops: Optional[str] = typer.Option(None, "--ops", help="comma-separated operations from + - * / [+]"),
        weight_decays: Optional[str] = typer.Option(None, help="comma-separated AdamW weight decays [1.0]"),
        seeds: Optional[str] = typer.Option(None, help="comma-separated seeds of init, batches, dropout [0]"),
        plan: Optional[str] = typer.Option(
            None, help="a fixed plan instead of the product: 'study' (the 16 runs of docs/signals.md) or "
                       "'quick-study'; --steps may still lengthen it"),
        steps: Optional[int] = typer.Option(None, help="optimizer steps per run [5000; quick: 30]"),
        eval_every: Optional[int] = typer.Option(None, help="evaluate every K steps [500]"),
        lid_points: Optional[int] = typer.Option(None, help=f"N points per LID cloud [{GROKKING_N_POINTS}]"),
        lid_neighbors: Optional[int] = typer.Option(None, help=f"L neighbours [{GROKKING_N_NEIGHBORS}]"),
        lid_positions: Optional[str] = typer.Option(None, help="'all' or 'operands' [all]"),
        data_seed: Optional[int] = typer.Option(None, help="seed of the train/validation split [0]"),
        metrics: Optional[str] = typer.Option(None, "--metrics", help="geometry descriptors at each evaluation "
                                              "of every run (as grokking run --metrics) [none: LID only]"),
        threads: Optional[int] = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
        quick: bool = typer.Option(False, "--quick", help="tiny seconds-long configuration (tests)"),
        fresh: bool = typer.Option(False, "--fresh", help="start every run over"),
        dry_run: bool = typer.Option(False, "--dry-run", help="check every run's configuration, list what is "
                                                              "finished, resumed or new, estimate the time left "
                                                              "(from a few timed steps), and stop"),
    ) -> None:
        """Many runs (the product of the given lists, or a fixed --plan); one figure of all of them."""
        from lidscope.experiments.grokking.study import plan_configs, study_plan
        from lidscope.experiments.grokking.sweep import SWEEP_FIGURE, SWEEP_SUMMARY, run_sweep, sweep_configs

        def floats(text: Optional[str], what: str, cast: Callable[[str], Any] = float) -> Optional[list[Any]]:
            if text is None:
                return None
            try:
                return [cast(x) for x in text.split(",") if x.strip()]
            except ValueError:
                _bad_input(ValueError(f"--{what} must be comma-separated numbers, got {text!r}"))
                raise  # unreachable

        out = _default_out(out, quick, "grokking-sweep")
        try:
            if plan is not None:
                the_plan, base = study_plan(plan)
                base = dataclasses.replace(base, **{k: v for k, v in dict(
                    steps=steps, eval_every=eval_every, lid_points=lid_points, lid_neighbors=lid_neighbors,
                    lid_positions=lid_positions, data_seed=data_seed, metrics=metrics).items() if v is not None})
                configs = [c for _, c in plan_configs(the_plan, base)]
            else:
                base = _config(
                    quick, steps=steps, eval_every=eval_every, lid_points=lid_points,
                    lid_neighbors=lid_neighbors, lid_positions=lid_positions, data_seed=data_seed, metrics=metrics,
                )
                configs = sweep_configs(
                    base, floats(train_fractions, "train-fractions") or [],
                    primes=floats(primes, "primes", int),
                    ops=None if ops is None else [x.strip() for x in ops.split(",") if x.strip()],
                    weight_decays=floats(weight_decays, "weight-decays"), seeds=floats(seeds, "seeds", int),
                )
        except ValueError as exc:
            _bad_input(exc)
        limit_threads(threads)
        from lidscope.experiments.grokking.study import run_name

        if dry_run:
            from ._console import make_console
            from ._dryrun import plan_grokking_sweep

            try:
                plan_grokking_sweep(make_console(), configs, out, fresh)
            except (ValueError, OSError) as exc:
                _bad_input(exc)
            raise typer.Exit(0)
        with _progress() as progress:
            state: dict[str, Any] = {}

            def on_run(c: Any) -> None:
                state["task"] = progress.add_task("starting", total=c.steps, name=run_name(c))

            try:
                results = run_sweep(
                    configs, out, fresh=fresh, on_run=on_run,
                    on_step=_on_step(progress, lambda: state["task"]),
                    on_eval=lambda r: progress.update(state["task"], completed=r["step"], description=_fmt(r)),
                )
            except (ValueError, OSError) as exc:  # bad settings, --out problems, a damaged checkpoint
                progress.stop()
                _bad_input(exc)
        for name, rows in results.items():
            typer.echo(f"--- {name}")
            _report(rows, out / name)
        typer.echo(f"figure: {out / SWEEP_FIGURE}; summary with CPU seconds per run: {out / SWEEP_SUMMARY}")
