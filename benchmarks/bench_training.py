"""One epoch of the whole zoo with the default recipes: the one-model-at-a-time loop beside training together.

    MNIST_DIR=../shared/mnist python benchmarks/bench_training.py [--device cpu] [--epochs 1] [--models all]

Naive (the first releases' loop): every model alone, its own augmented copy of the data each epoch,
NCHW convolutions, LeNet-5's C3 as four grouped convolutions over gathered inputs, the cnn's convolutions
over 2x2 maps as convolutions, writing styles drawn into every image and kept where chosen. Together
(now): one augmented stream per augmentation setting, channels_last, C3 as one dense convolution,
2x2-map convolutions as matrix multiplies, styles drawn only where chosen (the same images, bit for bit).
Prints seconds per model and in all, and the ratio, from the same run.
"""
import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.machine import describe_training  # noqa: E402
from mnist_models import augment  # noqa: E402
from mnist_models.data import load_splits  # noqa: E402
from mnist_models.models import Conv3x3, PartialConv, list_models  # noqa: E402
from mnist_models.train import Phases, recipe, train_together  # noqa: E402


def grouped_c3(self, x):
    """The first release's C3: one grouped convolution per fan-in over a gathered copy of the inputs."""
    outs, start = [], 0
    for conv in self.groups:
        outs.append(conv(x[:, self.cols[start:start + conv.in_channels]]))
        start += conv.in_channels
    return torch.cat(outs, dim=1)[:, self.unshuffle]


def draw_everywhere(x, mask, p0, p1, width):
    """The first release's writing styles: segments drawn into every image, kept where chosen."""
    return torch.where(mask.view(-1, 1, 1, 1), augment.draw_segments(x, p0, p1, width), x)


def timed(jobs, splits, seed=0):
    phases = Phases()
    start = time.perf_counter()
    train_together(jobs, splits[0], splits[1], seed, phases, progress=False)
    return time.perf_counter() - start, phases


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--models", default="all")
    p.add_argument("--data-dir")
    args = p.parse_args()
    names = list_models() if args.models == "all" else args.models.split(",")
    device = torch.device(args.device)
    print(f"machine: {describe_training(device)}")
    train, valid, _ = load_splits(device, data_dir=args.data_dir)
    jobs = {name: recipe(name, epochs=args.epochs) for name in names}

    naive, naive_total = {}, 0.0
    together_c3, together_conv, together_draw = PartialConv.forward, Conv3x3.forward, augment.draw_where
    PartialConv.forward, Conv3x3.forward, augment.draw_where = grouped_c3, torch.nn.Conv2d.forward, draw_everywhere
    try:
        for name, cfg in jobs.items():
            seconds, _ = timed({name: replace(cfg, channels_last=False, bf16=False)}, (train, valid))
            naive[name] = seconds
            naive_total += seconds
            print(f"  naive {name:<14}{seconds:>8.1f} s", flush=True)
    finally:
        PartialConv.forward, Conv3x3.forward, augment.draw_where = together_c3, together_conv, together_draw
    together_total, phases = timed(jobs, (train, valid))

    print(f"\n{len(jobs)} models x {args.epochs} epoch(s) of {len(train.y):,} images, default recipes, {device.type}")
    print(f"one model at a time (naive): {naive_total:8.1f} s")
    print(f"trained together (now):      {together_total:8.1f} s   "
          f"({', '.join(f'{k} {v:.1f} s' for k, v in phases.items())})")
    print(f"speed-up: {naive_total / together_total:.2f}x")


if __name__ == "__main__":
    main()
