"""Fuzz of the readers behind ``lidscope estimate`` and ``measure --data`` (issue 26, section 4).

Generated files -- every NumPy dtype and shape, in .npy/.npz/.safetensors/Parquet; text in .txt,
JSONL, CSV and Parquet -- then cut short, a byte flipped, or replaced by garbage. Property: the
reader returns a usable result (a finite 2-D float cloud; a list of non-empty texts) or raises the
project's clear error (LIDInputError / DataError, both ValueError); through the CLI, exit 0 or an
``error:`` line with exit 2 -- never another exception, never a traceback. Settings: tests/fuzzing.py.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from typer.testing import CliRunner

from fuzzing import FUZZ
from lidscope import LIDInputError
from lidscope.cli import app, register_commands
from lidscope.extract.errors import DataError
from lidscope.extract.texts import load_texts
from lidscope.pointsio import load_points
from lidscope.validation import as_cloud

pytestmark = pytest.mark.fuzz
register_commands()
RUNNER = CliRunner()

DTYPES = st.one_of(hnp.boolean_dtypes(), hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(),
                   hnp.floating_dtypes(), hnp.complex_number_dtypes(), hnp.datetime64_dtypes(),
                   hnp.timedelta64_dtypes(), hnp.byte_string_dtypes(), hnp.unicode_string_dtypes())
ARRAYS = DTYPES.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)))
DAMAGE = st.one_of(st.just(("none", 0)), st.tuples(st.just("truncate"), st.integers(0, 10_000)),
                   st.tuples(st.just("flip"), st.integers(0, 10_000)), st.tuples(st.just("garbage"), st.integers(0, 200)))


def _damage(raw: bytes, how: tuple[str, int], rnd: bytes) -> bytes:
    kind, n = how
    if kind == "truncate":
        return raw[: n % (len(raw) + 1)]
    if kind == "flip" and raw:
        b = bytearray(raw)
        b[n % len(b)] ^= 0xFF
        return bytes(b)
    if kind == "garbage":
        return rnd[:n]
    return raw


def _points_bytes(arr: np.ndarray, fmt: str) -> bytes:
    """``arr`` in the format, or None when the format cannot hold it (then garbage is written)."""
    buf = io.BytesIO()
    if fmt == ".npy":
        np.save(buf, arr, allow_pickle=False)
    elif fmt == ".npz":
        np.savez(buf, a=arr, **({"b": arr} if arr.size % 2 else {}))
    elif fmt == ".safetensors":
        from safetensors.numpy import save

        return save({"t": np.ascontiguousarray(arr)})
    elif fmt == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        a2 = arr.reshape(arr.shape[0] if arr.ndim else 1, -1) if arr.size else arr.reshape(0, 1)
        table = pa.table({f"c{j}": a2[:, j] for j in range(a2.shape[1])}) if a2.ndim == 2 and a2.shape[1] < 5 \
            else pa.table({"v": list(a2.reshape(len(a2), -1))})
        pq.write_table(table, buf)
    return buf.getvalue()


def _check_cloud_or_clear_error(path: Path, key: str | None = None) -> None:
    try:
        X = as_cloud(load_points(path, key))
    except LIDInputError as exc:
        assert str(exc)  # a message, not an empty error
        return
    assert X.ndim == 2 and X.dtype in (np.float32, np.float64) and np.isfinite(X).all()


@FUZZ
@given(arr=ARRAYS, fmt=st.sampled_from([".npy", ".npz", ".safetensors", ".parquet"]), how=DAMAGE,
       rnd=st.binary(min_size=0, max_size=200))
def test_point_readers_give_a_cloud_or_a_clear_error(tmp_path_factory, arr, fmt, how, rnd):
    path = tmp_path_factory.mktemp("pts") / f"x{fmt}"
    try:
        raw = _points_bytes(arr, fmt)
    except Exception:  # the format cannot store this dtype (e.g. safetensors and strings): garbage instead
        raw = rnd
    path.write_bytes(_damage(raw, how, rnd))
    _check_cloud_or_clear_error(path)


@FUZZ
@given(arr=ARRAYS, fmt=st.sampled_from([".npy", ".npz", ".safetensors", ".parquet", ".txt"]), how=DAMAGE,
       rnd=st.binary(min_size=0, max_size=200))
def test_estimate_cli_exits_0_or_2_with_an_error_line(tmp_path_factory, arr, fmt, how, rnd):
    path = tmp_path_factory.mktemp("cli") / f"x{fmt}"
    try:
        raw = _points_bytes(arr, fmt) if fmt != ".txt" else rnd
    except Exception:
        raw = rnd
    path.write_bytes(_damage(raw, how, rnd))
    res = RUNNER.invoke(app, ["estimate", str(path), "-L", "2", "--dry-run"])
    assert res.exit_code in (0, 2), (res.exit_code, res.output, res.exception)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    if res.exit_code == 2:
        assert "error:" in res.output


TEXTS = st.lists(st.text(min_size=0, max_size=30), min_size=0, max_size=12)
VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
                   st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _text_bytes(fmt: str, texts: list[str], rows: list[dict], column: str) -> bytes:
    if fmt == ".txt":
        return "\n".join(texts).encode("utf-8", "surrogatepass")
    if fmt == ".jsonl":
        return "\n".join(json.dumps(r) for r in rows).encode("utf-8", "surrogatepass")
    if fmt == ".csv":
        import csv

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow([column, "other"])
        for t in texts:
            w.writerow([t, len(t)])
        return buf.getvalue().encode("utf-8", "surrogatepass")
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({column: texts, "n": [len(t) for t in texts]}), buf)
    return buf.getvalue()


@FUZZ
@given(fmt=st.sampled_from([".txt", ".jsonl", ".csv", ".parquet"]), texts=TEXTS,
       rows=st.lists(st.dictionaries(st.sampled_from(["text", "body", "id"]), VALUES, max_size=3), max_size=8),
       column=st.sampled_from(["text", "body"]), how=DAMAGE, rnd=st.binary(max_size=200),
       ask=st.sampled_from([None, "text", "body", "missing"]))
def test_text_readers_give_texts_or_a_clear_error(tmp_path_factory, fmt, texts, rows, column, how, rnd, ask):
    path = tmp_path_factory.mktemp("txt") / f"d{fmt}"
    try:
        raw = _text_bytes(fmt, texts, rows, column)
    except (UnicodeEncodeError, Exception):
        raw = rnd
    path.write_bytes(_damage(raw, how, rnd))
    try:
        t = load_texts(str(path), text_column=ask, n_sequences=None)
    except DataError as exc:
        assert str(exc)
        return
    assert t.texts and all(isinstance(x, str) and x.strip() for x in t.texts)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).parent / "extract"))
    from tinymodels import save_tiny

    return save_tiny("bert", tmp_path_factory.mktemp("fuzz-model") / "bert")


@FUZZ
@given(fmt=st.sampled_from([".txt", ".jsonl", ".csv", ".parquet"]), texts=TEXTS,
       rows=st.lists(st.dictionaries(st.sampled_from(["text", "id"]), VALUES, max_size=2), max_size=6),
       how=DAMAGE, rnd=st.binary(max_size=120))
def test_measure_data_cli_exits_0_or_2_with_an_error_line(tmp_path_factory, tiny_bert, fmt, texts, rows, how, rnd):
    path = tmp_path_factory.mktemp("mdata") / f"d{fmt}"
    try:
        raw = _text_bytes(fmt, texts, rows, "text")
    except Exception:
        raw = rnd
    path.write_bytes(_damage(raw, how, rnd))
    res = RUNNER.invoke(app, ["measure", "--model", str(tiny_bert), "--data", str(path), "--dry-run", "-L", "2",
                              "-M", "0", "-N", "10", "--threads", "1"])
    assert res.exit_code in (0, 2), (res.exit_code, res.output, res.exception)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    if res.exit_code == 2:
        assert "error:" in res.output
