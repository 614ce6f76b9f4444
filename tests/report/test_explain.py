"""Run folders keep texts, token spans, the first k neighbours and a 2-D map; old folders still load."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "extract"))
from tinymodels import WORDS, save_tiny  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lidscope import kneighbors  # noqa: E402
from lidscope.drilldown import Drilldown  # noqa: E402
from lidscope.explain import pca_map  # noqa: E402
from lidscope.measure import measure  # noqa: E402
from lidscope.runs import load_run  # noqa: E402

SMALL = dict(n_points=500, n_neighbors=16, sample_size=3000)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    model = save_tiny("llama", root / "llama")
    rng = np.random.default_rng(0)
    f = root / "texts.txt"
    f.write_text("\n".join(" ".join(rng.choice(WORDS, size=rng.integers(3, 25))) for _ in range(150)) + "\n")
    r = measure(model, f, out=root / "out", cache_dir=root / "cache", layers=(-1, 1), keep_neighbors=5, **SMALL)
    return r, root


def test_run_folder_keeps_texts_spans_and_exact_neighbours(measured):
    r, root = measured
    run = load_run(root / "out")
    assert {"texts.parquet", "points.parquet", "report.html"} <= set(r.summary["files"])
    assert "run0-map--1" in (root / "out" / "report.html").read_text()
    assert len(run.texts) == r.summary["counts"]["sequences"]
    for label, lr in r.layers.items():
        t = run.layer_tokens(label)
        # every span cuts the point's own token out of its text
        texts = run.texts.set_index("seq_index")["text"]
        cut = [texts[s][a:b] for s, a, b in zip(t["seq_index"], t["char_start"], t["char_end"]) if a >= 0]
        real = [tok for tok, a in zip(t["token"], t["char_start"]) if a >= 0]
        assert cut == real and len(cut) >= 0.8 * len(t)
        # the kept neighbours are the first 5 of an exact search of the layer's points
        nb = kneighbors(lr.cloud.vectors, 16)
        np.testing.assert_array_equal(np.stack(t["neighbors"].to_numpy()), nb.indices[:, :5])
        np.testing.assert_allclose(np.stack(t["distances"].to_numpy()), nb.distances[:, :5], rtol=1e-6)
        assert lr.lid.neighbor_indices is None          # the full lists are not kept in memory
    ctx = Drilldown(run, "1").context(0, neighbors=2)
    assert ctx["token_text"] == ctx["token"] and len(ctx["neighbors"]) == 2
    assert ctx["before"] + ctx["token_text"] + ctx["after"] in run.texts["text"].iloc[
        int(run.layer_tokens("1").loc[0, "seq_index"])] or ctx["before"].startswith("…")


def test_private_data_keeps_no_texts_and_old_folders_still_load(measured, tmp_path):
    r, root = measured
    model = root / "llama"
    r2 = measure(model, root / "texts.txt", out=tmp_path / "private", cache_dir=root / "cache", keep_texts=False,
                 **SMALL)
    assert not (tmp_path / "private" / "texts.parquet").exists() and "texts.parquet" not in r2.summary["files"]
    run = load_run(tmp_path / "private")
    assert run.texts is None and run.points is not None
    ctx = Drilldown(run).context(1)
    assert ctx["before"] == "" and ctx["token_text"] == ctx["token"]
    (tmp_path / "private" / "points.parquet").unlink()     # a folder from before this change
    old = load_run(tmp_path / "private")
    assert old.points is None and Drilldown(old).by_class()["count"].sum() == 500


def test_pca_map_matches_an_svd_and_is_sign_fixed():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)) * np.array([5, 3, 1, 1, 1, 1])
    coords, share = pca_map(X)
    Xc = X - X.mean(0)
    u, s, vt = np.linalg.svd(Xc, full_matrices=False)
    np.testing.assert_allclose(np.abs(coords), np.abs(Xc @ vt[:2].T), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(share, s[:2] ** 2 / (s ** 2).sum(), rtol=1e-6)
    c2, _ = pca_map(-X)
    np.testing.assert_allclose(c2, -coords, rtol=1e-4, atol=1e-4)   # same picture up to the data's own sign


def test_keep_neighbors_zero_keeps_no_lists_and_negative_is_refused(measured, tmp_path):
    from lidscope import LIDInputError

    r, root = measured
    r0 = measure(root / "llama", root / "texts.txt", out=tmp_path / "nolists", cache_dir=root / "cache",
                 keep_neighbors=0, **SMALL)
    t = load_run(tmp_path / "nolists").layer_tokens(r0.first.layer)
    assert len(t) == 500 and all(len(x) == 0 for x in t["neighbors"])
    with pytest.raises(LIDInputError, match="keep_neighbors"):
        measure(root / "llama", root / "texts.txt", cache_dir=root / "cache", keep_neighbors=-1, **SMALL)
