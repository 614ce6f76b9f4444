"""Re-score docs/: recompute every table, headline number and figure from the raw data kept in the repository.

    python benchmarks/rescore.py            # exit 0: every checked number agrees; 1: a difference (listed)
    python benchmarks/rescore.py --list     # also list every marker, check and exemption

The convention (follow it for every number you add to docs/):

1. **Raw data.** A benchmark writes its raw per-run rows with ``rawdata.write_rows("<study>/<part>", rows)``
   to ``benchmarks/data/<study>/<part>.jsonl``: first line ``{"meta": {"command", "commit", "date",
   "load"}}``, then one JSON object per row (strict JSON: ``null`` for NaN). Small text files only (no
   .parquet/.npy, no gzip): keep the rows a table is computed from, not point clouds.
2. **Marker.** Directly above each table (or a paragraph with a headline number) in docs/*.md or
   README.md, on its own line: ``<!-- rescore: NAME -->``. Every table must have one. ``NAME`` is
   ``not-measured`` for a table that holds no measured numbers (options, file lists); otherwise it names a
   check or a historical exemption of that doc's check module.
3. **Check module.** ``benchmarks/rescore_checks/<doc>.py`` (``<doc>`` = the doc's file name with ``-``
   as ``_``; ``readme.py`` for README.md) defines::

       CHECKS = {"NAME": fn}            # fn(block, data): recompute from data("study/part") -> (meta, rows)
                                        # and compare with block.expect(...) / block.cell(row, col).expect(...)
       HISTORICAL = {"NAME": "why no raw data; re-run with COMMAND"}   # reviewed exemptions, printed
                                        # ("NAME/rows x": the unchecked part of a checked block)
       FIGURES = {"figures/x.png": "study/part"}                       # the data each figure was drawn from
       HISTORICAL_FIGURES = {"figures/y.png": "why; re-run with COMMAND"}

   ``block.expect("{} of {} trials", 39, 40)`` finds the template in the block (``{}`` stands for a
   number; markdown emphasis and line breaks are ignored) and compares each number with the computed
   value at the precision the doc writes it (8.674 agrees with 8.6738; 8.67 would agree with 8.674).
   ``None`` skips a number; ``text.numbers(*values)`` compares every number of a text (a cell) in
   order. ``block.cell("row text", "column text")`` is one table cell (the row found by
   its first cell, the column by its header; each must match one only). ``block.expect_text(s)``
   requires literal text (a verdict).
4. **Figures.** Every file in docs/figures/ needs an entry in FIGURES (the data file must exist) or in
   HISTORICAL_FIGURES (a ``.png`` and ``.svg`` of the same name are one figure).

Historical exemptions are for numbers whose raw data was never kept and whose re-run does not fit a
session; the doc says so next to the table. The list is printed on every run, so the gap stays visible.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from rawdata import read_rows  # noqa: E402

MARKER = re.compile(r"^\s*<!--\s*rescore:\s*(?P<name>[A-Za-z0-9_.\-]+)\s*-->\s*$")
NOT_MEASURED = "not-measured"
# a number: optional sign only where it cannot be a range dash (not after a letter, digit or dot)
NUMBER = r"(?<![\w.])[-+]?\d+(?:,\d{3})*(?:\.\d+)?"
_NUMBER_RE = re.compile(NUMBER)
FIGURE_SUFFIXES = {".png", ".svg", ".jpg", ".jpeg", ".gif", ".html"}


class Mismatch(Exception):
    pass


def normalize(text: str) -> str:
    """Markdown text as compared: emphasis and code marks dropped, unicode minus as '-', whitespace collapsed."""
    text = text.replace("\u2212", "-").replace("\u2013", "-").replace("\u00a0", " ")
    text = re.sub(r"\*\*|__|`", "", text)
    return re.sub(r"\s+", " ", text).strip()


def parse_number(token: str) -> tuple[float, int]:
    """'1,234.50' -> (1234.5, 2): the value and the number of decimals written."""
    token = token.replace(",", "")
    decimals = len(token.split(".", 1)[1]) if "." in token else 0
    return float(token), decimals


def agrees(computed: float, token: str) -> bool:
    """Whether ``computed`` rounds to the number written as ``token`` (at the decimals it shows)."""
    value, decimals = parse_number(token)
    return abs(float(computed) - value) <= 0.5 * 10.0 ** -decimals * (1 + 1e-9) + 1e-12


def numbers_in(text: str) -> list[str]:
    return _NUMBER_RE.findall(normalize(text))


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    compared: int = 0
    tokens: list = field(default_factory=list)  # (where, number as written) of every comparison

    def fail(self, where: str, message: str) -> None:
        self.failures.append(f"{where}: {message}")


class Text:
    """A piece of a doc (a paragraph, a table cell) with the location used in messages."""

    def __init__(self, text: str, where: str, report: Report):
        self.raw = text
        self.text = normalize(text)
        self.where = where
        self.report = report

    def __str__(self) -> str:
        return self.text

    def expect(self, template: str | None = None, *values) -> None:
        """The numbers of ``template`` (``{}`` each) as found in this text equal ``values``.

        Without a template, every number in the text, in order, is compared with ``values``.
        """
        if template is None:
            found = numbers_in(self.text)
            if len(found) != len(values):
                self.report.fail(self.where, f"expected {len(values)} numbers {list(values)}, "
                                             f"found {len(found)}: {found} in {self.text!r}")
                return
            shown = self.text
        else:
            parts = normalize(template).split("{}")
            if len(parts) - 1 != len(values):
                raise ValueError(f"{self.where}: template {template!r} has {len(parts) - 1} slots, "
                                 f"{len(values)} values given")
            pattern = f"({NUMBER})".join(re.escape(p).replace(r"\ ", r"\s*") for p in parts)
            m = re.search(pattern, self.text)
            if m is None:
                loose = re.escape(normalize(template)).replace(r"\ ", r"\s*").replace(r"\{\}", ".{0,12}?")
                near = re.search(loose, self.text)
                hint = f" (the doc has {near.group(0)!r})" if near else ""
                self.report.fail(self.where, f"text {template!r} not found{hint}")
                return
            found = list(m.groups())
            shown = m.group(0)
        for i, (value, token) in enumerate(zip(values, found)):
            if value is None:
                continue
            self.report.compared += 1
            self.report.tokens.append((self.where, token))
            if not agrees(value, token):
                self.report.fail(self.where, f"number {i + 1} of {shown!r}: the data give {_fmt(value, token)}, "
                                             f"the doc says {token}")

    def numbers(self, *values) -> None:
        """Every number in this text, in order, equals ``values`` (``None`` skips one)."""
        self.expect(None, *values)

    def expect_text(self, literal: str) -> None:
        self.report.compared += 1
        if normalize(literal) not in self.text:
            self.report.fail(self.where, f"text {literal!r} not found in {self.text[:200]!r}")


def _fmt(value: float, token: str) -> str:
    _, decimals = parse_number(token)
    return f"{float(value):,.{decimals + 2}f} (~{float(value):,.{decimals}f})"


class Block(Text):
    """The lines under a marker, up to the next blank line."""

    def __init__(self, doc: str, name: str, line: int, lines: list[str], report: Report):
        super().__init__("\n".join(lines), f"{doc} [{name}] (line {line})", report)
        self.doc, self.name, self.line, self.lines = doc, name, line, lines
        self._table = None

    # --- tables -------------------------------------------------------------------------------
    def _parse_table(self):
        if self._table is None:
            rows = [ln for ln in self.lines if ln.lstrip().startswith("|")]
            if len(rows) < 2:
                raise Mismatch(f"{self.where}: no markdown table under the marker")
            cells = [_split_row(r) for r in rows]
            header, body = cells[0], [c for c in cells[2:]]
            self._table = ([normalize(h) for h in header], body)
        return self._table

    @property
    def header(self) -> list[str]:
        return self._parse_table()[0]

    @property
    def rows(self) -> list[list[str]]:
        return self._parse_table()[1]

    def _column(self, col: str | int) -> int:
        if isinstance(col, int):
            return col
        hits = [i for i, h in enumerate(self.header) if h == normalize(col)]
        hits = hits or [i for i, h in enumerate(self.header) if normalize(col) in h]
        if len(hits) != 1:
            raise Mismatch(f"{self.where}: column {col!r} matches {len(hits)} headers of {self.header}")
        return hits[0]

    def _row(self, row: str | int) -> list[str]:
        if isinstance(row, int):
            return self.rows[row]
        key = normalize(row)
        hits = [r for r in self.rows if normalize(r[0]) == key]
        hits = hits or [r for r in self.rows if key in normalize(r[0])]
        if len(hits) != 1:
            raise Mismatch(f"{self.where}: row {row!r} matches {len(hits)} rows "
                           f"(first cells: {[normalize(r[0])[:40] for r in self.rows]})")
        return hits[0]

    def cell(self, row: str | int, col: str | int) -> Text:
        r, c = self._row(row), self._column(col)
        if c >= len(r):
            raise Mismatch(f"{self.where}: row {row!r} has no column {col!r}")
        return Text(r[c], f"{self.where} row {normalize(r[0])[:50]!r}, column {self.header[c]!r}", self.report)


def _split_row(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", s)]


@dataclass
class DocMarks:
    path: str
    blocks: dict  # name -> Block
    unmarked_tables: list  # line numbers
    duplicates: list


def _is_separator(line: str) -> bool:
    s = line.strip()
    return s.startswith("|") and "-" in s and set(s.replace(" ", "")) <= set("|-:")


def scan_doc(root: Path, rel: str, report: Report) -> DocMarks:
    """The marked blocks of a doc (the lines after a marker up to a blank line) and its unmarked tables."""
    lines = (root / rel).read_text(encoding="utf-8").split("\n")
    blocks, dup, covered = {}, [], set()
    pending = None  # (name, line) of a marker waiting for its block
    i = 0
    while i < len(lines):
        m = MARKER.match(lines[i])
        if m:
            if pending is not None:
                report.fail(f"{rel} (line {pending[1]})", f"marker {pending[0]!r} has no block under it")
            pending = (m.group("name"), i + 1)
            i += 1
            continue
        if not lines[i].strip():
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].strip() and not MARKER.match(lines[j]):
            j += 1
        if pending is not None:
            name, mline = pending
            covered.update(range(i, j))
            if name == NOT_MEASURED:
                blocks[f"{NOT_MEASURED}@{mline}"] = None
            else:
                if name in blocks:
                    dup.append(name)
                blocks[name] = Block(rel, name, mline, lines[i:j], report)
            pending = None
        i = j
    unmarked = [k + 1 for k in range(len(lines) - 1)
                if lines[k].lstrip().startswith("|") and _is_separator(lines[k + 1])
                and not (k and lines[k - 1].lstrip().startswith("|")) and k not in covered]
    return DocMarks(rel, blocks, unmarked, dup)


def docs_of(root: Path) -> list[str]:
    docs = sorted(str(p.relative_to(root)) for p in (root / "docs").glob("*.md"))
    if (root / "README.md").is_file():
        docs.append("README.md")
    return docs


def module_name(doc: str) -> str:
    stem = Path(doc).stem
    return "readme" if doc == "README.md" else stem.replace("-", "_").replace(".", "_")


def load_module(root: Path, doc: str):
    path = root / "benchmarks" / "rescore_checks" / f"{module_name(doc)}.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"rescore_checks.{module_name(doc)}", path)
    mod = importlib.util.module_from_spec(spec)
    checks_dir = str(path.parent.parent)
    if checks_dir not in sys.path:
        sys.path.insert(0, checks_dir)
    spec.loader.exec_module(mod)
    return mod


def run(root: Path, verbose: bool = False, out=print, report: Report | None = None) -> int:
    root = Path(root).resolve()
    data_dir = root / "benchmarks" / "data"
    report = report if report is not None else Report()
    historical, checked, not_measured = [], [], 0
    used_data: set[Path] = set()

    def data(name):
        meta, rows = read_rows(name, data_dir)
        used_data.add((data_dir / name).with_suffix(".jsonl") if not Path(name).suffix else data_dir / name)
        return meta, rows

    figures_covered: dict[str, str] = {}
    for doc in docs_of(root):
        marks = scan_doc(root, doc, report)
        for line in marks.unmarked_tables:
            report.fail(f"{doc} (line {line})", "table without a '<!-- rescore: NAME -->' marker above it")
        for name in marks.duplicates:
            report.fail(doc, f"marker {name!r} used twice")
        try:
            mod = load_module(root, doc)
        except Exception as exc:  # a broken check module is a failure, not a traceback
            report.fail(doc, f"check module failed to load: {type(exc).__name__}: {exc}")
            continue
        checks = dict(getattr(mod, "CHECKS", {}) or {})
        hist = dict(getattr(mod, "HISTORICAL", {}) or {})
        for name in set(checks) & set(hist):
            report.fail(doc, f"{name!r} is both checked and historical")
        for name in (set(checks) | {h.split("/", 1)[0] for h in hist}) - set(marks.blocks):
            report.fail(doc, f"no '<!-- rescore: {name} -->' marker for the check module's entry {name!r}")
        for name, why in hist.items():  # "NAME/part": the unchecked part of a checked block
            if "/" in name:
                historical.append((doc, name, why))
        for name, block in marks.blocks.items():
            if block is None:
                not_measured += 1
            elif name in hist:
                historical.append((doc, name, hist[name]))
            elif name in checks:
                before = (len(report.failures), report.compared)
                try:
                    checks[name](block, data)
                except Mismatch as exc:  # its message names the block already
                    report.failures.append(str(exc))
                except Exception as exc:  # missing data, a broken check: reported, never a traceback
                    report.fail(block.where, f"{type(exc).__name__}: {exc}")
                n = report.compared - before[1]
                ok = len(report.failures) == before[0]
                if ok and n == 0:
                    report.fail(block.where, "the check compared no number")
                checked.append((doc, name, n, ok))
                if verbose:
                    out(f"{'ok  ' if ok else 'FAIL'} {doc} [{name}]: {n} numbers")
            else:
                report.fail(block.where, f"marker {name!r} has no entry in CHECKS or HISTORICAL of "
                                         f"benchmarks/rescore_checks/{module_name(doc)}.py")
        for fig, src in (getattr(mod, "FIGURES", {}) or {}).items():
            figures_covered[_figure_key(fig)] = f"data {src}"
            try:
                data(src)
            except (FileNotFoundError, ValueError) as exc:
                report.fail(f"{doc} {fig}", str(exc))
        for fig, why in (getattr(mod, "HISTORICAL_FIGURES", {}) or {}).items():
            figures_covered[_figure_key(fig)] = f"historical: {why}"
            historical.append((doc, fig, why))

    fig_dir = root / "docs" / "figures"
    present = {_figure_key(f"figures/{p.name}") for p in fig_dir.iterdir()
               if p.suffix.lower() in FIGURE_SUFFIXES} if fig_dir.is_dir() else set()
    for key in sorted(present - set(figures_covered)):
        report.fail(f"docs/{key}.*", "figure without data: add it to FIGURES (with its data file) or "
                                     "HISTORICAL_FIGURES of the doc's check module")
    for key in sorted(set(figures_covered) - present):
        report.fail(f"docs/{key}.*", "listed in a check module but not in docs/figures/")
    for doc in docs_of(root):
        text = (root / doc).read_text(encoding="utf-8")
        for ref in re.findall(r"\]\((?:\./)?(figures/[^)\s#]+)\)", text):
            if not (root / Path(doc).parent / ref).is_file():
                report.fail(doc, f"refers to {ref}, which does not exist")

    # every raw-data file is valid (strict JSON, meta line), used or not
    for p in sorted(data_dir.rglob("*")) if data_dir.is_dir() else []:
        if p.is_file() and p.suffix == ".jsonl":
            try:
                read_rows(p)
            except ValueError as exc:
                report.fail(str(p.relative_to(root)), str(exc))
        elif p.is_file() and p.name != "README.md":
            report.fail(str(p.relative_to(root)), "not a .jsonl file (raw data is kept as JSON lines)")

    n_ok = sum(1 for c in checked if c[3])
    out(f"rescore: {n_ok} of {len(checked)} checked blocks agree ({report.compared} numbers compared), "
        f"{not_measured} tables marked not-measured, {len(historical)} historical exemptions, "
        f"{len(figures_covered)} figures accounted for")
    if historical:
        out("historical (raw data not kept, not re-scorable):")
        for doc, name, why in historical:
            out(f"  - {doc} [{name}]: {why}")
    if verbose:
        unused = sorted(str(p.relative_to(root)) for p in data_dir.rglob("*.jsonl") if p not in used_data) \
            if data_dir.is_dir() else []
        for p in unused:
            out(f"note: {p} is used by no check")
    if report.failures:
        out(f"FAILED: {len(report.failures)} difference(s):")
        for f in report.failures:
            out(f"  - {f}")
        return 1
    return 0


def _figure_key(fig: str) -> str:
    p = Path(fig)
    return str(p.with_suffix("")) if p.suffix.lower() in FIGURE_SUFFIXES else str(p)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=HERE.parent, help="repository root (default: this checkout)")
    ap.add_argument("--list", action="store_true", help="print every check, its count and notes")
    args = ap.parse_args(argv)
    return run(args.root, verbose=args.list)


if __name__ == "__main__":
    sys.exit(main())
