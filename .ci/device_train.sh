#!/usr/bin/env bash
# Runs on the lent GPU machine: unpack the carried MNIST copy, train, pack checkpoints into $OUT.
# DEVICE=cpu .ci/device_train.sh --quick --epochs 1 tries it here.
set -euo pipefail
device="${DEVICE:-cuda}"
mkdir -p /tmp/mnist/MNIST/raw "$OUT"
for f in .mnist/*.gz; do gunzip -c "$f" > "/tmp/mnist/MNIST/raw/$(basename "$f" .gz)"; done
[ "$device" != cuda ] || nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
export PYTHONUNBUFFERED=1
python3 train_all.py --device "$device" --data-dir /tmp/mnist --out /tmp/ckpt "$@" 2>&1 | tr '\r' '\n' | grep -Ev '^ *[a-z0-9-]+: +[0-9]{1,2}%' | tee "$OUT/train.log"
tar -C /tmp/ckpt -cf - . | split -b 15M - "$OUT/checkpoints.tar.part-"  # $OUT takes files of 16 MiB at most
