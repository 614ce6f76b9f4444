"""Terminal output of every command: full-width logs, escaped messages, other libraries kept quiet."""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

#: Width used when the output is a pipe or a file (CI logs): wide enough that no path is cut.
PIPE_WIDTH = 400

#: Set (if unset) unless ``--verbose``: progress bars of transformers, datasets, huggingface_hub and any
#: tqdm (Ray workers inherit the environment of a local Ray started from this process).
QUIET_ENV: dict[str, str] = {
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",  # tokenizers' own thread pool beside torch's
    "RAY_DEDUP_LOGS": "1",
}


def configure_output(verbose: bool = False) -> None:
    """Other libraries' progress bars and chatter off unless ``verbose``; ``--offline`` anywhere on the
    command line sets ``HF_HUB_OFFLINE`` and ``HF_DATASETS_OFFLINE`` (see `set_offline`).

    Runs before any command imports transformers, datasets or Ray (they read these variables then).
    """
    if verbose:
        os.environ["LIDSCOPE_VERBOSE"] = "1"
    else:
        for key, value in QUIET_ENV.items():
            os.environ.setdefault(key, value)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if "--offline" in sys.argv[1:]:
        set_offline()


def set_offline() -> None:
    """Offline mode for huggingface_hub, transformers and datasets: hub ids and hub datasets come from
    their local caches only (the way ``HF_HUB_OFFLINE=1`` works)."""
    for key in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[key] = "1"


JSON_HELP = ("Print the summary as strict JSON on stdout (null for an undefined number), for pipelines such as "
             "`| jq .mean`; progress bars, tables and notes go to stderr.")


def json_option(annotated: bool = False) -> Any:
    """The one definition of ``--json`` (measure, compare, estimate, detect); ``annotated``: for an
    ``Annotated[bool, ...] = False`` parameter (typer takes the default from the parameter then)."""
    import typer

    return typer.Option("--json", help=JSON_HELP) if annotated else typer.Option(False, "--json", help=JSON_HELP)


OFFLINE_HELP = "Hub models and datasets from the local cache only (as HF_HUB_OFFLINE=1)."


def offline_option() -> Any:
    """``--offline`` for commands that load a model by hub id (`set_offline` is applied as the command line
    is read, see `configure_output`; commands also call it when invoked from Python)."""
    import typer

    return typer.Option(False, "--offline", help=OFFLINE_HELP)


def print_json(obj: Any) -> None:
    """``obj`` as strict JSON (`lidscope.outputs.dumps`: NaN and inf as null) on stdout, alone."""
    from lidscope.outputs import dumps

    sys.stdout.write(dumps(obj) + "\n")
    sys.stdout.flush()


def make_console(stderr: bool = False) -> Console:
    """A console that never cuts lines when the output is a pipe or a file."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    columns = os.environ.get("COLUMNS", "")
    width = max(PIPE_WIDTH, int(columns) if columns.isdigit() else 0)
    return Console(stderr=stderr, width=width, soft_wrap=True)


def error(console: Console, exc: BaseException | str, code: int = 2) -> None:
    """Print ``error: <message>`` (the message escaped, so ``X[bad]`` is shown as written) and exit."""
    import typer

    console.print(f"[bold red]error:[/] {escape(str(exc))}")
    raise typer.Exit(code)


def note(console: Console, text: Any, label: str = "note") -> None:
    """Print ``note: <text>`` with the text escaped."""
    console.print(f"[yellow]{label}:[/] {escape(str(text))}")
