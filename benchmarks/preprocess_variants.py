"""Which preprocessing recognises pen drawings best? Scores to_mnist against variants that lost.

    python benchmarks/preprocess_variants.py --drawings ../shared/unipen/dev-digits.jsonl.gz --limit 1500

Every variant sees the same rendered drawings and the committed checkpoints; prints accuracy %.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mnist_models.drawings import rendered  # noqa: E402
from mnist_models.evaluate import drawing_scores, stack_inputs  # noqa: E402
from mnist_models.predict import Predictor  # noqa: E402
from mnist_models.preprocess import BOX, INK_FLOOR, ink_map, to_mnist  # noqa: E402


def stroke_width(ink):
    """Mean stroke width in px: a stroke of width w and length L has area wL and outline 2L."""
    solid = ink > 0.5
    inner = solid[1:-1, 1:-1] & solid[:-2, 1:-1] & solid[2:, 1:-1] & solid[1:-1, :-2] & solid[1:-1, 2:]
    outline = solid.sum() - inner.sum()
    return 2 * solid.sum() / max(outline, 1)


def thickened(target):
    """to_mnist after widening strokes so that they are about `target` px wide at MNIST scale."""
    def variant(canvas):
        ink = ink_map(canvas)
        rows, cols = np.nonzero(ink > INK_FLOOR)
        if len(rows) == 0:
            return None
        scale = BOX / max(np.ptp(rows) + 1, np.ptp(cols) + 1)  # canvas px -> MNIST px
        grow = int(round((target / scale - stroke_width(ink)) / 2))  # px to add on each side
        if grow > 0:  # square dilation as two 1-D max filters: fast even 40 px wide
            k = 2 * grow + 1
            t = torch.from_numpy(ink)[None, None]                                  # (H,W) -> (1,1,H,W)
            t = F.max_pool2d(F.max_pool2d(t, (1, k), 1, (0, grow)), (k, 1), 1, (grow, 0))
            ink = t[0, 0].numpy()
        return to_mnist(ink)
    return variant


def deskewed(amount):
    """to_mnist, then a horizontal shear about the centre of mass that removes `amount` of the slant."""
    def variant(canvas):
        x = to_mnist(canvas)
        if x is None:
            return None
        ys, xs = np.indices(x.shape, dtype=np.float32)
        mass = x.sum()
        cy, cx = (ys * x).sum() / mass, (xs * x).sum() / mass
        slant = (x * (xs - cx) * (ys - cy)).sum() / max((x * (ys - cy) ** 2).sum(), 1e-6)
        shift = amount * slant * (np.arange(28, dtype=np.float32) - cy)  # per row, in px
        return np.stack([np.interp(np.arange(28) + s, np.arange(28), row, left=0, right=0)
                         for row, s in zip(x, shift)]).astype(np.float32)
    return variant


VARIANTS = {
    "to_mnist (MNIST's own recipe)": to_mnist,
    **{f"thicken to {t} px": thickened(t) for t in (2.0, 2.5, 3.0)},
    **{f"deskew {a:.0%}": deskewed(a) for a in (0.5, 1.0)},
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--drawings", default="../shared/unipen/dev-digits.jsonl.gz")
    p.add_argument("--limit", type=int, default=1500)
    p.add_argument("--checkpoints", default="checkpoints")
    args = p.parse_args()

    predictor = Predictor(args.checkpoints)
    top = predictor.ensemble[0]  # the best model by validation accuracy
    labels, outs = [], {name: [] for name in VARIANTS}
    for label, canvas in rendered(args.drawings, args.limit):  # one canvas at a time: each is 2.5 MB
        labels.append(label)
        for name, variant in VARIANTS.items():
            outs[name].append(variant(canvas))
    labels = np.array(labels)
    print(f"{len(labels)} drawings; ensemble = {', '.join(predictor.ensemble)}\n")
    print(f"{'variant':<32}{top:>10}{'ensemble':>10}{'mean of all':>13}")
    for name, xs in outs.items():
        images, blank = stack_inputs(xs)
        acc, _ = drawing_scores(predictor, images, labels, blank)
        singles = [v for k, v in acc.items() if k != "ensemble"]
        print(f"{name:<32}{100 * acc[top]:>10.2f}{100 * acc['ensemble']:>10.2f}{100 * np.mean(singles):>13.2f}")

if __name__ == "__main__":
    main()
