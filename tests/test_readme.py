"""README stays true: every `lidscope` command in its code blocks parses, and its Python snippets run."""

import re
import shlex
from pathlib import Path

import pytest
import typer

from lidscope.cli import app, register_commands

pytestmark = pytest.mark.slow  # runs README's snippets and commands: left out of the fast loop (-m 'not slow')

README = Path(__file__).resolve().parents[1] / "README.md"
register_commands()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def readme_commands() -> list[list[str]]:
    """Argument lists of every `lidscope ...` (or `.venv/bin/lidscope ...`) in README's shell blocks."""
    commands = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words and Path(words[0]).name == "lidscope":
                    commands.append(words[1:])
    return commands


def parse(args: list[str]):  # type: ignore[no-untyped-def]
    """Parse ``lidscope ARGS`` as the command line would, without running the command."""
    group = typer.main.get_command(app)
    i = next((k for k, a in enumerate(args) if not a.startswith("-")), len(args))  # the command's name
    ctx = group.make_context("lidscope", list(args[:i]) or ["--verbose"], resilient_parsing=not args[:i])
    if i == len(args):
        raise ValueError(f"no command in {args}")
    command = group.get_command(ctx, args[i])
    if command is None:
        raise ValueError(f"no such command {args[i]!r}")
    return command.make_context(args[i], list(args[i + 1:]), parent=ctx)


def test_readme_has_commands_and_snippets():
    names = {c[0] for c in readme_commands() if c}
    assert {"measure", "estimate", "grokking"} <= names
    assert _blocks("python")


@pytest.mark.parametrize("args", readme_commands(), ids=lambda a: " ".join(a)[:60])
def test_readme_command_parses_with_real_options(args):
    parse(args)  # click raises a usage error (unknown option, missing option, bad value) otherwise


@pytest.mark.parametrize("args", [["measure", "--no-such-option"], ["sweep"], ["estimate", "--threads", "0"]])
def test_parse_rejects_what_the_cli_rejects(args):
    with pytest.raises(Exception) as err:
        parse(args)
    assert getattr(err.value, "exit_code", None) == 2  # click's usage errors exit with 2


def test_readme_python_snippets_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for snippet in _blocks("python"):
        exec(compile(snippet, str(README), "exec"), namespace)  # noqa: S102 - our own README
