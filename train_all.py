"""Train every registered model (or the named ones) with its recipe and store checkpoints + metrics,
then choose the ensemble over everything in --out.

    python train_all.py --device cuda
    python train_all.py --models lenet5,cnn --epochs 5 --data-dir ../shared/mnist
"""
import argparse
import sys

import torch

from mnist_models.checkpoint import save_checkpoint
from mnist_models.data import DataNotFound, load_splits, sha256_of_test_files
from mnist_models.ensemble import SELECTION, choose_ensemble
from mnist_models.models import list_models
from mnist_models.train import TrainConfig, fit, recipe


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--models", default="all", help="comma-separated names, or 'all' (default)")
    p.add_argument("--epochs", type=int, help="override every recipe's epoch count")
    p.add_argument("--data-dir", help="MNIST folder (default: $MNIST_DIR, else data/)")
    p.add_argument("--out", default="checkpoints", help="where checkpoints go (default: checkpoints/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-limit", type=int, help="train on only this many images (smoke tests)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    names = list_models() if args.models == "all" else args.models.split(",")
    unknown = [n for n in names if n not in list_models()]
    if unknown:
        sys.exit(f"unknown model(s) {', '.join(unknown)}; valid names: {', '.join(list_models())}")
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda, but torch sees no CUDA device; use --device cpu")

    try:
        train, valid, test = load_splits(device, TrainConfig.valid_size, args.seed, args.data_dir, args.train_limit)
        test_hash = sha256_of_test_files(args.data_dir)
    except DataNotFound as e:
        sys.exit(str(e))
    print(f"device {device}: {len(train.y):,} train / {len(valid.y):,} validation / {len(test.y):,} test images")

    rows = []
    for name in names:
        overrides = {"epochs": args.epochs} if args.epochs else {}
        model, metadata = fit(name, recipe(name, **overrides), train, valid, test, seed=args.seed)
        metadata["test_set_sha256"] = test_hash
        metadata["train_images"] = len(train.y)
        save_checkpoint(model, metadata, args.out)
        rows.append(metadata)

    print(f"\n{'model':<14}{'parameters':>12}{'test acc %':>12}{'best epoch':>12}{'seconds':>10}")
    for m in rows:
        print(f"{m['name']:<14}{m['parameters']:>12,}{100 * m['test_accuracy']:>12.2f}"
              f"{m['best_epoch']:>8}/{m['epochs']:<3}{m['train_seconds']:>10.1f}")
    print(f"checkpoints in {args.out}/ (device: {rows[0]['device']})")

    try:  # over every checkpoint in --out, including ones from earlier runs
        ensemble = choose_ensemble(args.out, splits=(valid, test))
        print(f"ensemble ({SELECTION}): {', '.join(ensemble['members'])}, "
              f"test acc {100 * ensemble['test_accuracy']:.2f} %")
    except ValueError as e:
        print(f"no ensemble chosen: {e}")


if __name__ == "__main__":
    main()
