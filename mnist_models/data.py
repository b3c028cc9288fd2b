"""MNIST as whole-dataset tensors: where the files come from, a seeded validation split, a fingerprint.

The folder comes from --data-dir, else $MNIST_DIR, else data/; torchvision downloads into it when the
files are missing and the network works.
"""
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch

DEFAULT_DATA_DIR = "data"
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
# The four files as MNIST's makers published them (uncompressed), as torchvision's download leaves them.
KNOWN_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


class DataNotFound(RuntimeError):
    pass


class DataCorrupt(DataNotFound):
    """A MNIST file is there but is not the published one (truncated, damaged, or another data set)."""


def verify(raw_dir, names):
    """Check each present file against its known sha256; a wrong one is named with the fix."""
    for name in names:
        path = Path(raw_dir) / name
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() != KNOWN_SHA256[name]:
            raise DataCorrupt(
                f"{path.resolve()}: not the published MNIST file ({path.stat().st_size:,} bytes; its sha256 "
                f"differs from {KNOWN_SHA256[name][:12]}…): it is truncated or damaged. Delete it and run "
                f"again to download it afresh, or copy a good one there.")


def resolve_data_dir(data_dir=None):
    return Path(data_dir or os.environ.get("MNIST_DIR") or DEFAULT_DATA_DIR)


def raw_dir(data_dir=None):
    """Where the four MNIST files are (or go): torchvision's layout under the data folder."""
    return resolve_data_dir(data_dir) / "MNIST" / "raw"


def load_mnist(train, data_dir=None):
    """-> (images uint8 (N,28,28), labels int64 (N,)) on the CPU."""
    from torchvision.datasets import MNIST  # imported here: the demo never needs torchvision

    root = resolve_data_dir(data_dir)
    verify(raw_dir(data_dir), TRAIN_FILES if train else TEST_FILES)  # before torchvision reads a byte
    try:
        ds = MNIST(root=str(root), train=train, download=False)
    except RuntimeError:
        try:
            ds = MNIST(root=str(root), train=train, download=True)
        except Exception as e:  # no network, a proxy, a read-only folder...
            raise DataNotFound(
                f"MNIST not found in {raw_dir(data_dir).resolve()} and the download failed "
                f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}). Put the four MNIST "
                f"files there, or point --data-dir / MNIST_DIR at a folder holding MNIST/raw/."
            ) from None
    return ds.data, ds.targets


@dataclass
class Split:
    x: torch.Tensor  # (N,1,28,28) float32 in [0, 1], on the training device
    y: torch.Tensor  # (N,) int64


def load_splits(device, valid_size=5000, seed=0, data_dir=None, train_limit=None):
    """Train / validation (seeded hold-out from the 60k training images) / test, as device tensors."""
    def to_split(images, labels):
        return Split(images.unsqueeze(1).float().div_(255).to(device), labels.to(device))  # (N,28,28) -> (N,1,28,28)

    images, labels = load_mnist(train=True, data_dir=data_dir)
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    valid_idx, train_idx = perm[:valid_size], perm[valid_size:]
    if train_limit:
        train_idx = train_idx[:train_limit]
    train = to_split(images[train_idx], labels[train_idx])
    valid = to_split(images[valid_idx], labels[valid_idx])
    test = to_split(*load_mnist(train=False, data_dir=data_dir))
    return train, valid, test


def sha256_of_test_files(data_dir=None):
    """{file: sha256} of the raw test files, so a checkpoint says exactly which test set it was measured on."""
    raw = raw_dir(data_dir)
    return {name: hashlib.sha256((raw / name).read_bytes()).hexdigest() for name in TEST_FILES}
