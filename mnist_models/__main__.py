"""Command line: `python -m mnist_models predict|table|evaluate|ensemble|study|repeats|experiment|figures|unipen|tuned-repeats|levers|visitors ...`.
Run with --help for details."""
import argparse
import json
import sys

from PIL import Image, UnidentifiedImageError

from .experiments import EXPERIMENTS
from .models import list_models
from .predict import Predictor, Sets
from .preprocess import to_mnist


def predict(args):
    """One row per (image, model) of both sets ("set": "mnist" or "tuned"), then the default answer: the
    `ensemble` row, the Draw tab's default (the tuned set's ensemble where there is one)."""
    names = None if args.model in ("all", "ensemble") else [args.model]
    sets = Sets(args.checkpoints, names=names)
    if not sets["mnist"].models:
        sys.exit(f"no usable checkpoints in {args.checkpoints}/: " + "; ".join(sets["mnist"].unavailable.values()))
    failed = False
    for path in args.images:
        try:
            with Image.open(path) as image:
                x = to_mnist(image)
        except (OSError, UnidentifiedImageError, ValueError) as e:
            print(f"error: cannot read image {path!r}: {e}", file=sys.stderr)
            failed = True
            continue
        probs = None if x is None else sets.predict_mnist(x)
        shown = [] if args.model == "ensemble" else [
            (kind, name) for kind in ("mnist", "tuned") if kind in sets.predictors for name in sets[kind].models]
        if args.model in ("all", "ensemble"):
            shown.append((sets.default, "ensemble"))
        for kind, name in shown:
            row = {"image": path, "model": name, "set": kind}
            if probs is None:
                row.update(prediction=None, probabilities=None, reason="blank image: no ink found")
            else:
                p = probs[kind][name]
                row.update(prediction=int(p.argmax()), probabilities=[round(float(v), 6) for v in p])
            print(json.dumps(row))
    return 1 if failed else 0


def table(args):
    from pathlib import Path

    from .report import readme_with_table, results_table, with_logs
    if args.update:
        for path in map(Path, args.update):
            path.write_text(with_logs(readme_with_table(path.read_text(), args.checkpoints), "."))  # logs: from the repository root
    else:
        print(results_table(args.checkpoints))
    return 0


def evaluate(args):
    import time

    from .checkpoint import update_metadata
    from .evaluate import confusion_matrix, drawing_scores, drawings_as_mnist, format_confusion
    start = time.perf_counter()
    predictor = Predictor(args.checkpoints)
    images, labels, blank = drawings_as_mnist(args.drawings, args.limit, args.seed)
    scores, preds = drawing_scores(predictor, images, labels, blank)
    print(f"{len(labels)} drawings from {args.drawings} (seed {args.seed}), {blank.sum()} blank after to_mnist, "
          f"{time.perf_counter() - start:.0f} s")
    print(f"\n{'model':<14}{'drawing acc %':>14}{'MNIST test acc %':>18}   (ensemble: {', '.join(predictor.ensemble)})")
    for name, acc in scores.items():
        mnist = {**predictor.metadata, "ensemble": predictor.ensemble_metadata}.get(name, {}).get("test_accuracy")
        print(f"{name:<14}{100 * acc:>14.2f}{'' if mnist is None else f'{100 * mnist:>18.2f}'}")
    shown = args.confusion or "ensemble"
    print(f"\nconfusion matrix, {shown}:\n{format_confusion(confusion_matrix(labels, preds[shown]))}")
    if args.update_metadata:
        if args.limit:
            sys.exit("--update-metadata needs the whole set (no --limit)")
        drawing_set = dict(file=args.drawings.rsplit("/", 1)[-1], n=len(labels), seed=args.seed)
        for name in predictor.models:
            update_metadata(name, args.checkpoints, drawing_accuracy=scores[name], drawing_set=drawing_set)
        if not predictor.ensemble_metadata:
            sys.exit("drawing accuracy stored for each model, not for the ensemble: checkpoints/ensemble.json is "
                     "missing or stale; run `python -m mnist_models ensemble`, then this again")
        update_metadata("ensemble", args.checkpoints, drawing_accuracy=scores["ensemble"], drawing_set=drawing_set)
        print(f"drawing_accuracy stored in {args.checkpoints}/*.json (ensemble: {', '.join(predictor.ensemble)})")
    return 0


def ensemble(args):
    from .data import DataNotFound
    from .ensemble import SELECTION, choose_ensemble
    try:
        m = choose_ensemble(args.checkpoints, args.data_dir)
    except (DataNotFound, ValueError) as e:
        sys.exit(str(e))
    print(f"ensemble ({SELECTION}): {', '.join(m['members'])}\n"
          f"validation accuracy {100 * m['valid_accuracy']:.2f} %, loss {m['valid_loss']:.4f}; "
          f"MNIST test accuracy {100 * m['test_accuracy']:.2f} %\nwritten to {args.checkpoints}/ensemble.json "
          f"(drawing accuracy: `python -m mnist_models evaluate --drawings FILE --update-metadata`)")
    return 0


def seed_list(text):
    """'0-4' or '0,2,5' -> [0, 1, 2, 3, 4] / [0, 2, 5]."""
    if "-" in text:
        first, last = map(int, text.split("-"))
        return list(range(first, last + 1))
    return [int(s) for s in text.split(",")]


def study(args):
    from .data import load_mnist
    from .evaluate import drawings_as_mnist
    from .study import study as make_study, write_studies
    predictor = Predictor(args.checkpoints)
    images, labels = load_mnist(train=False, data_dir=args.data_dir)
    drawings = None
    if args.drawings:
        drawing_set = dict(file=args.drawings.rsplit("/", 1)[-1], seed=0)
        drawings = (*drawings_as_mnist(args.drawings), drawing_set)
    results = make_study(predictor, images, labels, drawings)
    write_studies(results, args.checkpoints)
    for name, r in results.items():
        drawn = f", drawings {r['drawing_correct']}/{sum(map(sum, r['drawing_confusion']))}" if drawings else ""
        print(f"{name:<14} MNIST test {r['mnist_correct']}/{len(labels)}{drawn}; most confident mistake "
              f"{r['mistakes'][0]['confidence']:.3f}" if r["mistakes"] else f"{name:<14} no mistakes")
    print(f"written to {args.checkpoints}/NAME.study.json")
    return 0


def repeats(args):
    from .evaluate import drawings_as_mnist
    from .repeats import run_repeats
    names = list_models() if args.models == "all" else args.models.split(",")
    drawings = drawings_as_mnist(args.drawings, args.drawings_limit)
    run_repeats(names, seed_list(args.seeds), drawings, args.checkpoints, args.device, args.data_dir,
                {"epochs": args.epochs} if args.epochs else None, args.train_limit)
    return 0


def experiment(args):
    from .experiments import merge_results, run_experiment
    if args.merge:
        print(f"{merge_results(args.name, args.merge, args.root)} runs added to {args.root}/{args.name}.json")
        return 0
    for setting in (["writeup", "ours"] if args.setting == "both" else [args.setting]):
        run_experiment(args.name, setting, seed_list(args.seeds), args.device, args.data_dir, args.root,
                       args.train_limit, args.epochs, models=args.models.split(",") if args.models else None)
    return 0


def unipen(args):
    from .unipen import UnipenError, convert
    try:
        counts = convert(args.release, args.out)
    except UnipenError as e:
        sys.exit(str(e))
    print(f"{sum(counts.values()):,} digits written to {args.out}: "
          + ", ".join(f"{source} {n:,}" for source, n in sorted(counts.items())))
    return 0


def tuned_repeats(args):
    from .report import tuned_table
    from .tuned import tuned_repeats as run
    run(args.models.split(","), seed_list(args.seeds), args.drawings, args.checkpoints, args.data_dir)
    print(tuned_table(args.checkpoints))
    return 0


def levers(args):
    from .levers import run_levers
    from .report import levers_table
    run_levers(args.models.split(","), args.drawings, args.checkpoints, args.data_dir, args.root,
               args.levers.split(",") if args.levers else None)
    print(levers_table(args.root))
    return 0


def visitors(args):
    from .visitors import Drawings, SaveRefused, Tally, export, report
    drawings = Drawings(args.db)
    try:
        if args.action == "export":
            if not args.out:
                print("visitors export needs --out FILE.jsonl.gz", file=sys.stderr)
                return 2
            print(f"{export(drawings, args.out):,} drawings -> {args.out}")
        else:
            print(report(Tally(drawings)()))
    except SaveRefused as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def figures(args):
    from .figures import write_figures
    for path in write_figures(args.checkpoints, args.experiments, args.out):
        print(path)
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
    pt.add_argument("--update", metavar="FILE.md", nargs="+",
                    help="rewrite the generated tables and the benchmark log blocks inside these files instead "
                         "(run from the repository root: make docs does README.md docs/*.md)")
    pt.set_defaults(run=table)
    pe = sub.add_parser("evaluate", help="accuracy on pen-drawn digits rendered like the demo's sketchpad")
    pe.add_argument("--drawings", required=True, help="UNIPEN-style .jsonl.gz of strokes")
    pe.add_argument("--limit", type=int, help="a seeded random subset of this many drawings")
    pe.add_argument("--seed", type=int, default=0, help="placement and size of each drawing on the canvas")
    pe.add_argument("--checkpoints", default="checkpoints")
    pe.add_argument("--confusion", choices=list_models() + ["ensemble"], help="whose confusion matrix (ensemble)")
    pe.add_argument("--update-metadata", action="store_true", help="store each model's drawing accuracy")
    pe.set_defaults(run=evaluate)
    pn = sub.add_parser("ensemble", help="choose the ensemble's members on validation images, measure it")
    pn.add_argument("--checkpoints", default="checkpoints")
    pn.add_argument("--data-dir", help="MNIST folder (default: $MNIST_DIR, else data/)")
    pn.set_defaults(run=ensemble)
    ps = sub.add_parser("study", help="confusion matrices and most confident mistakes, beside each checkpoint")
    ps.add_argument("--checkpoints", default="checkpoints")
    ps.add_argument("--data-dir", help="MNIST folder (default: $MNIST_DIR, else data/)")
    ps.add_argument("--drawings", help="UNIPEN-style .jsonl.gz: also the drawings' confusion matrices")
    ps.set_defaults(run=study)
    pr = sub.add_parser("repeats", help="every model's recipe under several seeds -> checkpoints/repeats.json")
    pr.add_argument("--seeds", default="0-4", help="'0-4' or '0,1,2' (default 0-4)")
    pr.add_argument("--models", default="all")
    pr.add_argument("--drawings", required=True, help="UNIPEN-style .jsonl.gz, for each run's drawing accuracy")
    pr.add_argument("--device", default="cuda" if torch_cuda() else "cpu")
    pr.add_argument("--epochs", type=int, help="override the recipes' epochs (smoke tests only)")
    pr.add_argument("--train-limit", type=int, help="train on only this many images (smoke tests only)")
    pr.add_argument("--drawings-limit", type=int, help="measure on a seeded subset of drawings (smoke tests only)")
    pr.add_argument("--checkpoints", default="checkpoints")
    pr.add_argument("--data-dir", help="MNIST folder (default: $MNIST_DIR, else data/)")
    pr.set_defaults(run=repeats)
    px = sub.add_parser("experiment", help="reproduce a reference experiment -> experiments/NAME.json")
    px.add_argument("name", choices=list(EXPERIMENTS))
    px.add_argument("--models", help="comma-separated architectures: only their settings (default: all)")
    px.add_argument("--setting", default="both", choices=["writeup", "ours", "both"],
                    help="the write-up's own training setting, our recipe, or both (default)")
    px.add_argument("--seeds", default="0-2")
    px.add_argument("--device", default="cuda" if torch_cuda() else "cpu")
    px.add_argument("--epochs", type=int, help="override every setting's epochs (smoke tests only)")
    px.add_argument("--train-limit", type=int, help="train on only this many images (smoke tests only)")
    px.add_argument("--root", default="experiments", help="where results go (default experiments/)")
    px.add_argument("--data-dir", help="MNIST folder (default: $MNIST_DIR, else data/)")
    px.add_argument("--merge", nargs="+", metavar="ROOT",
                    help="train nothing: add the runs recorded under these --root folders to --root's")
    px.set_defaults(run=experiment)
    pf = sub.add_parser("figures", help="the README's figures, drawn from the stored results -> docs/figures/")
    pf.add_argument("--checkpoints", default="checkpoints")
    pf.add_argument("--experiments", default="experiments")
    pf.add_argument("--out", default="docs/figures")
    pf.set_defaults(run=figures)
    pu = sub.add_parser("unipen", help="convert the UNIPEN train_r01_v07 release's digits -> .jsonl.gz")
    pu.add_argument("release", help="the unpacked release (holds data/1a/ and include/)")
    pu.add_argument("--out", required=True, help="the .jsonl.gz to write (train_all.py --drawings reads it)")
    pu.set_defaults(run=unipen)
    pq = sub.add_parser("tuned-repeats", help="the drawing-tuned fine-tune under several seeds -> checkpoints/tuned/repeats.json")
    pq.add_argument("--seeds", default="0-2")
    pl = sub.add_parser("levers", help="what each lever of the drawing-tuned recipe gives -> experiments/drawing-levers.json")
    pl.add_argument("--levers", help="comma-separated lever names (default: all)")
    pl.add_argument("--root", default="experiments")
    for parser, run in ((pq, tuned_repeats), (pl, levers)):  # both train the tuned recipe on the split drawings
        parser.add_argument("--models", default="cnn,lenet5")
        parser.add_argument("--drawings", required=True, help="UNIPEN-style .jsonl.gz (split by source as in pen.py)")
        parser.add_argument("--checkpoints", default="checkpoints")
        parser.add_argument("--data-dir", help="MNIST folder (default: $MNIST_DIR, else data/)")
        parser.set_defaults(run=run)
    pv = sub.add_parser("visitors", help="every model on the drawings visitors labelled (or `export` them all)")
    pv.add_argument("action", nargs="?", default="report", choices=["report", "export"])
    pv.add_argument("--db", help="the database (default: $DRAWINGS_DB, else data/drawings.sqlite)")
    pv.add_argument("--out", help="export: the .jsonl.gz to write (one drawing per line)")
    pv.set_defaults(run=visitors)
    args = p.parse_args(argv)
    return args.run(args)


def torch_cuda():
    import torch
    return torch.cuda.is_available()


if __name__ == "__main__":
    sys.exit(main())
