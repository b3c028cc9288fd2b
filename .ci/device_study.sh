#!/usr/bin/env bash
# Runs on the lent GPU machine: the repeated runs and the reference experiments (both settings), resumable.
# Carry .mnist/*.gz (MNIST's four files) and .unipen/dev-digits.jsonl.gz (for the repeats' drawing accuracy).
#   .ci/device_study.sh [repeats] [regularization] [fcn-depth]      (default: all three, in that order)
# Each run is written into $OUT the moment it finishes (repeats.json, NAME.json), so a call cut off by the
# device's time limit still brings back every finished run: copy them over checkpoints/ and experiments/,
# commit, and call again to go on. DEVICE=cpu SEEDS=0 EXTRA="--epochs 1 --train-limit 500" try it here.
set -euo pipefail
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(repeats regularization fcn-depth)
device="${DEVICE:-cuda}"
mkdir -p /tmp/mnist/MNIST/raw "$OUT"
for f in .mnist/*.gz; do gunzip -c "$f" > "/tmp/mnist/MNIST/raw/$(basename "$f" .gz)"; done
[ "$device" != cuda ] || nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
export PYTHONUNBUFFERED=1 MNIST_DIR=/tmp/mnist
# the runs recorded so far: a rerun skips them (repeats of committed checkpoints are already in repeats.json)
cp checkpoints/repeats.json experiments/*.json "$OUT/"
for part in "${parts[@]}"; do
  if [ "$part" = repeats ]; then
    python3 -m mnist_models repeats --device "$device" --drawings .unipen/dev-digits.jsonl.gz --checkpoints "$OUT" \
      --seeds "${SEEDS:-0-4}" ${EXTRA:-}
  else
    python3 -m mnist_models experiment "$part" --device "$device" --root "$OUT" --seeds "${SEEDS:-0-2}" ${EXTRA:-}
  fi 2>&1 | tee -a "$OUT/study.log"
done
