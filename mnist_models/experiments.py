"""The reference write-ups' experiments, reproduced, and our own: each a named set of recipe overrides.

    python -m mnist_models experiment regularization [--seeds 0-2] [--setting writeup|ours] [--device cuda]
    python -m mnist_models experiment fcn-depth
    python -m mnist_models experiment batch-size [--models lenet5,mlp-128]   # ours only: no write-up ran it
    python -m mnist_models experiment batch-size --merge /tmp/a /tmp/b   # runs made side by side, one --root each
    python -m mnist_models experiment bf16 [--models ...]   # ours only: bf16 training steps, on a CPU with AMX

Results go to experiments/NAME.json, one entry per (setting, seed) written as soon as it finishes, so a
rerun resumes where the last one stopped.
"""
import json
from dataclasses import asdict
from pathlib import Path

import torch

from .checkpoint import write_json
from .data import load_splits
from .models import list_models
from .train import AUGMENTATION_FIELDS, TrainConfig, finish, recipe, train_together

CLEAN = {field: 0.0 for field in AUGMENTATION_FIELDS}

# The write-up's own setting, as far as our reference notes record it: Adam with weight decay added to
# the gradient (an L2 term), a constant rate, no augmentation. Its epoch count and batch size are not
# in our notes; 10 epochs of batch 128 are our choice, stated wherever the results are shown.
WRITEUP_LENET = dict(optimizer="adam", schedule="constant", lr=1e-3, weight_decay=0.0, epochs=10, batch_size=128,
                     **CLEAN)
# The seed FCN: batch 256, 10 epochs, an 80/20 split; Adam at a constant 1e-3 (our reading), no augmentation.
SEED_FCN = dict(optimizer="adam", schedule="constant", lr=1e-3, weight_decay=0.0, epochs=10, batch_size=256,
                valid_size=12000, **CLEAN)

LENET_SETTINGS = {  # label -> (reported test % or None, overrides on top of the setting)
    "plain": (98.59, {}),
    "weight decay 1e-4": (98.64, dict(weight_decay=1e-4)),
    "weight decay 1e-3": (97.94, dict(weight_decay=1e-3)),
    "weight decay 1e-2": (11.35, dict(weight_decay=1e-2)),
    "noise 0.1": (98.54, dict(noise=0.1)),
    "noise 0.2": (98.68, dict(noise=0.2)),
    "noise 0.3": (98.41, dict(noise=0.3)),
}


def regularization(setting):
    """LeNet-5 under weight decay and input noise, in the write-up's setting or with our recipe."""
    base = WRITEUP_LENET if setting == "writeup" else {}
    return {label: ("lenet5", {}, reported, {**base, **extra}) for label, (reported, extra) in LENET_SETTINGS.items()}


def fcn_depth(setting):
    """The FCN at 3 to 10 layers, BatchNorm vs Dropout; the seed FCN reported 97.85 % (BatchNorm, 10 layers)."""
    base = SEED_FCN if setting == "writeup" else {}
    return {f"{name} {n} layers": (name, {"n_layers": n}, 97.85 if (name, n) == ("fcn-bn", 10) else None, base)
            for name in ("fcn-bn", "fcn-dropout") for n in range(3, 11)}


# On a GPU a step's fixed cost, not its arithmetic, sets the time (issue 8): 4x the batch is 4x fewer
# steps. The rate grows by the square root of the batch ratio (the usual rule for Adam); everything else
# is each model's own recipe, so batch 128 is its repeats (repeats.json), seed for seed the same images
# in the same order.
LARGE_BATCH = 512


def batch_size(setting):
    """Every model's recipe at batch 512, rate x2. Our question, not a write-up's: only the "ours" setting."""
    if setting != "ours":
        return {}
    scale = (LARGE_BATCH / TrainConfig.batch_size) ** 0.5
    return {f"{name} batch {LARGE_BATCH}": (name, {}, None, dict(batch_size=LARGE_BATCH, lr=recipe(name).lr * scale))
            for name in list_models()}


def bf16(setting):
    """Every model's recipe with its training steps in bf16 (evaluation stays float32): does accuracy hold?

    The GPU path's default, measured where it can be: on a CPU with bf16 units (AMX), against the
    float32 repeats, seed for seed the same images. A GPU's bf16 kernels round differently in detail.
    """
    if setting != "ours":
        return {}
    return {f"{name} bf16": (name, {}, None, dict(bf16=True, bf16_cpu=True)) for name in list_models()}


EXPERIMENTS = {"regularization": regularization, "fcn-depth": fcn_depth, "batch-size": batch_size, "bf16": bf16}
REFERENCE_EXPERIMENTS = ("regularization", "fcn-depth")  # the write-ups': reported -> reproduced -> ours


def results_path(name, root="experiments"):
    return Path(root) / f"{name}.json"


def read_results(name, root="experiments"):
    path = results_path(name, root)
    return json.loads(path.read_text()) if path.exists() else {"runs": []}


def run_experiment(name, setting="writeup", seeds=(0, 1, 2), device="cpu", data_dir=None, root="experiments",
                   train_limit=None, epochs=None, log=print, models=None):
    """Train every (label, seed) of the experiment not yet in its results file, recording each at once.

    `models`: only the settings of these architectures (e.g. leave out the cnn, an hour a run on a CPU).
    """
    settings = {label: spec for label, spec in EXPERIMENTS[name](setting).items() if not models or spec[0] in models}
    for seed in seeds:
        done = {(r["label"], r["setting"]) for r in read_results(name, root)["runs"] if r["seed"] == seed}
        todo = {label: spec for label, spec in settings.items() if (label, setting) not in done}
        if not todo:
            continue
        jobs = {label: recipe(arch, **{**overrides, **({"epochs": epochs} if epochs else {})})
                for label, (arch, _, _, overrides) in todo.items()}
        # the split follows the setting's validation size (the seed FCN's 80/20), the same for all its jobs
        valid_size = next(iter(jobs.values())).valid_size
        train, valid, test = load_splits(torch.device(device), valid_size, seed, data_dir, train_limit)

        def on_epoch(run):
            if len(run.history) == run.cfg.epochs:
                _, meta = finish(run, test)
                arch, model_args, reported, _ = settings[run.name]
                entry = dict(label=run.name, setting=setting, seed=seed, model=arch, model_args=model_args,
                             reported=reported, test_accuracy=meta["test_accuracy"], best_epoch=meta["best_epoch"],
                             parameters=meta["parameters"], train_images=len(train.y), recipe=asdict(run.cfg),
                             device=meta["device"], history=run.history)
                data = read_results(name, root)
                data["runs"].append(entry)
                write_json(results_path(name, root), data)
                log(f"{name} [{setting}] {run.name}, seed {seed}: {100 * meta['test_accuracy']:.2f} %")

        train_together(jobs, train, valid, seed, progress=False, on_epoch=on_epoch,
                       architectures={label: (spec[0], spec[1]) for label, spec in todo.items()})


def merge_results(name, sources, root="experiments"):
    """Add the runs of other results folders (processes run side by side, one root each) -> runs added.

    A (label, setting, seed) already recorded is kept as it is: the first run of it stands.
    """
    def key(run):
        return run["label"], run["setting"], run["seed"]

    data = read_results(name, root)
    seen = {key(r) for r in data["runs"]}
    added = 0
    for source in sources:
        for run in read_results(name, source)["runs"]:
            if key(run) not in seen:
                seen.add(key(run))
                data["runs"].append(run)
                added += 1
    if added:
        write_json(results_path(name, root), data)
    return added


def summarise(name, root="experiments"):
    """-> [{label, setting, reported, mean, std, n, parameters}] in the experiment's own order."""
    import numpy as np
    runs = read_results(name, root)["runs"]
    order = list(EXPERIMENTS[name]("ours"))  # the labels are the same in both settings
    rows = []
    for setting in ("writeup", "ours"):
        for label in order:
            accs = [r["test_accuracy"] for r in runs if r["label"] == label and r["setting"] == setting]
            if not accs:
                continue
            first = next(r for r in runs if r["label"] == label and r["setting"] == setting)
            rows.append(dict(label=label, setting=setting, reported=first["reported"], mean=float(np.mean(accs)),
                             std=float(np.std(accs, ddof=1)) if len(accs) > 1 else None, n=len(accs),
                             parameters=first["parameters"]))
    return rows
