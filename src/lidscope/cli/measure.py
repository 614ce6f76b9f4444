"""`lidscope measure` and `lidscope compare`: mean local dimension of a model's token embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from lidscope.extract.models import quiet_transformers
from lidscope.settings import COMPARE_N_REPLICATES, PAPER, QUICK, parse_layers
from lidscope.threads import THREADS_HELP, limit_threads

from ._console import json_option
from ._progress import stage_progress

#: M and N of the no-argument demo (``lidscope measure``, the quick preset); ``--paper`` gives the paper's.
DEMO_DEFAULTS: dict[str, int | None] = {"n_sequences": QUICK.n_sequences, "n_points": QUICK.n_points}
PAPER_DEFAULTS: dict[str, int | None] = {"n_sequences": PAPER.n_sequences, "n_points": PAPER.n_points}
#: ``--layer`` default text.
LAYERS = ",".join(str(x) for x in QUICK.layers)

TWONN_FRACTION_HELP = ("TwoNN fit as scikit-dimension skdim-0.5 (F = i/N) or skdim-0.3.4 (F = (i-1)/N, the "
                       "paper's locked release; ~2.6 % lower).")
METRICS_HELP = ("Descriptors measured beside the LID on every layer's cloud: lid (only the LID, the default), or "
                "any of scale_profile, gride, persistence, anisotropy, spectrum, comma-separated, or all "
                "(docs/geometry.md). With replicates each gets a t-interval.")
DRY_RUN_HELP = "Check the models, data and settings, print the plan and an estimated time, and stop."

_PANEL_DATA = "Texts"
_PANEL_MODEL = "Model"
_PANEL_TOKENS = "Tokens and layers"
_PANEL_CLOUD = "Point cloud and estimator"
_PANEL_RUN = "Output and run"


def parse_layer_option(text: str) -> tuple[int, ...] | str:
    try:
        return parse_layers(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _measure_kwargs(**kw: Any) -> dict[str, Any]:
    kw["layers"] = parse_layer_option(kw.pop("layer"))
    return kw


def _print_summary(console: Any, r: Any) -> None:
    from rich.table import Table

    s = r.summary
    c = s["counts"]
    t = Table(title=f"{s['model']['name']} on {s['data']['name']}", show_header=False, title_justify="left")
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")  # long paths wrap, never end in an ellipsis
    t.add_row("model", f"{s['model']['source']}  (fingerprint {s['model']['fingerprint']['id']})")
    t.add_row("data", f"{s['data']['source']}  (fingerprint {s['data']['fingerprint'][:16]})")
    t.add_row("sequences", f"{c['sequences']:,} used of {c['sequences_sampled']:,} sampled "
              f"({c['sequences_empty_dropped']} empty dropped; {c['sequences_available']:,} in the split)")
    t.add_row("tokens", f"{c['tokens']:,} -> {c['tokens_kept']:,} kept (eos dropped {c['tokens_dropped_eos']}, "
              f"bos dropped {c['tokens_dropped_bos']}, other special dropped {c['tokens_dropped_special']})")
    p = s["params"]
    cut = truncation_text(c, p.get("extraction.max_length"))
    if cut:
        t.add_row("cut at max length", cut)
    t.add_row("points", f"{c['tokens_sampled']:,} sampled, {c['duplicates_removed']:,} duplicates removed"
              f"{_dedup_text(s)}, {c['points']:,} measured (N requested {c['points_requested']:,})")
    t.add_row("estimator", f"{p['estimator']}, L = {p['n_neighbors']}, discard {p['discard_fraction']}")
    for label, ls in ({} if s.get("profile") else s["layers"]).items():  # a profile gets its own table
        t.add_row(f"layer {label}", f"[bold green]{statistics_text(ls)}[/]  ({ls.get('statistics', 'one replicate')})")
        if ls.get("interval"):
            t.add_row("", _interval_text(ls))
        if ls.get("n_replicates", 1) > 1 and ls.get("replicate_0"):
            t.add_row("", f"{statistics_text(ls['replicate_0'])}  (replicate 0 alone: the points of tokens.parquet, "
                          "lid.png and the report)")
        for row in geometry_rows(ls.get("geometry")):
            t.add_row("", row)
    tm = s["timings_s"]
    t.add_row("time (s)", "  ".join(f"{k} {v:.1f}" for k, v in tm.items()))
    ex = s["extraction"]
    if ex.get("cache_hit"):
        t.add_row("cache", f"hit: forward pass skipped ({ex.get('cache_dir')}/{ex['cache_key']})")
    elif ex.get("padding_ratio"):
        t.add_row("forward", f"{ex.get('tokens_per_second') or 0:,.0f} tokens/s, computed/real positions "
                  f"{ex['padding_ratio']:.3f}")
    if r.out_dir:
        t.add_row("results", f"{r.out_dir}/ ({', '.join(r.summary.get('files', ['summary.json', 'tokens.parquet']))})")
    console.print(t)
    print_notes(console, s.get("notes", []))


def print_notes(console: Any, notes: list[Any]) -> None:
    """The result's notes; replicates that are not independent as a warning."""
    for note in notes:
        text = str(note)
        if text.startswith(NOT_INDEPENDENT):
            console.print(f"[bold yellow]warning:[/] {escape(text)}")
        else:
            console.print(f"[yellow]note:[/] {escape(text)}")


#: How `lidscope.measure` starts the note of replicates that share their texts.
NOT_INDEPENDENT = "replicates not independent:"


def statistics_text(st: dict[str, Any]) -> str:
    """``mean 9.420  median 11.36  std ...  global TwoNN ...`` of one set of statistics (one definition)."""
    q = st.get("quantiles") or {}
    return (f"mean {st['mean']:.3f}  median {st['median']:.3f}  std {st['std']:.3f}  q25 {q.get('0.25', float('nan')):.3f}  "
            f"q75 {q.get('0.75', float('nan')):.3f}  global TwoNN {st['global_estimate']:.3f}")


def truncation_text(c: dict[str, Any], max_length: Any = None) -> str:
    """``83 of 203 texts (41 %) longer than max_length = 512: cut there`` or nothing."""
    k, frac = c.get("sequences_truncated"), c.get("sequences_truncated_fraction")
    if not k:
        return ""
    n = c.get("sequences_extracted") or c.get("sequences")
    at = f" = {max_length:,}" if isinstance(max_length, int) else ""
    rule = c.get("sequences_truncated_rule") or "longer than max_length"
    return f"{k:,} of {n:,} texts ({frac:.0%}) {rule}{at}: cut there, their later tokens not measured"


def geometry_rows(g: dict | None) -> list[str]:
    """One line per geometry descriptor of a layer summary (with its interval over replicates, if any)."""
    if not g:
        return []
    v, iv = g["values"], g.get("intervals", {})
    # with replicates every number is the mean over them (its interval beside it), never replicate 0's value
    # next to the replicates' interval
    over = f" (mean over {g['n_replicates']} replicates)" if iv and g.get("n_replicates") else ""

    def num(name: str, key: str, digits: int = 3) -> str:
        i = iv.get(name, {}).get(key)
        x = i["estimate"] if i else v[name][key]
        return f"{x:.{digits}f}" + (f" [{i['low']:.{digits}f}, {i['high']:.{digits}f}]" if i else "")

    def series(name: str, key: str) -> list[float]:
        i = iv.get(name, {}).get(key)
        return [e["estimate"] for e in i] if isinstance(i, list) else list(v[name][key])

    rows = []
    if "scale_profile" in v:
        sp = v["scale_profile"]
        rows.append(f"scale profile (mean TwoNN){over}: " + ", ".join(
            f"L={L} {m:.2f}" for L, m in zip(sp["n_neighbors"], series("scale_profile", "mean"))))
    if "gride" in v:
        gr = v["gride"]
        rows.append(f"GRIDE{over}: " + ", ".join(f"{b}: {d:.2f}" for b, d in zip(gr["n2"], series("gride", "dimension"))))
    if "persistence" in v:
        rows.append(f"persistence{over}: H1 total {num('persistence', 'h1_total_persistence', 4)}, max "
                    f"{num('persistence', 'h1_max_persistence', 4)}, long-lived H1 "
                    f"{num('persistence', 'n_long_lived_h1', 1) if iv.get('persistence', {}).get('n_long_lived_h1') else v['persistence']['n_long_lived_h1']}")
    if "anisotropy" in v:
        rows.append(f"anisotropy (mean cosine){over}: {num('anisotropy', 'mean_cosine', 4)}")
    if "spectrum" in v:
        rows.append(f"effective rank{over} {num('spectrum', 'effective_rank', 2)}, participation ratio "
                    f"{num('spectrum', 'participation_ratio', 2)}, IsoScore {num('spectrum', 'isoscore', 4)}")
    for name, reason in g.get("unavailable", {}).items():
        rows.append(f"[yellow]{name} not computed:[/] {escape(reason)}")
    return rows


def _dedup_text(s: dict) -> str:
    """`` (12 same context, 0 same vector; rule token-context, causal-prefix)`` or nothing."""
    c, p = s["counts"], s["params"]
    if "duplicates_same_context" not in c:
        return ""
    rule = p.get("dedup", "")
    if p.get("context_rule"):
        rule += f", {p['context_rule']}"
    return (f" ({c['duplicates_same_context']:,} same context, {c['duplicates_same_vector']:,} same vector; "
            f"rule {rule})")


def _interval_text(ls: dict[str, Any]) -> str:
    """``95 % interval 8.83 to 8.99 (± 0.041 se; 5 replicates)`` for a layer summary."""
    from lidscope.stats import Interval

    iv = Interval.from_dict(ls["interval"])
    how = (f"replicate means " + ", ".join(f"{v:.3f}" for v in iv.values) if iv.method == "replicates"
           else f"bootstrap over {iv.n:,} sequences, one replicate")
    if not iv.known:
        return "no interval with one replicate: --replicates 3 gives one (see the note below)"
    label = ls.get("interval_label") or f"95 % interval over {iv.n} replicates"
    return f"{label}: {iv.low:.3f} to {iv.high:.3f} (se {iv.se:.3f}; {how})"


def _fail(console: Any, exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {escape(str(exc))}")
    raise typer.Exit(2)


def _check_out(console: Any, out: Path, kind: str = "folder", option: str = "--out") -> None:
    """Exit 2 with a clear message, before any model is loaded, when ``out`` cannot be written."""
    from lidscope.outputs import check_output

    try:
        check_output(out, kind, option)
    except ValueError as exc:
        _fail(console, exc)


def register(app: typer.Typer) -> None:
    """Add the ``measure`` and ``compare`` commands to the lidscope app."""

    @app.command("measure")
    def measure_cmd(
        model: str = typer.Option("minilm", "--model", "-m", rich_help_panel=_PANEL_MODEL,
                                  help="Hugging Face hub id (org/name; the hub cache first, downloaded when "
                                       "online), a local model folder, a .gguf file, or a bundled model: "
                                       "'minilm' (all-MiniLM-L6-v2, encoder) or 'smollm2' (SmolLM2-135M, decoder)."),
        revision: Optional[str] = typer.Option(None, "--revision", rich_help_panel=_PANEL_MODEL,
                                               help="Branch, tag or commit of a hub id (default main); the "
                                                    "resolved commit is recorded in the fingerprint."),
        offline: bool = typer.Option(False, "--offline", rich_help_panel=_PANEL_MODEL,
                                     help="Hub models and datasets from the local cache only (as HF_HUB_OFFLINE=1)."),
        gguf_file: Optional[str] = typer.Option(None, "--gguf-file", rich_help_panel=_PANEL_MODEL,
                                                help="Name of a .gguf file inside the --model folder."),
        trust_remote_code: bool = typer.Option(False, "--trust-remote-code", rich_help_panel=_PANEL_MODEL,
                                               help="Allow running Python code shipped in the model folder. "
                                                    "Off by default: only pass it for code you have read."),
        data: str = typer.Option("chitchat:validation", "--data", "-d", rich_help_panel=_PANEL_DATA,
                                 help="Texts: a hub dataset hf:NAME[:CONFIG]:SPLIT (datasets.load_dataset, the "
                                      "cache first); bundled 'chitchat', 'wikipedia' or 'bbc' with an optional "
                                      ":train/:validation/:test split; a .txt (one sequence per line), .jsonl, "
                                      ".csv or .parquet file; or a datasets save_to_disk folder (PATH[:SPLIT])."),
        split: Optional[str] = typer.Option(None, "--split", rich_help_panel=_PANEL_DATA,
                                            help="Split to use (train, validation, test, all, or a DatasetDict split)."),
        text_column: Optional[str] = typer.Option(None, "--text-column", rich_help_panel=_PANEL_DATA,
                                                  help="Column with the text in JSONL/CSV/Parquet/datasets input "
                                                       "(default 'text', or the only text column)."),
        n_sequences: Optional[int] = typer.Option(None, "--n-sequences", "-M", rich_help_panel=_PANEL_DATA,
                                                  help=f"M: sequences sampled (seeded shuffle, first M, empty ones "
                                                       f"dropped). Default {DEMO_DEFAULTS['n_sequences']:,} "
                                                       f"(paper {PAPER_DEFAULTS['n_sequences']:,}). 0 = all."),
        data_seed: int = typer.Option(QUICK.data_seed, "--data-seed", rich_help_panel=_PANEL_DATA,
                                      help="Seed of the shuffle that picks the M sequences."),
        layer: str = typer.Option(LAYERS, "--layer", "-l", rich_help_panel=_PANEL_TOKENS,
                                  help="Hidden-state index (0 = embeddings, -1 = last); several separated by "
                                       "commas (e.g. -4,-3,-2,-1) come from one forward pass and are measured "
                                       "separately unless --average-layers; 'all': every layer (embedding output "
                                       "and each block), drawn as a profile with its mid-depth peak (layers.png)."),
        average_layers: bool = typer.Option(False, "--average-layers", rich_help_panel=_PANEL_TOKENS,
                                            help="Average the --layer list into one vector per token."),
        max_length: int = typer.Option(QUICK.max_length, "--max-length", rich_help_panel=_PANEL_TOKENS,
                                       help="Truncate sequences at this many tokens (special tokens included)."),
        batch_size: int = typer.Option(QUICK.batch_size, "--batch-size", rich_help_panel=_PANEL_TOKENS,
                                       help="Most sequences per forward pass (batches are length-bucketed "
                                            "and padded only to their own longest sequence)."),
        max_batch_tokens: int = typer.Option(QUICK.max_batch_tokens, "--max-batch-tokens", rich_help_panel=_PANEL_TOKENS,
                                             help="Most padded positions per forward pass (bounds memory)."),
        keep_bos: bool = typer.Option(True, "--keep-bos/--drop-bos", rich_help_panel=_PANEL_TOKENS,
                                      help="Keep a bos/[CLS] token at position 0 (the paper keeps it)."),
        drop_eos: bool = typer.Option(True, "--drop-eos/--keep-eos", rich_help_panel=_PANEL_TOKENS,
                                      help="Drop end-of-sequence tokens (the paper drops them; BERT has no eos, so "
                                           "[SEP] stays). Padding is always dropped, found by the attention mask."),
        drop_special: bool = typer.Option(False, "--drop-special", rich_help_panel=_PANEL_TOKENS,
                                          help="Drop every special token of the tokenizer."),
        masked_tokens: bool = typer.Option(False, "--masked-tokens", rich_help_panel=_PANEL_TOKENS,
                                           help="Masked-token mode (masked LMs): mask each position in turn and "
                                                "keep the vector at the mask. One forward row per token: slow."),
        pad_token_id: Optional[int] = typer.Option(None, "--pad-token-id", rich_help_panel=_PANEL_TOKENS,
                                                   help="Token id used for padding when the tokenizer has no pad, "
                                                        "eos, bos or unk token (padding is never measured)."),
        sample_size: int = typer.Option(QUICK.sample_size, "--sample-size", rich_help_panel=_PANEL_CLOUD,
                                        help="Token vectors drawn at random (without replacement) before dedup."),
        n_points: Optional[int] = typer.Option(None, "--n-points", "-N", rich_help_panel=_PANEL_CLOUD,
                                               help=f"N: points measured, the first N distinct sampled vectors. "
                                                    f"Default {DEMO_DEFAULTS['n_points']:,} "
                                                    f"(paper {PAPER_DEFAULTS['n_points']:,})."),
        seed: int = typer.Option(QUICK.seed, "--seed", rich_help_panel=_PANEL_CLOUD, help="Seed of the token sample."),
        replicates: int = typer.Option(QUICK.n_replicates, "--replicates", "-R", rich_help_panel=_PANEL_CLOUD,
                                       help="R: independent replicates (own sequence and token sample each, same M "
                                            "and N; sequences shared between replicates are extracted once). "
                                            "The mean is then the mean over replicates with a t-interval; "
                                            "with 1, the mean has no interval (a bootstrap over sequences was "
                                            "measured 15x too narrow: docs/statistics.md)."),
        neighbors: int = typer.Option(QUICK.n_neighbors, "--neighbors", "-L", rich_help_panel=_PANEL_CLOUD,
                                      help="L: neighbours per point (the point itself excluded)."),
        estimator: str = typer.Option(QUICK.estimator, "--estimator", rich_help_panel=_PANEL_CLOUD,
                                      help="Local estimator: twonn (paper), twonn_mle, mle, lpca."),
        discard_fraction: float = typer.Option(QUICK.discard_fraction, "--discard-fraction", rich_help_panel=_PANEL_CLOUD,
                                               help="Share of the largest TwoNN ratios discarded in each fit."),
        twonn_fraction: str = typer.Option(QUICK.twonn_fraction, "--twonn-fraction", rich_help_panel=_PANEL_CLOUD,
                                           help=TWONN_FRACTION_HELP),
        backend: str = typer.Option(QUICK.backend, "--backend", rich_help_panel=_PANEL_CLOUD,
                                    help="Neighbour search / estimator backend: auto (torch on CUDA when available, "
                                         "else numba: faiss + compiled loops on CPU), numba, or torch."),
        metrics: str = typer.Option("lid", "--metrics", rich_help_panel=_PANEL_CLOUD, help=METRICS_HELP),
        paper: bool = typer.Option(False, "--paper", rich_help_panel=_PANEL_CLOUD,
                                   help=f"Use the paper's M = {PAPER_DEFAULTS['n_sequences']:,} and "
                                        f"N = {PAPER_DEFAULTS['n_points']:,} where not given explicitly."),
        out: Path = typer.Option(Path("lidscope-out/measure"), "--out", "-o", rich_help_panel=_PANEL_RUN,
                                 help="Result folder: summary.json, tokens.parquet, lid.png."),
        cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", rich_help_panel=_PANEL_RUN,
                                                 help="Embedding cache (default $LIDSCOPE_CACHE/embeddings or "
                                                      "~/.cache/lidscope/embeddings). Re-runs with other N, L or "
                                                      "estimator skip the forward pass."),
        no_cache: bool = typer.Option(False, "--no-cache", rich_help_panel=_PANEL_RUN,
                                      help="Do not keep token vectors (they are still streamed to a temporary folder)."),
        no_figures: bool = typer.Option(False, "--no-figures", rich_help_panel=_PANEL_RUN,
                                        help="Skip lid.png and report.html."),
        no_keep_texts: bool = typer.Option(False, "--no-keep-texts", rich_help_panel=_PANEL_RUN,
                                           help="Do not keep the sampled texts (texts.parquet) in the result "
                                                "folder, e.g. for private data; the report then shows tokens "
                                                "without their context."),
        threads: Optional[int] = typer.Option(None, "--threads", min=1, rich_help_panel=_PANEL_RUN,
                                              help=THREADS_HELP),
        quiet: bool = typer.Option(False, "--quiet", "-q", rich_help_panel=_PANEL_RUN,
                                   help="No progress bars."),
        dry_run: bool = typer.Option(False, "--dry-run", rich_help_panel=_PANEL_RUN, help=DRY_RUN_HELP),
        json_out: bool = json_option(),
    ) -> None:
        """Measure the local intrinsic dimension of a model's contextual token embeddings.

        Texts -> tokens -> hidden states -> sample 150k vectors, dedup, first N -> L nearest
        neighbours of every point -> local TwoNN -> mean, median, std, quartiles, global estimate.
        With no arguments: the bundled all-MiniLM-L6-v2 on chit-chat validation utterances.
        """
        from ._console import make_console

        from lidscope.extract.errors import ExtractError
        from lidscope.measure import measure

        console = make_console(stderr=json_out)
        kw = _start_run(console, threads, paper, n_sequences, n_points, offline)
        kwargs = _measure_kwargs(
            model=model, gguf_file=gguf_file, trust_remote_code=trust_remote_code, data=data, split=split,
            revision=revision,
            text_column=text_column, data_seed=data_seed, layer=layer, average_layers=average_layers,
            max_length=max_length, batch_size=batch_size, max_batch_tokens=max_batch_tokens, keep_bos=keep_bos,
            drop_eos=drop_eos, drop_special=drop_special, masked_tokens=masked_tokens, pad_token_id=pad_token_id,
            sample_size=sample_size, seed=seed, n_replicates=replicates, n_neighbors=neighbors, estimator=estimator,
            discard_fraction=discard_fraction, twonn_fraction=twonn_fraction, backend=backend, out=out,
            cache_dir=cache_dir, use_cache=not no_cache, figures=not no_figures, metrics=metrics, **kw,
        )
        kwargs["keep_texts"] = not no_keep_texts
        quiet_transformers()
        _check_out(console, out)
        if dry_run:
            from ._dryrun import plan_measure

            try:
                plan_measure(console, kwargs)
            except (ExtractError, ValueError, OSError) as exc:
                _fail(console, exc)
            raise typer.Exit(0)
        try:
            if quiet:
                result = measure(**kwargs)
            else:
                with stage_progress(console=console) as bars:
                    result = measure(progress=bars, **kwargs)
        except (ExtractError, ValueError, OSError) as exc:
            _fail(console, exc)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted:[/] " + ("no result was kept (--no-cache: nor any token vectors)."
                          if no_cache else "the finished chunks of the forward pass are kept in the embedding "
                          "cache; the same command resumes from them."))
            raise typer.Exit(130) from None
        _print_summary(console, result)  # on stderr with --json
        if json_out:
            from ._console import print_json

            print_json(result.summary)
        if result.summary.get("profile"):
            from ._profile import print_profile

            s = result.summary
            print_profile(console, result.profile, f"Layer profile: {s['model']['name']} on {s['data']['name']}",
                          s, out / "layers.png" if "layers.png" in s.get("files", []) else None)

    @app.command("compare")
    def compare_cmd(
        models: list[str] = typer.Argument(..., help="Models to compare: hub ids (org/name), local folders, "
                                                     ".gguf files, or bundled names (minilm, smollm2)."),
        names: Optional[list[str]] = typer.Option(None, "--name",
                                                  help="Label per model, in order (repeat; default: the folder "
                                                       "or bundled name)."),
        data: list[str] = typer.Option(["chitchat:validation"], "--data", "-d",
                                       help="Data spec; repeat for several datasets/splits (e.g. -d chitchat:train "
                                            "-d chitchat:validation -d wikipedia:validation)."),
        n_sequences: Optional[int] = typer.Option(None, "--n-sequences", "-M",
                                                  help=f"M per dataset (default {DEMO_DEFAULTS['n_sequences']:,}, "
                                                       f"paper {PAPER_DEFAULTS['n_sequences']:,}; 0 = all)."),
        n_points: Optional[int] = typer.Option(None, "--n-points", "-N",
                                               help=f"N per measurement (default {DEMO_DEFAULTS['n_points']:,}, "
                                                    f"paper {PAPER_DEFAULTS['n_points']:,})."),
        neighbors: int = typer.Option(QUICK.n_neighbors, "--neighbors", "-L", help="L: neighbours per point."),
        discard_fraction: float = typer.Option(QUICK.discard_fraction, "--discard-fraction",
                                               help="Share of the largest TwoNN ratios discarded in each fit."),
        twonn_fraction: str = typer.Option(QUICK.twonn_fraction, "--twonn-fraction", help=TWONN_FRACTION_HELP),
        replicates: int = typer.Option(COMPARE_N_REPLICATES, "--replicates", "-R",
                                       help="R: replicates per model and dataset; replicate r of every model uses "
                                            "the same sequences and tokens, so differences are paired. 1: one "
                                            "measurement each, the difference with no interval and no verdict."),
        layer: str = typer.Option(LAYERS, "--layer", "-l", help="Hidden-state index (or comma list, averaged "
                                                              "with --average-layers; otherwise the first is plotted); "
                                                              "'all': every layer, each model's profile and its "
                                                              "per-layer change."),
        average_layers: bool = typer.Option(False, "--average-layers", help="Average the --layer list."),
        split: Optional[str] = typer.Option(None, "--split", help="Split applied to every data spec without one."),
        text_column: Optional[str] = typer.Option(None, "--text-column", help="Text column for tabular data."),
        estimator: str = typer.Option(QUICK.estimator, "--estimator", help="twonn (paper), twonn_mle, mle, lpca."),
        gguf_file: Optional[str] = typer.Option(None, "--gguf-file", help="GGUF file name inside model folders."),
        trust_remote_code: bool = typer.Option(False, "--trust-remote-code",
                                               help="Allow code shipped in model folders (off by default)."),
        offline: bool = typer.Option(False, "--offline",
                                     help="Hub models and datasets from the local cache only (as HF_HUB_OFFLINE=1)."),
        metrics: str = typer.Option("lid", "--metrics", help=METRICS_HELP),
        paper: bool = typer.Option(False, "--paper", help="Use the paper's M and N where not given."),
        out: Path = typer.Option(Path("lidscope-out/compare"), "--out", "-o",
                                 help="Folder for per-run results, compare.json, violin-<data>.png, compare.png."),
        cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Embedding cache root."),
        threads: Optional[int] = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
        dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
        json_out: bool = json_option(),
    ) -> None:
        """Measure several models on several datasets and draw violins of pointwise LID per dataset."""
        from ._console import make_console
        from rich.table import Table

        from lidscope.extract.errors import ExtractError
        from lidscope.measure import compare

        console = make_console(stderr=json_out)
        kw = _start_run(console, threads, paper, n_sequences, n_points, offline)
        quiet_transformers()
        kwargs = dict(out=out, cache_dir=cache_dir, gguf_file=gguf_file, model_names=names, trust_remote_code=trust_remote_code,
                      n_neighbors=neighbors, discard_fraction=discard_fraction, layers=parse_layer_option(layer),
                      average_layers=average_layers, split=split,
                      text_column=text_column, estimator=estimator, n_replicates=replicates,
                      twonn_fraction=twonn_fraction, metrics=metrics, **kw)
        _check_out(console, out)
        if dry_run:
            from ._dryrun import plan_compare

            try:
                plan_compare(console, list(models), list(data), kwargs)
            except (ExtractError, ValueError, OSError) as exc:
                _fail(console, exc)
            raise typer.Exit(0)

        def done(m: str, d: str, r: Any) -> None:
            iv = r.interval
            ci = (f" ({r.summary.get('interval_label') or '95 % interval'}: {iv.low:.3f} to {iv.high:.3f})"
                  if iv.known else " (no interval: one replicate)")
            console.print(f"[green]done[/] {m} on {d}: mean LID {r.mean:.3f}, {r.statistics}{ci} "
                          f"(N = {r.first.lid.n_points:,})")

        try:
            if quiet:
                cr = compare(models, data, on_result=done, **kwargs)
            else:
                with stage_progress(console=console) as bars:
                    cr = compare(models, data, progress=bars, on_result=done, **kwargs)
        except (ExtractError, ValueError, OSError) as exc:
            _fail(console, exc)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted:[/] finished runs are kept under the output folder; "
                          "no partial cache entry was kept.")
            raise typer.Exit(130) from None
        rows = cr.table()
        t = Table(title="Local dimension (pointwise TwoNN): every number of a row from the sample in its "
                        "'statistics' column")
        for col in ("data", "model", "statistics", "mean", "95 % interval", "median", "std", "global", "points",
                    "cut at max length"):
            t.add_column(col)
        for row in rows:
            ci = (f"{row['mean_low']:.3f} to {row['mean_high']:.3f}" if row["mean_low"] == row["mean_low"]
                  else "none (one replicate)")
            if row.get("replicates_independent") is False:
                ci += " (replicates share texts: see the warning)"
            frac = row.get("sequences_truncated_fraction")
            cut = f"{row['sequences_truncated']:,} ({frac:.0%})" if row.get("sequences_truncated") else "0"
            t.add_row(row["data"], row["model"], str(row.get("statistics", "")), f"{row['mean']:.3f}", ci,
                      f"{row['median']:.3f}", f"{row['std']:.3f}", f"{row['global_estimate']:.3f}",
                      f"{row['n_points']:,}", cut)
        console.print(t)
        console.print("[dim]statistics 'mean over R replicates': each column is the mean over the replicates of "
                      "that replicate's own value; replicate 0's own values are in each run's summary.json "
                      "(replicate_0). 'cut at max length': texts longer than --max-length, whose later tokens "
                      "are not measured.[/]")
        seen: set[str] = set()
        for ms in cr.results.values():
            for r in ms.values():
                for note in r.notes:
                    if str(note).startswith(NOT_INDEPENDENT) and note not in seen:
                        seen.add(note)
                        console.print(f"[bold yellow]warning:[/] {r.summary['data']['name']}: {escape(str(note))}")
        for d, cs in cr.comparisons.items():
            base = next(iter(cr.results[d]))
            for m, c in cs.items():
                colour = "green" if c.verdict.endswith("base") else "yellow"
                console.print(f"{d}: {m} vs {base}: [{colour}]{c.sentence()}[/] ({c.method})")
        _print_profiles(console, cr)
        console.print(f"figures: {', '.join(str(f) for f in cr.figures)}")
        if json_out:  # the tables above went to stderr
            from ._console import print_json

            print_json({"rows": cr.table(), "comparisons": {d: {m: c.to_dict() for m, c in cs.items()}
                                                            for d, cs in cr.comparisons.items()},
                        "figures": [str(f) for f in cr.figures], "out": str(out)})


def _print_profiles(console: Any, cr: Any) -> None:
    """With --layer all: every model's profile side by side per dataset, then each model's per-layer
    change against the first model with its interval."""
    from ._profile import change_table, peak_text, side_by_side_table

    for d, ms in cr.results.items():
        if not all(r.summary.get("profile") for r in ms.values()):
            continue
        profiles = {m: r.profile for m, r in ms.items()}
        console.print(side_by_side_table(profiles, f"Layer profiles on {d}: mean LID [95 % interval]; * = interior peak"))
        for m, p in profiles.items():
            console.print(f"{escape(m)}: {escape(peak_text(p.peak))}")
        base = next(iter(ms))
        for m, rows in cr.profile_changes().get(d, {}).items():
            console.print(change_table(rows, f"{d}: {m} vs {base}, change of the mean per layer (paired replicates)"))


def _start_run(console, threads: int | None, paper: bool, n_sequences: int | None,  # type: ignore[no-untyped-def]
               n_points: int | None, offline: bool = False) -> dict:
    """Common start of measure/compare: offline mode, thread caps, M/N defaults, and their printed notes."""
    import warnings

    from lidscope.replicates import ReplicatesNotIndependent

    warnings.filterwarnings("ignore", category=ReplicatesNotIndependent)  # printed as a warning: line instead
    if offline:
        from ._console import set_offline

        set_offline()
    limit_threads(threads)
    kw = _resolve_defaults(paper, n_sequences, n_points)
    for note in kw.pop("_notes"):
        console.print(f"[yellow]note:[/] {escape(str(note))}")
    return kw


def _resolve_defaults(paper: bool, n_sequences: Optional[int], n_points: Optional[int]) -> dict[str, Any]:
    src = PAPER_DEFAULTS if paper else DEMO_DEFAULTS
    notes = []
    m = src["n_sequences"] if n_sequences is None else n_sequences
    n = src["n_points"] if n_points is None else n_points
    # name only the values taken from the quick preset: a value the user typed is checked, not echoed
    defaulted = [f"{k} = {v:,}" for k, v, given in (("M", m, n_sequences), ("N", n, n_points))
                 if given is None and v != PAPER_DEFAULTS["n_sequences" if k == "M" else "n_points"]]
    if not paper and defaulted:
        notes.append(f"quick defaults {', '.join(defaulted)} (the paper uses M = {PAPER_DEFAULTS['n_sequences']:,}, "
                     f"N = {PAPER_DEFAULTS['n_points']:,}: pass --paper or -M/-N).")
    return {"n_sequences": None if m == 0 else m, "n_points": n, "_notes": notes}
