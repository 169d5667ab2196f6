#!/usr/bin/env bash
# On the GPU machine, from the repository root, with the bundle of make.sh at BUNDLE (default .gpu): the device tests
# on every device torch sees, then benchmarks/gpu_check.py. Logs and gpu-check.json go to $OUT (default BUNDLE/out).
bundle=${1:-.gpu}
export OUT=${OUT:-$bundle/out} PYTHONUNBUFFERED=1
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.txt"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/knowrec-site \
    "$bundle"/whl/*.whl || exit 3
python3 "$bundle/minilm.py" restore "$bundle/model16" /tmp/knowrec-minilm /tmp/knowrec-site || exit 4
export PYTHONPATH=/tmp/knowrec-site:$PWD/src KNOWREC_DATA_DIR=$PWD/$bundle/data
python3 -c "import torch, knowrec; print('torch', torch.__version__, 'sees CUDA:', torch.cuda.is_available())" || exit 5
start=$(date +%s)
timeout -k 5 150 python3 -m pytest -q -p no:cacheprovider tests/unit/train/test_devices.py >"$OUT/device-tests.log" 2>&1
echo "device tests: rc $? in $(($(date +%s) - start)) s"; tail -15 "$OUT/device-tests.log"
start=$(date +%s)
(cd benchmarks && timeout -k 5 "${GPU_CHECK_S:-400}" python3 gpu_check.py --runs /tmp/knowrec-gpu-runs \
    >"$OUT/gpu-check.log" 2>&1)
echo "gpu_check: rc $? in $(($(date +%s) - start)) s"; grep -v "…$" "$OUT/gpu-check.log" | tail -40
