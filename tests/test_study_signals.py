"""benchmarks/study_signals.py: the plan of the pre-registration, skip of finished runs, resume, blind guard."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
ss = importlib.import_module("study_signals")
scoring = importlib.import_module("study_signals_score")


def _paths(tmp_path: Path, tag: str = "a"):
    return ss.Paths(tmp_path / tag / "data", tmp_path / tag / "work")


def test_plan_is_the_preregistered_one_in_its_order():
    doc = (ROOT / "docs" / "signals-preregistration-2.md").read_text()
    for half in ("tune", "blind"):
        line = next(l for l in doc.splitlines() if re.match(rf"\|\s*(\*\*)?{half}(\*\*)?\s*\|", l))
        names = [n.replace("(c)", "").strip() for n in line.split("|")[2].split(",")]
        runs = [r for r in ss.plan() if r.half == half]
        assert [r.name for r in runs] == names
        assert sum(r.control for r in runs) == 8
    groups = {}
    for r in ss.plan():
        groups.setdefault((r.kind, r.prime, r.op if r.kind == "main" else ""), []).append(r.half)
    assert all(sorted(h) == ["blind", "blind", "tune", "tune"] for h in groups.values())


@pytest.mark.slow
def test_finished_runs_are_skipped_and_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    a, b = _paths(tmp_path, "a"), _paths(tmp_path, "b")
    quiet = lambda m: None  # noqa: E731
    assert len(ss.run_part("grokking-tune", ss.QUICK_BUDGET, a, quick=True, say=quiet)) == 2
    assert ss.run_part("grokking-tune", ss.QUICK_BUDGET, a, quick=True, say=quiet) == []
    run = ss.part_runs("grokking-tune", quick=True)[0]

    class Stop(Exception):
        pass

    def stop_at_20(message):
        if "step 20" in message:
            raise Stop

    with pytest.raises(Stop):
        ss.run_one(run, ss.QUICK_BUDGET, b, "test", say=stop_at_20)
    assert not ss.is_finished(run, b) and ss._checkpoint_step(b.work(run)) == 10
    meta = ss.run_one(run, ss.QUICK_BUDGET, b, "test", say=quiet)
    assert meta["resumed_from_step"] == 10
    _, sa = ss.read_run(run, a)
    _, sb = ss.read_run(run, b)
    for name in ss.SIGNALS + ss.REFERENCES + ("step", "val_acc"):
        assert sa[name] == sb[name], name
    assert sa["geo_val_overlap_previous_mean"][0] is None and sa["geo_val_overlap_previous_mean"][1] is not None


@pytest.mark.slow
def test_blind_runs_stay_closed_until_score_blind_may_open_them(tmp_path, capsys):
    p = _paths(tmp_path)
    quiet = lambda m: None  # noqa: E731
    ss.run_part("grokking-blind", ss.QUICK_BUDGET, p, quick=True, say=quiet)
    blind = ss.part_runs("grokking-blind", quick=True)[0]
    assert ss.is_finished(blind, p)
    with pytest.raises(ss.BlindGuardError):
        ss.read_run(blind, p)
    with pytest.raises(scoring.NotReady, match="tuning runs are finished"):
        scoring.score(p, quick=True, blind=True)
    args = ["--quick", "--data-dir", str(p.data_dir), "--work-dir", str(p.work_dir), "score", "--blind"]
    assert ss.main(args) == 2
    assert "error:" in capsys.readouterr().err
