"""Each change of the fast path measured alone: one model's training step, from the first release's to today's.

    MNIST_DIR=../shared/mnist python benchmarks/bench_steps.py [--device cuda] [--steps 20] [--models all]

A ladder: every rung keeps the one before and adds one change, and each model's step (forward, loss,
backward, gradient norm, optimizer and schedule) is timed alone on fixed batches (augmentation is
shared and measured in bench_training.py). The fused optimizer and CUDA graphs are CUDA-only rungs;
bf16 is timed on a CPU too (the trainer's `bf16_cpu`), though only CPUs with AMX have units for it.
The zoo's epoch is each model's median ms per step times its steps per epoch, summed; the ratio is
against the first rung, from the same run. A rung that fails prints its error; the ladder goes on.
"""
import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_training import grouped_c3  # noqa: E402
from machine import describe_training  # noqa: E402
from mnist_models.data import load_splits  # noqa: E402
from mnist_models.models import Conv3x3, PartialConv, list_models  # noqa: E402
from mnist_models.train import Run, recipe  # noqa: E402

BATCH, LARGE_BATCH = 128, 512

# (label, change to the recipe, change to how the bench runs it, devices it applies to); each rung keeps the last's
RUNGS = [
    ("first release", dict(channels_last=False, fused=False, bf16=False), dict(first_layers=True, sync=True),
     ("cpu", "cuda")),
    ("layers", {}, dict(first_layers=False), ("cpu", "cuda")),  # C3 as one dense conv, 2x2-map convs as matmuls
    ("no sync", {}, dict(sync=False), ("cpu", "cuda")),         # no .item() per step: the host runs ahead
    ("chan-last", dict(channels_last=True), {}, ("cpu", "cuda")),
    ("fused", dict(fused=True), {}, ("cuda",)),                 # the trainer fuses the optimizer on CUDA only
    ("bf16", dict(bf16=True, bf16_cpu=True), {}, ("cpu", "cuda")),  # on a CPU only where asked (bf16_cpu)
    ("compile", dict(compile=True), {}, ("cpu", "cuda")),
    ("graphs", {}, dict(graphs=True), ("cuda",)),               # compile(mode="reduce-overhead"): CUDA graphs
    (f"batch {LARGE_BATCH}", dict(batch_size=LARGE_BATCH), {}, ("cpu", "cuda")),  # rate x2, as the experiment
]
SWITCHES = dict(first_layers=False, sync=False, graphs=False)


def first_release_layers(on):
    """Swap in the first release's C3 and 2x2-map convolutions (on=True) or today's (False)."""
    first_release_layers.saved = getattr(first_release_layers, "saved", (PartialConv.forward, Conv3x3.forward))
    PartialConv.forward, Conv3x3.forward = (grouped_c3, torch.nn.Conv2d.forward) if on else first_release_layers.saved


def time_steps(name, cfg, switches, batches, device, rounds=3):
    """-> (median ms per step over `rounds` rounds, seconds of the first steps: warm-up and compile)."""
    first_release_layers(switches["first_layers"])
    torch._dynamo.reset()  # each model timed afresh: no earlier model's compiled code or cache entries
    try:
        run = Run(name, cfg, 55_000, 0, device)
        if switches["graphs"]:
            run.forward = torch.compile(run.model, mode="reduce-overhead")

        def steps(batch_list):
            for x, y in batch_list:
                if switches["graphs"]:
                    torch.compiler.cudagraph_mark_step_begin()
                run.step(x, y)
                if switches["sync"]:
                    run.loss_sum.item()
            if device.type == "cuda":
                torch.cuda.synchronize(device)

        start = time.perf_counter()
        steps(batches[:3])
        warm = time.perf_counter() - start
        per_round = []
        for _ in range(rounds):
            start = time.perf_counter()
            steps(batches[3:])
            per_round.append(1000 * (time.perf_counter() - start) / len(batches[3:]))
        return statistics.median(per_round), warm
    finally:
        first_release_layers(False)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--steps", type=int, default=20, help="timed steps per round (3 rounds, median)")
    p.add_argument("--models", default="all")
    p.add_argument("--data-dir")
    args = p.parse_args()
    names = list_models() if args.models == "all" else args.models.split(",")
    device = torch.device(args.device)
    print(f"machine: {describe_training(device)}")
    train, _, _ = load_splits(device, data_dir=args.data_dir)
    gen = torch.Generator(device=device).manual_seed(0)

    def batches(size):
        idx = torch.randperm(len(train.y), device=device, generator=gen)[:size * (3 + args.steps)].view(-1, size)
        return [(train.x[i], train.y[i]) for i in idx]

    cfg_changes, switches = {}, dict(SWITCHES)
    columns = []  # (label, {model: ms per step}, {model: warm-up s}, steps per epoch)
    for label, change, switch, devices in RUNGS:
        if device.type not in devices:
            print(f"  {label:<14} CUDA only", flush=True)
            continue
        new_changes, new_switches = {**cfg_changes, **change}, {**switches, **switch}
        size = new_changes.get("batch_size", BATCH)
        data, ms, warm = batches(size), {}, {}
        try:
            for name in names:
                cfg = replace(recipe(name), **new_changes, lr=recipe(name).lr * (2 if size > BATCH else 1))
                ms[name], warm[name] = time_steps(name, cfg, new_switches, data, device)
        except Exception as error:  # noqa: BLE001 - a rung that cannot run is reported, the rest still measured
            print(f"  {label:<14} failed on {name}: {type(error).__name__}: {str(error).splitlines()[0][:120]}",
                  flush=True)
            continue
        cfg_changes, switches = new_changes, new_switches
        steps = -(-len(train.y) // size)
        columns.append((label, ms, warm, steps))
        # as it goes: a run cut short by its time limit still says something
        print(f"  {label:<14} zoo epoch {sum(ms[n] * steps for n in names) / 1000:.1f} s", flush=True)

    print(f"\nms per training step, median of 3 rounds of {args.steps} steps, each model alone, {device.type}")
    print(f"{'model':<14}" + "".join(f"{label:>14}" for label, *_ in columns))
    for name in names:
        print(f"{name:<14}" + "".join(f"{ms[name]:>14.2f}" for _, ms, _, _ in columns))
    epochs = [sum(ms[n] * steps for n in names) / 1000 for _, ms, _, steps in columns]
    print(f"{'zoo epoch, s':<14}" + "".join(f"{e:>14.1f}" for e in epochs))
    print(f"{'vs first':<14}" + "".join(f"{epochs[0] / e:>13.2f}x" for e in epochs))
    print(f"{'warm-up, s':<14}" + "".join(f"{sum(w.values()):>14.1f}" for _, _, w, _ in columns))
    print(f"(zoo epoch: steps per epoch, {columns[0][3]} at batch {BATCH} and {-(-len(train.y) // LARGE_BATCH)} at "
          f"{LARGE_BATCH}, times ms per step, summed over the models; warm-up: the first 3 steps of every model, "
          f"compile included)")


if __name__ == "__main__":
    main()
