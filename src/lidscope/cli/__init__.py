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


def _register() -> None:
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            module.register(app)


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
    _register()
    app()
