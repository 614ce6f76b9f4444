"""The `lidscope` command line: one typer app; each command lives in its own module."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="lidscope",
    help="Local intrinsic dimension (LID) of point clouds and of language-model token embeddings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


#: The command modules, each with a ``register(app)``; `lidscope --help` lists their commands in this order.
COMMANDS = ("assets", "cache", "detect", "estimate", "geometry", "grokking", "measure", "report", "sweep", "tokens")
_registered: list[str] = []


def register_commands() -> typer.Typer:
    """Add every command of `COMMANDS` to `app` (once; later calls do nothing) and return `app`.

    Not done at import: `main` first sets the environment variables that transformers, datasets and
    Ray read when the command modules import them. Tests call this, then invoke `app`.
    """
    import importlib

    if not _registered:
        for name in COMMANDS:
            importlib.import_module(f"{__name__}.{name}").register(app)
            _registered.append(name)
    return app


_register = register_commands  # the old private name, for code written before it was public


@app.callback()
def _options(
    verbose: bool = typer.Option(False, "--verbose", help="Show other libraries' progress bars and messages "
                                                         "(transformers, datasets, Ray workers)."),
) -> None:
    """Local intrinsic dimension (LID) of point clouds and of language-model token embeddings."""


def main() -> None:
    import sys

    from ._console import configure_output

    # before any command module imports transformers, datasets or Ray: they read these variables then
    configure_output(verbose="--verbose" in sys.argv[1:])
    register_commands()
    app()
