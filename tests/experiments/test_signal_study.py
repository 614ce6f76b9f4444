"""The signal study's scoring (grokking outcomes, rule choice) and the classifier-study analysis."""

from __future__ import annotations

import math

import pytest

from lidscope.experiments.classify import imbalanced_sample, noisy_labels
from lidscope.experiments.classify_study import (choose_plateau, f1_plateau_step, overfit_verdict,
                                                 plateau_error)
from lidscope.experiments.grokking.study import (QUICK_PLAN, STUDY_PLAN, choose_rule, outcome, rule_grid,
                                                 score)
from lidscope.training.signals import FallRule

STEPS = list(range(0, 700, 50))


def _rows(lid: list[float], acc: list[float]) -> list[dict]:
    return [{"step": s, "lid_val_mean": v, "lid_train_mean": v, "val_acc": a, "val_loss": 1.0}
            for s, v, a in zip(STEPS, lid, acc)]


GROKS = _rows([16, 10, 12, 14, 15, 15, 14, 12, 9, 7, 6, 6, 6, 6],
              [0, 0, 0, 0, 0.05, 0.1, 0.2, 0.4, 0.6, 0.92, 1, 1, 1, 1])
FLAT = _rows([16, 10, 12, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13], [0.05] * 14)
DIPS = _rows([16, 10, 12, 13, 13, 11, 13, 13, 13, 13, 13, 13, 13, 13], [0.05] * 14)


def test_outcome_kinds_and_leads():
    rule = FallRule(rel_drop=0.1, skip=1)
    o = outcome("g", "tune", GROKS, rule)
    assert (o.alarm, o.val_050, o.val_090, o.kind) == (350, 400, 450, "hit")
    assert (o.lead_050, o.lead_090) == (50, 100)
    assert outcome("f", "tune", FLAT, rule).kind == "quiet"
    assert outcome("d", "tune", DIPS, rule).kind == "false alarm"
    late = outcome("g", "tune", GROKS, FallRule(rel_drop=0.55, skip=1))
    assert late.kind == "late" and late.lead_090 < 0
    assert outcome("g", "tune", GROKS, FallRule(rel_drop=0.9, skip=1)).kind == "missed"
    # reached 0.5 but not 0.9 within the budget: an alarm counts as a hit (the jump is under way)
    partial = _rows([16, 10, 12, 14, 15, 15, 14, 12, 9, 9, 9, 9, 9, 9], [0, 0, 0, 0, 0, 0, 0.1, 0.3, 0.5, 0.6,
                                                                        0.7, 0.7, 0.8, 0.8])
    p = outcome("p", "tune", partial, rule)
    assert (p.kind, p.val_090, p.lead_050) == ("hit", None, 50)


def test_score_counts_and_rates():
    rule = FallRule(rel_drop=0.1, skip=1)
    s = score([outcome(n, "t", r, rule) for n, r in (("g", GROKS), ("f", FLAT), ("d", DIPS))])
    assert (s.runs, s.grokked, s.alarms, s.hits, s.early, s.false_alarms) == (3, 1, 2, 1, 1, 1)
    assert s.precision == pytest.approx(0.5) and s.recall == pytest.approx(1.0)
    assert s.median_lead_090 == 100
    empty = score([outcome("f", "t", FLAT, rule)])
    assert math.isnan(empty.precision) and math.isnan(empty.recall)


def test_choose_rule_sees_only_its_half():
    runs = {"g": ("tune", GROKS), "d": ("tune", DIPS), "f": ("test", FLAT)}
    grid = {"rel_drop": (0.1,), "window": (None,), "confirm": (1, 2), "skip": (1,), "noise_z": (None,)}
    source, rule, s = choose_rule(runs, grid=grid)
    # 0.1 with one low value fires on the dip (a false alarm); two consecutive low values do not
    assert s.false_alarms == 0 and s.hits == 1 and rule.confirm == 2
    with pytest.raises(ValueError, match="no runs"):
        choose_rule({"f": ("test", FLAT)}, grid=grid)
    assert len(rule_grid(grid)) == 2


def test_plans_are_split_in_two_balanced_halves():
    for plan in (STUDY_PLAN, QUICK_PLAN):
        halves = {p.half for p in plan}
        assert halves == {"tune", "test"}
        for half in halves:
            assert {p.weight_decay for p in plan if p.half == half} == {0.0, 1.0}
    assert len(STUDY_PLAN) >= 16 and {p.op for p in STUDY_PLAN} == {"+", "-", "*", "/"}


# ---------------------------------------------------------------- classifiers


def _summary(lid: list[float], f1: list[float], epochs: int = 10) -> dict:
    steps = list(range(0, 10 * len(f1) + 1, 10))
    return {"lid_steps": steps, "lid_mean": lid, "f1_steps": steps[1:], "val_f1": f1, "steps_per_epoch": 10,
            "config": {"epochs": epochs}}


def test_f1_plateau_step():
    assert f1_plateau_step([1, 2, 3, 4], [0.2, 0.5, 0.7, 0.705]) == 3
    assert f1_plateau_step([1, 2, 3], [0.5, 0.4, 0.3]) == 1


def test_overfit_verdict_directions():
    f1 = [0.3, 0.6, 0.7, 0.6, 0.5, 0.45]
    rises = overfit_verdict(_summary([8, 6, 5, 5.02, 5.6, 6.2, 6.8], f1))
    assert rises.peak_step == 30 and rises.direction == "rises" and rises.f1_fall == pytest.approx(0.25)
    assert rises.spearman == pytest.approx(-1.0)
    flat = overfit_verdict(_summary([8, 6, 5, 5.02, 4.99, 5.01, 5.0], f1))
    assert flat.direction == "flat"
    assert overfit_verdict(_summary([8, 6, 5, 5, 5, 5, 5], [0.3, 0.6, 0.7, 0.7, 0.7, 0.7])).direction == "no F1 fall"


def test_plateau_error_and_choice():
    lid = [8, 5, 5.5, 6, 6.5, 6.6, 6.62, 6.61, 6.6, 6.62, 6.61]
    f1 = [0.3, 0.5, 0.6, 0.7, 0.75, 0.76, 0.76, 0.76, 0.76, 0.76]
    fired, f1_step, err = plateau_error(_summary(lid, f1), window=3, rel_tolerance=0.02)
    assert (fired, f1_step) == (60, 50) and err == pytest.approx(1.0)
    # the wider band confirms the plateau at 50, where F1 stopped improving; the narrow one one epoch late
    params, cost = choose_plateau([_summary(lid, f1)], grid={"window": (3, 4), "rel_tolerance": (0.01, 0.05)})
    assert params == {"window": 3, "rel_tolerance": 0.05, "noise_z": None} and cost == pytest.approx(0.0)
    assert plateau_error(_summary(lid, f1), window=3, rel_tolerance=0.01)[2] == pytest.approx(1.0)


def test_label_noise_and_imbalance():
    labels = [0, 1, 2, 3] * 25
    noisy = noisy_labels(labels, 4, 0.3, seed=0)
    assert sum(a != b for a, b in zip(labels, noisy)) == 30 and set(noisy) <= {0, 1, 2, 3}
    assert noisy == noisy_labels(labels, 4, 0.3, seed=0) and noisy != noisy_labels(labels, 4, 0.3, seed=1)
    with pytest.raises(ValueError):
        noisy_labels(labels, 4, 1.0, seed=0)
    items = [(f"{c}{i}", "text", c) for c in "abc" for i in range(10)]
    sample = imbalanced_sample(items, 2, 3, seed=0)
    assert [lab for _, _, lab in sample].count("a") == 6 and len(sample) == 10


def test_tie_break_lead_or_cautious():
    runs = {"g": ("tune", GROKS)}
    grid = {"rel_drop": (0.1, 0.3), "window": (None,), "confirm": (1,), "skip": (1,), "noise_z": (None,)}
    assert choose_rule(runs, grid=grid, prefer="lead")[1].rel_drop == 0.1       # alarm at 350, lead 50
    assert choose_rule(runs, grid=grid, prefer="cautious")[1].rel_drop == 0.3   # alarm at 400, lead 0
    with pytest.raises(ValueError, match="prefer"):
        choose_rule(runs, grid=grid, prefer="soon")


def test_exact_interval_matches_clopper_pearson():
    from lidscope.experiments.grokking.study import exact_interval

    # closed forms at the edges: (alpha/2)^(1/n)
    assert exact_interval(0, 4) == pytest.approx((0.0, 1 - 0.025 ** 0.25), abs=1e-9)
    assert exact_interval(4, 4) == pytest.approx((0.025 ** 0.25, 1.0), abs=1e-9)
    # tabulated Clopper-Pearson 95 % for 3 of 10
    assert exact_interval(3, 10) == pytest.approx((0.0667, 0.6525), abs=1e-4)
    assert all(math.isnan(x) for x in exact_interval(0, 0))
    with pytest.raises(ValueError):
        exact_interval(3, 2)


def test_blind_runs_are_the_test_half_after_the_preregistration():
    from lidscope.experiments.grokking.study import STUDY_BASE, blind_runs

    blind = blind_runs(STUDY_PLAN, STUDY_BASE)
    assert blind == ["mul-p97-f0.6-wd1-s0", "mul-p59-f0.5-wd1-s0", "add-p59-f0.7-wd0-s0", "sub-p97-f0.7-wd1-s0"]
    assert blind_runs(STUDY_PLAN, STUDY_BASE, after=len(STUDY_PLAN)) == []
