"""The Train tab's costs: each preset's time and accuracy, and whether drawing stays responsive while
someone trains. Prints figures; asserts nothing.

    MNIST_DIR=../shared/mnist python benchmarks/bench_train_tab.py            # both parts
    MNIST_DIR=../shared/mnist python benchmarks/bench_train_tab.py --part latency --configs 1:19,2:19,2:0

Presets: each through `playground.train_in_child`, as the tab runs it, timed from the call to the measured
model (process start-up and data loading included). Latency: the real demo server's `/classify` p50,
idle and then while the tab trains with its defaults, for each (TRAIN_THREADS:TRAIN_NICENESS) setting;
2:0 is the naive way, a training process at normal priority using both cores.
"""
import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_demo import Probe, start_demo  # noqa: E402
from mnist_models import playground  # noqa: E402


def presets():
    print(f"{'preset':<34}{'wall s':>8}{'training s':>12}{'test %':>8}")
    for label, values in [("defaults", playground.DEFAULTS)] + [(k, v) for k, (v, _) in playground.PRESETS.items()]:
        start = time.perf_counter()
        for event in playground.train_in_child(values):
            if event["kind"] == "error":
                print(f"{label:<34} error: {event['message']}")
            if event["kind"] == "done":
                shutil.rmtree(Path(event["files"][0]).parent)
                print(f"{label:<34}{time.perf_counter() - start:>8.1f}{event['seconds']:>12.1f}"
                      f"{100 * event['test_accuracy']:>8.2f}", flush=True)


def p50_ms(times):
    return 1000 * statistics.median(times)


def latency(configs, requests):
    from gradio_client import Client
    digit = np.full((800, 800), 255, np.uint8)
    digit[150:650, 380:420] = 0  # a "1"
    path = os.path.join(tempfile.mkdtemp(), "one.png")
    Image.fromarray(digit).save(path)
    defaults = [playground.DEFAULTS[f] for f in playground.DEFAULTS]

    def classify(probe):   # as a browser tab calls it: gradio_client's 50 ms polling is too coarse a clock
        start = time.perf_counter()
        assert probe.classify(path)["ensemble"]["prediction"] == 1
        return time.perf_counter() - start

    for threads, niceness in configs:
        server, url = start_demo(TRAIN_THREADS=str(threads), TRAIN_NICENESS=str(niceness))
        try:
            trainer, probe = Client(url, verbose=False), Probe(url)
            classify(probe)  # warm-up
            idle = [classify(probe) for _ in range(requests)]
            start = time.perf_counter()
            job = trainer.submit(*defaults, api_name="/train")
            busy = []
            while not job.done():
                busy.append(classify(probe))
            wall = time.perf_counter() - start
            idle += [classify(probe) for _ in range(requests)]  # idle before and after: a drifting machine hits both
            result = job.outputs()[-1][3] if job.outputs() else "?"  # the tab's result line
            print(f"threads {threads}, niceness {niceness:>2}: /classify p50 idle {p50_ms(idle):.1f} ms, "
                  f"while training {p50_ms(busy):.1f} ms ({len(busy)} requests; p95 "
                  f"{1000 * sorted(busy)[int(0.95 * len(busy))]:.1f} ms) -> {p50_ms(busy) / p50_ms(idle):.2f}x; "
                  f"the training took {wall:.1f} s under this load", flush=True)
            print(f"    its result: {result.splitlines()[0][:200]}")
        finally:
            server.terminate()
            server.wait()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--part", choices=["all", "presets", "latency"], default="all")
    p.add_argument("--configs", default="1:19,2:19,2:0", help="TRAIN_THREADS:TRAIN_NICENESS settings to compare")
    p.add_argument("--requests", type=int, default=30, help="idle /classify requests before and after training")
    args = p.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; the tab's settings: TRAIN_THREADS={playground.THREADS}, "
          f"niceness {playground.NICENESS}")
    if args.part in ("all", "presets"):
        presets()
    if args.part in ("all", "latency"):
        latency([tuple(int(v) for v in c.split(":")) for c in args.configs.split(",")], args.requests)


if __name__ == "__main__":
    main()
