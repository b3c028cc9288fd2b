"""Recover the full per-epoch history of a committed checkpoint trained before it was recorded, by running
its training again, bit for bit, with read-only instrumentation; merged only if the weights come out identical.

    MNIST_DIR=../shared/mnist python benchmarks/replay_history.py lenet5 --commit c2b6878

The commit's own code is checked out in a worktree and `replay_history.patch` applied: it reads the
gradient norm, learning rate, training accuracy and parameter norm at each step or epoch, and writes
nothing the training uses. A replay reproduces the weights only on the same kind of machine (CPU
instruction set, thread count, torch build) as the original run; when the weights' sha256 differs,
nothing is merged and the committed checkpoint is left as it is.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.machine import describe  # noqa: E402
from mnist_models.checkpoint import read_metadata, write_json  # noqa: E402

RECORDED = ("train_loss", "valid_loss", "valid_accuracy")  # what the original run kept


def replay(name, commit, work, device="cpu"):
    """Train `name` again with `commit`'s code + the instrumentation -> the replayed checkpoint's metadata."""
    tree, out = work / "tree", work / "out"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True)
    try:
        subprocess.run(["git", "-C", str(tree), "apply", str(ROOT / "benchmarks" / "replay_history.patch")], check=True)
        subprocess.run([sys.executable, "train_all.py", "--device", device, "--models", name, "--out", str(out)],
                       cwd=tree, check=True, env={**os.environ, "PYTHONPATH": str(tree)})
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)
    return read_metadata(name, out)


def merge(name, replayed, commit, checkpoint_dir="checkpoints"):
    """Put the replay's history into the committed metadata, if and only if it is the same training."""
    committed = read_metadata(name, checkpoint_dir)
    if replayed["weights_sha256"] != committed["weights_sha256"]:
        sys.exit(f"{name}: the replay's weights differ from the committed ones (sha256 "
                 f"{replayed['weights_sha256'][:12]}… against {committed['weights_sha256'][:12]}…): not merged. "
                 "Replay on the kind of machine the original ran on.")
    for old, new in zip(committed["history"], replayed["history"], strict=True):
        if any(old[k] != new[k] for k in RECORDED):
            sys.exit(f"{name} epoch {old['epoch']}: replayed {[new[k] for k in RECORDED]}, recorded "
                     f"{[old[k] for k in RECORDED]}: not merged")
    assert (replayed["best_epoch"], replayed["test_correct"]) == (committed["best_epoch"], committed["test_correct"])
    committed["history"] = replayed["history"]
    committed["history_replay"] = dict(
        commit=commit, machine=describe(), device=replayed["device"], torch_version=replayed["torch_version"],
        train_seconds=replayed["train_seconds"],
        why="trained before the full history was recorded; this replay of the same training with "
            "read-only instrumentation (benchmarks/replay_history.py) gave bit-identical weights, so its "
            "history is the committed model's. Its seconds are the replay's.")
    write_json(Path(checkpoint_dir) / f"{name}.json", committed)
    print(f"{name}: weights identical (sha256 {committed['weights_sha256'][:12]}…), {len(RECORDED)} recorded "
          f"fields equal in all {len(committed['history'])} epochs; full history merged into {checkpoint_dir}/{name}.json")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name")
    p.add_argument("--commit", required=True, help="the commit whose code trained the committed checkpoint")
    p.add_argument("--replayed", help="merge an earlier replay's output folder instead of training again")
    p.add_argument("--checkpoints", default="checkpoints")
    p.add_argument("--device", default="cpu", help="where to train: the kind the original ran on (a GPU's for the cnn)")
    args = p.parse_args()
    print(f"machine: {describe()}")
    if args.replayed:
        replayed = read_metadata(args.name, args.replayed)
    else:
        with tempfile.TemporaryDirectory() as work:
            replayed = replay(args.name, args.commit, Path(work), args.device)
    merge(args.name, replayed, args.commit, args.checkpoints)


if __name__ == "__main__":
    main()
