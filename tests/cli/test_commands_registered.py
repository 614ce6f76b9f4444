"""Commands are registered explicitly (`lidscope.cli.COMMANDS`): a command module left off the list
would be unreachable, so every module with a ``register`` must be on it, and registering twice adds nothing."""

from __future__ import annotations

import importlib
import pkgutil

import lidscope.cli as cli


def test_every_command_module_is_registered():
    modules = [m.name for m in pkgutil.iter_modules(cli.__path__) if not m.name.startswith("_")]
    with_register = [m for m in modules if hasattr(importlib.import_module(f"lidscope.cli.{m}"), "register")]
    assert sorted(with_register) == sorted(cli.COMMANDS)


def test_registering_twice_adds_no_command():
    app = cli.register_commands()
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    groups = [g.name for g in app.registered_groups]
    cli.register_commands()
    assert [c.name or c.callback.__name__ for c in app.registered_commands] == names
    assert [g.name for g in app.registered_groups] == groups
    assert len(set(names)) == len(names)
