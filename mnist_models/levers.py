"""What each lever of the drawing-tuned recipe gives: named sets of overrides, each trained and measured on
the held-out sources beside the recipe as it is -> experiments/drawing-levers.json.

    python -m mnist_models levers --drawings ../shared/unipen/dev-digits.jsonl.gz [--models lenet5,cnn]
"""
import math
from dataclasses import asdict, replace

import torch
import torch.nn.functional as F

from .checkpoint import write_json
from .data import load_splits
from .experiments import read_results, results_path
from .pen import PenConfig, heldout_drawings, read_rows, split_by_source, training_renders
from .train import AUGMENTATION_FIELDS
from .tuned import accuracy, train_tuned

# name -> (PenConfig overrides, TrainConfig overrides, from scratch?, why it might matter)
LEVERS = {
    "recipe as it is": ({}, {}, False, "fine-tune from the MNIST-only twin, 1:1 mix, varied renders, light augmentation"),
    "from scratch": ({}, dict(epochs=12), True, "new weights on the same mix, 3x the epochs: does the MNIST start matter?"),
    "MNIST 1:2": (dict(mnist_ratio=0.5), {}, False, "half as much MNIST per pen render"),
    "MNIST 2:1": (dict(mnist_ratio=2.0), {}, False, "twice as much MNIST: MNIST kept better, drawings learnt less?"),
    "renders not varied": (dict(vary=False), {}, False, "every render at brush 25, no slant, aspect or jitter"),
    "2 renders each": (dict(copies=2, max_copies=4), {}, False, "fewer renders of each drawing"),
    "10 renders each": (dict(copies=10, max_copies=20), {}, False, "more renders of each drawing"),
    "8 epochs": ({}, dict(epochs=8), False, "a longer fine-tune"),
    "no image augmentation": ({}, {f: 0.0 for f in AUGMENTATION_FIELDS}, False, "no shifts, rotation, thickness, styles"),
    "no styles": ({}, dict(styles=0.0), False, "no flagged 1s / crossed 7s drawn onto MNIST digits"),
}
TTA = "+ test-time averaging (9 variants)"  # an evaluation lever, on the recipe's own models


def variants(x):
    """(N,1,28,28) -> 9 small variants: itself, +-1 px shifts, +-8 degrees, slightly thicker and thinner."""
    out = [x] + [torch.roll(x, (dy, dx), (2, 3)) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    for degrees in (8, -8):
        a = math.radians(degrees)
        theta = torch.tensor([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0]]).expand(len(x), 2, 3)
        out.append(F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False))
    grown, shrunk = F.max_pool2d(x, 3, 1, 1), -F.max_pool2d(-x, 3, 1, 1)
    return out + [x + 0.5 * (grown - x), x + 0.5 * (shrunk - x)]


@torch.inference_mode()
def tta_accuracy(model, drawings):
    images, labels, blank = drawings
    x = torch.from_numpy(images).unsqueeze(1)
    return accuracy(torch.stack([torch.softmax(model(v), 1) for v in variants(x)]).mean(0).numpy(), labels, blank)


def run_levers(names, drawings, zoo_dir="checkpoints", data_dir=None, root="experiments", levers=None, seed=0):
    """Each lever (all, or the named ones) for the named models; written after each, skipped when recorded."""
    results = read_results("drawing-levers", root)
    splits = load_splits("cpu", data_dir=data_dir)
    heldout = heldout_drawings(drawings)
    train_rows = split_by_source(read_rows(drawings))[0]
    renders = {}
    for lever in levers or LEVERS:
        pen_overrides, overrides, fresh, _ = LEVERS[lever]
        todo = [n for n in names if not any(r["lever"] == lever and r["model"] == n for r in results["runs"])]
        if not todo:
            continue
        pen = replace(PenConfig(), **pen_overrides)
        if pen not in renders:  # levers that change only the training share one set of renders
            renders[pen] = training_renders(train_rows, pen, seed)
        for model, meta in train_tuned(todo, drawings, zoo_dir, splits, seed, pen, fresh, progress=False,
                                       renders=renders[pen], heldout=heldout, **overrides):
            row = dict(lever=lever, model=meta["name"], seed=seed, test_accuracy=meta["test_accuracy"],
                       heldout_drawing_accuracy=meta["heldout_drawing_accuracy"],
                       twin=meta["twin"], pen=asdict(pen), recipe=meta["recipe"], fresh=fresh,
                       train_seconds=meta["train_seconds"], step_seconds=meta["step_seconds"])
            if lever == "recipe as it is":
                results["runs"].append(dict(row, lever=TTA, heldout_drawing_accuracy=tta_accuracy(model, heldout)))
            results["runs"].append(row)
            print(f"{lever:<24}{meta['name']:<14} MNIST test {100 * meta['test_accuracy']:.2f} %, held-out drawings "
                  f"{100 * meta['heldout_drawing_accuracy']:.2f} %", flush=True)
        write_json(results_path("drawing-levers", root), results)
    return results
