"""Real pen-drawn digits (UNIPEN strokes) rendered the way the browser sketchpad delivers a drawing.

800x800 RGBA, opaque white background, black round brush 25 px, digit 30-80 % of the canvas height
at a random position; seeded, so every run renders the same images. For measuring, never for training.
"""
import gzip
import json
import random

import numpy as np
from PIL import Image, ImageDraw

CANVAS, BRUSH = 800, 25


def read_drawings(path, limit=None):
    """-> list of (label, strokes); strokes are lists of (x, y) points, y pointing down."""
    with gzip.open(path, "rt") as f:
        rows = [json.loads(line) for line in f]
    if limit:
        rows = random.Random(0).sample(rows, min(limit, len(rows)))  # a fair subset: the file is by writer
    return [(r["label"], r["strokes"]) for r in rows]


def render(strokes, rng, canvas=CANVAS, brush=BRUSH):
    """Strokes -> (canvas, canvas, 4) uint8 RGBA, as gr.Sketchpad's composite."""
    points = np.array([p for s in strokes for p in s], np.float64)
    lo, hi = points.min(0), points.max(0)
    w, h = np.maximum(hi - lo, 1e-6)
    margin = brush
    scale = rng.uniform(0.3, 0.8) * canvas / h
    scale = min(scale, (canvas - 2 * margin) / w, (canvas - 2 * margin) / h)  # wide digits must still fit
    x0 = rng.uniform(margin, canvas - margin - w * scale)
    y0 = rng.uniform(margin, canvas - margin - h * scale)
    image = Image.new("RGBA", (canvas, canvas), (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    r = brush / 2
    for stroke in strokes:
        xy = [(x0 + (x - lo[0]) * scale, y0 + (y - lo[1]) * scale) for x, y in stroke]
        if len(xy) > 1:
            draw.line(xy, fill=(0, 0, 0, 255), width=brush, joint="curve")
        for x, y in (xy[0], xy[-1]) if len(xy) > 1 else xy:  # round caps (and a lone dot)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(0, 0, 0, 255))
    return np.asarray(image)


def rendered(path, limit=None, seed=0):
    """Yield (label, RGBA canvas) for every drawing, with a seeded placement."""
    rng = random.Random(seed)
    for label, strokes in read_drawings(path, limit):
        yield label, render(strokes, rng)
