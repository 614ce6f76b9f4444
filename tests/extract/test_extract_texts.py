"""Text sources, deterministic splits, sampling, and bad-input messages."""

from __future__ import annotations

import json

import pytest

from lidscope.extract.errors import DataError
from lidscope.extract.texts import SPLITS, load_texts, read_items, split_of

LINES = ["first line", "", "second line", "third", "   ", "fourth one"]


def test_txt_one_sequence_per_line_and_empty_dropped(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    t = load_texts(f, n_sequences=None)
    assert sorted(t.texts) == sorted(x for x in LINES if x.strip())
    assert t.counts == {"available": 6, "sampled": 6, "empty_dropped": 2, "selected": 4}
    assert load_texts(f, n_sequences=None).fingerprint == t.fingerprint
    assert load_texts(f, n_sequences=None, seed=1).texts != t.texts or len(t.texts) < 3


def test_jsonl_csv_parquet_and_saved_dataset(tmp_path):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": i, "body": f"text number {i}"} for i in range(20)]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    with open(tmp_path / "a.csv", "w", encoding="utf-8") as fh:
        fh.write("id,body\n" + "".join(f'{r["id"]},"{r["body"]}"\n' for r in rows))
    pq.write_table(pa.table({"id": [r["id"] for r in rows], "body": [r["body"] for r in rows]}), tmp_path / "a.parquet")
    ds = datasets.Dataset.from_list(rows)
    ds.save_to_disk(str(tmp_path / "ds"))
    datasets.DatasetDict({"train": ds, "validation": ds.select(range(5))}).save_to_disk(str(tmp_path / "dd"))
    want = sorted(r["body"] for r in rows)
    for name in ("a.jsonl", "a.csv", "a.parquet", "ds"):
        # 'body' is the only text column, so it is found without --text-column
        assert sorted(load_texts(tmp_path / name, n_sequences=None).texts) == want, name
        assert sorted(load_texts(tmp_path / name, text_column="body", n_sequences=None).texts) == want
    assert len(load_texts(f"{tmp_path / 'dd'}:validation", n_sequences=None)) == 5
    with pytest.raises(DataError, match="splits"):
        load_texts(tmp_path / "dd")
    with pytest.raises(DataError, match="no split 'test'"):
        load_texts(tmp_path / "dd", split="test")
    for name in ("a.jsonl", "a.csv", "a.parquet", "ds"):
        with pytest.raises(DataError, match="--text-column") as e:
            load_texts(tmp_path / name, text_column="missing")
        assert "body" in str(e.value)


def test_iterable_and_bad_items():
    t = load_texts(["a b", "c", ""], n_sequences=None)
    assert sorted(t.texts) == ["a b", "c"] and t.counts["empty_dropped"] == 1
    with pytest.raises(DataError, match="not a str"):
        load_texts(["ok", 3])


def test_non_utf8_empty_and_all_empty(tmp_path):
    bad = tmp_path / "latin.txt"
    bad.write_bytes("ok\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"not valid UTF-8 \(line 2.*iconv"):
        load_texts(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        load_texts(empty)
    blanks = tmp_path / "blank.txt"
    blanks.write_text("\n  \n\t\n")
    with pytest.raises(DataError, match="all 3 sampled sequences"):
        load_texts(blanks)
    with pytest.raises(DataError, match="neither a bundled corpus"):
        load_texts(tmp_path / "nope.txt")


def test_split_of_is_deterministic_and_proportional():
    keys = [f"k{i}" for i in range(20000)]
    parts = [split_of(k) for k in keys]
    assert parts == [split_of(k) for k in keys]
    frac = {s: parts.count(s) / len(parts) for s in SPLITS}
    assert abs(frac["train"] - 0.8) < 0.02 and abs(frac["validation"] - 0.1) < 0.02


def test_file_split_partitions_rows(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("\n".join(f"line {i}" for i in range(300)))
    got = [set(load_texts(f"{f}:{s}", n_sequences=None).texts) for s in SPLITS]
    assert sum(len(g) for g in got) == 300
    assert not (got[0] & got[1]) and not (got[1] & got[2]) and not (got[0] & got[2])


def test_bundled_corpora_splits_are_disjoint_by_conversation():
    items = {s: read_items(f"chitchat:{s}")[0] for s in SPLITS}
    convs = {s: {k.split("/")[0] for k, _ in it} for s, it in items.items()}
    assert not (convs["train"] & convs["validation"]) and not (convs["validation"] & convs["test"])
    total = len(read_items("chitchat")[0])
    assert sum(len(v) for v in items.values()) == total
    t = load_texts("chitchat:validation", n_sequences=50)
    assert len(t) == 50 and t.name == "chitchat-validation"
    assert load_texts("chitchat:validation", n_sequences=50).texts == t.texts
    assert load_texts("wikipedia:test", n_sequences=5).counts["selected"] == 5
    assert load_texts("bbc:val", n_sequences=5).params["split"] == "validation"
    with pytest.raises(DataError, match="unknown split"):
        load_texts("chitchat:holdout")
    with pytest.raises(DataError, match="--split says"):
        load_texts("chitchat:train", split="test")


def test_bbc_non_utf8_article_is_read():
    texts = [t for _, t in read_items("bbc")[0]]
    assert len(texts) == 2225 and any("\u00a315.8m" in t for t in texts)
