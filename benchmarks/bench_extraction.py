"""Extraction throughput and padding overhead, and end-to-end ``measure`` time per stage.

For each model (bundled MiniLM encoder, SmolLM2 decoder) on chit-chat validation utterances:

- tokens/s of the forward pass with length-bucketed, per-batch padding (lidscope's default);
- computed positions / real tokens for: lidscope's bucketing, per-batch padding in random order
  (no bucketing), and padding every sequence to 512 as the reference implementation does;
- measured time per real token of a pad-to-512 forward pass on a small subset, against bucketing
  on the same subset (so the ratio is measured, not only counted);

then one end-to-end ``measure`` run (MiniLM, chit-chat validation) with its time per stage.

    python benchmarks/bench_extraction.py        # MiniLM M = 2,000, SmolLM2 M = 400, then measure M = 4,000
    python benchmarks/bench_extraction.py --models minilm --m 10000 --measure-m 10000 --measure-n 60000
    python benchmarks/bench_extraction.py --skip-measure --json bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def padding_ratios(lengths: list[int], batch_size: int = 64, seed: int = 0) -> dict[str, float]:
    """Computed positions / real tokens for three batching schemes (counted, not timed)."""
    import numpy as np

    from lidscope.extract.tokens import plan_batches

    L = np.asarray(lengths)
    real = L.sum()
    bucketed = sum(len(b) * L[b].max() for b in plan_batches(L, batch_size, 16384, 0.1))
    perm = np.random.default_rng(seed).permutation(len(L))
    unbucketed = sum(len(b) * L[b].max() for b in np.array_split(perm, max(1, len(L) // batch_size)))
    return {
        "bucketed_per_batch": float(bucketed / real),
        "per_batch_random_order": float(unbucketed / real),
        "pad_to_512": float(len(L) * 512 / real),
    }


def bench_model(name: str, m: int, pad512_subset: int, batch_size: int) -> dict:
    import numpy as np
    import torch

    from lidscope.extract.models import load_model
    from lidscope.extract.texts import load_texts
    from lidscope.extract.tokens import ExtractionConfig, extract, tokenize

    t = time.perf_counter()
    lm = load_model(name)
    load_s = time.perf_counter() - t
    texts = load_texts("chitchat:validation", n_sequences=m).texts
    ids, _ = tokenize(texts, lm.tokenizer, 512)
    lengths = [len(x) for x in ids]
    rows = {"n": 0}

    def sink(v, meta):
        rows["n"] += len(meta["token_id"])

    cfg = ExtractionConfig(batch_size=batch_size)
    stats = extract(lm.model, lm.tokenizer, texts, cfg, sink)
    out = {
        "model": name,
        "load_seconds": load_s,
        "sequences": len(texts),
        "real_tokens": int(sum(lengths)),
        "mean_tokens_per_sequence": float(np.mean(lengths)),
        "forward_seconds": stats.seconds_forward,
        "tokens_per_second": stats.to_dict()["tokens_per_second"],
        "computed_over_real": stats.padding_ratio,
        "counted_ratios": padding_ratios(lengths, batch_size),
        "forward_passes": stats.n_forward_passes,
    }
    if pad512_subset:
        # the reference's scheme on a small subset: every sequence padded to 512, batches of 8
        sub = texts[:pad512_subset]
        sub_ids = ids[:pad512_subset]
        pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else lm.tokenizer.eos_token_id
        t = time.perf_counter()
        with torch.inference_mode():
            for s in range(0, len(sub_ids), 8):
                chunk = sub_ids[s : s + 8]
                x = torch.full((len(chunk), 512), pad, dtype=torch.long)
                a = torch.zeros((len(chunk), 512), dtype=torch.long)
                for j, r in enumerate(chunk):
                    x[j, : len(r)] = torch.as_tensor(r)
                    a[j, : len(r)] = 1
                lm.model(input_ids=x, attention_mask=a, output_hidden_states=True)
        t512 = time.perf_counter() - t
        st2 = extract(lm.model, lm.tokenizer, sub, cfg, lambda v, m_: None)
        real_sub = int(sum(len(r) for r in sub_ids))
        out["pad512_subset"] = {
            "sequences": len(sub),
            "real_tokens": real_sub,
            "pad_to_512_seconds": t512,
            "pad_to_512_real_tokens_per_second": real_sub / t512,
            # the same few sequences bucketed: tiny batches, so per-call overhead dominates
            "bucketed_subset_seconds": st2.seconds_forward,
            # the fair comparison: real tokens/s of the full bucketed run vs pad-to-512
            "speedup_full_run_vs_pad512": out["tokens_per_second"] / (real_sub / t512),
        }
    del lm
    return out


def bench_measure(m: int, n: int, neighbors: int) -> dict:
    from lidscope.measure import measure

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        r = measure("minilm", "chitchat:validation", n_sequences=m, n_points=n, n_neighbors=neighbors,
                    out=os.path.join(tmp, "out"), use_cache=False)
        wall = time.perf_counter() - t
    s = r.summary
    return {"n_sequences": m, "n_points": n, "n_neighbors": neighbors, "mean_lid": r.mean,
            "tokens": s["counts"]["tokens"], "points": s["counts"]["points"],
            "timings_s": s["timings_s"], "wall_seconds": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="minilm,smollm2")
    ap.add_argument("--m", type=int, default=2000, help="utterances for the encoder (MiniLM) throughput")
    ap.add_argument("--m-decoder", type=int, default=400,
                    help="utterances for SmolLM2 (about 20x slower per token than MiniLM)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--pad512-subset", type=int, default=32,
                    help="sequences for the timed pad-to-512 pass (0 = skip; a quarter of it for SmolLM2)")
    ap.add_argument("--measure-m", type=int, default=4_000)
    ap.add_argument("--measure-n", type=int, default=24_000)
    ap.add_argument("--measure-l", type=int, default=128)
    ap.add_argument("--skip-measure", action="store_true")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()

    import torch

    report: dict = {"machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                                "load_average": os.getloadavg(), "python": platform.python_version(),
                                "torch": torch.__version__},
                    "command": " ".join([os.path.basename(sys.executable), *sys.argv]), "models": []}
    for name in [x for x in args.models.split(",") if x]:
        decoder = name == "smollm2"
        r = bench_model(name, args.m_decoder if decoder else args.m,
                        args.pad512_subset // 4 if decoder else args.pad512_subset, args.batch_size)
        report["models"].append(r)
        c = r["counted_ratios"]
        print(f"{name:8s} {r['sequences']} seqs, {r['real_tokens']:,} tokens (mean {r['mean_tokens_per_sequence']:.1f}/seq): "
              f"{r['tokens_per_second']:,.0f} tokens/s; computed/real {r['computed_over_real']:.3f} "
              f"(random-order per-batch {c['per_batch_random_order']:.2f}, pad-to-512 {c['pad_to_512']:.1f}); "
              f"load {r['load_seconds']:.1f} s", flush=True)
        if "pad512_subset" in r:
            p = r["pad512_subset"]
            print(f"         pad-to-512 timed on {p['sequences']} seqs: {p['pad_to_512_seconds']:.1f} s, "
                  f"{p['pad_to_512_real_tokens_per_second']:,.0f} real tokens/s -> bucketing is "
                  f"{p['speedup_full_run_vs_pad512']:.1f}x faster per real token "
                  f"(same {p['sequences']} seqs bucketed: {p['bucketed_subset_seconds']:.1f} s in tiny batches)",
                  flush=True)
    if not args.skip_measure:
        r = bench_measure(args.measure_m, args.measure_n, args.measure_l)
        report["measure"] = r
        print(f"measure minilm chitchat:validation M={r['n_sequences']} N={r['n_points']} L={r['n_neighbors']}: "
              f"mean LID {r['mean_lid']:.3f}, {r['wall_seconds']:.1f} s wall; stages: "
              + ", ".join(f"{k} {v:.1f}" for k, v in r["timings_s"].items()), flush=True)
    report["machine"]["load_average_end"] = os.getloadavg()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
