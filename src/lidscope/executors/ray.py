"""Run a plan's jobs on a Ray cluster: ``lidscope sweep ... --executor ray [--address ...]``.

`RayExecutor` satisfies the executor seam (`lidscope.executors`): ``map(fn, payloads)`` submits one Ray
task per payload and yields a `JobOutcome` per payload as soon as it completes, so a sweep's finished
jobs are in the results store while others still run (the job function writes its own row files).

- **Where**: ``address=None`` starts a private Ray instance on this machine (never joins someone else's);
  ``"auto"`` joins the cluster this machine belongs to (``ray start``, KubeRay head/worker pod, SLURM
  script); ``"ray://HOST:10001"`` connects through Ray Client; ``"HOST:PORT"`` joins a GCS address. If
  Ray is already initialised in this process, that instance is used.
- **Resources**: each job asks for ``num_gpus=1`` when the cluster has GPUs (else none) and
  ``num_cpus`` CPUs (default 1); torch, numba and faiss in the job use as many threads as the job
  was given CPUs. ``memory`` (bytes) reserves RAM per job so big models are not packed too densely.
- **Failures**: a worker process that dies (killed, OOM, segfault, lost node) is re-run by Ray up to
  ``max_retries`` times; a job that raises (or exhausts Ray's retries) is re-submitted up to
  ``retries`` more times, then reported as a failed outcome. Jobs are idempotent by the seam's
  contract (a sweep job skips units whose row file exists), so a retry neither loses nor duplicates
  finished results, and re-running the sweep resumes.
- **Shared storage**: every path a sweep job reads or writes (results store, embedding cache,
  checkpoints, tokenizer, data files) must be visible at the same path on every node. Before
  submitting, `check_shared_paths` runs a probe on each node and raises `SharedPathError` naming the
  fix otherwise. fsspec URLs (``s3://``, ``gs://``) are checked for reachability through fsspec, but
  the results store is written with the local filesystem API: mount the bucket at one path on
  every node (s3fs-fuse, gcsfuse, blobfuse2) and pass that path.

Nothing here imports Ray until an executor is built; the default executor never does.
"""

from __future__ import annotations

import os
import re
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lidscope.executors import ExecutorError, JobFn, JobOutcome, register_executor
from lidscope.threads import limit_threads

INSTALL_HINT = "pip install 'lidscope[ray]'"
_PROBE_PREFIX = ".lidscope-probe-"
_MANGLED_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/[^/]")  # "s3://b/x" after pathlib: "s3:/b/x"


class RayExecutorError(ExecutorError):
    """Ray is missing, the cluster cannot be reached, or the cluster cannot run the jobs; names the fix."""


class SharedPathError(RayExecutorError):
    """A path the jobs need is not visible (or not writable) at the same location on every node."""


def import_ray() -> Any:
    """The ``ray`` module, or `RayExecutorError` telling how to install it."""
    try:
        import ray
    except ImportError:
        raise RayExecutorError(f"the Ray executor needs Ray, which is not installed: {INSTALL_HINT} "
                               "(or pip install 'ray>=2.9' into this environment).") from None
    return ray


def check_address(address: str | None) -> str | None:
    """Validate an address: None (private local instance), auto, local, ray://HOST:PORT or HOST:PORT."""
    if address is None or address in ("auto", "local"):
        return address
    if not isinstance(address, str) or not re.fullmatch(r"(ray://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}", address):
        raise RayExecutorError(
            f"Ray address {address!r} is not valid: use 'auto' (join the cluster this machine is part of), "
            "'ray://HEAD_HOST:10001' (Ray Client), 'HEAD_HOST:6379' (GCS address), or no address for a "
            "private local instance.")
    return address


def connect(address: str | None = None, **init_options: Any) -> Any:
    """Initialise Ray (unless already initialised in this process) and return the ``ray`` module.

    ``address=None`` starts a private local instance (``ray.init(address="local")``), so a Ray cluster
    that another user started on a shared machine is never joined by accident.

    Raises:
        RayExecutorError: Ray not installed, a malformed or unreachable address.
    """
    ray = import_ray()
    address = check_address(address)
    if ray.is_initialized():
        return ray
    opts: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING"}
    opts.update(init_options)
    if address is not None and address.startswith("ray://"):
        opts.pop("include_dashboard", None)  # not accepted by Ray Client
    try:
        ray.init(address=address or "local", **opts)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0].rstrip(".")
        if "ray[client]" in str(exc):
            raise RayExecutorError(
                f"connecting to {address} uses Ray Client, which needs its extra: pip install 'ray[client]' (same "
                "Ray version as the cluster). Or run the sweep on the head node with --address auto, or submit it "
                "with `ray job submit`.") from exc
        fix = ("start one with `ray start --head` (or pass no --address for a private local instance)"
               if address == "auto" else
               "check that the head node is running and reachable from here (host, port, firewall; Ray Client "
               "listens on port 10001 of the head, the GCS on 6379)")
        raise RayExecutorError(f"could not connect to Ray at {address or 'a new local instance'}: "
                               f"{type(exc).__name__}: {first}. Fix: {fix}.") from exc
    return ray


@contextmanager
def ray_session(address: str | None = None, **init_options: Any) -> Iterator[Any]:
    """`connect` for the length of a ``with`` block; a Ray that this call started (a private local
    instance, or a connection to a cluster) is shut down when the block ends, however it ends.
    A Ray already initialised in this process is used and left running."""
    ray = import_ray()
    started = not ray.is_initialized()
    ray = connect(address, **init_options)
    try:
        yield ray
    finally:
        if started and ray.is_initialized():
            ray.shutdown()


def _is_client(ray: Any) -> bool:
    try:
        return bool(ray.util.client.ray.is_connected())
    except AttributeError:  # pragma: no cover - very old Ray
        return False


# ---------------------------------------------------------------------------------------- threads


def assigned_cpus(default: int = 1) -> int:
    """CPUs Ray assigned to the running task (``default`` outside Ray or when none were assigned)."""
    try:
        import ray

        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 0)
    except Exception:  # noqa: BLE001 - outside a task
        return default
    return max(1, int(round(cpus))) if cpus else default


def _run_job(fn: JobFn, payload: dict[str, Any]) -> dict[str, Any]:
    """Body of one Ray task: run ``fn(payload)``; an exception becomes an error record, not a crash."""
    t = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # workers never reach for the hub
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # bars from remote workers only clutter the log
    limit_threads(assigned_cpus())
    info = {"pid": os.getpid(), "host": os.uname().nodename}
    try:
        result = fn(payload)
    except Exception as exc:  # noqa: BLE001 -- reported to the driver, which decides on a retry
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(),
                "seconds": time.perf_counter() - t, **info}
    return {"ok": True, "result": result, "seconds": time.perf_counter() - t, **info}


# ---------------------------------------------------------------------------------------- paths


def _data_file(spec: str) -> str | None:
    """The local file behind a data spec (``FILE`` or ``FILE:SPLIT``), if it exists here."""
    for cand in (spec, spec.rpartition(":")[0]):
        if cand and Path(cand).exists():
            return cand
    return None


def job_paths(payloads: Iterable[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Paths sweep jobs need on every node: ``(writable, readable)``.

    Writable: ``store``, ``cache_dir``. Readable: ``checkpoint.path``, ``tokenizer``, ``base_model`` and
    data specs that name a file existing here. Payloads of other job functions contribute what they
    have of these keys.
    """
    writable: set[str] = set()
    readable: set[str] = set()
    for p in payloads:
        for key in ("store", "cache_dir"):
            if p.get(key):
                writable.add(str(p[key]))
        ck = p.get("checkpoint")
        if isinstance(ck, dict) and ck.get("path"):
            readable.add(str(ck["path"]))
        for key in ("tokenizer", "base_model"):
            if p.get(key):
                readable.add(str(p[key]))
        for u in p.get("units") or []:
            f = _data_file(str(u.get("data", "")))
            if f:
                readable.add(f)
    return sorted(writable), sorted(readable - writable)


def _is_url(path: str) -> bool:
    return "://" in path


def _where() -> str:
    try:
        import ray

        return f"{os.uname().nodename} ({ray.util.get_node_ip_address()})"
    except Exception:  # noqa: BLE001 - outside Ray
        return os.uname().nodename


def _probe_paths(writable: Sequence[str], readable: Sequence[str], token: str) -> list[str]:
    """Run on a node: problems with the paths (empty list = all fine)."""
    problems = []
    host = _where()
    for p in writable:
        if _is_url(p):
            problems += _probe_url(p, host)
            continue
        probe = Path(p) / f"{_PROBE_PREFIX}{token}"
        try:
            seen = probe.read_text(encoding="utf-8")
        except OSError:
            problems.append(f"{host}: {p} is not the driver's folder (the probe file written there is not "
                            "visible from this node)")
            continue
        if seen != token:
            problems.append(f"{host}: {p} shows a different probe file than the driver wrote")
            continue
        tmp = Path(p) / f"{_PROBE_PREFIX}{token}-{uuid.uuid4().hex[:8]}"
        try:
            tmp.write_text("ok", encoding="utf-8")
            tmp.unlink()
        except OSError as exc:
            problems.append(f"{host}: {p} is not writable ({exc.strerror or exc})")
    for p in readable:
        if _is_url(p):
            problems += _probe_url(p, host)
        elif not Path(p).exists():
            problems.append(f"{host}: {p} does not exist on this node")
    return problems


def _probe_url(url: str, host: str) -> list[str]:
    try:
        import fsspec

        fs, _, paths = fsspec.get_fs_token_paths(url)
        fs.ls(paths[0]) if fs.exists(paths[0]) else fs.ls(os.path.dirname(paths[0].rstrip("/")) or "/")
    except Exception as exc:  # noqa: BLE001 -- any failure means unreachable
        return [f"{host}: {url} is not reachable through fsspec ({type(exc).__name__}: {exc})"]
    return []


def check_shared_paths(ray: Any, writable: Sequence[str], readable: Sequence[str] = (),
                       timeout: float = 300.0) -> None:
    """Check on every alive node that ``writable`` paths are the driver's folders and writable, and that
    ``readable`` paths exist. Skipped when the cluster is this machine alone.

    Raises:
        SharedPathError: listing each node and path, with the fix.
    """
    bad_local = [p for p in [*writable, *readable] if not _is_url(p) and _MANGLED_URL.match(p)]
    if bad_local:
        raise SharedPathError(
            f"{bad_local[0]} looks like a URL whose '//' was lost; the results store is written through the "
            "local filesystem API. Mount the bucket at the same path on every node (s3fs-fuse, gcsfuse, "
            "blobfuse2, or a shared PVC on Kubernetes) and pass that path.")
    nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]
    if not nodes:
        raise RayExecutorError("the Ray cluster has no alive node with CPUs to run jobs on; add workers.")
    here = None if _is_client(ray) else ray.get_runtime_context().get_node_id()
    if len(nodes) == 1 and nodes[0]["NodeID"] == here:
        return  # workers run here, in the driver's working folder
    relative = [p for p in [*writable, *readable] if not _is_url(p) and not os.path.isabs(p)]
    if relative:
        raise SharedPathError(
            f"{relative[0]} is a relative path: workers on other nodes would resolve it in their own working "
            "folder. Pass absolute paths on the shared filesystem (e.g. --out /shared/sweeps/run1).")
    token = uuid.uuid4().hex
    written = []
    try:
        for p in writable:
            if _is_url(p):
                continue
            Path(p).mkdir(parents=True, exist_ok=True)
            probe = Path(p) / f"{_PROBE_PREFIX}{token}"
            probe.write_text(token, encoding="utf-8")
            written.append(probe)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        task = ray.remote(_probe_paths)
        refs = [task.options(num_cpus=0, max_retries=1, scheduling_strategy=NodeAffinitySchedulingStrategy(
            n["NodeID"], soft=False)).remote(list(writable), list(readable), token) for n in nodes]
        problems = [msg for r in ray.get(refs, timeout=timeout) for msg in r]
    finally:
        for probe in written:
            probe.unlink(missing_ok=True)
    if problems:
        raise SharedPathError(
            "the jobs' files are not shared by every node of the Ray cluster:\n  " + "\n  ".join(problems)
            + "\nFix: put the results store, cache, checkpoints and data on a filesystem mounted at the same "
            "path on every node (NFS/EFS/Filestore/Lustre, a ReadWriteMany PVC on KubeRay, the cluster's "
            "shared scratch on SLURM), run the sweep from a node of the cluster, and pass those paths.")


# ---------------------------------------------------------------------------------------- executor


@dataclass
class Attempt:
    """One submission of one job: where it ran and how it ended."""

    index: int
    attempt: int
    ok: bool
    error: str | None = None
    pid: int | None = None
    host: str | None = None
    seconds: float = 0.0


@dataclass
class RayExecutor:
    """Runs jobs as Ray tasks, yielding outcomes in completion order (see the module docstring).

    Args:
        address: None (private local instance), ``auto``, ``ray://HOST:10001`` or ``HOST:PORT``.
        num_cpus: CPUs per job (its torch/numba/faiss threads).
        num_gpus: GPUs per job; ``"auto"``: 1 if the cluster has GPUs, else 0.
        memory: bytes of RAM reserved per job (None: no reservation).
        max_retries: Ray's re-runs of a job whose worker process died.
        retries: re-submissions of a job that raised or exhausted ``max_retries``.
        check_paths: probe every node for the jobs' shared paths before submitting.
        init_options: extra ``ray.init`` keyword arguments (e.g. ``num_cpus`` of a local instance,
            ``runtime_env``), used only when this executor initialises Ray.
    """

    address: str | None = None
    num_cpus: float = 1
    num_gpus: float | str = "auto"
    memory: int | None = None
    max_retries: int = 3
    retries: int = 1
    check_paths: bool = True
    init_options: dict[str, Any] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list, init=False, repr=False)

    name = "ray"

    def __post_init__(self) -> None:
        check_address(self.address)
        import_ray()
        if self.num_cpus < 0 or self.max_retries < 0 or self.retries < 0:
            raise ValueError("num_cpus, max_retries and retries must be >= 0.")
        if not (self.num_gpus == "auto" or (isinstance(self.num_gpus, (int, float)) and self.num_gpus >= 0)):
            raise ValueError(f"num_gpus must be 'auto' or a number >= 0, not {self.num_gpus!r}.")

    def connect(self) -> Any:
        """Initialise (or reuse) Ray; returns the ``ray`` module."""
        return connect(self.address, **self.init_options)

    def task_options(self, ray: Any) -> dict[str, Any]:
        """Resources and Ray retry settings of each job's task."""
        gpus = self.num_gpus
        if gpus == "auto":
            gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        opts: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": gpus, "max_retries": self.max_retries,
                                "retry_exceptions": False}
        if self.memory:
            opts["memory"] = int(self.memory)
        return opts

    def map(self, fn: JobFn, payloads: Sequence[dict[str, Any]]) -> Iterator[JobOutcome]:
        """Run ``fn`` on every payload; a Ray this call started is shut down when the jobs end."""
        payloads = list(payloads)
        if not payloads:
            return
        with ray_session(self.address, **self.init_options) as ray:
            yield from self._map(ray, fn, payloads)

    def _map(self, ray: Any, fn: JobFn, payloads: list[dict[str, Any]]) -> Iterator[JobOutcome]:
        if self.check_paths:
            check_shared_paths(ray, *job_paths(payloads))
        opts = self.task_options(ray)
        total = ray.cluster_resources()
        if opts["num_cpus"] > total.get("CPU", 0) or opts["num_gpus"] > total.get("GPU", 0):
            raise RayExecutorError(
                f"each job asks for {opts['num_cpus']} CPU and {opts['num_gpus']} GPU but the cluster has "
                f"{total.get('CPU', 0):g} CPU and {total.get('GPU', 0):g} GPU: lower num_cpus/num_gpus or add nodes.")
        task = ray.remote(_run_job).options(**opts)
        fn_ref = ray.put(fn)
        pending: dict[Any, tuple[int, int]] = {}

        def submit(i: int, attempt: int) -> None:
            pending[task.remote(fn_ref, payloads[i])] = (i, attempt)

        for i in range(len(payloads)):
            submit(i, 1)
        try:
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                i, attempt = pending.pop(ref)
                try:
                    out = ray.get(ref)
                except ray.exceptions.RayError as exc:  # worker died past max_retries, node lost, OOM kill
                    text = str(exc).strip()
                    out = {"ok": False, "error": f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}",
                           "traceback": text, "seconds": 0.0}
                self.attempts.append(Attempt(i, attempt, out["ok"], out.get("error"), out.get("pid"),
                                             out.get("host"), out.get("seconds", 0.0)))
                if out["ok"]:
                    yield JobOutcome(payloads[i], True, result=out["result"], seconds=out["seconds"])
                elif attempt <= self.retries:
                    submit(i, attempt + 1)
                else:
                    yield JobOutcome(payloads[i], False, error=f"{out['error']} (gave up after {attempt} attempts)",
                                     traceback=out.get("traceback"), seconds=out.get("seconds", 0.0))
        finally:  # Ctrl-C or the caller stopped early: do not leave jobs running
            for ref in pending:
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001 - best effort
                    pass


register_executor("ray", RayExecutor)

__all__ = ["INSTALL_HINT", "RayExecutor", "RayExecutorError", "SharedPathError", "check_address",
           "check_shared_paths", "connect", "import_ray", "job_paths", "limit_threads", "ray_session"]
