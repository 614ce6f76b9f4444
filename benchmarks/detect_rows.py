"""One JSON line per (detect run folder, candidate set) from every ``detect.json`` below a folder
(e.g. ``benchmarks/bench_detect.py``'s output): the method that decided, the verdict and its p-value,
LID's mean, paired shift against the base (point estimates) and permutation test against the reference,
and every method's text-level AUC. First line: ``{"meta": {command, commit, date, load}}``.

    python benchmarks/detect_rows.py runs/bench-detect-quick benchmarks/data/detection/quick.jsonl
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def rows(root: Path) -> list[dict]:
    out = []
    for f in sorted(root.rglob("detect.json")):
        d = json.loads(f.read_text())
        dec = d.get("decided_by") or {}
        for name, r in d["sets"].items():
            L = r["lid"]
            out.append({
                "folder": str(f.parent.relative_to(root)), "set": name, "texts": r["n_texts"],
                "decided_by": r["decided_by"], "decided_why": dec.get("reason"), "verdict": r["verdict"],
                "p_value": r["p_value"], "lid_mean": L["mean"]["estimate"],
                "lid_shift_vs_base_relative": ((L.get("vs_base") or {}).get("relative") or {}).get("estimate"),
                "lid_shift_verdict": (L.get("vs_base") or {}).get("verdict"),
                "lid_minus_reference": L["vs_reference"]["estimate"],
                "lid_p_vs_reference": r["methods"]["lid"]["difference"]["p_value"],
                "auc": {m: v["auc"]["auc"] for m, v in r["methods"].items()},
                "p": {m: v["difference"]["p_value"] for m, v in r["methods"].items()},
            })
    return out


def main(argv: list[str]) -> int:
    root, dest = Path(argv[0]), Path(argv[1])
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    meta = {"command": "python benchmarks/detect_rows.py " + " ".join(argv), "commit": commit,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load": os.getloadavg()[0],
            "source": str(root)}
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps({"meta": meta}) + "\n")
        for r in rows(root):
            fh.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
