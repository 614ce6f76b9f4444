"""Issue 19 item 2 on real runs: the cache never hands back a wrong cloud, and a cache folder that
cannot be written loses nothing. Tiny random models, a real forward pass each time."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "extract"))
from tinymodels import WORDS, save_tiny  # noqa: E402

from lidscope.measure import measure  # noqa: E402

KW = dict(n_sequences=60, n_points=300, n_neighbors=8, sample_size=2000, figures=False, keep_neighbors=0)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache-measure")
    rng = np.random.default_rng(1)
    corpus = root / "texts.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(WORDS, size=rng.integers(4, 20))) for _ in range(80)))
    return {k: save_tiny(k, root / k) for k in ("bert", "llama")}, corpus


def _vectors(r):
    return {label: lr.cloud.vectors for label, lr in r.layers.items()}


def _same(a, b):
    assert a.summary["mean"] == b.summary["mean"]
    for label, v in _vectors(a).items():
        np.testing.assert_array_equal(v, _vectors(b)[label])


def test_corrupted_real_chunk_is_reported_dropped_and_re_extracted(setup, tmp_path):
    models, corpus = setup
    first = measure(models["llama"], corpus, cache_dir=tmp_path, **KW)
    entry = tmp_path / first.summary["extraction"]["cache_key"]
    chunk = sorted(entry.glob("layer0-*.npy"))[0]
    data = bytearray(chunk.read_bytes())
    data[-5] ^= 0x10  # one float changed, the size kept: only the content hash can tell
    chunk.write_bytes(bytes(data))
    again = measure(models["llama"], corpus, cache_dir=tmp_path, **KW)
    assert again.summary["extraction"]["cache_hit"] is False  # re-extracted, not read
    assert any("damaged cache entry" in n and "checksum" in n for n in again.summary["notes"])
    _same(first, again)
    third = measure(models["llama"], corpus, cache_dir=tmp_path, **KW)  # the rebuilt entry serves
    assert third.summary["extraction"]["cache_hit"] is True
    _same(first, third)


def test_entry_from_another_model_is_reported_and_never_used(setup, tmp_path):
    models, corpus = setup
    mine = measure(models["llama"], corpus, cache_dir=tmp_path, **KW)
    other = measure(models["bert"], corpus, cache_dir=tmp_path / "other", **KW)
    key = mine.summary["extraction"]["cache_key"]
    shutil.rmtree(tmp_path / key)
    shutil.copytree(tmp_path / "other" / other.summary["extraction"]["cache_key"], tmp_path / key)
    again = measure(models["llama"], corpus, cache_dir=tmp_path, **KW)
    assert again.summary["extraction"]["cache_hit"] is False
    assert any("foreign" in n for n in again.summary["notes"])
    _same(mine, again)


def test_unwritable_cache_folder_is_reported_and_the_run_completes(setup, tmp_path):
    """The cache folder lies under a file, so it cannot be created (this holds for root too, where
    permission bits would not stop the write). The run goes on without keeping the vectors."""
    models, corpus = setup
    (tmp_path / "afile").write_text("x")
    want = measure(models["llama"], corpus, cache_dir=tmp_path / "ok", **KW)
    r = measure(models["llama"], corpus, cache_dir=tmp_path / "afile" / "cache", **KW)
    assert any("not writable" in n and "not kept" in n for n in r.summary["notes"])
    assert r.summary["extraction"]["cache_dir"] is None
    _same(want, r)
    assert (tmp_path / "afile").read_text() == "x"
