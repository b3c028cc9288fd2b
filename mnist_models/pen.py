"""Real pen drawings for the drawing-tuned set: the writer-disjoint split by source, and varied renders.

The dev file's sources are split here, once, into those the tuned models train on and those they are only
measured on; every tuned checkpoint records the split. Training renders are `drawings.render`'s, varied.
"""
import gzip
import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .drawings import BRUSH, render
from .evaluate import stack_inputs
from .preprocess import to_mnist

# Split by source (each source is one institution's tablets and writers), never by drawing: a writer on
# both sides would make the held-out score a memory test. The held-out side is the larger sources that
# differ most in hardware and place (val, uqb), plus imp and lou, about 30 % of the file.
TRAIN_SOURCES = ("apa", "apb", "app", "art", "ced")
HELDOUT_SOURCES = ("imp", "lou", "uqb", "val")


@dataclass(frozen=True)
class PenConfig:
    copies: int = 5              # renders of each drawing per run: a few thousand drawings become many
    max_copies: int = 10         # a writer with few drawings gets more renders, up to this: balanced over writers
    mnist_ratio: float = 1.0     # MNIST images per pen render in the mix: keeps MNIST accuracy where it was
    vary: bool = True            # brush, slant, aspect and point jitter vary per render; off = the evaluation render
    brush: tuple = (14, 40)      # px on the 800 px canvas: mice, fingers and pens draw at different widths
    slant: float = 0.25          # max horizontal shear: people slant their digits either way
    aspect: float = 0.15         # max relative change of width: narrow and wide writers
    jitter: float = 0.01         # std of each point's offset, as a share of the digit's height: a shaky hand


def read_rows(path):
    """-> list of dicts (label, source, writer_file, strokes), in file order."""
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def split_by_source(rows, train_sources=TRAIN_SOURCES, heldout_sources=HELDOUT_SOURCES):
    """-> (rows to train on, rows only measured on). A source in neither list is left out, and said so."""
    assert not set(train_sources) & set(heldout_sources), "a source on both sides of the split"
    unknown = sorted({r["source"] for r in rows} - set(train_sources) - set(heldout_sources))
    if unknown:
        raise ValueError(f"sources {unknown} are in neither TRAIN_SOURCES nor HELDOUT_SOURCES (mnist_models/pen.py)")
    return ([r for r in rows if r["source"] in train_sources], [r for r in rows if r["source"] in heldout_sources])


def copies_per_drawing(rows, cfg):
    """How many renders each drawing gets, so that writers with many drawings do not dominate."""
    per_writer = Counter(r["writer_file"] for r in rows)
    typical = float(np.median(list(per_writer.values())))
    return [int(np.clip(round(cfg.copies * typical / per_writer[r["writer_file"]]), 1, cfg.max_copies))
            if cfg.vary else cfg.copies for r in rows]


def vary_strokes(strokes, rng, cfg):
    """Slant, aspect and jitter applied to the points (y down); size and place are render's own."""
    points = np.array([p for s in strokes for p in s], np.float64)
    height = max(np.ptp(points[:, 1]), 1e-6)
    mid_y = points[:, 1].mean()
    shear = rng.uniform(-cfg.slant, cfg.slant)
    stretch = np.exp(rng.uniform(-np.log1p(cfg.aspect), np.log1p(cfg.aspect)))
    out = []
    for stroke in strokes:
        s = np.array(stroke, np.float64).reshape(-1, 2)
        x = s[:, 0] * stretch - shear * (s[:, 1] - mid_y)   # positive shear leans the top to the right
        y = s[:, 1]
        jitter = np.array([rng.gauss(0, cfg.jitter * height) for _ in range(2 * len(s))]).reshape(-1, 2)
        out.append((np.stack([x, y], 1) + jitter).tolist())
    return out


def render_varied(strokes, rng, cfg):
    """One training render as the sketchpad would deliver it (800x800 RGBA)."""
    if not cfg.vary:
        return render(strokes, rng)
    return render(vary_strokes(strokes, rng, cfg), rng, brush=rng.randint(*cfg.brush))


def training_renders(rows, cfg=PenConfig(), seed=0):
    """-> (images (N,28,28) float32, labels (N,)): each drawing rendered `copies_per_drawing` times, to_mnist'ed."""
    rng = random.Random(seed)
    images, labels = [], []
    for row, k in zip(rows, copies_per_drawing(rows, cfg)):
        for _ in range(k):
            x = to_mnist(render_varied(row["strokes"], rng, cfg))
            if x is not None:
                images.append(x)
                labels.append(row["label"])
    return np.stack(images), np.array(labels)


def heldout_drawings(path, seed=0):
    """-> (images (N,28,28), labels (N,), blank (N,)): the held-out sources, rendered as evaluation does
    (drawings.render, brush 25, seeded placement), for every "held-out writers" figure."""
    _, heldout = split_by_source(read_rows(path))
    rng = random.Random(seed)
    inputs = [to_mnist(render(r["strokes"], rng, brush=BRUSH)) for r in heldout]
    images, blank = stack_inputs(inputs)
    return images, np.array([r["label"] for r in heldout]), blank


def split_record(path, rows=None):
    """What a tuned checkpoint records about the drawings it saw and those it was measured on."""
    rows = read_rows(path) if rows is None else rows
    train, heldout = split_by_source(rows)
    return dict(file=str(path).rsplit("/", 1)[-1], sha256=file_sha256(path),
                train_sources=list(TRAIN_SOURCES), heldout_sources=list(HELDOUT_SOURCES),
                train_drawings=len(train), heldout_drawings=len(heldout),
                train_writers=len({r["writer_file"] for r in train}),
                heldout_writers=len({r["writer_file"] for r in heldout}))
