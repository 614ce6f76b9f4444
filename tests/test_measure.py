"""measure / compare / CLI on tiny random models, plus an integration run on bundled MiniLM."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent / "extract"))
from tinymodels import WORDS, save_tiny  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lidscope import LIDInputError  # noqa: E402
from lidscope.measure import compare, measure  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("measure-models")
    return {k: save_tiny(k, root / k) for k in ("bert", "llama")}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    f = tmp_path_factory.mktemp("corpus") / "texts.txt"
    lines = [" ".join(rng.choice(WORDS, size=rng.integers(3, 25))) for _ in range(200)]
    f.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return f


SMALL = dict(n_points=600, n_neighbors=16, sample_size=3000)


def test_measure_writes_a_complete_result(models, corpus, tmp_path, saved_figures):
    stages = set()
    r = measure(models["bert"], corpus, out=tmp_path / "out", cache_dir=tmp_path / "cache",
                progress=lambda s, d, n: stages.add(s), **SMALL)
    assert {"load_model", "load_data", "tokenize", "extract", "extract_tokens", "cloud"} <= stages
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    # lid.png shows every measured point in its histogram, with the mean marked
    (fig,) = saved_figures
    hist = fig.axes[0]
    assert sum(p.get_height() for p in hist.patches) == 600
    assert hist.lines[0].get_xdata()[0] == pytest.approx(r.mean)
    assert {"summary.json", "tokens.parquet", "lid.png"} <= set(s["files"]) and s["params"]["settings_id"]
    assert s["mean"] == pytest.approx(r.mean) and np.isfinite(s["global_estimate"])
    for key in ("median", "std", "quantiles", "counts", "params", "timings_s", "environment", "model", "data"):
        assert key in s
    c = s["counts"]
    assert c["sequences"] == 200 and c["points"] == 600 and c["tokens_kept"] == c["tokens"]
    assert s["params"]["n_neighbors"] == 16 and s["params"]["extraction.max_length"] == 512
    assert s["model"]["fingerprint"]["weights_sha256"] and len(s["data"]["fingerprint"]) == 64
    for stage in ("load_model", "load_data", "extract", "cloud", "neighbors", "estimates", "total"):
        assert stage in s["timings_s"]
    assert s["environment"]["packages"]["torch"] and s["extraction"]["cache_hit"] is False
    t = pq.read_table(tmp_path / "out" / "tokens.parquet")
    assert t.num_rows == 600
    assert t.column_names == ["point", "layer", "lid", "token_id", "token", "seq_index", "position", "sequence_id"]
    np.testing.assert_allclose(t.column("lid").to_numpy(), r.estimates)
    tok = t.column("token").to_pylist()
    assert "[PAD]" not in tok and set(tok) <= set(WORDS) | {"[CLS]", "[SEP]"}


def test_cache_hit_skips_extraction_and_reproduces(models, corpus, tmp_path):
    kw = dict(cache_dir=tmp_path / "cache", **SMALL)
    a = measure(models["llama"], corpus, **kw)
    b = measure(models["llama"], corpus, **kw)
    assert not a.summary["extraction"]["cache_hit"] and b.summary["extraction"]["cache_hit"]
    np.testing.assert_array_equal(a.estimates, b.estimates)
    c = measure(models["llama"], corpus, cache_dir=tmp_path / "cache", n_points=300, n_neighbors=8)
    assert c.summary["extraction"]["cache_hit"] and c.first.lid.n_points == 300
    d = measure(models["llama"], corpus, use_cache=False, **SMALL)
    np.testing.assert_allclose(d.estimates, a.estimates, rtol=1e-6)
    # decoder without bos in text: the llama tokenizer adds <s>, and its pad (= eos) is never kept
    assert a.summary["counts"]["tokens_dropped_eos"] == 0


def test_new_extractor_version_does_not_reuse_the_cache(models, corpus, tmp_path, monkeypatch):
    import lidscope.measure as m

    kw = dict(cache_dir=tmp_path / "cache", **SMALL)
    measure(models["bert"], corpus, **kw)
    monkeypatch.setattr(m, "EXTRACTOR_VERSION", m.EXTRACTOR_VERSION + 1)
    again = measure(models["bert"], corpus, **kw)
    assert not again.summary["extraction"]["cache_hit"]
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_several_layers_from_one_pass(models, corpus, tmp_path):
    r = measure(models["bert"], corpus, layers=(-1, 0), cache_dir=tmp_path / "c", **SMALL)
    assert list(r.layers) == ["-1", "0"] and set(r.summary["layers"]) == {"-1", "0"}
    assert r.tokens.num_rows == 1200


def test_too_few_points_is_an_error_and_fewer_than_n_is_a_note(models, tmp_path):
    with pytest.raises(LIDInputError, match="--neighbors"):
        measure(models["bert"], ["hello you", "good day"], cache_dir=tmp_path, n_neighbors=16)
    r = measure(models["bert"], ["hello you all good day " * 4] * 3 + ["the cat"] * 2,
                cache_dir=tmp_path, n_neighbors=5, n_points=1000)
    assert r.first.lid.n_points < 1000 and any("instead of N = 1000" in n for n in r.notes)


def test_compare_draws_violins(models, corpus, tmp_path, saved_figures):
    from matplotlib.collections import PathCollection

    other = tmp_path / "other.txt"
    other.write_text("\n".join(" ".join(line.split()[::-1]) for line in corpus.read_text().splitlines()), encoding="utf-8")
    cr = compare([models["bert"], models["llama"]], [str(corpus), str(other)], out=tmp_path / "cmp",
                 cache_dir=tmp_path / "cache", **SMALL)
    rows = cr.table()
    assert len(rows) == 4 and {r["model"] for r in rows} == {"bert", "llama"}
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["rows"][0]["mean"] > 0
    assert [f.name for f in cr.figures] == ["violin-texts.png", "violin-other.png", "compare.png", "report.html"]
    # the last figure (compare.png): one panel per dataset, one violin per model at its measured mean
    panels = saved_figures[-1].axes
    assert [ax.get_title() for ax in panels] == ["texts", "other"]
    for ax, data in zip(panels, ("texts", "other")):
        assert [t.get_text() for t in ax.get_xticklabels()] == ["bert", "llama"]
        dots = np.concatenate([c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)])
        # the dot is the mean of the plotted (replicate 0) values; with R > 1 r.mean is over replicates
        np.testing.assert_allclose(sorted(dots[:, 1]), sorted(cr.results[data][m].estimates.mean() for m in ("bert", "llama")))


def test_compare_keeps_data_files_of_the_same_name_apart(models, tmp_path):
    a, b = tmp_path / "a" / "valid.txt", tmp_path / "b" / "valid.txt"
    for f, words in ((a, "red green blue"), (b, "one two three four five six")):
        f.parent.mkdir()
        f.write_text("\n".join(f"{words} {i} {words}" for i in range(60)), encoding="utf-8")
    cr = compare([models["bert"]], [a, b], out=tmp_path / "cmp", cache_dir=tmp_path / "cache", figures=False,
                 n_points=200, n_neighbors=8)
    assert list(cr.results) == ["a/valid", "b/valid"]
    ra, rb = cr.results["a/valid"]["bert"], cr.results["b/valid"]["bert"]
    assert ra.summary["data"]["fingerprint"] != rb.summary["data"]["fingerprint"]
    assert ra.out_dir != rb.out_dir
    for r in (ra, rb):
        on_disk = json.loads((r.out_dir / "summary.json").read_text())
        assert on_disk["data"]["fingerprint"] == r.summary["data"]["fingerprint"]


def test_compare_checks_settings_before_loading_any_model(tmp_path):
    with pytest.raises(LIDInputError, match="discard_fraction > 0"):
        compare([tmp_path / "no-such-model"], ["chitchat:validation"], discard_fraction=0.0)


def test_measure_computes_without_touching_files_and_keeps_what_others_need(models, corpus, tmp_path,
                                                                            monkeypatch):
    from lidscope.settings import MeasureSettings

    monkeypatch.chdir(tmp_path)
    before = {p for p in tmp_path.rglob("*")}
    r = measure(models["bert"], corpus, use_cache=False, **SMALL)
    assert {p for p in tmp_path.rglob("*")} == before and r.out_dir is None
    assert r.texts is not None and r.texts.num_rows == 200
    assert r.settings == MeasureSettings.paper(**SMALL) and r.summary["params"]["settings_id"] == r.settings.settings_id
    assert r.points.num_rows == 600 and "neighbors" in r.points.column_names
    assert r.first.cloud.meta["seq_index"].shape == (600,)
    # settings= gives the same measurement as the keywords
    again = measure(models["bert"], corpus, settings=MeasureSettings.paper(**SMALL), use_cache=False)
    np.testing.assert_allclose(again.estimates, r.estimates, rtol=1e-6)


def test_discard_fraction_zero_with_twonn_is_rejected_before_the_model_is_loaded(tmp_path):
    with pytest.raises(LIDInputError, match="discard_fraction > 0"):
        measure(tmp_path / "no-such-model", ["a b c"] * 10, discard_fraction=0.0)


def test_cli_measure_and_help(models, corpus, tmp_path):
    from typer.testing import CliRunner

    from lidscope.cli import app, register_commands

    register_commands()
    runner = CliRunner()
    res = runner.invoke(app, ["measure", "--help"])
    assert res.exit_code == 0 and "--n-points" in res.output and "--trust-remote-code" in res.output
    res = runner.invoke(app, ["measure", "-m", str(models["bert"]), "-d", str(corpus), "-N", "500", "-L", "10",
                              "--layer", "-1", "-o", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c"), "-q"])
    assert res.exit_code == 0, res.output
    assert "mean" in res.output and (tmp_path / "o" / "summary.json").is_file()
    res = runner.invoke(app, ["measure", "-m", "no-such-model/xyz", "-q", "--offline"])
    assert res.exit_code == 2 and "not in the Hugging Face cache" in res.output
    assert "huggingface-cli download no-such-model/xyz" in res.output
    res = runner.invoke(app, ["compare", str(models["bert"]), str(models["llama"]), "--name", "enc", "--name", "dec",
                              "-d", str(corpus), "-N", "300", "-L", "8", "-o", str(tmp_path / "cmp"),
                              "--cache-dir", str(tmp_path / "c"), "-q"])
    assert res.exit_code == 0, res.output
    assert "enc" in res.output and "dec" in res.output and (tmp_path / "cmp" / "compare.png").is_file()


@pytest.mark.slow
def test_integration_bundled_minilm_on_chitchat(tmp_path):
    r = measure("minilm", "chitchat:validation", n_sequences=120, n_points=1500, n_neighbors=32,
                out=tmp_path / "m", cache_dir=tmp_path / "cache")
    s = r.summary
    assert s["model"]["model_type"] == "bert" and s["data"]["source"] == "chitchat:validation"
    assert s["counts"]["sequences"] == 120 and s["counts"]["points"] == 1500
    assert 2 < r.mean < 40 and np.isfinite(r.global_estimate)
    # 120 short utterances: batches are kept >= 512 tokens, so a little more padding than at full M
    assert 1.0 <= s["extraction"]["padding_ratio"] < 1.5
    tokens = pq.read_table(tmp_path / "m" / "tokens.parquet").column("token").to_pylist()
    assert "[CLS]" in tokens and "[PAD]" not in tokens


def test_bad_estimator_settings_fail_before_the_forward_pass(models, corpus, tmp_path):
    for kw in ({"estimator": "nope"}, {"n_neighbors": 1}, {"discard_fraction": 1.5}, {"backend": "gpu!"}):
        with pytest.raises(ValueError):
            measure(models["bert"], corpus, cache_dir=tmp_path, **kw)
    assert not any(tmp_path.iterdir())  # nothing was extracted


def test_interrupted_measure_leaves_no_cache_entry(models, corpus, tmp_path):
    def stop(stage, done, total):
        if stage == "extract_tokens" and done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        measure(models["bert"], corpus, cache_dir=tmp_path / "cache", batch_size=8, progress=stop, **SMALL)
    assert not list((tmp_path / "cache").iterdir())
    r = measure(models["bert"], corpus, cache_dir=tmp_path / "cache", **SMALL)  # a clean rerun works
    assert not r.summary["extraction"]["cache_hit"] and len(list((tmp_path / "cache").iterdir())) == 1


def test_corrupt_cache_chunk_is_extracted_again_and_noted(models, corpus, tmp_path):
    kw = dict(cache_dir=tmp_path / "cache", **SMALL)
    a = measure(models["bert"], corpus, **kw)
    chunk = next((tmp_path / "cache").glob("*/layer0-00000.npy"))
    data = bytearray(chunk.read_bytes())
    data[-5] ^= 0x10  # one float changed, size unchanged
    chunk.write_bytes(bytes(data))
    b = measure(models["bert"], corpus, **kw)
    assert not b.summary["extraction"]["cache_hit"]
    assert any("damaged cache entry" in n for n in b.notes)
    np.testing.assert_array_equal(a.estimates, b.estimates)
