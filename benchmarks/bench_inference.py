"""One drawing, every model: Predictor.predict's latency, the eager path beside the fast one, same run.

    python benchmarks/bench_inference.py [--drawings ../shared/unipen/dev-digits.jsonl.gz] [--n 300]

Naive (the first release's path): to_mnist converting the whole canvas and resizing with Pillow, then
each eager model in turn, the cnn's 2x2-map convolutions as convolutions. Fast (the default): to_mnist
narrows a canvas to the pixels unlike its plain border, crops on 8-bit values and resizes with (cached)
matrix products, then each model in ONNX Runtime on one thread (mnist_models/inference.py), as many
models side by side as there are threads. Prints p50/p95 per stage, the ratio, and the largest
difference between the two paths' probabilities.
"""
import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mnist_models import Predictor, to_mnist  # noqa: E402
from mnist_models.drawings import read_drawings, render  # noqa: E402
from mnist_models.models import Conv3x3  # noqa: E402
from benchmarks.machine import describe  # noqa: E402

FAST_CONV = Conv3x3.forward


def use_path(label):
    """The naive path runs the cnn's 2x2-map convolutions as the first release did: as convolutions."""
    Conv3x3.forward = torch.nn.Conv2d.forward if label == "naive" else FAST_CONV


def percentiles(ms):
    ms = sorted(ms)
    return statistics.median(ms), ms[int(0.95 * (len(ms) - 1))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--drawings", default=str(ROOT.parent / "shared" / "unipen" / "dev-digits.jsonl.gz"))
    p.add_argument("--n", type=int, default=300, help="drawings (800x800 RGBA canvases, as the sketchpad sends)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {describe()}; {args.threads} torch threads, torch {torch.__version__}")
    rng = random.Random(0)
    canvases = [render(strokes, rng) for _, strokes in read_drawings(args.drawings, args.n)]

    paths = {"naive": Predictor(str(ROOT / "checkpoints"), fast=False), "fast": Predictor(str(ROOT / "checkpoints"))}
    for label, predictor in paths.items():  # warm-up: first calls allocate and pick kernels
        use_path(label)
        for canvas in canvases[:20]:
            predictor.predict(canvas)

    results, answers = {}, {}
    for label, predictor in paths.items():
        use_path(label)
        total, prep, models, per_model = [], [], [], {}
        answers[label] = []
        for canvas in canvases:  # interleaving stages would hide nothing: each call is timed on its own
            t0 = time.perf_counter()
            probs = predictor.predict(canvas)
            total.append(1000 * (time.perf_counter() - t0))
            answers[label].append(probs)
            t0 = time.perf_counter()
            x = to_mnist(canvas, fast=predictor.fast)
            prep.append(1000 * (time.perf_counter() - t0))
            timings = {}
            t0 = time.perf_counter()
            predictor.predict_mnist(x, timings)
            models.append(1000 * (time.perf_counter() - t0))
            for name, ms in timings.items():
                per_model.setdefault(name, []).append(ms)
        results[label] = dict(total=percentiles(total), to_mnist=percentiles(prep), models=percentiles(models),
                              per_model={n: statistics.median(v) for n, v in per_model.items() if n != "ensemble"})

    print(f"\n{len(canvases)} drawings; milliseconds, p50 / p95")
    print(f"{'stage':<34}{'naive':>16}{'fast':>16}{'ratio (p50)':>14}")
    for stage, title in (("total", "Predictor.predict (all)"), ("to_mnist", "  to_mnist"),
                         ("models", "  12 models + ensemble")):
        a, b = results["naive"][stage], results["fast"][stage]
        print(f"{title:<34}{a[0]:>8.2f} /{a[1]:>6.2f}{b[0]:>8.2f} /{b[1]:>6.2f}{a[0] / b[0]:>13.1f}x")
    print("\nper model, p50 ms (naive -> fast):")
    for name in results["naive"]["per_model"]:
        print(f"  {name:<14}{results['naive']['per_model'][name]:>7.3f} ->{results['fast']['per_model'][name]:>7.3f}")
    diff = max(float(np.abs(a[k] - b[k]).max()) for a, b in zip(answers["naive"], answers["fast"]) if a for k in a)
    same = all((a is None) == (b is None) for a, b in zip(answers["naive"], answers["fast"]))
    # The floor under "12 models": every drawing reads every weight once, and they do not fit in cache
    weights = sum(t.numel() * t.element_size() for m in paths["fast"].models.values() for t in m.state_dict().values())
    block = torch.rand(24_000_000)  # 96 MB, three times this CPU's L3 cache
    reads = []
    for _ in range(21):
        t0 = time.perf_counter()
        block.sum()
        reads.append(time.perf_counter() - t0)
    rate = block.numel() * 4 / statistics.median(reads)
    print(f"\nweights of the 12 models: {weights / 1e6:.1f} MB; this machine reads memory at {rate / 1e9:.1f} GB/s "
          f"({args.threads} threads, median of 21 passes over 96 MB): reading the weights once takes "
          f"{1000 * weights / rate:.2f} ms")
    print(f"largest probability difference between the paths: {diff:.2e} (blank decisions identical: {same})")
    print("fast path's lanes at the end (models run side by side, balanced by their running mean time): "
          + " | ".join(", ".join(lane) for lane in paths["fast"].lanes()))


if __name__ == "__main__":
    main()
