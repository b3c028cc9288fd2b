"""Command line: `python -m mnist_models predict ...` (and `table`). Run with --help for details."""
import argparse
import json
import sys

from PIL import Image, UnidentifiedImageError

from .models import list_models
from .predict import Predictor
from .preprocess import to_mnist


def predict(args):
    names = None if args.model in ("all", "ensemble") else [args.model]
    predictor = Predictor(args.checkpoints, names=names)
    if not predictor.models:
        sys.exit(f"no usable checkpoints in {args.checkpoints}/: " + "; ".join(predictor.unavailable.values()))
    failed = False
    for path in args.images:
        try:
            with Image.open(path) as image:
                x = to_mnist(image)
        except (OSError, UnidentifiedImageError, ValueError) as e:
            print(f"error: cannot read image {path!r}: {e}", file=sys.stderr)
            failed = True
            continue
        probs = None if x is None else predictor.predict_mnist(x)
        shown = ["ensemble"] if args.model == "ensemble" else list(predictor.models) + (
            ["ensemble"] if args.model == "all" else [])
        for name in shown:
            row = {"image": path, "model": name}
            if probs is None:
                row.update(prediction=None, probabilities=None, reason="blank image: no ink found")
            else:
                p = probs[name]
                row.update(prediction=int(p.argmax()), probabilities=[round(float(v), 6) for v in p])
            print(json.dumps(row))
    return 1 if failed else 0


def table(args):
    from pathlib import Path

    from .report import readme_with_table, results_table
    if args.update:
        path = Path(args.update)
        path.write_text(readme_with_table(path.read_text(), args.checkpoints))
    else:
        print(results_table(args.checkpoints))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m mnist_models")
    sub = p.add_subparsers(dest="command", required=True)
    pp = sub.add_parser("predict", help="classify image files; one JSON line per (image, model)")
    pp.add_argument("--model", default="all", choices=list_models() + ["all", "ensemble"], metavar="NAME|all|ensemble")
    pp.add_argument("--checkpoints", default="checkpoints")
    pp.add_argument("images", nargs="+", metavar="IMAGE")
    pp.set_defaults(run=predict)
    pt = sub.add_parser("table", help="print the README results table from the checkpoint metadata")
    pt.add_argument("--checkpoints", default="checkpoints")
    pt.add_argument("--update", metavar="README.md", help="rewrite the table inside this file instead of printing")
    pt.set_defaults(run=table)
    args = p.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
