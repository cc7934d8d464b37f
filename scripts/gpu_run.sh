#!/bin/bash
# The one GPU command (device tool: run with carry [".gpu"], timeout_s 600):
#   bash scripts/gpu_run.sh
# Trains every model of fer_core.campaign's "gpu" plan side by side inside 540 s and leaves at
# most 8 files in $OUT (summary.json, logs.tar.gz, oof.npy, models*.tar). Tested on the CPU with
# tiny budgets by tests/test_campaign.py.
set -o pipefail
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
OUT=${OUT:-/tmp/campaign-out}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch, numpy, pandas, sklearn; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
python3 -m fer_core.campaign --plan gpu --pack .gpu --out "$OUT" --workdir /tmp/campaign-work --deadline "${DEADLINE:-540}" "$@"
