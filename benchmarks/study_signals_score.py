"""Scoring of signal study 2 (docs/signals-preregistration-2.md): the gates of `score` and `score --blind`.

The rule choice and the blind scoring defined by the pre-registration are the next step (issue 21);
what is here already enforces the order: the tuning half is scored from the tuning files only, and the
blind half is opened only when every run is finished and ``rules.json`` was chosen on the tuning files
as they are now.
"""

from __future__ import annotations

import json

import study_signals as ss


class NotReady(RuntimeError):
    """The study is not at the stage the command needs."""


def rules_path(paths: ss.Paths):
    return paths.data_dir / ss.STUDY / "rules.json"


def score(paths: ss.Paths, *, quick: bool = False, blind: bool = False) -> str:
    runs = ss.plan(quick)
    tune = [r for r in runs if r.half == "tune"]
    done = [r for r in tune if ss.is_finished(r, paths)]
    if not blind:
        for r in done:
            ss.read_run(r, paths)  # tuning files only (a blind one would be refused)
        raise NotReady(f"{len(done)} of {len(tune)} tuning runs finished; the rule choice of the "
                       "pre-registration is not implemented yet (issue 21, next step)")
    if len(done) < len(tune):
        raise NotReady(f"only {len(done)} of {len(tune)} tuning runs are finished: finish the tuning half first")
    blind_runs = [r for r in runs if r.half == "blind"]
    missing = [r.name for r in blind_runs if not ss.is_finished(r, paths)]
    if missing:
        raise NotReady(f"{len(missing)} blind runs are not finished (e.g. {missing[0]}): run --part grokking-blind")
    rp = rules_path(paths)
    if not rp.is_file():
        raise NotReady(f"no {rp}: run `score` on the tuning half first")
    rules = json.loads(rp.read_text())
    if rules.get("tune_digest") != ss.tune_digest(tune, paths):
        raise NotReady(f"{rp} was not chosen on the tuning files as they are now: run `score` again")
    raise NotReady("blind scoring is not implemented yet (issue 21, next step)")
