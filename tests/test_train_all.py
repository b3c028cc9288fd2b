"""train_all.py end to end on a small subset of real MNIST, into a temporary folder."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_models import load_model

ROOT = Path(__file__).resolve().parents[1]


def run_train_all(*args):
    return subprocess.run([sys.executable, "train_all.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_train_all_smoke(tmp_path):
    out = tmp_path / "ck"
    result = run_train_all("--device", "cpu", "--models", "mlp-128,lenet5", "--epochs", "2",
                           "--train-limit", "3000", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "model" in result.stdout and "mlp-128" in result.stdout and "lenet5" in result.stdout
    for name in ("mlp-128", "lenet5"):
        meta = json.loads((out / f"{name}.json").read_text())
        for key in ("name", "parameters", "test_accuracy", "test_loss", "best_epoch", "epochs", "train_seconds",
                    "device", "torch_version", "seed", "recipe", "history", "test_set_sha256"):
            assert key in meta, key
        assert meta["epochs"] == 2 and len(meta["history"]) == 2 and meta["train_images"] == 3000
        assert 1 <= meta["best_epoch"] <= 2
        assert set(meta["history"][0]) == {"epoch", "train_loss", "train_accuracy", "valid_loss", "valid_accuracy",
                                           "lr", "grad_norm", "param_norm", "seconds"}
        assert meta["best_epoch"] == min(meta["history"], key=lambda row: row["valid_loss"])["epoch"]
        assert meta["test_set_sha256"]["t10k-labels-idx1-ubyte"] == (
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2")
        load_model(name, out)
    ensemble = json.loads((out / "ensemble.json").read_text())  # chosen over what --out holds
    assert ensemble["members"] and set(ensemble["members"]) <= {"mlp-128", "lenet5"}
    assert "ensemble" in result.stdout
    assert "where the time went" in result.stdout
    for phase in ("start-up and imports", "data loading", "training", "evaluation", "writing checkpoints"):
        assert phase in result.stdout, phase
    # even two epochs on 3,000 images should learn something
    assert json.loads((out / "mlp-128.json").read_text())["test_accuracy"] > 0.5


@pytest.mark.slow
def test_train_all_quick(tmp_path):
    result = run_train_all("--device", "cpu", "--quick", "--models", "custom-mlp-6,mlp-128", "--train-limit", "2000",
                           "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in ("custom-mlp-6", "mlp-128"):
        meta = json.loads((tmp_path / f"{name}.json").read_text())
        assert meta["recipe"]["rotate"] == 0 and meta["epochs"] == meta["recipe"]["epochs"] == len(meta["history"])
        assert meta["trained_with"] == ["custom-mlp-6", "mlp-128"]   # one shared stream of clean batches


def test_train_all_rejects_unknown_model(tmp_path):
    result = run_train_all("--models", "nope", "--out", str(tmp_path))
    assert result.returncode != 0 and "valid names" in result.stderr


@pytest.mark.slow
def test_train_all_missing_data_says_where(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MNIST_DIR"}
    result = subprocess.run([sys.executable, "train_all.py", "--data-dir", str(tmp_path / "nowhere"),
                             "--out", str(tmp_path), "--models", "mlp-128"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env={**env, "no_proxy": "*", "https_proxy": "http://127.0.0.1:9"})
    assert result.returncode != 0
    assert "nowhere/MNIST/raw" in result.stderr and "MNIST_DIR" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_corrupt_or_partial_mnist_file_is_named_with_the_fix(tmp_path):
    from mnist_models.data import resolve_data_dir
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    source = resolve_data_dir() / "MNIST" / "raw"
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).symlink_to((source / name).resolve())
    (raw / "train-images-idx3-ubyte").write_bytes((source / "train-images-idx3-ubyte").read_bytes()[:1_000_000])
    result = run_train_all("--data-dir", str(tmp_path / "mnist"), "--out", str(tmp_path / "ck"), "--models", "mlp-128")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "train-images-idx3-ubyte" in result.stderr and "truncated or damaged" in result.stderr
    assert "Delete it" in result.stderr
    assert not (tmp_path / "ck").exists()   # nothing trained, nothing written
