"""A private Ray instance started by lidscope is shut down when the work ends (fresh processes:
the other Ray tests share one running instance, which must be left alone)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("ray", reason="Ray is not installed (CI installs it): pip install 'lidscope[ray]'")

pytestmark = pytest.mark.slow  # starts a local Ray cluster: left out of the fast loop (-m 'not slow')

INIT = "dict(num_cpus=1, object_store_memory=80 * 2**20, include_dashboard=False, logging_level='ERROR')"


def _run(code: str) -> str:
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout.split()[-1]


def test_executor_and_ray_neighbour_search_shut_down_the_ray_they_started():
    code = f"""
import json, numpy as np, ray
from lidscope.executors.ray import RayExecutor, ray_session
from lidscope.executors.ray_neighbors import kneighbors_ray
out = list(RayExecutor(num_cpus=1, num_gpus=0, check_paths=False, init_options={INIT}).map(json.dumps, [{{"a": 1}}]))
assert out[0].ok and out[0].result == '{{"a": 1}}'
after_executor = ray.is_initialized()
kneighbors_ray(np.random.default_rng(0).normal(size=(60, 3)), 5, init_options={INIT})
after_search = ray.is_initialized()
ray.init(address="local", **{INIT})           # a Ray the caller started is left running
with ray_session() as r:
    pass
print(after_executor, after_search, ray.is_initialized(), sep=",")
"""
    assert _run(code) == "False,False,True"
