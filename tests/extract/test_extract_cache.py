"""Chunked cache: round trip, atomic commit, interrupted runs, corrupt entries, no pickle."""

from __future__ import annotations

import numpy as np
import pytest

from lidscope.extract.cache import CacheWriter, EmbeddingCache, cache_key, cleanup_stale, lookup


def _batches(n_batches=5, rows=37, d=8, seed=0):
    rng = np.random.default_rng(seed)
    for b in range(n_batches):
        v = rng.normal(size=(rows, d)).astype(np.float32)
        meta = {"seq_index": np.full(rows, b), "position": np.arange(rows), "token_id": np.arange(rows) + b}
        yield {"-1": v, "0": v * 2}, meta


def test_roundtrip_in_chunks(tmp_path):
    with CacheWriter(tmp_path, "k1", ["-1", "0"], {"x": 1}, chunk_bytes=2000) as w:
        for v, m in _batches():
            w(v, m)
        c = w.commit({"extraction_stats": {"n": 1}})
    assert len(c.chunks) > 1 and c.n_rows == 5 * 37 and c.dim == 8
    want = np.concatenate([v["-1"] for v, _ in _batches()])
    np.testing.assert_array_equal(c.read_all("-1"), want)
    np.testing.assert_array_equal(c.read_all("0"), want * 2)
    rows = np.array([100, 3, 150, 3, 0])
    np.testing.assert_array_equal(c.gather("-1", rows), want[rows])
    md = c.metadata()
    assert md["seq_index"][40] == 1 and md["token_id"][40] == 3 + 1
    again = lookup(tmp_path, "k1")
    assert again is not None and again.info == {"extraction_stats": {"n": 1}}
    assert not list(tmp_path.glob(".tmp-*"))
    for f in c.path.glob("*.npy"):  # plain arrays: loadable with pickle disabled
        np.load(f, allow_pickle=False)


def test_interrupted_run_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with CacheWriter(tmp_path, "k2", ["-1"], chunk_bytes=500) as w:
            for i, (v, m) in enumerate(_batches()):
                w({"-1": v["-1"]}, m)
                if i == 2:
                    raise KeyboardInterrupt
    assert lookup(tmp_path, "k2") is None
    assert not list(tmp_path.iterdir())


def test_stale_tmp_of_dead_process_is_removed(tmp_path):
    dead = tmp_path / ".tmp-abc-999999999-deadbeef"
    dead.mkdir()
    assert cleanup_stale(tmp_path) == 1 and not dead.exists()


def test_corrupt_entry_is_dropped(tmp_path):
    with CacheWriter(tmp_path, "k3", ["-1"]) as w:
        for v, m in _batches(2):
            w({"-1": v["-1"]}, m)
        c = w.commit()
    next(c.path.glob("layer0-*.npy")).unlink()
    assert lookup(tmp_path, "k3") is None and not (tmp_path / "k3").exists()


def test_key_depends_on_every_part():
    base = {"model": {"id": "a"}, "data": "d", "extraction": {"layers": [-1]}}
    k = cache_key(base)
    assert k == cache_key(dict(base))
    assert k != cache_key({**base, "data": "e"})
    assert k != cache_key({**base, "extraction": {"layers": [-2]}})
    assert isinstance(EmbeddingCache, type)
