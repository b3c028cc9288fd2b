#!/usr/bin/env bash
# The whole GPU session in one call (its device time is short): train the zoo, then the one-epoch
# comparison and the step ladder, each benchmark under its own limit so one cannot eat the others' share.
#   .ci/device_checks.sh [train_all.py flags]        carry .mnist/*.gz (MNIST's four files)
# DEVICE=cpu BENCH="--models custom-mlp-6" .ci/device_checks.sh --quick --epochs 1 --models custom-mlp-6 tries it here.
set -uo pipefail
device="${DEVICE:-cuda}"
.ci/device_train.sh "$@"
export PYTHONUNBUFFERED=1
timeout "${TRAINING_LIMIT:-150}" python3 benchmarks/bench_training.py --device "$device" --data-dir /tmp/mnist \
  ${BENCH:-} 2>&1 | tee "$OUT/bench_training.txt"
timeout "${STEPS_LIMIT:-180}" python3 benchmarks/bench_steps.py --device "$device" --data-dir /tmp/mnist \
  ${BENCH:-} 2>&1 | tee "$OUT/bench_steps.txt"
