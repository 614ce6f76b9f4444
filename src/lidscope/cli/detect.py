"""`lidscope detect`: was this model trained on these texts? LID shifts next to membership-inference baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from lidscope.detect.pipeline import NO_LID_INTERVAL, DetectSettings

_D = DetectSettings()  # the one source of the defaults
from lidscope.threads import THREADS_HELP, limit_threads
from rich.markup import escape

from ._console import json_option, offline_option, set_offline


def _named(specs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, spec in enumerate(specs):
        name, sep, rest = spec.partition("=")
        if sep and name and "/" not in name and ":" not in name:
            out[name] = rest
        else:
            out[f"candidate-{i}"] = spec
    return out


def _fmt(iv: dict[str, Any], key: str = "estimate", digits: int = 2) -> str:
    return f"{iv[key]:.{digits}f} [{iv['low']:.{digits}f}, {iv['high']:.{digits}f}]"


def print_summary(console: Any, res: Any) -> None:
    """Verdicts, LID shifts, and the text-level AUC of every method, as three narrow tables."""
    from rich.table import Table

    st = res.info["settings"]
    dec = res.info["decided_by"]
    v = Table(title=f"Verdicts ({res.info['model']['name']}; decided by {dec['method']}, one-sided test at "
                    f"alpha {st['alpha']})")
    for col in ("set", "texts", "verdict", "p", "trust"):
        v.add_column(col, overflow="fold")
    lid = Table(title="LID (last measured layer): mean and paired shift vs base (one cloud per model: no interval, "
                      "no verdict), difference vs reference [95% CI over texts, cloud fixed] and its permutation p")
    for col in ("set", "mean LID", "shift vs base %", "minus reference", "p"):
        lid.add_column(col)
    auc = Table(title="Text-level ROC AUC vs the reference [95% CI] (0.5 = no signal)")
    auc.add_column("method")
    for name, r in res.sets.items():
        short = r["verdict"].split(":")[0].split(";")[0]
        v.add_row(name, str(r["n_texts"]), short, f"{r['p_value']:.3g}",
                  "ok" if r["trust"] == "ok" else "[yellow]questionable[/]")
        L = r["lid"]
        rel = (L.get("vs_base") or {}).get("relative")
        shift = f"{100 * rel['estimate']:+.1f}" if rel else "-"
        lid.add_row(name, f"{L['mean']['estimate']:.2f}", shift, _fmt(L["vs_reference"]),
                    f"{L['vs_reference']['p_value']:.3g}")
        auc.add_column(name)
    for meth in res.methods:
        auc.add_row(meth, *[_fmt(r["methods"][meth]["auc"], "auc") for r in res.sets.values()])
    console.print(f"verdict decided by [bold]{dec['method']}[/] ({escape(dec['reason'])}); every method is in the "
                  "tables below")
    for t in (v, lid, auc):
        console.print(t)
    console.print("LID mean and shift vs base: " + escape(NO_LID_INTERVAL))
    for w in res.warnings:
        console.print(f"[yellow]warning:[/] {escape(str(w))}")


def register(app: typer.Typer) -> None:
    """Add the ``detect`` command."""

    @app.command("detect")
    def detect_cmd(
        model: str = typer.Argument(..., help="The model to audit: Hugging Face hub id (org/name; the hub cache "
                                                     "first), local model folder, .gguf file or bundled name."),
        candidate: list[str] = typer.Option(..., "--candidate", "-c",
                                            help="Candidate text set, NAME=SPEC or SPEC (data spec: chitchat:test, a "
                                                 ".txt/.jsonl/.csv/.parquet file, PATH:SPLIT); repeat for several."),
        reference: str = typer.Option(..., "--reference", "-r",
                                      help="Texts known NOT to be in training, of the same kind as the candidates."),
        base: Optional[str] = typer.Option(None, "--base", "-b",
                                           help="The model before fine-tuning (same tokenizer): paired LID shift and "
                                                "the reference-model baseline."),
        out: Path = typer.Option(Path("lidscope-out/detect"), "--out", "-o", help="Run folder."),
        n_texts: int = typer.Option(_D.n_texts, "--n-texts", "-M", help="Texts sampled per set (0 = all)."),
        max_length: int = typer.Option(_D.max_length, "--max-length", help="Tokens per text (longer texts are cut)."),
        layer: int = typer.Option(_D.layer, "--layer", "-l", help="Hidden-state index for LID (-1 = last)."),
        n_points: int = typer.Option(_D.n_points, "--n-points", "-N", help="Most LID points over all sets (0 = all)."),
        neighbors: int = typer.Option(_D.n_neighbors, "--neighbors", "-L", help="L: neighbours per point."),
        decide_by: str = typer.Option(_D.decide_by, "--decide-by",
                                      help="Method behind the verdict: auto (the best measured the inputs "
                                           "allow: ref with a base model, else loss, else lid), lid, loss, zlib, "
                                           "mink, minkpp, ref."),
        alpha: float = typer.Option(_D.alpha, "--alpha", help="False-positive bound of the verdict (one-sided test)."),
        seed: int = typer.Option(_D.seed, "--seed"),
        threads: Optional[int] = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
        report: bool = typer.Option(True, "--report/--no-report", help="Also write OUT/report.html (offline page)."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Check the models, text sets and settings, print "
                                                              "the plan and an estimated time, and stop."),
        json_out: bool = json_option(),
        offline: bool = offline_option(),
    ) -> None:
        """Which of these text sets was MODEL trained on? LID shift against the base and the reference, with
        intervals, a verdict and its error rate per set, and a membership score per text; loss, zlib, Min-K%,
        Min-K%++ and reference-model baselines in the same run (causal LMs)."""
        import os

        from ._console import make_console

        from lidscope.cli._progress import stage_progress
        from lidscope.detect import DetectError, DetectSettings, detect

        from lidscope.extract.models import quiet_transformers

        if offline:
            set_offline()
        quiet_transformers()
        limit_threads(threads)
        console = make_console(stderr=json_out)
        try:
            from lidscope.outputs import check_output

            check_output(out)
            settings = DetectSettings(layer=layer, max_length=max_length, n_texts=n_texts or None,
                                      n_points=n_points or None, n_neighbors=neighbors, decide_by=decide_by,
                                      alpha=alpha, seed=seed)
            if dry_run:
                from ._dryrun import plan_detect

                plan_detect(console, model, _named(candidate), reference, base, settings, out)
                raise typer.Exit(0)
            with stage_progress(progress) as cb:
                res = detect(model, _named(candidate), reference, base=base, settings=settings, out=out, progress=cb)
        except (DetectError, ValueError, OSError) as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
        print_summary(console, res)  # on stderr with --json
        if json_out:
            from ._console import print_json

            print_json(res.to_dict())
        console.print(f"results: {out}/detect.json, texts.parquet, curves.parquet, roc.png")
        if report:
            from lidscope.report import write_report

            console.print(f"report: {write_report([out], out / 'report.html')} (open it in a browser; works offline)")
