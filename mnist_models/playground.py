"""Train one model for a demo visitor (the Train tab): checked settings, presets that re-run the reference
experiments, and a child process that streams progress as JSON lines and stops within one step when asked.

    python -m mnist_models.playground '{"model": "lenet5", "epochs": 2}' OUT_DIR   # events on stdout
"""
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import torch

from .checkpoint import load_model, save_checkpoint
from .data import DataNotFound, Split, load_splits
from .experiments import CLEAN, LENET_SETTINGS
from .models import create_model, list_models
from .train import TrainConfig, evaluate, finish, train_together

# What a visitor gets before touching anything: LeNet-5 with our recipe's optimizer and schedule on clean
# images, 4 epochs of 30,000: ~98 % on MNIST test, and well inside a minute on a 2-vCPU Space
# (benchmarks/bench_train_tab.py measures it).
DEFAULTS = dict(model="lenet5", n_layers=10, epochs=4, train_images=30000, batch_size=128, lr=5e-3,
                optimizer="adamw", schedule="onecycle", weight_decay=0.0, noise=0.0, augment=False, seed=0)
# (lowest, highest) a request may ask for; the tab's sliders stop at the same values.
LIMITS = dict(n_layers=(3, 10), epochs=(1, 30), train_images=(1000, 55000), batch_size=(16, 1024),
              lr=(1e-5, 1.0), weight_decay=(0.0, 0.1), noise=(0.0, 1.0), seed=(0, 2**31 - 1))
CHOICES = dict(model=list_models(), optimizer=("adam", "adamw", "sgd"), schedule=("constant", "onecycle"))
MAX_SECONDS = 120      # of training per run: past it the run stops as if Stop were pressed (the model is kept)
MAX_MEMORY_MB = 2048   # memory a run adds to its process (model, optimizer, activations): past it the run stops
HARD_MEMORY_MB = 4096  # the training process's whole resident memory: past it the process is killed
HARD_SECONDS = MAX_SECONDS + 90  # start-up, data and the final test pass included: past it the process is killed
REPORT_EVERY = 0.5     # seconds between progress events inside an epoch: curves move even when epochs are long
# The demo's own requests come first: a visitor drawing must not wait for someone's training.
NICENESS = int(os.environ.get("TRAIN_NICENESS", "19"))
THREADS = int(os.environ.get("TRAIN_THREADS", "1"))  # see benchmarks/bench_train_tab.py for the choice


def check(values):
    """A visitor's settings (missing ones from DEFAULTS) -> clean dict; ValueError saying what is out of bounds."""
    unknown = sorted(set(values) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    clean, problems = {}, []
    for key, default in DEFAULTS.items():
        value = values.get(key, default)
        try:
            if isinstance(default, bool):
                if value not in (True, False):  # 0 and 1 too; never a string's truthiness
                    raise ValueError
                value = bool(value)
            elif isinstance(default, int):
                if float(value) != int(float(value)):
                    raise ValueError
                value = int(float(value))
            elif isinstance(default, float):
                value = float(value)
                if value != value:  # NaN
                    raise ValueError
        except (TypeError, ValueError, OverflowError):
            problems.append(f"{key} must be a {type(default).__name__}, got {value!r}")
            continue
        if key in CHOICES and value not in CHOICES[key]:
            problems.append(f"{key} must be one of {', '.join(CHOICES[key])}, got {value!r}")
        if key in LIMITS and not LIMITS[key][0] <= value <= LIMITS[key][1]:
            low, high = LIMITS[key]
            problems.append(f"{key} must be between {low:g} and {high:g} on this shared demo, got {value:g}")
        clean[key] = value
    if problems:
        raise ValueError("; ".join(problems))
    return clean


def to_config(values):
    """Checked settings -> ((registry name, builder kwargs), TrainConfig): the same recipe fields train_all uses."""
    architecture = (values["model"], {"n_layers": values["n_layers"]} if values["model"].startswith("fcn") else {})
    cfg = replace(TrainConfig(), **{k: values[k] for k in ("epochs", "batch_size", "lr", "optimizer", "schedule",
                                                          "weight_decay", "noise")},
                  **({} if values["augment"] else CLEAN))
    return architecture, cfg


def describe(values):
    """One line a visitor can read: what was trained and how."""
    depth = f" ({values['n_layers']} layers)" if values["model"].startswith("fcn") else ""
    extras = [f"weight decay {values['weight_decay']:g}"] * bool(values["weight_decay"]) + \
             [f"input noise {values['noise']:g}"] * bool(values["noise"]) + ["augmented"] * values["augment"]
    return (f"{values['model']}{depth} · {values['optimizer']} lr {values['lr']:g} {values['schedule']} · "
            f"batch {values['batch_size']} · {values['epochs']} epochs on {values['train_images']:,} images"
            + "".join(f" · {e}" for e in extras) + f" · seed {values['seed']}")


# Presets: the reference experiments in their write-ups' setting (Adam at a constant 1e-3, clean images),
# shortened to 2 epochs so each runs in well under a minute here (the reproductions stored in
# experiments/ ran 10). Each names the stored result it sits beside: (experiment, setting label).
WRITEUP = dict(DEFAULTS, optimizer="adam", schedule="constant", lr=1e-3, epochs=2, train_images=55000)
PRESETS = {
    **{f"LeNet-5, {label}": (dict(WRITEUP, **extra), ("regularization", label))
       for label, (_, extra) in LENET_SETTINGS.items()},
    **{f"FCN, 10 layers, {kind}": (dict(WRITEUP, model=name, n_layers=10, batch_size=256),
                                   ("fcn-depth", f"{name} 10 layers"))
       for name, kind in (("fcn-bn", "BatchNorm"), ("fcn-dropout", "Dropout"))},
}


def resident_mb(pid="self"):
    """Resident memory of a process in MB (Linux /proc); 0 where that cannot be read."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def train(values, splits, emit, should_stop=lambda: False, max_seconds=MAX_SECONDS, max_memory_mb=MAX_MEMORY_MB):
    """Train one model as `values` say on (train, valid, test) -> (model, metadata), calling `emit(event)`.

    Events (dicts), each with epoch, epochs, fraction (of the whole run) and seconds:
    - "start": the untrained model's train_loss/train_accuracy (on 2,000 training images) and
      valid_loss/valid_accuracy, plus the settings and sizes;
    - "progress": every REPORT_EVERY s and at each epoch's end, train_loss and train_accuracy over the
      steps since the previous "progress" (the curve a visitor watches);
    - "epoch": the epoch's history row: train_loss, train_accuracy (running over the epoch), valid_loss,
      valid_accuracy.
    `should_stop()` is asked after every step: true ends the run there, as do the time and memory limits;
    the best epoch so far is then measured on the test set.
    """
    values = check(values)
    architecture, cfg = to_config(values)
    train_split, valid, test = splits
    n, started = len(train_split.y), time.perf_counter()

    def position(epoch, seen):
        return dict(epoch=epoch, epochs=cfg.epochs, fraction=round((epoch - 1 + seen / n) / cfg.epochs, 4),
                    seconds=round(time.perf_counter() - started, 2))

    torch.manual_seed(values["seed"])  # the very weights the run starts from (Run seeds the same way)
    untrained = create_model(architecture[0], **architecture[1])
    train_loss, train_acc, _ = evaluate(untrained, Split(train_split.x[:2000], train_split.y[:2000]))
    valid_loss, valid_acc, _ = evaluate(untrained, valid)
    emit(dict(kind="start", **{**position(1, 0), "epoch": 0}, train_loss=round(train_loss, 5), train_accuracy=train_acc,
              valid_loss=round(valid_loss, 5), valid_accuracy=valid_acc, settings=values,
              description=describe(values), train_images=n, valid_images=len(valid.y), test_images=len(test.y),
              steps_per_epoch=-(-n // cfg.batch_size), limits=dict(max_seconds=max_seconds,
                                                                  max_memory_mb=max_memory_mb)))
    state = dict(reason=None, reported=time.perf_counter(), loss=0.0, correct=0, seen=0)  # at the last report
    baseline = resident_mb()  # torch, the data and whatever else the process held before this run

    def on_batch(epoch, seen, runs):
        now = time.perf_counter()
        state["reason"] = ("stopped" if should_stop() else "time limit" if now - started > max_seconds else
                           "memory limit" if resident_mb() - baseline > max_memory_mb else None)
        if seen < state["seen"]:  # a new epoch: its sums start again from zero
            state.update(loss=0.0, correct=0, seen=0)
        if now - state["reported"] >= REPORT_EVERY or seen == n or state["reason"]:
            loss, correct, steps = runs[0].loss_sum.item(), runs[0].correct.item(), seen - state["seen"]
            emit(dict(kind="progress", **position(epoch, seen), train_loss=round((loss - state["loss"]) / steps, 5),
                      train_accuracy=round((correct - state["correct"]) / steps, 5)))
            state.update(reported=now, loss=loss, correct=correct, seen=seen)
        return state["reason"] is not None

    def on_epoch(run):
        row = run.history[-1]
        emit(dict(kind="epoch", **position(row["epoch"], round(row.get("partial", 1.0) * n)),
                  **{k: row[k] for k in ("train_loss", "train_accuracy", "valid_loss", "valid_accuracy")}))

    runs = train_together({"yours": cfg}, train_split, valid, values["seed"], progress=False, on_epoch=on_epoch,
                          on_batch=on_batch, architectures={"yours": architecture})
    model, metadata = finish(runs["yours"], test)
    metadata["visitor"] = dict(settings=values, description=describe(values), stopped=state["reason"],
                               train_images=n, seconds=round(time.perf_counter() - started, 2))
    return model, metadata


def train_in_child(values, stop=None, data_dir=None):
    """Generator of `train`'s events from a child process (lower priority, its own memory), ending with
    "done" (adds "model", "metadata" and "files": the checkpoint pair) or "error" (adds "message").

    Set `stop` (a threading.Event) and the child ends after its current step; the model is kept.
    Closing the generator kills the child. The files' folder is the caller's to delete after "done";
    on any other ending it is deleted here.
    """
    values = check(values)  # a clear message before any process starts
    out_dir = tempfile.mkdtemp(prefix="mnist-yours-")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).parent.parent),
                                                                     os.environ.get("PYTHONPATH")])))
    if data_dir:
        env["MNIST_DIR"] = str(data_dir)
    stderr = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([sys.executable, "-m", "mnist_models.playground", json.dumps(values), out_dir],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout] + [lines.put(None)], daemon=True).start()
    started, asked, delivered = time.perf_counter(), False, False

    def failure(message):
        stderr.seek(0)
        tail = stderr.read().strip().splitlines()[-3:]
        return dict(kind="error", message=message + (f" ({' / '.join(tail)})" if tail else ""))

    try:
        while True:
            if stop is not None and stop.is_set() and not asked:
                asked = True
                try:
                    proc.stdin.write("stop\n")
                    proc.stdin.flush()
                except OSError:
                    pass
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                line = ""
            if line is None:
                yield failure(f"the training process ended without a result (exit code {proc.wait()})")
                return
            if line:
                event = json.loads(line)
                if event["kind"] == "done":
                    model, metadata = load_model(event["name"], out_dir)  # checks the weights' sha256
                    delivered = True
                    yield dict(event, model=model, metadata=metadata,
                               files=[str(Path(out_dir) / f"{event['name']}.{ext}") for ext in ("safetensors", "json")])
                    return
                yield event
                if event["kind"] == "error":
                    return
            if time.perf_counter() - started > HARD_SECONDS:
                yield failure(f"training ran past the hard limit of {HARD_SECONDS} s and was ended")
                return
            if resident_mb(proc.pid) > HARD_MEMORY_MB:
                yield failure(f"the training process used more than {HARD_MEMORY_MB} MB and was ended")
                return
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr.close()
        if not delivered:
            shutil.rmtree(out_dir, ignore_errors=True)


def main(argv=None):
    """The child: train, printing one JSON event per line; a "stop" line on stdin stops it."""
    settings, out_dir = argv or sys.argv[1:]
    try:
        os.nice(NICENESS)
    except OSError:
        pass
    torch.set_num_threads(THREADS)
    stop = threading.Event()

    def listen():  # (if the parent dies instead, the next event's print fails and ends this process)
        if any(line.strip() == "stop" for line in sys.stdin):
            stop.set()
    threading.Thread(target=listen, daemon=True).start()

    def emit(event):
        print(json.dumps(event), flush=True)

    try:
        values = check(json.loads(settings))
        splits = load_splits("cpu", TrainConfig.valid_size, 0, None, values["train_images"])
    except (ValueError, DataNotFound) as e:
        emit(dict(kind="error", message=str(e)))
        return 2
    model, metadata = train(values, splits, emit, stop.is_set)
    save_checkpoint(model, metadata, out_dir)  # exactly as train_all.py writes checkpoints/
    emit(dict(kind="done", name=metadata["name"], stopped=metadata["visitor"]["stopped"],
              test_accuracy=metadata["test_accuracy"], best_epoch=metadata["best_epoch"],
              seconds=metadata["visitor"]["seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
