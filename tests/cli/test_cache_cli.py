"""`lidscope cache` lists parts and sizes, clears a part or all, and trims to a size limit (oldest first)."""

import os

from typer.testing import CliRunner

from lidscope.cli import app, register_commands

register_commands()
runner = CliRunner()


def _fill(root):
    for part, name, size, stamp in (("embeddings", "old", 3000, 100), ("embeddings", "new", 2000, 200),
                                  ("models", "smollm2", 5000, 300)):
        d = root / part / name
        d.mkdir(parents=True)
        (d / "data.bin").write_bytes(b"x" * size)
        os.utime(d, (1e9 + stamp, 1e9 + stamp))


def test_cache_lists_parts_with_sizes(tmp_path, monkeypatch):
    _fill(tmp_path)
    monkeypatch.setenv("LIDSCOPE_CACHE", str(tmp_path))
    res = runner.invoke(app, ["cache"])
    assert res.exit_code == 0, res.output
    assert "embeddings" in res.output and "5.0 kB" in res.output and "10.0 kB" in res.output


def test_cache_clear_part_and_max_size(tmp_path):
    _fill(tmp_path)
    res = runner.invoke(app, ["cache", "--root", str(tmp_path), "--max-size", "7.5kB"])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "embeddings" / "old").exists() and (tmp_path / "embeddings" / "new").exists()
    res = runner.invoke(app, ["cache", "--root", str(tmp_path), "--clear", "models"])
    assert res.exit_code == 0 and not (tmp_path / "models").exists() and (tmp_path / "embeddings").exists()
    res = runner.invoke(app, ["cache", "--root", str(tmp_path), "--clear", "all"])
    assert res.exit_code == 0 and not (tmp_path / "embeddings").exists()


def test_cache_rejects_a_bad_size(tmp_path):
    res = runner.invoke(app, ["cache", "--root", str(tmp_path), "--max-size", "lots"])
    assert res.exit_code == 2


def test_clearing_keeps_an_entry_a_running_process_is_writing(tmp_path):
    """`cache --clear` or `--max-size` beside a running `measure` once deleted its half-written
    entry and the measure failed; entries of live writers are kept and said so."""
    import os

    _fill(tmp_path)
    writing = tmp_path / "embeddings" / f".tmp-abc123-{os.getpid()}-deadbeef"   # this process: alive
    writing.mkdir()
    (writing / "layer0-00000.npy").write_bytes(b"x" * 4000)
    res = runner.invoke(app, ["cache", "--root", str(tmp_path), "--max-size", "0B"])
    assert res.exit_code == 0, res.output
    assert writing.exists() and not (tmp_path / "embeddings" / "old").exists()
    res = runner.invoke(app, ["cache", "--root", str(tmp_path), "--clear", "embeddings"])
    assert res.exit_code == 0, res.output
    assert writing.exists() and "kept 1 entry" in res.output
    stale = tmp_path / "embeddings" / ".tmp-abc123-999999999-deadbeef"                  # no such process
    stale.mkdir()
    runner.invoke(app, ["cache", "--root", str(tmp_path), "--clear", "embeddings"])
    assert not stale.exists() and writing.exists()
