"""Repeated runs: every model's default recipe under several seeds, to tell real differences from seed noise.

    python -m mnist_models repeats --seeds 0-4 [--models a,b] [--device cuda] [--drawings FILE]

Seed S is exactly `python train_all.py --seed S` (same split, initial weights and batches). Each finished
(model, seed) is written to checkpoints/repeats.json at once and skipped by a rerun, so the work can span
sessions. A committed checkpoint trained with this recipe and seed is recorded as it is, not retrained.
"""
import itertools
import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CheckpointError, read_metadata, write_json
from .data import load_splits
from .train import TrainConfig, finish, recipe, train_together


def read_repeats(path):
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {}


FIELDS = ("test_accuracy", "drawing_accuracy", "devices")


def record(path, name, seed, test_accuracy, drawing_accuracy, device="cpu"):
    """Add one finished run to repeats.json (atomically), keeping each model's seeds in order."""
    data = read_repeats(path)
    entry = data.get(name, {"seeds": []})
    runs = {s: [entry.get(f, [None] * len(entry["seeds"]))[i] for f in FIELDS] for i, s in enumerate(entry["seeds"])}
    runs[seed] = [test_accuracy, drawing_accuracy, device]
    seeds = sorted(runs)
    data[name] = {"seeds": seeds, **{f: [runs[s][i] for s in seeds] for i, f in enumerate(FIELDS)}}
    write_json(Path(path), data)


def drawing_accuracy(model, drawings):
    """(images (N,28,28), labels, blank) -> accuracy of one model; a blank drawing counts as wrong."""
    images, labels, blank = drawings
    with torch.inference_mode():
        preds = model.cpu().eval()(torch.from_numpy(images).unsqueeze(1)).argmax(1).numpy()
    return float(((preds == labels) & ~blank).mean())


def committed_run(name, seed, checkpoint_dir):
    """The committed checkpoint's (test, drawing) accuracy if it is this recipe's run with this seed."""
    try:
        meta = read_metadata(name, checkpoint_dir)
    except CheckpointError:
        return None
    if meta.get("seed") != seed or not same_recipe(meta.get("recipe", {}), recipe(name)) or \
            "drawing_accuracy" not in meta or meta.get("train_images") not in (None, 60_000 - TrainConfig.valid_size):
        return None
    return meta["test_accuracy"], meta["drawing_accuracy"], meta["device"]


# How the arithmetic runs, not what is learnt: a checkpoint recorded before these fields existed, or
# trained with them set otherwise, is still a run of its recipe.
ARITHMETIC = {"bf16", "bf16_cpu", "channels_last", "compile", "fused"}


def same_recipe(recorded, cfg):
    """A recorded recipe (fields added since default to TrainConfig's) against a config, arithmetic aside."""
    recorded = {**asdict(TrainConfig()), **recorded}
    wanted = asdict(cfg)
    return all(recorded[k] == wanted[k] for k in wanted if k not in ARITHMETIC)


def run_repeats(names, seeds, drawings, checkpoint_dir="checkpoints", device="cpu", data_dir=None,
                overrides=None, train_limit=None, log=print):
    """Train every (model, seed) not yet in repeats.json, recording each as soon as it finishes."""
    path = Path(checkpoint_dir) / "repeats.json"
    for seed in seeds:
        done = read_repeats(path)
        pending = [n for n in names if seed not in done.get(n, {}).get("seeds", [])]
        for name in list(pending):
            committed = None if overrides or train_limit else committed_run(name, seed, checkpoint_dir)
            if committed:
                record(path, name, seed, *committed)
                pending.remove(name)
                log(f"seed {seed} {name}: the committed checkpoint, {100 * committed[0]:.2f} % test")
        if not pending:
            continue
        train, valid, test = load_splits(torch.device(device), TrainConfig.valid_size, seed, data_dir, train_limit)

        def on_epoch(run):
            if len(run.history) == run.cfg.epochs:  # this model is done; the others may train on
                model, meta = finish(run, test)
                acc = drawing_accuracy(model, drawings)
                # logged first, in full precision: the figures survive even if the file cannot be written
                log(f"seed {seed} {run.name}: {100 * meta['test_accuracy']:.2f} % test, {100 * acc:.2f} % drawings"
                    f" (test {meta['test_accuracy']!r}, drawings {acc!r}, {meta['device']})")
                record(path, run.name, seed, meta["test_accuracy"], acc, meta["device"])

        train_together({n: recipe(n, **(overrides or {})) for n in pending}, train, valid, seed,
                       progress=False, on_epoch=on_epoch)


def permutation_p(a, b):
    """Exact two-sided permutation test on the difference of means: the share of relabellings of the
    pooled runs whose |mean difference| is at least the observed one. Assumes nothing about the spread;
    with 5 runs a side the smallest possible p is 2/252."""
    pooled, n = np.concatenate([a, b]), len(a)
    observed = abs(np.mean(a) - np.mean(b))
    total = hits = 0
    for idx in itertools.combinations(range(len(pooled)), n):
        mask = np.zeros(len(pooled), bool)
        mask[list(idx)] = True
        hits += abs(pooled[mask].mean() - pooled[~mask].mean()) >= observed - 1e-12
        total += 1
    return hits / total


def summary(repeats, metric="test_accuracy"):
    """-> [(name, mean, std, n)] best first; std is the sample standard deviation (n - 1)."""
    rows = []
    for name, entry in repeats.items():
        values = np.array(entry[metric], float)
        std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        rows.append((name, float(values.mean()), std, len(values)))
    return sorted(rows, key=lambda row: -row[1])
