"""An interrupted forward pass resumes (issue 26, section 3): a real ``lidscope measure`` in a
subprocess, on a tiny random model, is stopped mid-extraction by SIGINT (Ctrl-C) or SIGKILL
(preemption); the same command then resumes from the finished chunks, says how many sequences it
resumed, and gives exactly the result of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent / "extract"))
from tinymodels import WORDS, save_tiny  # noqa: E402

# the CLI, with every batch slowed and announced so the test can interrupt between batches, and a
# chunk written after every batch (so finished work exists to keep)
SCRIPT = r"""
import sys, time
import lidscope.extract.cache as cache
import lidscope.extract.tokens as tokens
cache.CACHE_CHUNK_SECONDS = 0.0
if sys.argv[1] == "slow":
    inner = tokens._forward_layers
    def slow(*a, **k):
        print("BATCH", flush=True)
        time.sleep(0.3)
        return inner(*a, **k)
    tokens._forward_layers = slow
sys.argv = ["lidscope"] + sys.argv[2:]
from lidscope.cli import main
main()
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    rng = np.random.default_rng(3)
    corpus = root / "texts.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(WORDS, size=rng.integers(4, 24))) for _ in range(80)))
    return save_tiny("llama", root / "llama"), corpus


def _args(model, corpus, cache, out):
    return ["measure", "--model", str(model), "--data", str(corpus), "-M", "0", "-N", "400", "-L", "8",
            "--sample-size", "3000", "--batch-size", "4", "--threads", "1", "--no-figures", "-q",
            "--cache-dir", str(cache), "--out", str(out)]


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"),
                                                         os.environ.get("PYTHONPATH", "")]),
            "COLUMNS": "250", "OMP_NUM_THREADS": "1"}


def _run(mode, args):
    return subprocess.run([sys.executable, "-c", SCRIPT, mode, *args], capture_output=True, text=True, env=_env(),
                          timeout=300)


def _interrupt(args, sig, after_batches=4):
    # a shell's background job (nohup ... &) starts with SIGINT ignored, which Python keeps: give the
    # child the default disposition so Ctrl-C reaches it as it does in a terminal
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, "slow", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=_env(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = 0
    deadline = time.monotonic() + 240
    while seen < after_batches and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line.startswith("BATCH")
    assert seen == after_batches, "the run ended before it could be interrupted"
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=120)
    return proc.returncode, rest


@pytest.fixture(scope="module")
def reference(setup, tmp_path_factory):
    """The uninterrupted run, once for both signals."""
    model, corpus = setup
    root = tmp_path_factory.mktemp("resume-ref")
    ref = _run("fast", _args(model, corpus, root / "cache", root / "ref"))
    assert ref.returncode == 0, ref.stdout + ref.stderr
    return root / "ref"


def _result(out):
    summary = json.loads((out / "summary.json").read_text())
    lid = pq.read_table(out / "tokens.parquet").to_pandas()
    return summary, lid


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_measure_resumes_and_equals_the_uninterrupted_run(setup, reference, tmp_path, sig):
    model, corpus = setup
    rc, output = _interrupt(_args(model, corpus, tmp_path / "cache", tmp_path / "run"), sig)
    if sig == signal.SIGINT:
        assert rc == 130 and "interrupted:" in output and "resumes" in output, output
        assert list((tmp_path / "cache").glob(".partial-*")), "Ctrl-C kept no finished chunks"
    else:
        assert rc == -signal.SIGKILL
        assert list((tmp_path / "cache").glob(".tmp-*")), "the killed run left no chunks"
    again = _run("fast", _args(model, corpus, tmp_path / "cache", tmp_path / "run"))
    assert again.returncode == 0, again.stdout + again.stderr
    summary, lid = _result(tmp_path / "run")
    want, want_lid = _result(reference)
    resumed = [n for n in summary["notes"] if n.startswith("resumed an interrupted extraction")]
    assert resumed and summary["extraction"]["n_sequences_resumed"] > 0, summary["notes"]
    assert summary["extraction"]["n_sequences_resumed"] < summary["counts"]["sequences_extracted"]
    assert summary["mean"] == want["mean"] and summary["counts"] == want["counts"]
    np.testing.assert_array_equal(lid["lid"].to_numpy(), want_lid["lid"].to_numpy())
    np.testing.assert_array_equal(lid["token_id"].to_numpy(), want_lid["token_id"].to_numpy())
    assert not list((tmp_path / "cache").glob(".partial-*")) and not list((tmp_path / "cache").glob(".tmp-*"))
