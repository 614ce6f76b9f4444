"""`lidscope.settings`: one source of defaults, validation before any work, stable identities."""

from __future__ import annotations

import dataclasses
import warnings

import pytest

from lidscope import settings as S
from lidscope.errors import LIDInputError
from lidscope.settings import MeasureSettings


def test_presets_have_their_documented_sizes():
    assert (S.PAPER.n_sequences, S.PAPER.n_points) == (10_000, 60_000)
    assert (S.QUICK.n_sequences, S.QUICK.n_points) == (4_000, 24_000)
    assert (S.SWEEP.n_sequences, S.SWEEP.n_points) == (2_000, 10_000)
    assert (S.IN_TRAINING.n_sequences, S.IN_TRAINING.n_points, S.IN_TRAINING.max_length) == (500, 5_000, 128)
    assert MeasureSettings() == S.SWEEP
    for preset in (S.PAPER, S.QUICK, S.SWEEP, S.IN_TRAINING):
        assert (preset.n_neighbors, preset.estimator, preset.discard_fraction) == (128, "twonn", 0.1)


@pytest.mark.parametrize("changes, words", [
    ({"estimator": "twonn", "discard_fraction": 0.0}, "discard_fraction > 0"),
    ({"n_points": 128, "n_neighbors": 128}, "N must exceed L"),
    ({"n_neighbors": 2}, "n_neighbors must be an integer >= 3"),
    ({"estimator": "knn"}, "unknown estimator 'knn'"),
    ({"backend": "cuda"}, "unknown backend 'cuda'"),
    ({"discard_fraction": 1.0}, "discard_fraction must be in [0, 1)"),
    ({"n_sequences": 0}, "n_sequences must be an integer >= 1 or None"),
    ({"layers": ()}, "at least one hidden-state index"),
    ({"n_neighbors": True}, "n_neighbors must be an integer"),
])
def test_bad_settings_raise_a_clear_error(changes, words):
    with pytest.raises(LIDInputError) as info:
        MeasureSettings(**changes)
    assert words in str(info.value)


def test_twonn_mle_accepts_no_discard():
    assert MeasureSettings(estimator="twonn_mle", discard_fraction=0.0).discard_fraction == 0.0


def test_settings_ids_of_stored_results_are_unchanged():
    # values computed with lidscope.training.settings before the move: stores keep resuming
    assert MeasureSettings().settings_id == "5f1cb33f2c6e"
    assert MeasureSettings.paper().settings_id == "0ba16462b200"
    assert MeasureSettings.in_training().settings_id == "1706e8dcd9ed"
    assert MeasureSettings(layers=(-2, -1), estimator="mle", extra={"keep_bos": False}).settings_id == "e924768b2566"


def test_identity_leaves_out_speed_and_keeps_what_changes_values():
    base = MeasureSettings()
    assert base.replace(batch_size=8, max_batch_tokens=999, backend="numba").settings_id == base.settings_id
    assert base.replace(n_neighbors=64).settings_id != base.settings_id
    assert base.replace(discard_fraction=0.2).settings_id != base.settings_id


def test_identity_is_generic_over_added_fields():
    @dataclasses.dataclass(frozen=True)
    class More(MeasureSettings):
        replicates: int = dataclasses.field(default=1, metadata=S.ADDED)

    assert More().settings_id == MeasureSettings().settings_id
    assert More(replicates=5).settings_id != MeasureSettings().settings_id
    assert More(replicates=5).measure_kwargs()["replicates"] == 5


def test_round_trip_and_old_dicts_without_new_fields():
    s = MeasureSettings.paper(layers=(-3, -1), extra={"drop_special": True})
    assert MeasureSettings.from_dict(s.to_dict()) == s
    old = {k: v for k, v in s.to_dict().items() if k != "backend"}
    assert MeasureSettings.from_dict(old) == s


def test_old_import_path_still_works_with_a_deprecation_warning():
    import lidscope.training.settings as old

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cls = old.MeasureSettings
    assert cls is MeasureSettings
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_plateau_window_has_one_source():
    from lidscope.training.signals import PLATEAU_WINDOW, Plateau, plateau

    assert Plateau(False).window == PLATEAU_WINDOW
    assert plateau([1.0, 2.0, 3.0, 4.0, 5.0]).window == PLATEAU_WINDOW
