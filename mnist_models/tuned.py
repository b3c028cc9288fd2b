"""The drawing-tuned set: the zoo's architectures fine-tuned on MNIST plus real pen drawings (pen.py).

    python train_all.py --only-tuned --drawings ../shared/unipen/dev-digits.jsonl.gz   # -> checkpoints/tuned/

Each model starts from its MNIST-only twin and trains briefly on a mix of varied pen renders (training
sources only) and MNIST images. Every drawing figure of a tuned model is on the held-out sources.
"""
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .checkpoint import load_model, paths, write_ensemble_metadata
from .data import Split
from .ensemble import log_loss, select_members
from .models import list_models
from .pen import HELDOUT_SOURCES, PenConfig, heldout_drawings, read_rows, split_by_source, split_record, training_renders
from .predict import Predictor, average
from .repeats import drawing_accuracy
from .train import finish, recipe, train_together

TUNED_DIR = "tuned"  # beside the zoo: checkpoints/tuned/
SELECTION = "greedy forward selection on the held-out sources' log-loss"

# The fine-tune: short, so what MNIST taught stays, on a mix already varied by rendering; the last epoch is
# kept, as no pen validation set exists to pick one by (the held-out sources are only measured on).
# styles: real writers' flagged 1s and crossed 7s, drawn onto MNIST's too, so the flag is not a pen-only cue.
TUNED = dict(epochs=4, lr=1e-3, warmup=0.2, keep="last",
             rotate=5.0, scale=0.05, shear=0.0, shift=1.0, thickness=0.3, elastic=0.0, styles=0.3)
# Per-model departures: the MLPs at a third of the rate (at 1e-3 they lost 0.2-0.4 points of MNIST test).
TUNED_RECIPES = {name: dict(lr=3e-4) for name in ("fcn-bn", "fcn-dropout", "mlp-500", "mlp-128",
                                                   *(f"custom-mlp-{k}" for k in range(1, 7)))}
# Per-model share of MNIST in the mix, times the pen config's ratio. At 1:1 custom-mlp-1 lost 0.31 points of
# MNIST test and mlp-500 gained only 0.13 on unseen writers; at 2:1 (experiments/drawing-levers-mlps.json,
# seed 0) they kept MNIST (98.06, 99.03) and gained 2.02 and 1.17 points.
TUNED_MIX = {"custom-mlp-1": 2.0, "mlp-500": 2.0}


def tuned_recipe(name, **overrides):
    return recipe(name, **{**TUNED, **TUNED_RECIPES.get(name, {}), **overrides})


def mixed_split(mnist, pen_images, pen_labels, ratio, seed):
    """Pen renders plus `ratio` times as many MNIST training images (a seeded sample), on mnist's device."""
    k = min(len(mnist.y), round(ratio * len(pen_labels)))
    idx = torch.randperm(len(mnist.y), generator=torch.Generator().manual_seed(seed))[:k].to(mnist.x.device)
    pen_x = torch.from_numpy(pen_images).unsqueeze(1).to(mnist.x.device)  # (N,28,28) -> (N,1,28,28)
    pen_y = torch.from_numpy(pen_labels).to(mnist.y.device)
    return Split(torch.cat([mnist.x[idx], pen_x]), torch.cat([mnist.y[idx], pen_y]))


def train_tuned(names, drawings, zoo_dir, splits, seed=0, pen=PenConfig(), fresh=False, phases=None,
                progress=True, renders=None, heldout=None, **overrides):
    """-> [(model, metadata)] for each name: fine-tuned from zoo_dir's checkpoint (fresh=True: from new
    weights), measured on MNIST test and the held-out sources, beside its MNIST-only twin.
    `renders`: (images, labels) made earlier by training_renders with this `pen` and seed, to reuse them;
    `heldout`: heldout_drawings(drawings), when the caller has it already."""
    train, valid, test = splits
    start = time.perf_counter()
    rows = read_rows(drawings)
    pen_images, pen_labels = renders or training_renders(split_by_source(rows)[0], pen, seed)
    render_seconds = time.perf_counter() - start
    twins = {name: load_model(name, zoo_dir) for name in names}
    init = {} if fresh else {name: model.state_dict() for name, (model, _) in twins.items()}
    ratios = {name: pen.mnist_ratio * TUNED_MIX.get(name, 1.0) for name in names}
    runs, mnist_images = {}, {}
    for ratio in sorted(set(ratios.values())):  # models that share a mix train together on it
        mix = mixed_split(train, pen_images, pen_labels, ratio, seed)  # one mix in memory at a time
        mnist_images[ratio] = len(mix.y) - len(pen_labels)
        jobs = {name: tuned_recipe(name, **overrides) for name in names if ratios[name] == ratio}
        runs.update(train_together(jobs, mix, valid, seed, phases, progress, init=init))
        del mix
    heldout = heldout or heldout_drawings(drawings)
    record = split_record(drawings, rows)
    finished = []
    for name in names:
        model, meta = finish(runs[name], test)
        twin, twin_meta = twins[name]
        meta.update(
            set="tuned", seen=f"MNIST + pen drawings from {', '.join(record['train_sources'])}",
            drawings=record, pen=asdict(pen), mnist_ratio=ratios[name], pen_renders=len(pen_labels),
            mnist_images=mnist_images[ratios[name]],
            render_seconds=round(render_seconds, 1),
            init_from=None if fresh else dict(checkpoint=f"{name}.safetensors", weights_sha256=twin_meta["weights_sha256"]),
            heldout_drawing_accuracy=drawing_accuracy(model, heldout),
            heldout_set=dict(n=len(heldout[1]), seed=0, sources=list(HELDOUT_SOURCES)),
            twin=dict(test_accuracy=twin_meta["test_accuracy"], weights_sha256=twin_meta["weights_sha256"],
                      heldout_drawing_accuracy=drawing_accuracy(twin, heldout)))
        finished.append((model, meta))
    return finished


def tuned_dir(zoo_dir):
    return Path(zoo_dir) / TUNED_DIR


def choose_tuned_ensemble(directory, heldout, test):
    """Members chosen on the held-out sources (the only drawings the tuned set never saw); writes ensemble.json.

    The held-out figure of the chosen ensemble is therefore on the drawings it was chosen by; each model's own
    figure is not, and the independent check on other writers judges both. `heldout`: heldout_drawings(FILE).
    """
    present = [name for name in list_models() if paths(name, directory)[1].exists()]
    predictor = Predictor(directory, names=present)
    images, labels, blank = heldout
    probs = predictor.predict_batch(torch.from_numpy(images).unsqueeze(1))
    members = select_members({n: probs[n] for n in predictor.models}, labels)
    mean = average(probs, members)
    test_mean = average(predictor.predict_batch(test.x.cpu()), members)
    test_correct = int((test_mean.argmax(1) == test.y.cpu().numpy()).sum())
    zoo = Predictor(Path(directory).parent)  # the MNIST-only ensemble, on the same drawings
    zoo_held = zoo.predict_batch(torch.from_numpy(images).unsqueeze(1))["ensemble"]
    metadata = dict(
        name="ensemble", set="tuned", members=members, selection=SELECTION,
        twin=dict(members=zoo.ensemble, heldout_drawing_accuracy=accuracy(zoo_held, labels, blank)),
        members_sha256={n: predictor.metadata[n]["weights_sha256"] for n in members},
        heldout_loss=round(log_loss(mean, labels), 6),
        heldout_drawing_accuracy=accuracy(mean, labels, blank),
        heldout_set=dict(n=len(labels), seed=0, sources=list(HELDOUT_SOURCES)),
        test_correct=test_correct, test_accuracy=test_correct / len(test.y))
    write_ensemble_metadata(directory, metadata)
    return metadata


def accuracy(probs, labels, blank):
    """Probabilities (N, 10) -> the share answered right; a drawing that came out blank counts as wrong."""
    return float(((probs.argmax(1) == labels) & ~blank).mean())


def heldout_scores(predictor, heldout):
    """{name: accuracy on the held-out sources} for every model of a Predictor and its ensemble."""
    images, labels, blank = heldout
    probs = predictor.predict_batch(torch.from_numpy(images).unsqueeze(1))
    return {name: accuracy(p, labels, blank) for name, p in probs.items()}


def tuned_repeats(names, seeds, drawings, zoo_dir="checkpoints", data_dir=None, **overrides):
    """The fine-tune under several seeds (renders, mix and order; the same MNIST-only start) ->
    <zoo_dir>/tuned/repeats.json, each (model, seed) written when it finishes and skipped by a rerun.
    The committed tuned checkpoint is recorded as seed 0 when its recipe is today's."""
    from .checkpoint import CheckpointError, read_metadata
    from .data import load_splits
    from .repeats import read_repeats, record, same_recipe
    path = tuned_dir(zoo_dir) / "repeats.json"
    splits = load_splits("cpu", data_dir=data_dir)
    for seed in seeds:
        done = read_repeats(path)
        todo = [n for n in names if seed not in done.get(n, {}).get("seeds", [])]
        for name in list(todo):
            try:
                meta = read_metadata(name, tuned_dir(zoo_dir))
            except CheckpointError:
                continue
            if seed == meta["seed"] and same_recipe(meta["recipe"], tuned_recipe(name, **overrides)) and not overrides:
                record(path, name, seed, meta["test_accuracy"], meta["heldout_drawing_accuracy"], meta["device"])
                todo.remove(name)
        if todo:
            for _, meta in train_tuned(todo, drawings, zoo_dir, splits, seed, progress=False, **overrides):
                record(path, meta["name"], seed, meta["test_accuracy"], meta["heldout_drawing_accuracy"], meta["device"])
                print(f"{meta['name']} seed {seed}: MNIST test {100 * meta['test_accuracy']:.2f} %, held-out drawings "
                      f"{100 * meta['heldout_drawing_accuracy']:.2f} %", flush=True)
    return read_repeats(path)
