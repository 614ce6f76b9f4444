"""`lidscope detect` on tiny models: a run folder and a table; bad input exits with a message, no traceback."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from lidscope.cli import app, register_commands

register_commands()
runner = CliRunner()


def _files(tmp_path, tiny_lm):
    paths = {}
    for k in ("members", "nonmembers", "reference"):
        paths[k] = tmp_path / f"{k}.txt"
        paths[k].write_text("\n".join(tiny_lm[k]) + "\n")
    return paths


def test_detect_cli_writes_the_run_folder(tiny_lm, tmp_path):
    p = _files(tmp_path, tiny_lm)
    out = tmp_path / "run"
    r = runner.invoke(app, ["detect", str(tiny_lm["tuned"]), "-c", f"members={p['members']}", "-c",
                            f"clean={p['nonmembers']}", "-r", str(p["reference"]), "--base", str(tiny_lm["base"]),
                            "-L", "16", "--max-length", "32", "--decide-by", "loss", "--no-progress", "-o", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads((out / "detect.json").read_text())
    assert d["sets"]["members"]["verdict"].startswith("member-like")
    assert d["sets"]["clean"]["verdict"] == "no detectable membership signal"
    assert "members" in r.output and "member-like" in r.output
    assert "decided by loss" in r.output and "chosen by the user" in r.output


def test_detect_cli_default_names_the_deciding_method(tiny_lm, tmp_path):
    p = _files(tmp_path, tiny_lm)
    out = tmp_path / "run"
    r = runner.invoke(app, ["detect", str(tiny_lm["tuned"]), "-c", f"members={p['members']}", "-r", str(p["reference"]),
                            "--base", str(tiny_lm["base"]), "-L", "16", "--max-length", "32", "--no-progress",
                            "-o", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads((out / "detect.json").read_text())
    assert d["decided_by"]["method"] == "ref" and "decided by ref" in r.output
    assert "no interval and no verdict" in r.output     # the LID shift is not given a bootstrap verdict
    page = (out / "report.html").read_text()
    assert "Verdict by ref (auto: the reference-model ratio" in page
    page = (out / "report.html").read_text()   # the run folder's report shows the verdicts (browser: tests/report)
    assert 'id="detect0-verdicts"' in page and d["sets"]["members"]["verdict"] in page


def test_detect_cli_bad_input_is_a_message(tiny_lm, tmp_path):
    p = _files(tmp_path, tiny_lm)
    few = tmp_path / "few.txt"
    few.write_text("hello there\nhow are you\n")
    r = runner.invoke(app, ["detect", str(tiny_lm["tuned"]), "-c", str(few), "-r", str(p["reference"]),
                            "--no-progress", "-o", str(tmp_path / "x")])
    assert r.exit_code == 2 and "too few texts" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["detect", str(tmp_path / "missing"), "-c", str(p["members"]), "-r", str(p["reference"]),
                            "--no-progress"])
    assert r.exit_code == 2 and "not a local folder" in r.output


def test_detect_json_is_detect_json_alone_on_stdout(tiny_lm, tmp_path):
    p = _files(tmp_path, tiny_lm)
    out = tmp_path / "run"
    r = runner.invoke(app, ["detect", str(tiny_lm["tuned"]), "-c", f"members={p['members']}", "-r", str(p["reference"]),
                            "-L", "16", "--max-length", "32", "--decide-by", "loss", "--no-progress", "--no-report",
                            "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output

    def refuse(name):
        raise ValueError(name)
    got = json.loads(r.stdout, parse_constant=refuse)
    saved = json.loads((out / "detect.json").read_text())
    assert got["sets"] == saved["sets"] and got["methods"] == saved["methods"]
    assert "results:" in r.stderr and "Verdicts" in r.stderr


def test_detect_offline_refuses_an_uncached_hub_id_with_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty hub cache
    (tmp_path / "r.txt").write_text("".join(f"hello there number {i}\n" for i in range(20)))
    r = runner.invoke(app, ["detect", "no-such-org/no-such-model", "-c", str(tmp_path / "r.txt"), "-r",
                            str(tmp_path / "r.txt"), "-o", str(tmp_path / "run"), "--offline", "--dry-run"])
    assert r.exit_code == 2
    assert "not in the Hugging Face cache" in r.output and "huggingface-cli download no-such-org/no-such-model" in r.output
