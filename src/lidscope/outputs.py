"""Files from results: the one place lidscope writes JSON, Parquet and result folders.

Every file is written to a temporary name in its folder and moved into place (``os.replace``), so
a reader never sees half a file, even after a crash. The computing layers (`lidscope.measure`,
`lidscope.local`) return result objects and touch no files; this layer turns them into

- a measurement folder: ``summary.json``, ``tokens.parquet``, ``points.parquet`` and
  ``texts.parquet`` (`lidscope.explain`), ``lid.png``, ``layers.png`` (the layer profile of
  ``--layer all``) and ``report.html`` (`write_measure`);
- a comparison folder: one measurement folder per ``<model>/<data>``, ``compare.json``,
  ``violin-<data>.png`` per dataset, ``compare.png``, ``layers-<data>.png`` (``--layer all``: every
  model's layer profile) and ``report.html`` (`write_compare`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

# the strict-JSON text helpers live on the base floor (`lidscope.jsonio`); importable from here as before
from lidscope.jsonio import dumps, nan_for_null, read_json, read_result_json, strict, to_jsonable

__all__ = ["check_output", "dumps", "measure_dir", "nan_for_null", "output_problem", "read_json",
           "read_result_json", "slug", "strict", "to_jsonable", "write_bytes", "write_compare", "write_json",
           "write_measure", "write_parquet", "write_table"]

if TYPE_CHECKING:
    from lidscope.measure import CompareResult, MeasureResult


def output_problem(path: str | os.PathLike[str], kind: str = "folder") -> str | None:
    """Why ``path`` cannot be written as a ``kind`` (``"folder"`` or ``"file"``), or ``None``.

    Checked before any work, so a run never computes for an hour and then fails to save: the path
    itself must not be of the other kind, and its nearest existing ancestor must be a folder this
    process can create files in (tested by creating and removing a file there, which also catches a
    read-only file system where permission bits say nothing, e.g. for root). Missing parent folders
    are fine: the writers create them.
    """
    p = Path(path).expanduser()
    if kind == "folder" and p.exists() and not p.is_dir():
        return f"{p} exists and is a file, not a folder"
    if kind == "file" and p.is_dir():
        return f"{p} is a folder; give a file name"
    probe_in = p if kind == "folder" and p.is_dir() else p.parent
    while not probe_in.exists() and probe_in != probe_in.parent:
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        return f"{probe_in} (a parent of {p}) is a file, not a folder"
    import tempfile

    try:
        fd, name = tempfile.mkstemp(prefix=".lidscope-write-check-", dir=probe_in)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return f"cannot create files in {probe_in} ({exc.strerror or exc})"
    return None


def check_output(path: str | os.PathLike[str], kind: str = "folder", option: str = "--out") -> None:
    """Raise `LIDInputError` when `output_problem` finds one (named after the ``option`` that set it)."""
    from lidscope.errors import LIDInputError

    problem = output_problem(path, kind)
    if problem:
        raise LIDInputError(f"{option} {path}: {problem}. Choose another {option} (nothing was computed).")


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as strict JSON to ``path`` atomically: NaN and inf are written as ``null``."""
    return write_bytes(path, (dumps(obj, indent=indent) + "\n").encode("utf-8"))


def write_table(path: str | os.PathLike[str], table: Any, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write a ``pyarrow.Table`` as Parquet atomically; ``metadata`` is stored as JSON in the schema."""
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if metadata:
        table = table.replace_schema_metadata({"lidscope": dumps(dict(metadata), indent=None)})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_parquet(path: str | os.PathLike[str], columns: dict[str, Any], metadata: dict[str, Any] | None = None) -> Path:
    """A Parquet table from equal-length columns; ``metadata`` is stored as JSON in the schema."""
    import pyarrow as pa

    return write_table(path, pa.table(columns), metadata)


def slug(text: str) -> str:
    """A file-name-safe version of a label (letters, digits, ``._-``)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return s or "x"


# --------------------------------------------------------------------------- result folders


def measure_title(result: MeasureResult) -> str:
    s = result.summary
    means = ", ".join(f"{v.lid.mean:.2f}" for v in result.layers.values())
    return (f"{s['model']['name']} on {s['data']['name']}: mean LID {means} "
            f"(N={result.first.lid.n_points}, L={s['params']['n_neighbors']})")


def write_measure(result: MeasureResult, out: str | os.PathLike[str], figures: bool = True) -> Path:
    """Write ``tokens.parquet``, the explanation tables, ``lid.png`` and ``report.html`` (if
    ``figures``) and ``summary.json`` into ``out``.

    Sets ``result.out_dir`` and ``result.summary["files"]``; ``summary.json`` is written last, so
    its presence means the folder is complete.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result.out_dir = out
    write_table(out / "tokens.parquet", result.tokens)
    files = ["summary.json", "tokens.parquet"]
    if result.points is not None:
        from lidscope.explain import write_explanation

        files += write_explanation(out, result.points, result.texts,
                                   result.summary.get("map", {}).get("variance_share"))
    if figures:
        from lidscope.plots import plot_distribution
        from lidscope.report import write_report
        from lidscope.runs import run_from_result

        values = {k: v.values for k, v in result.layers.items()}
        plot_distribution(values if len(values) > 1 else next(iter(values.values())), out / "lid.png",
                          measure_title(result))
        files += ["lid.png"]
        if result.summary.get("profile"):
            from lidscope.plots import plot_layer_profile
            from lidscope.profile import LayerProfile

            s = result.summary
            plot_layer_profile(LayerProfile.from_dict(s["profile"]), out / "layers.png",
                               f"{s['model']['name']} on {s['data']['name']}: mean LID by layer")
            files += ["layers.png"]
        write_report([run_from_result(result)], out / "report.html")
        files += ["report.html"]
    result.summary["files"] = files
    write_json(out / "summary.json", result.summary)
    return out


def _profiles_json(result: CompareResult) -> dict[str, Any]:
    """``profiles`` (each run's layer profile per dataset) and ``profile_changes`` for compare.json
    (``--layer all``); nothing for runs without profiles."""
    profiles = {d: {m: r.summary["profile"] for m, r in ms.items()} for d, ms in result.results.items()
                if all(r.summary.get("profile") for r in ms.values())}
    return {"profiles": profiles, "profile_changes": result.profile_changes()} if profiles else {}


def measure_dir(out: str | os.PathLike[str], model_label: str, data_label: str) -> Path:
    """The folder of one (model, data) measurement inside a comparison folder."""
    return Path(out) / slug(model_label) / slug(data_label)


def write_compare(result: CompareResult, out: str | os.PathLike[str], params: Mapping[str, Any] | None = None,
                  *, figures: bool = True, runs: bool = True) -> Path:
    """Write a comparison: the runs not yet written (if ``runs``), figures, then ``compare.json``."""
    from lidscope.plots import plot_compare

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if runs:
        for d, models in result.results.items():
            for m, r in models.items():
                if r.out_dir is None:
                    write_measure(r, measure_dir(out, m, d), figures=figures)
    paths: list[Path] = []
    if figures:
        groups = {d: {m: r.estimates for m, r in ms.items()} for d, ms in result.results.items()}
        bars = {d: {m: (r.interval.low, r.interval.high) for m, r in ms.items()} for d, ms in result.results.items()}
        for d, g in groups.items():
            paths.append(plot_compare({d: g}, out / f"violin-{slug(d)}.png", title=f"Pointwise local dimension on {d}",
                                      intervals={d: bars[d]}))
        paths.append(plot_compare(groups, out / "compare.png", intervals=bars))
        profiled = {d: ms for d, ms in result.results.items() if all(r.summary.get("profile") for r in ms.values())}
        if profiled:
            from lidscope.plots import plot_layer_profile

            for d, ms in profiled.items():
                paths.append(plot_layer_profile({m: r.profile for m, r in ms.items()},
                                                out / f"layers-{slug(d)}.png", f"Mean local dimension by layer on {d}"))
        from lidscope.report import write_report
        from lidscope.runs import run_from_result

        runs_ = [run_from_result(r) for ms in result.results.values() for r in ms.values()]
        paths.append(write_report(runs_, out / "report.html"))
    result.figures = paths
    result.out_dir = out
    write_json(out / "compare.json", {"rows": result.table(), "figures": [str(f) for f in paths],
                                      "comparisons": {d: {m: c.to_dict() for m, c in cs.items()}
                                                      for d, cs in result.comparisons.items()},
                                      **_profiles_json(result),
                                      "params": dict(params or {})})
    return out

