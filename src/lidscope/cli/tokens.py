"""`lidscope tokens RUN`: which tokens have high or low local dimension, and what moved."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer
from rich.markup import escape

from lidscope.drilldown import MIN_COUNT

TABLES = ("class", "position", "frequency", "type", "pos")


def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        return "" if v != v else f"{v:.2f}"
    return str(v)


def _print(console: Any, title: str, df: Any, top: int | None = None) -> None:
    from rich.table import Table

    if top is not None and len(df) > 2 * top:
        import pandas as pd

        gap = pd.DataFrame([{c: "…" for c in df.columns}])
        df = pd.concat([df.head(top), gap, df.tail(top)])
    t = Table(title=title, title_justify="left")
    for c in df.columns:
        t.add_column(str(c), justify="left" if df[c].dtype == object else "right")
    for row in df.itertuples(index=False):
        t.add_row(*[_fmt(v) for v in row])
    console.print(t)


def tokens_command(
    run: Path = typer.Argument(..., help="A result folder of `lidscope measure` (summary.json + tokens.parquet)."),
    by: str = typer.Option("class,position,frequency,type", "--by",
                           help=f"Tables to show, comma-separated: {', '.join(TABLES)} (pos needs spaCy)."),
    layer: Optional[str] = typer.Option(None, "--layer", "-l", help="Layer label (default: the run's first)."),
    min_count: int = typer.Option(MIN_COUNT, "--min-count", help="Least points for a token type to be ranked."),
    top: int = typer.Option(15, "--top", help="Rows shown at each end of the token-type ranking."),
    point: Optional[int] = typer.Option(None, "--point", help="Show this point's token in context and its "
                                        "nearest neighbours' tokens in theirs."),
    compare: Optional[Path] = typer.Option(None, "--compare", help="A second run measured on the same positions "
                                           "(e.g. a later checkpoint): token types ranked by their change (B - A)."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Also write each table as CSV into this folder."),
) -> None:
    """LID by token class, position, frequency band and token type, with 95 % intervals over sequences."""
    from ._console import make_console

    from lidscope.drilldown import Drilldown, compare_runs
    from lidscope.errors import LIDInputError
    from lidscope.runs import load_run

    console = make_console()
    try:
        r = load_run(run)
        if compare is not None:
            mv = compare_runs(r, load_run(compare), layer, layer, by=by.split(",")[0] if by in TABLES else "type",
                              min_count=min_count)
            o = mv.overall
            console.print(f"[bold]{r.name}[/] -> [bold]{compare}[/]: mean LID of these points {o['diff']:+.3f} "
                          f"[{o['lo']:+.3f}, {o['hi']:+.3f}] ({o['rel']:+.1%}), "
                          f"{'paired by position' if mv.paired else 'unpaired (different positions)'}, "
                          f"{mv.n_matched:,} matched points; interval over sequences, clouds held fixed: it ranks "
                          "token types, it is not the change between the runs")
            from lidscope.report.build import run_change

            c = run_change(r, load_run(compare), layer)
            console.print("change between the runs: " + (
                f"{c.sentence()} ({c.method}, {c.difference.n} replicates)" if c is not None and c.difference.known
                else "no interval (one replicate; --replicates 3 gives one, docs/statistics.md)"))
            cols = ["group", "count", "mean_a", "mean_b", "diff", "lo", "hi", "rel"]
            _print(console, "largest changes (lo, hi: 95 % over sequences, clouds held fixed)", mv.largest(top)[cols])
            _print(console, "smallest changes", mv.smallest(top)[cols])
            console.print(f"token types: {mv.note}")
            if csv:
                csv.mkdir(parents=True, exist_ok=True)
                mv.table.to_csv(csv / "movers.csv", index=False)
            return
        d = Drilldown(r, layer)
        console.print(f"[bold]{r.name}[/], layer {d.layer}: {len(d.points):,} points, "
                      f"token convention {d.convention}; 95 % intervals over sequences")
        if point is not None:
            _show_context(console, d.context(point))
            return
        for name in [b.strip() for b in by.split(",") if b.strip()]:
            if name not in TABLES:
                raise LIDInputError(f"--by takes {', '.join(TABLES)}; got {name!r}.")
            df = getattr(d, f"by_{name}")(min_count) if name == "type" else getattr(d, f"by_{name}")()
            _print(console, f"LID by {name}" + (f" (at least {min_count} points, highest first)"
                                                 if name == "type" else ""), df, top if name == "type" else None)
            if csv:
                csv.mkdir(parents=True, exist_ok=True)
                df.to_csv(csv / f"by_{name}.csv", index=False)
    except LIDInputError as e:
        console.print(f"[bold red]error:[/] {escape(str(e))}")
        raise typer.Exit(2) from None


def _show_context(console: Any, ctx: dict[str, Any]) -> None:
    from rich.text import Text

    def line(c: dict[str, Any]) -> Text:
        t = Text(f"#{c['point']:<6} LID {c['lid']:6.2f}  ")
        t.append(c["before"].replace("\n", " "))
        t.append(c["token_text"], style="bold reverse")
        t.append(c["after"].replace("\n", " "))
        if "distance" in c:
            t.append(f"  (d = {c['distance']:.3g})", style="dim")
        return t

    console.print(line(ctx))
    nbs = ctx.get("neighbors")
    if nbs is None:
        console.print("[dim]no neighbour lists in this run folder (older lidscope)[/]")
        return
    console.print(f"[bold]nearest {len(nbs)} neighbours[/]")
    for c in nbs:
        console.print(line(c))


def register(app: typer.Typer) -> None:
    app.command("tokens")(tokens_command)
