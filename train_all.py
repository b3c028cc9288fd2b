"""Train every registered model (or the named ones) with its recipe and store checkpoints + metrics,
then choose the ensemble over everything in --out. Ends with where the time went.

    python train_all.py --device cuda
    python train_all.py --quick                      # the whole zoo in minutes on a CPU
    python train_all.py --models lenet5,cnn --epochs 5 --data-dir ../shared/mnist
    python train_all.py --only-tuned --drawings ../shared/unipen/dev-digits.jsonl.gz  # the drawing-tuned set

--drawings also trains the drawing-tuned set (mnist_models/tuned.py) from the zoo's new checkpoints, into
--out/tuned/; --only-tuned trains just that set, from the zoo checkpoints already in --out.
"""
import time

START = time.perf_counter()

import argparse  # noqa: E402  (imports are timed: they are part of a run's cost)
import signal  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402

from mnist_models.checkpoint import save_checkpoint, signals_deferred  # noqa: E402
from mnist_models.data import DataNotFound, load_splits, sha256_of_test_files  # noqa: E402
from mnist_models.ensemble import SELECTION, choose_ensemble  # noqa: E402
from mnist_models.models import list_models  # noqa: E402
from mnist_models.train import Phases, TrainConfig, finish, recipe, train_together  # noqa: E402
from mnist_models.pen import heldout_drawings  # noqa: E402
from mnist_models.tuned import choose_tuned_ensemble, train_tuned, tuned_dir  # noqa: E402

HOW_TO_GET_DRAWINGS = (
    "drawing-tuned set not trained: it needs real pen drawings. Get the public UNIPEN release train_r01_v07 "
    "(CC BY 4.0, https://doi.org/10.5281/zenodo.1195803), convert its digits with `python -m mnist_models "
    "unipen RELEASE_DIR --out dev-digits.jsonl.gz`, then run `python train_all.py --only-tuned --drawings "
    "dev-digits.jsonl.gz`")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--models", default="all", help="comma-separated names, or 'all' (default)")
    p.add_argument("--quick", action="store_true", help="the quick recipes (train.QUICK_RECIPES): minutes on a CPU")
    p.add_argument("--epochs", type=int, help="override every recipe's epoch count")
    p.add_argument("--compile", action="store_true", help="torch.compile every model (long GPU runs)")
    p.add_argument("--data-dir", help="MNIST folder (default: $MNIST_DIR, else data/)")
    p.add_argument("--out", default="checkpoints", help="where checkpoints go (default: checkpoints/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-limit", type=int, help="train on only this many images (smoke tests)")
    p.add_argument("--drawings", help="UNIPEN digits (.jsonl.gz): also train the drawing-tuned set into OUT/tuned/")
    p.add_argument("--only-tuned", action="store_true", help="train only the drawing-tuned set (needs --drawings)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    phases = Phases()
    phases["start-up and imports"] = time.perf_counter() - START
    names = list_models() if args.models == "all" else args.models.split(",")
    unknown = [n for n in names if n not in list_models()]
    if unknown:
        sys.exit(f"unknown model(s) {', '.join(unknown)}; valid names: {', '.join(list_models())}")
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda, but torch sees no CUDA device; use --device cpu")

    try:
        with phases("data loading", device):
            train, valid, test = load_splits(device, TrainConfig.valid_size, args.seed, args.data_dir,
                                             args.train_limit)
            test_hash = sha256_of_test_files(args.data_dir)
    except DataNotFound as e:
        sys.exit(str(e))
    print(f"device {device}: {len(train.y):,} train / {len(valid.y):,} validation / {len(test.y):,} test images")

    if args.only_tuned and not args.drawings:
        sys.exit("--only-tuned needs --drawings FILE")
    if not args.only_tuned:
        train_zoo(args, names, (train, valid, test), test_hash, phases)
    if args.drawings:
        train_drawing_set(args, names, (train, valid, test), test_hash, phases)
    else:
        print(f"\n{HOW_TO_GET_DRAWINGS}")

    total = time.perf_counter() - START
    print(f"\nwhere the time went ({total:.1f} s in all):")
    for phase, seconds in phases.items():
        print(f"  {phase:<22}{seconds:>8.1f} s {100 * seconds / total:>5.1f} %")


def train_zoo(args, names, splits, test_hash, phases):
    """The zoo: every named model with its MNIST-only recipe, then the ensemble over everything in --out."""
    train, valid, test = splits
    overrides = {k: v for k, v in (("epochs", args.epochs), ("compile", args.compile)) if v}
    jobs = {name: recipe(name, quick=args.quick, **overrides) for name in names}
    runs = train_together(jobs, train, valid, args.seed, phases)

    finished = []
    for name, run in runs.items():
        with phases("evaluation", train.x.device):
            finished.append(finish(run, test))

    with signals_deferred():  # from here the new checkpoints and their ensemble land together, or not at all
        rows = []
        with phases("writing checkpoints"):
            for model, metadata in finished:
                rows.append(save_checkpoint(model, {**metadata, "test_set_sha256": test_hash,
                                                    "train_images": len(train.y)}, args.out))
        with phases("ensemble choice"):
            try:  # over every checkpoint in --out, including ones from earlier runs
                ensemble = choose_ensemble(args.out, splits=(valid, test))
            except ValueError as e:
                ensemble = e

    print(f"\n{'model':<14}{'parameters':>12}{'test acc %':>12}{'best epoch':>12}{'seconds':>10}")
    for m in rows:
        print(f"{m['name']:<14}{m['parameters']:>12,}{100 * m['test_accuracy']:>12.2f}"
              f"{m['best_epoch']:>8}/{m['epochs']:<3}{m['train_seconds']:>10.1f}")
    print(f"checkpoints in {args.out}/ (device: {rows[0]['device']}; seconds: the training time of the "
          f"stream each model shared)")

    if isinstance(ensemble, ValueError):
        print(f"no ensemble chosen: {ensemble}")
    else:
        print(f"ensemble ({SELECTION}): {', '.join(ensemble['members'])}, "
              f"test acc {100 * ensemble['test_accuracy']:.2f} %")


def train_drawing_set(args, names, splits, test_hash, phases):
    """The drawing-tuned set: each named model fine-tuned from its zoo checkpoint in --out, into --out/tuned/."""
    train, valid, test = splits
    out = tuned_dir(args.out)
    overrides = {k: v for k, v in (("epochs", args.epochs),) if v}
    with phases("tuned set: training"):
        heldout = heldout_drawings(args.drawings)  # rendered once: measured on, and the ensemble chosen by
        finished = train_tuned(names, args.drawings, args.out, splits, args.seed, heldout=heldout, **overrides)
    with signals_deferred():
        with phases("writing checkpoints"):
            rows = [save_checkpoint(model, {**meta, "test_set_sha256": test_hash, "train_images": meta["mnist_images"]},
                                    out) for model, meta in finished]
        with phases("ensemble choice"):
            ensemble = choose_tuned_ensemble(out, heldout, test)
    print(f"\ndrawing-tuned set in {out}/: trained on {rows[0]['seen']}, measured on held-out sources "
          f"{', '.join(rows[0]['heldout_set']['sources'])} ({rows[0]['heldout_set']['n']:,} drawings)")
    print(f"{'model':<14}{'MNIST test %':>22}{'held-out drawings %':>26}{'step seconds':>14}")
    for m in rows:  # step seconds: the model's own forward, backward and step, without the shared data work
        print(f"{m['name']:<14}{100 * m['twin']['test_accuracy']:>11.2f} -> {100 * m['test_accuracy']:<7.2f}"
              f"{100 * m['twin']['heldout_drawing_accuracy']:>15.2f} -> {100 * m['heldout_drawing_accuracy']:<7.2f}"
              f"{m['step_seconds']:>14.1f}")
    print(f"ensemble ({ensemble['selection']}): {', '.join(ensemble['members'])}, MNIST test "
          f"{100 * ensemble['test_accuracy']:.2f} %, held-out drawings {100 * ensemble['heldout_drawing_accuracy']:.2f} %")
    groups = {}  # models on the same mix trained together: {MNIST share: (names, seconds)}
    for m in rows:
        groups.setdefault(m["mnist_ratio"], ([], m["train_seconds"]))[0].append(m["name"])
    print(f"(MNIST-only -> tuned; training {sum(s for _, s in groups.values()):.1f} s: "
          + "; ".join(f"{len(names)} together on the {ratio:g}:1 MNIST mix {s:.1f} s" for ratio, (names, s) in groups.items())
          + f"; after {rows[0]['render_seconds']:.1f} s of rendering {rows[0]['pen_renders']:,} pen drawings)")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops a run as Ctrl-C does
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted: checkpoints are written only after training, all together, so whatever "
                 "--out held before this run is untouched (or, if writing had begun, complete and new)")
