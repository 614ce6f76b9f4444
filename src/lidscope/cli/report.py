"""`lidscope report RUN [RUN...]`: one self-contained HTML page that works offline."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from lidscope.drilldown import MIN_COUNT


def report_command(
    runs: List[Path] = typer.Argument(..., help="Result folders: measurements (two or more of the same data are "
                                      "compared), a compare folder, a results store (sweep) or a grokking run."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="HTML file to write (default: RUN/report.html "
                                       "for one folder, else ./lidscope-report.html)."),
    title: Optional[str] = typer.Option(None, "--title", help="Page title."),
    min_count: int = typer.Option(MIN_COUNT, "--min-count", help="Least points for a token type in the tables."),
) -> None:
    """Write an interactive report: distribution, token tables, map, movers, sweep curves (no network needed)."""
    from ._console import make_console

    from lidscope.errors import LIDInputError
    from lidscope.report import write_report

    console = make_console()
    target = out or (runs[0] / "report.html" if len(runs) == 1 and runs[0].is_dir() else Path("lidscope-report.html"))
    try:
        from lidscope.outputs import check_output

        check_output(target, "file", "--out")
        path = write_report(runs, target, title=title, min_count=min_count)
    except LIDInputError as e:
        console.print(f"[bold red]error:[/] {escape(str(e))}")
        raise typer.Exit(2) from None
    console.print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB); open it in a browser (works offline)")


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
