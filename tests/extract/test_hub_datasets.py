"""Datasets by hub name (hf:NAME[:CONFIG]:SPLIT) from caches built on disk, offline; Dataset objects in the API."""

from __future__ import annotations

import json

import pytest

from hubcache import add_to_hub_cache
from tinymodels import WORDS
from lidscope.extract.errors import DataError
from lidscope.extract.hub_data import parse_hub_spec
from lidscope.extract.texts import load_texts, read_items

ORG = "lidscope-tests"


@pytest.fixture
def hf_home(tmp_path, monkeypatch):
    home = tmp_path / "hf-home"
    (home / "hub").mkdir(parents=True)
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


def _repo(tmp_path, name, splits, words=None):
    repo = tmp_path / name
    (repo / "data").mkdir(parents=True)
    for split, n in splits.items():
        rows = [{"sentence": " ".join(words[(i * 7 + k) % len(words)] for k in range(3 + i % 9)) if words
                 else f"{split} sentence number {i}", "label": i % 2} for i in range(n)]
        (repo / "data" / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return repo


def _prepare_in_datasets_cache(cache, repo_id, repo, config="default"):
    """What a first online `load_dataset(repo_id)` leaves in the datasets cache, written by datasets'
    own json builder under the repo's name (no network)."""
    from datasets.data_files import DataFilesDict
    from datasets.packaged_modules.json.json import Json

    b = Json(cache_dir=str(cache), dataset_name=repo_id.split("/")[-1], repo_id=repo_id, config_name=config,
             config_id=config, hash="0" * 16)
    b.config.data_files = DataFilesDict.from_patterns(
        {p.stem: [str(p)] for p in sorted((repo / "data").glob("*.jsonl"))})
    b.download_and_prepare()


def test_spec_forms():
    assert parse_hub_spec("hf:imdb:test") == ("imdb", None, "test")
    assert parse_hub_spec("hf:glue:sst2:validation") == ("glue", "sst2", "validation")
    assert parse_hub_spec("hf:org/name:train[:100]") == ("org/name", None, "train[:100]")
    assert parse_hub_spec("hf:org/name") == ("org/name", None, None)
    with pytest.raises(DataError, match="hf:NAME"):
        parse_hub_spec("hf:a:b:c:d")


def test_hub_dataset_from_the_datasets_cache_offline(hf_home, tmp_path):
    repo_id = f"{ORG}/sentences"
    _prepare_in_datasets_cache(hf_home / "datasets", repo_id, _repo(tmp_path, "r", {"train": 30, "test": 12}))
    t = load_texts(f"hf:{repo_id}:test", text_column="sentence", n_sequences=None)
    assert sorted(t.texts) == sorted(f"test sentence number {i}" for i in range(12))
    assert t.params["kind"] == "hub" and t.source == f"hf:{repo_id}:test"
    t2 = load_texts(f"hf:{repo_id}:default:train", text_column="sentence", n_sequences=5)
    assert len(t2) == 5 and all(x.startswith("train ") for x in t2.texts)
    with pytest.raises(DataError, match="no column 'body'"):
        load_texts(f"hf:{repo_id}:test", text_column="body")


def test_hub_dataset_from_a_repo_snapshot_in_the_hub_cache(hf_home, tmp_path):
    repo_id = f"{ORG}/snap"
    add_to_hub_cache(hf_home / "hub", repo_id, _repo(tmp_path, "r2", {"train": 20, "validation": 7}),
                     repo_type="dataset")
    items, desc = read_items(f"hf:{repo_id}", split="validation", text_column="sentence")
    assert [t for _, t in items] == [f"validation sentence number {i}" for i in range(7)]
    assert desc["split"] == "validation"


def test_uncached_hub_dataset_offline_says_how_to_fetch_it(hf_home):
    with pytest.raises(DataError) as e:
        load_texts(f"hf:{ORG}/nowhere:train")
    msg = str(e.value)
    assert "offline mode is on" in msg and f"huggingface-cli download --repo-type dataset {ORG}/nowhere" in msg


def test_dataset_objects_are_accepted(tmp_path):
    import datasets

    ds = datasets.Dataset.from_dict({"body": [f"row {i}" for i in range(40)], "n": list(range(40))})
    t = load_texts(ds, text_column="body", n_sequences=None)
    assert sorted(t.texts) == sorted(f"row {i}" for i in range(40))
    dd = datasets.DatasetDict({"train": ds, "test": ds.select(range(5))})
    t = load_texts(dd, split="test", text_column="body", n_sequences=None)
    assert sorted(t.texts) == [f"row {i}" for i in range(5)]
    with pytest.raises(DataError, match="splits"):
        load_texts(dd, text_column="body")
    val = load_texts(ds, split="validation", text_column="body", n_sequences=None)
    assert 0 < len(val) < 40  # one Dataset: the hashed row split, as for files


def test_measure_takes_a_dataset_object(tiny_models, sentences):
    import datasets

    from lidscope.measure import measure

    r = measure(tiny_models["bert"], datasets.Dataset.from_dict({"text": sentences}), n_sequences=None,
                n_points=200, n_neighbors=8, layers=-1, use_cache=False, figures=False)
    assert r.summary["counts"]["sequences"] == len([s for s in sentences if s.strip()])


def test_cli_measure_on_a_hub_dataset(hf_home, tmp_path, tiny_models):
    from typer.testing import CliRunner

    from lidscope.cli import app, register_commands

    register_commands()
    repo_id = f"{ORG}/cli-data"
    _prepare_in_datasets_cache(hf_home / "datasets", repo_id, _repo(tmp_path, "r3", {"train": 60, "test": 40}, WORDS))
    res = CliRunner().invoke(app, ["measure", "-m", str(tiny_models["bert"]), "--data", f"hf:{repo_id}:test",
                                   "--text-column", "sentence", "--offline", "-N", "150", "-L", "8",
                                   "-o", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c"), "-q"])
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["data"]["source"] == f"hf:{repo_id}:test" and s["counts"]["sequences"] == 40
