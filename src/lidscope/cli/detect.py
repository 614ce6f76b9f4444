"""`lidscope detect`: was this model trained on these texts? LID shifts next to membership-inference baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer


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
    """Per candidate set: verdict, trust, LID shifts, and the text-level AUC of every method."""
    from rich.table import Table

    t = Table(title=f"lidscope detect: {res.info['model']['name']} (decided by {res.info['settings']['decide_by']}, "
                    f"alpha {res.info['settings']['alpha']})")
    for col in ("set", "texts", "verdict", "p", "LID shift vs base (%)", "LID - reference", *res.methods):
        t.add_column(col, overflow="fold")
    for name, r in res.sets.items():
        lid = r["lid"]
        vs_base = "-"
        if "vs_base" in lid:
            rel = lid["vs_base"]["relative"]
            vs_base = f"{100 * rel['estimate']:+.1f} [{100 * rel['low']:+.1f}, {100 * rel['high']:+.1f}]"
        aucs = [f"{m['auc']['auc']:.2f} [{m['auc']['low']:.2f}, {m['auc']['high']:.2f}]" for m in r["methods"].values()]
        verdict = r["verdict"] + ("" if r["trust"] == "ok" else " [yellow](questionable: see warnings)[/]")
        t.add_row(name, str(r["n_texts"]), verdict, f"{r['p_value']:.3g}", vs_base, _fmt(lid["vs_reference"]), *aucs)
    console.print(t)
    console.print("method columns: text-level ROC AUC against the reference [95% interval]; 0.5 = no signal.")
    for w in res.warnings:
        console.print(f"[yellow]warning:[/] {w}")


def register(app: typer.Typer) -> None:
    """Add the ``detect`` command."""

    @app.command("detect")
    def detect_cmd(
        model: str = typer.Argument(..., help="The model to audit: local model folder, .gguf file or bundled name."),
        candidate: list[str] = typer.Option(..., "--candidate", "-c",
                                            help="Candidate text set, NAME=SPEC or SPEC (data spec: chitchat:test, a "
                                                 ".txt/.jsonl/.csv/.parquet file, PATH:SPLIT); repeat for several."),
        reference: str = typer.Option(..., "--reference", "-r",
                                      help="Texts known NOT to be in training, of the same kind as the candidates."),
        base: Optional[str] = typer.Option(None, "--base", "-b",
                                           help="The model before fine-tuning (same tokenizer): paired LID shift and "
                                                "the reference-model baseline."),
        out: Path = typer.Option(Path("lidscope-out/detect"), "--out", "-o", help="Run folder."),
        n_texts: int = typer.Option(1000, "--n-texts", "-M", help="Texts sampled per set (0 = all)."),
        max_length: int = typer.Option(128, "--max-length", help="Tokens per text (longer texts are cut)."),
        layer: int = typer.Option(-1, "--layer", "-l", help="Hidden-state index for LID (-1 = last)."),
        n_points: int = typer.Option(50_000, "--n-points", "-N", help="Most LID points over all sets (0 = all)."),
        neighbors: int = typer.Option(128, "--neighbors", "-L", help="L: neighbours per point."),
        decide_by: str = typer.Option("lid", "--decide-by",
                                      help="Method behind the verdict: lid, loss, zlib, mink, minkpp, ref."),
        alpha: float = typer.Option(0.05, "--alpha", help="False-positive bound of the verdict (one-sided test)."),
        seed: int = typer.Option(0, "--seed"),
        threads: Optional[int] = typer.Option(None, "--threads", help="Cap torch/BLAS/numba threads."),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
    ) -> None:
        """Which of these text sets was MODEL trained on? LID shift against the base and the reference, with
        intervals, a verdict and its error rate per set, and a membership score per text; loss, zlib, Min-K%,
        Min-K%++ and reference-model baselines in the same run (causal LMs)."""
        import os

        from rich.console import Console

        from lidscope.cli._progress import stage_progress
        from lidscope.detect import DetectError, DetectSettings, detect

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if threads is not None:
            from lidscope.threads import limit_threads

            limit_threads(threads)
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        console = Console()
        try:
            settings = DetectSettings(layer=layer, max_length=max_length, n_texts=n_texts or None,
                                      n_points=n_points or None, n_neighbors=neighbors, decide_by=decide_by,
                                      alpha=alpha, seed=seed)
            with stage_progress(progress) as cb:
                res = detect(model, _named(candidate), reference, base=base, settings=settings, out=out, progress=cb)
        except DetectError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None
        print_summary(console, res)
        console.print(f"results: {out}/detect.json, texts.parquet, curves.parquet, roc.png")
