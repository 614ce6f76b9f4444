"""Cost of one LIDCallback round (its defaults) against one evaluation pass: bundled MiniLM, masked LM.

    python benchmarks/bench_callback.py      # ~20 min: the full-split evaluation pass dominates
"""
import time
import warnings

warnings.filterwarnings("ignore")
import torch
torch.set_num_threads(2)
from transformers import AutoModelForMaskedLM, AutoTokenizer, Trainer, TrainingArguments, DataCollatorForLanguageModeling
from datasets import Dataset
from lidscope.extract.models import hf_folder
from lidscope.extract.texts import load_texts
from lidscope.training.monitor import LIDMonitor
folder, _ = hf_folder("minilm")
tok = AutoTokenizer.from_pretrained(str(folder))
model = AutoModelForMaskedLM.from_pretrained(str(folder))
mon = LIDMonitor({"chitchat-validation": "chitchat:validation"}, tokenizer=tok)
mon.measure(model, 0)  # warm-up (numba cache, sampling)
for n_eval in (500, 2000, 12801):
    ev = load_texts("chitchat:validation", n_sequences=n_eval, seed=7)
    ds = Dataset.from_dict({"text": ev.texts}).map(lambda b: tok(b["text"], truncation=True, max_length=128), batched=True, remove_columns=["text"])
    tr = Trainer(model=model, args=TrainingArguments(output_dir="/tmp/cbcost", per_device_eval_batch_size=64, report_to=[], use_cpu=True, disable_tqdm=True),
                 eval_dataset=ds, data_collator=DataCollatorForLanguageModeling(tok, mlm=True))
    t = time.perf_counter(); tr.evaluate(); ev_s = time.perf_counter() - t
    lid = []
    for step in (1, 2):
        t = time.perf_counter(); mon.measure(model, step); lid.append(time.perf_counter() - t)
    print(f"eval set {len(ev.texts)} texts: eval pass {ev_s:.1f} s, LID round {min(lid):.1f}-{max(lid):.1f} s, ratio {min(lid)/ev_s:.2f}-{max(lid)/ev_s:.2f}", flush=True)
