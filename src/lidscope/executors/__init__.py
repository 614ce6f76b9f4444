"""Executors run a plan of independent, JSON-serialisable jobs.

The seam is deliberately small so that a distributed executor (e.g. Ray) can plug in:

- a *job* is a JSON-serialisable ``dict`` (the payload);
- the *job function* is a module-level function ``fn(payload) -> dict`` (importable by name, so a
  remote worker can run it) that writes its own results atomically to shared storage and returns a
  small JSON-serialisable summary;
- an executor's ``map(fn, payloads)`` yields one `JobOutcome` per payload, in completion order, and
  never raises for a failing job (the failure is in the outcome). ``KeyboardInterrupt`` propagates.

Register another executor with `register_executor`; `get_executor` builds one by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

JobFn = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class JobOutcome:
    """What became of one job: ``result`` when ``ok``, else ``error`` (one line) and ``traceback``."""

    payload: dict[str, Any]
    ok: bool
    result: dict[str, Any] | None = None
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0


class ExecutorError(RuntimeError):
    """An executor that cannot run the jobs at all (not installed, unreachable, misconfigured); names the fix."""


class Executor(Protocol):
    """Runs independent jobs; see the module docstring for the contract."""

    name: str

    def map(self, fn: JobFn, payloads: Sequence[dict[str, Any]]) -> Iterator[JobOutcome]: ...


_REGISTRY: dict[str, Callable[..., Executor]] = {}


def register_executor(name: str, factory: Callable[..., Executor]) -> None:
    """Make ``get_executor(name, **options)`` build an executor with ``factory(**options)``."""
    _REGISTRY[name] = factory


def get_executor(name: str | Executor = "local", **options: Any) -> Executor:
    """An executor by name (``local``, ``ray``), or the executor passed in unchanged."""
    if not isinstance(name, str):
        return name
    if name not in _REGISTRY and name == "local":
        from lidscope.executors.local import LocalExecutor  # noqa: F401  (registers itself)
    if name not in _REGISTRY and name == "ray":
        from lidscope.executors import ray as _ray  # noqa: F401  (registers itself; imports Ray only when built)
    if name not in _REGISTRY:
        raise ValueError(f"unknown executor {name!r}; available: {', '.join(sorted(_REGISTRY)) or 'local'}.")
    return _REGISTRY[name](**options)


__all__ = ["Executor", "ExecutorError", "JobFn", "JobOutcome", "get_executor", "register_executor"]
