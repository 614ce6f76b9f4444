"""Reproductions 2 and 3: LID of a MiniLM topic classifier over training (overfitting, exhausted training).

    python examples/classifier_lid.py --quick                       # seconds, mechanics only
    python examples/classifier_lid.py --mode overfit --out runs/overfit
    python examples/classifier_lid.py --mode exhausted --out runs/exhausted

Writes OUT/lid (results store), OUT/training.png/.svg and OUT/summary.json.
"""

from __future__ import annotations

import argparse
import json

from lidscope.experiments.classify import exhausted_config, overfit_config, quick_config, run


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("overfit", "exhausted"), default="overfit")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (tests)")
    ap.add_argument("--data", choices=("wikipedia", "bbc"), default="wikipedia")
    ap.add_argument("--model", default="minilm", help="encoder folder or bundled name")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--per-class", type=int, dest="per_class_train")
    ap.add_argument("--lr", type=float)
    ap.add_argument("--lr-scheduler", help="transformers lr_scheduler_type (default linear; constant keeps lr high)")
    ap.add_argument("--eval-every", type=int, dest="eval_every_epochs", help="epochs between evaluations")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="lidscope-out/classify")
    a = ap.parse_args(argv)
    given = {k: v for k, v in dict(epochs=a.epochs, per_class_train=a.per_class_train, lr=a.lr,
                                   lr_scheduler=a.lr_scheduler, eval_every_epochs=a.eval_every_epochs).items()
             if v is not None}
    common = dict(data=a.data, model=a.model, seed=a.seed, threads=a.threads, out=a.out, **given)
    cfg = quick_config(**common) if a.quick else (overfit_config if a.mode == "overfit" else exhausted_config)(**common)
    s = run(cfg)
    keys = ("n_train", "n_val", "best_f1", "best_f1_step", "final_f1", "f1_stopped_improving_step", "lid_steps",
            "lid_mean", "val_f1", "lid_plateau", "lid_cost", "seconds_total", "figures")
    print(json.dumps({k: s[k] for k in keys}, indent=1, default=str))
    return s


if __name__ == "__main__":
    main()
