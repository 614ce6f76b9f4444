"""Chunked cache: round trip, atomic commit, interrupted runs, corrupt entries, no pickle."""

from __future__ import annotations

import numpy as np
import pytest

from lidscope.extract.cache import CacheError, CacheWriter, EmbeddingCache, cache_key, cleanup_stale, lookup


def _batches(n_batches=5, rows=37, d=8, seed=0):
    rng = np.random.default_rng(seed)
    for b in range(n_batches):
        v = rng.normal(size=(rows, d)).astype(np.float32)
        meta = {"seq_index": np.full(rows, b), "position": np.arange(rows), "token_id": np.arange(rows) + b,
                "sequence_rank": np.full(rows, b), "context": b * rows + np.arange(rows)}
        yield {"-1": v, "0": v * 2}, meta


def test_roundtrip_in_chunks(tmp_path):
    k1 = cache_key({"x": 1})
    with CacheWriter(tmp_path, k1, ["-1", "0"], {"x": 1}, chunk_bytes=2000) as w:
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
    again = lookup(tmp_path, k1)
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


def _entry(root, key="k4"):
    with CacheWriter(root, key, ["-1"], chunk_bytes=2000) as w:
        for v, m in _batches():
            w({"-1": v["-1"]}, m)
        return w.commit()


@pytest.mark.parametrize("damage", ["truncate", "flip", "meta"])
def test_damaged_chunk_is_detected_when_read_and_the_entry_rebuilt(tmp_path, damage):
    c = _entry(tmp_path)
    chunk = sorted(c.path.glob("meta-*.npy" if damage == "meta" else "layer0-*.npy"))[1]
    data = bytearray(chunk.read_bytes())
    if damage == "truncate":
        data = data[: len(data) - 64]
    else:  # same size, one value changed: only the digest can tell
        data[-3] ^= 0x40
    chunk.write_bytes(bytes(data))
    notes: list[str] = []
    assert lookup(tmp_path, "k4", notes) is None and not c.path.exists()
    assert len(notes) == 1 and ("truncated" in notes[0] or "checksum" in notes[0])
    rebuilt = _entry(tmp_path)
    np.testing.assert_array_equal(rebuilt.read_all("-1"), np.concatenate([v["-1"] for v, _ in _batches()]))
    assert lookup(tmp_path, "k4") is not None


def test_entry_without_checksums_is_not_trusted(tmp_path):
    import json

    c = _entry(tmp_path)
    mf = c.path / "manifest.json"
    manifest = json.loads(mf.read_text())
    del manifest["files"]
    mf.write_text(json.dumps(manifest))
    with pytest.raises(CacheError, match="no checksum"):
        EmbeddingCache.open(c.path)


def test_foreign_entry_is_refused_and_dropped(tmp_path):
    """An entry built for other key parts (here: copied under this key's name) is never used."""
    import shutil

    mine, theirs = cache_key({"model": "a"}), cache_key({"model": "b"})
    with CacheWriter(tmp_path, theirs, ["-1"], {"model": "b"}) as w:
        for v, m in _batches(2):
            w({"-1": v["-1"]}, m)
        w.commit()
    shutil.copytree(tmp_path / theirs, tmp_path / mine)
    notes: list[str] = []
    assert lookup(tmp_path, mine, notes) is None and not (tmp_path / mine).exists()
    assert len(notes) == 1 and "foreign" in notes[0] and "another model" in notes[0]
    assert lookup(tmp_path, theirs) is not None  # its own entry is fine


def test_kept_chunks_of_another_batch_plan_are_not_resumed(tmp_path):
    """Resuming is all or nothing per plan: a different plan digest starts afresh, with a note."""
    key = cache_key({"p": 1})
    w = CacheWriter(tmp_path, key, ["-1"], chunk_seconds=0.0)
    assert w.resume("plan-a") == 0
    for v, m in _batches(3):
        w({"-1": v["-1"]}, m)
    w.abort(keep=True)
    assert (tmp_path / f".partial-{key}").is_dir()
    same = CacheWriter(tmp_path, key, ["-1"], chunk_seconds=0.0)
    assert same.resume("plan-a") == 3
    same.abort(keep=True)
    other = CacheWriter(tmp_path, key, ["-1"], chunk_seconds=0.0)
    assert other.resume("plan-b") == 0 and "another batch plan" in other.notes[0]
    for v, m in _batches(2):
        other({"-1": v["-1"]}, m)
    c = other.commit()
    assert c.n_rows == 2 * 37 and not list(tmp_path.glob(".partial-*"))


def test_kept_chunk_that_was_damaged_is_not_resumed(tmp_path):
    key = cache_key({"p": 2})
    w = CacheWriter(tmp_path, key, ["-1"], chunk_seconds=0.0)
    w.resume("plan")
    for v, m in _batches(3):
        w({"-1": v["-1"]}, m)
    w.abort(keep=True)
    chunk = sorted((tmp_path / f".partial-{key}").glob("layer0-*.npy"))[1]
    data = bytearray(chunk.read_bytes())
    data[-1] ^= 1
    chunk.write_bytes(bytes(data))
    again = CacheWriter(tmp_path, key, ["-1"], chunk_seconds=0.0)
    assert again.resume("plan") == 0 and "checksum" in again.notes[0]
    again.abort()
