"""Reproduction 1: fine-tuning shifts of mean LID (SmolLM2 causal LM, full or LoRA; MiniLM masked LM).

    python examples/finetune_shift.py --quick --model PATH_TO_TINY_MODEL --train-data texts.txt --eval-data texts.txt
    python examples/finetune_shift.py --model smollm2 --steps 300 --out runs/smollm2-full
    python examples/finetune_shift.py --model smollm2 --lora --lr 2e-4 --out runs/smollm2-lora
    python examples/finetune_shift.py --model minilm --steps 600 --out runs/minilm-mlm
    python examples/finetune_shift.py --model smollm2 --n-sequences 600 --n-sequences-for wikipedia:validation=250 ...

Writes OUT/train/checkpoint-<step>, OUT/lid (results store), OUT/training.png/.svg, OUT/violins.png,
OUT/summary.json. Re-running with the same --out resumes the sweep (add --skip-training to reuse checkpoints).
"""

from __future__ import annotations

import argparse
import json

from lidscope.experiments.finetune import FinetuneConfig, quick_config, run


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (tests)")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--lora", action="store_true")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--save-every", type=int)
    ap.add_argument("--n-points", type=int, help="N of each LID measurement")
    ap.add_argument("--n-sequences", type=int, help="M of each LID measurement")
    ap.add_argument("--n-sequences-for", action="append", default=[], metavar="SPEC=M",
                    help="M for one --eval-data spec (e.g. wikipedia:validation=250): short utterances need more "
                         "sequences than long documents for the same N")
    ap.add_argument("--group-by-length", action="store_true",
                    help="training batches of similar length (less padding, faster on a CPU)")
    ap.add_argument("--lid-max-length", type=int, help="max_length of each LID measurement")
    ap.add_argument("--train-data")
    ap.add_argument("--eval-data", action="append")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--train-only", action="store_true",
                    help="train and save the checkpoints, no sweep (measure them later, e.g. with lidscope compare)")
    ap.add_argument("--callback", action="store_true",
                    help="evaluate on the first --eval-data every --save-every steps with LIDCallback (default "
                         "settings) attached, and report its cost against the evaluation pass")
    ap.add_argument("--n-eval", type=int, help="evaluation sequences with --callback")
    ap.add_argument("--max-length", type=int, help="training sequence length")
    ap.add_argument("--out", default="lidscope-out/finetune")
    a = ap.parse_args(argv)
    base = quick_config() if a.quick else FinetuneConfig()
    given = {k: v for k, v in dict(model=a.model, lora=a.lora, steps=a.steps, batch_size=a.batch_size, lr=a.lr,
                                   save_every=a.save_every, train_data=a.train_data, threads=a.threads,
                                   out=a.out, callback=a.callback or None, n_eval=a.n_eval,
                                   max_length=a.max_length, group_by_length=a.group_by_length or None,
                                   ).items() if v is not None}
    if a.n_sequences_for:
        given["n_sequences_by_data"] = {k: int(v) for k, _, v in (x.rpartition("=") for x in a.n_sequences_for)}
    if a.eval_data:
        given["eval_data"] = tuple(a.eval_data)
    settings = base.settings
    if a.n_points:
        settings = settings.replace(n_points=a.n_points)
    if a.n_sequences:
        settings = settings.replace(n_sequences=a.n_sequences)
    if a.lid_max_length:
        settings = settings.replace(max_length=a.lid_max_length)
    from dataclasses import replace

    cfg = replace(base, settings=settings, **given)
    s = run(cfg, skip_training=a.skip_training, train_only=a.train_only)
    print(json.dumps({k: s.get(k) for k in ("objective", "table", "train_seconds", "sweep_seconds", "failed", "callback_cost",
                                            "figures", "seconds_total")}, indent=1, default=str))
    return s


if __name__ == "__main__":
    main()
