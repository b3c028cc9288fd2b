#!/usr/bin/env bash
# Runs on the lent GPU machine: the repeated runs and the reference experiments, resumable, results into $OUT.
# Carry .mnist/*.gz (MNIST's four files) and .unipen/dev-digits.jsonl.gz (for the repeats' drawing accuracy).
#   .ci/device_study.sh [--seeds 0-4]
set -euo pipefail
mkdir -p /tmp/mnist/MNIST/raw
for f in .mnist/*.gz; do gunzip -c "$f" > "/tmp/mnist/MNIST/raw/$(basename "$f" .gz)"; done
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
export PYTHONUNBUFFERED=1 MNIST_DIR=/tmp/mnist
python3 -m mnist_models repeats --device cuda --drawings .unipen/dev-digits.jsonl.gz "$@" 2>&1 | tee "$OUT/repeats.log"
cp checkpoints/repeats.json "$OUT/"
for experiment in regularization fcn-depth; do
  python3 -m mnist_models experiment "$experiment" --device cuda 2>&1 | tee "$OUT/experiment-$experiment.log"
  cp "experiments/$experiment.json" "$OUT/"
done
