"""benchmarks/bench_detect.py --quick runs end to end on a tiny causal LM (mechanics, not the findings)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # trains and scores a tiny LoRA model end to end: left out of the fast loop (-m 'not slow')


def _bench():
    path = Path(__file__).parents[2] / "benchmarks" / "bench_detect.py"
    spec = importlib.util.spec_from_file_location("bench_detect", path)
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_detect"] = bench  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    return bench


def test_eval_order_follows_the_checkpoints_asked_for():
    bench = _bench()
    full, lora, wiki = bench.RUNS
    trained = {r.name: {"checkpoints": {f"epoch{e}": "x" for e in (1, 2, 3)}} for r in bench.RUNS}
    names = lambda pairs: [f"{r.name}:{lab}" for r, lab in pairs]  # noqa: E731
    assert names(bench.eval_order([full, lora], trained, None)) == [
        "chitchat-full:epoch3", "chitchat-full:epoch2", "chitchat-full:epoch1",
        "chitchat-lora:epoch3", "chitchat-lora:epoch2", "chitchat-lora:epoch1"]
    want = ["chitchat-lora:epoch3", "chitchat-full:epoch2", "wikipedia-full:epoch3", "epoch1"]
    assert names(bench.eval_order([full, lora, wiki], trained, want)) == [
        "chitchat-lora:epoch3", "chitchat-full:epoch2", "wikipedia-full:epoch3",
        "chitchat-full:epoch1", "chitchat-lora:epoch1", "wikipedia-full:epoch1"]


def test_bench_detect_quick_lora_trains_merges_and_scores(tiny_lm, tmp_path):
    pytest.importorskip("peft")
    bench = _bench()
    s = bench.main(["--quick", "--model", str(tiny_lm["base"]), "--only", "chitchat-lora", "--checkpoints", "epoch1",
                    "--out", str(tmp_path / "b")])
    ck = s["trained"]["chitchat-lora"]["checkpoints"]
    assert set(ck) == {"epoch1", "epoch2"} and ck["epoch1"].endswith("-merged")
    assert [r["method"] for r in s["table"]] == ["lid", "loss", "zlib", "mink", "minkpp", "ref"]
    assert set(s["table"][0]["ood_auc"]) == {"ood-wikipedia", "ood-bbc"}
    assert (tmp_path / "b" / "chitchat-lora" / "epoch1" / "detect.json").is_file()
    # the finished run is reused only for the same members: other sizes on the same folder stop with a message
    with pytest.raises(SystemExit, match="trained on other members"):
        bench.main(["--quick", "--model", str(tiny_lm["base"]), "--only", "chitchat-lora", "--members", "30",
                    "--out", str(tmp_path / "b")])
