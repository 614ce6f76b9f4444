"""RayExecutor on a local Ray instance: streaming, retries of raising and killed jobs, errors that name the fix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (CI installs it): pip install 'lidscope[ray]'")

from lidscope.executors import ExecutorError, get_executor  # noqa: E402
from lidscope.executors.ray import (RayExecutor, RayExecutorError, SharedPathError, _probe_paths,  # noqa: E402
                                    check_shared_paths, job_paths)

pytestmark = pytest.mark.slow  # starts a local Ray cluster: left out of the fast loop (-m 'not slow')

# job functions defined here travel to the workers by value (the workers cannot import this module)
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])



def double(payload: dict) -> dict:
    if payload.get("sleep"):
        time.sleep(payload["sleep"])
    return {"y": 2 * payload["x"]}


def after_others(payload: dict) -> dict:
    """Fast jobs leave a marker; the slow job finishes only after every other job's marker (then 1 s
    more), so the order does not depend on how fast Ray starts workers on a loaded machine."""
    d = Path(payload["dir"])
    if payload.get("wait_for"):
        deadline = time.monotonic() + 300
        while not all((d / f"done-{x}").exists() for x in payload["wait_for"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
    else:
        (d / f"done-{payload['x']}").write_text("x")
    return {"y": 2 * payload["x"]}


def _first_time(payload: dict) -> bool:
    marker = Path(payload["dir"]) / f"marker-{payload['x']}"
    with open(Path(payload["dir"]) / "calls.log", "a") as f:
        f.write(f"{payload['x']} {os.getpid()}\n")
    if marker.exists():
        return False
    marker.write_text("x")
    return True


def raise_once(payload: dict) -> dict:
    if payload.get("flaky") and _first_time(payload):
        raise RuntimeError("transient failure")
    return double(payload)


def always_raise(payload: dict) -> dict:
    if payload.get("bad"):
        raise ValueError(f"job {payload['x']} is bad")
    return double(payload)


def killed_once(payload: dict) -> dict:
    if payload.get("flaky") and _first_time(payload):
        os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies mid-job
    return double(payload)


def _calls(d: Path) -> list[int]:
    return [int(line.split()[0]) for line in (d / "calls.log").read_text().splitlines()]


def test_outcomes_stream_in_completion_order(local_ray, tmp_path):
    ex = RayExecutor()
    payloads = [{"x": 0, "wait_for": [1, 2], "dir": str(tmp_path)}, {"x": 1, "dir": str(tmp_path)},
                {"x": 2, "dir": str(tmp_path)}]
    outcomes = list(ex.map(after_others, payloads))
    assert sorted(o.result["y"] for o in outcomes) == [0, 2, 4]
    assert all(o.ok for o in outcomes)
    assert outcomes[0].payload["x"] != 0, "the slow job must not hold back the ones finished before it"
    assert outcomes[-1].payload["x"] == 0


def test_raising_job_is_retried_then_succeeds(local_ray, tmp_path):
    ex = RayExecutor(retries=1)
    payloads = [{"x": i, "dir": str(tmp_path), "flaky": i == 1} for i in range(3)]
    outcomes = {o.payload["x"]: o for o in ex.map(raise_once, payloads)}
    assert all(o.ok for o in outcomes.values()) and outcomes[1].result == {"y": 2}
    assert sorted(_calls(tmp_path)) == [1, 1]
    tries = [a for a in ex.attempts if a.index == 1]
    assert [a.ok for a in tries] == [False, True] and "transient failure" in tries[0].error


def test_failing_job_is_reported_after_bounded_retries(local_ray):
    ex = RayExecutor(retries=2)
    outcomes = {o.payload["x"]: o for o in ex.map(always_raise, [{"x": 0}, {"x": 1, "bad": True}, {"x": 2}])}
    assert outcomes[0].ok and outcomes[2].ok
    bad = outcomes[1]
    assert not bad.ok and "job 1 is bad" in bad.error and "3 attempts" in bad.error
    assert "ValueError" in bad.traceback
    assert len([a for a in ex.attempts if a.index == 1]) == 3


def test_killed_worker_is_retried_by_ray(local_ray, tmp_path):
    ex = RayExecutor(max_retries=2, retries=0)
    payloads = [{"x": i, "dir": str(tmp_path), "flaky": i == 0} for i in range(3)]
    outcomes = {o.payload["x"]: o for o in ex.map(killed_once, payloads)}
    assert all(o.ok for o in outcomes.values()), [o.error for o in outcomes.values()]
    calls = [line.split() for line in (tmp_path / "calls.log").read_text().splitlines()]
    assert len(calls) == 2 and calls[0][1] != calls[1][1], "the job ran again, in a new worker process"


def test_killed_worker_past_max_retries_is_resubmitted(local_ray, tmp_path):
    ex = RayExecutor(max_retries=0, retries=1)
    outcomes = list(ex.map(killed_once, [{"x": 5, "dir": str(tmp_path), "flaky": True}]))
    assert outcomes[0].ok and outcomes[0].result == {"y": 10}
    assert [a.ok for a in ex.attempts] == [False, True]
    assert "Worker" in ex.attempts[0].error or "died" in ex.attempts[0].error.lower()


def test_get_executor_builds_ray_and_validates_address():
    assert isinstance(get_executor("ray"), RayExecutor)
    with pytest.raises(ExecutorError, match="not valid"):
        get_executor("ray", address="my-cluster")
    with pytest.raises(ValueError, match="num_gpus"):
        RayExecutor(num_gpus="many")


def test_job_asking_for_more_than_the_cluster_has(local_ray):
    with pytest.raises(RayExecutorError, match="add nodes"):
        list(RayExecutor(num_cpus=64).map(double, [{"x": 1}]))


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(RayExecutorError, match=r"pip install 'lidscope\[ray\]'"):
        RayExecutor()


def test_default_executor_does_not_import_ray():
    code = ("import sys, lidscope, lidscope.training.sweep, lidscope.cli\n"
            "from lidscope.executors import get_executor\n"
            "ex = get_executor('local'); assert ex.name == 'local'\n"
            "import lidscope.executors.ray\n"
            "assert 'ray' not in sys.modules, 'ray imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_paths_of_sweep_payloads(tmp_path):
    data = tmp_path / "texts.txt"
    data.write_text("a b c\n")
    payload = {"store": "/shared/store", "cache_dir": None, "tokenizer": "/shared/tok",
               "checkpoint": {"path": "/shared/run/checkpoint-10"},
               "units": [{"data": "chitchat:validation"}, {"data": f"{data}:train"}]}
    writable, readable = job_paths([payload])
    assert writable == ["/shared/store"]
    assert readable == sorted(["/shared/tok", "/shared/run/checkpoint-10", str(data)])


def test_probe_reports_paths_a_node_cannot_see(tmp_path):
    (tmp_path / ".lidscope-probe-abc").write_text("abc")
    assert _probe_paths([str(tmp_path)], [str(tmp_path)], "abc") == []
    problems = _probe_paths([str(tmp_path)], [str(tmp_path / "missing")], "other-token")
    assert any("not the driver's folder" in p for p in problems)
    assert any("does not exist on this node" in p for p in problems)


def test_store_url_without_mount_is_rejected(local_ray):
    with pytest.raises(SharedPathError, match="Mount the bucket"):
        check_shared_paths(local_ray, ["s3:/bucket/sweep"])


def _fake_cluster(resources: dict, n_nodes: int = 1):
    """Just enough of the ``ray`` module for resource and path decisions, without a cluster."""
    from types import SimpleNamespace as NS

    nodes = [{"NodeID": f"n{i}", "Alive": True, "Resources": resources} for i in range(n_nodes)]
    return NS(cluster_resources=lambda: resources, nodes=lambda: nodes,
              get_runtime_context=lambda: NS(get_node_id=lambda: "n0"),
              util=NS(client=NS(ray=NS(is_connected=lambda: False))))


def test_each_job_asks_for_a_gpu_only_where_there_are_gpus():
    gpu = RayExecutor().task_options(_fake_cluster({"CPU": 32, "GPU": 4}))
    cpu = RayExecutor(num_cpus=4, memory=8 * 2**30).task_options(_fake_cluster({"CPU": 32}))
    assert gpu["num_gpus"] == 1 and gpu["num_cpus"] == 1 and gpu["max_retries"] == 3
    assert cpu["num_gpus"] == 0 and cpu["num_cpus"] == 4 and cpu["memory"] == 8 * 2**30
    assert RayExecutor(num_gpus=0).task_options(_fake_cluster({"CPU": 8, "GPU": 1}))["num_gpus"] == 0


def test_relative_paths_are_rejected_on_a_multi_node_cluster():
    check_shared_paths(_fake_cluster({"CPU": 2}), ["store"])  # one node, the driver's: workers share its cwd
    with pytest.raises(SharedPathError, match="relative path"):
        check_shared_paths(_fake_cluster({"CPU": 2}, n_nodes=2), ["store"])
