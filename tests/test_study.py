"""Studying the zoo: saliency, confident mistakes, the noise test, and the stored studies and repeats
checked against the committed checkpoints."""
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_models import create_model, list_models, load_model
from mnist_models.checkpoint import read_metadata
from mnist_models.report import can_separate, repeats_table
from mnist_models.repeats import permutation_p, read_repeats, record, summary
from mnist_models.train import recipe
from mnist_models.study import confident_mistakes, mistake_image, read_study, saliency, saliency_image

ROOT = Path(__file__).resolve().parents[1]
DRAWINGS = os.environ.get("UNIPEN_DEV", str(ROOT.parent / "shared" / "unipen" / "dev-digits.jsonl.gz"))


@pytest.mark.parametrize("name", list_models())
def test_saliency_is_zero_off_the_ink(name):
    model = create_model(name).eval()
    x = np.zeros((28, 28), np.float32)
    x[8:20, 12:16] = 1.0   # a bar of ink; everything else, and its neighbourhood, empty
    sal = saliency(model, x)
    assert sal.shape == (28, 28) and sal.dtype == np.float32
    assert np.all(sal[x == 0] == 0) and np.any(sal[x > 0] != 0)
    assert saliency_image(x, sal).shape == (280, 280, 3)
    assert all(p.grad is None for p in model.parameters())  # a server must not keep gradients per model


def test_saliency_points_at_the_pixel_that_decides():
    # a hand-built linear model: logit 1 reads pixel (3, 3) only, so only that pixel can push toward "1"
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10, bias=False))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[1, 3 * 28 + 3] = 5.0
    x = np.zeros((28, 28), np.float32)
    x[3, 3], x[10, 10] = 1.0, 1.0
    sal = saliency(model, x)
    # d log p1 / d x33 = 5 (1 - p1), times the input 1; (10, 10) is ink that no logit reads
    p1 = np.exp(5) / (np.exp(5) + 9)
    assert sal[3, 3] == pytest.approx(5 * (1 - p1), rel=1e-5) and sal[10, 10] == 0
    assert np.count_nonzero(sal) == 1


def test_confident_mistakes_known_answer():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.05, 0.95], [0.7, 0.3]])
    probs = np.pad(probs, ((0, 0), (0, 8)))
    labels = np.array([0, 0, 1, 1, 1])
    images = np.arange(5 * 784, dtype=np.uint8).reshape(5, 28, 28)
    worst = confident_mistakes(probs, labels, images, k=2)
    assert [(m["index"], m["label"], m["predicted"]) for m in worst] == [(1, 0, 1), (4, 1, 0)]
    assert worst[0]["confidence"] == 0.8 and np.array_equal(mistake_image(worst[1]), images[4])


def test_permutation_test_known_answers():
    # fully separated groups of 5: only the observed split and its mirror are as extreme -> 2 of 252
    assert permutation_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)
    assert permutation_p([1, 2, 3], [1, 2, 3]) == 1.0


@pytest.mark.parametrize("n_a, n_b", [(5, 5), (3, 5), (4, 5), (3, 3), (2, 5), (1, 5)])
def test_seeds_are_enough_only_where_a_complete_separation_reaches_p_below_alpha(n_a, n_b):
    separated = permutation_p(list(range(n_a)), list(range(100, 100 + n_b)))
    if can_separate(n_a, n_b):
        assert separated < 0.05
    if n_a == n_b:  # a mirror image as extreme as the split itself: the bound is exact
        assert can_separate(n_a, n_b) == (separated < 0.05)


def test_repeats_table_tests_three_seeds_against_five_but_not_two(tmp_path):
    low = [0.9801, 0.9802, 0.9803, 0.9804, 0.9805]
    # 3 against 5, fully separated: only the observed split is as extreme (its mirror is not), 1 of C(8, 3) = 56
    for n_high, verdict in [(3, "larger than seed noise (p = 0.018)"), (2, "too few seeds to tell (2 and 5")]:
        path = tmp_path / "repeats.json"
        path.unlink(missing_ok=True)
        for seed in range(n_high):
            record(path, "high", seed, 0.99 + seed / 1e4, 0.95)
        for seed, acc in enumerate(low):
            record(path, "low", seed, acc, 0.95)
        assert "- `high` vs `low`: " in repeats_table(tmp_path) and verdict in repeats_table(tmp_path)


def test_repeats_record_is_resumable(tmp_path):
    path = tmp_path / "repeats.json"
    record(path, "cnn", 2, 0.99, 0.97)
    record(path, "cnn", 0, 0.995, 0.98, "cuda (H100)")
    record(path, "cnn", 2, 0.991, 0.971)  # a rerun of seed 2 replaces it, never duplicates
    assert read_repeats(path) == {"cnn": {"seeds": [0, 2], "test_accuracy": [0.995, 0.991],
                                          "drawing_accuracy": [0.98, 0.971], "devices": ["cuda (H100)", "cpu"]}}
    (name, mean, std, n), = summary(read_repeats(path))
    assert name == "cnn" and n == 2 and mean == pytest.approx(0.993)


# The committed cnn was trained on a lent H100 before the per-epoch norms were recorded, and a CPU cannot
# replay it bit for bit (lenet5's history was recovered that way: benchmarks/replay_history.py). CPU retrains
# with today's trainer missed the ensemble's 99.7 % target, so it stays until a run that meets every target
# replaces it (README, "Training").
HISTORY_PENDING = {"cnn"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(
    strict=True, reason="trained before the full history was recorded")) if n in HISTORY_PENDING else n
    for n in list_models()])
def test_committed_history_is_complete_and_agrees_with_the_best_epoch(name):
    meta = read_metadata(name)
    history = meta["history"]
    assert [row["epoch"] for row in history] == list(range(1, meta["epochs"] + 1))
    for row in history:
        assert {"train_loss", "train_accuracy", "valid_loss", "valid_accuracy", "lr", "grad_norm", "param_norm",
                "seconds"} <= row.keys(), f"{name} epoch {row['epoch']}: retrain with train_all.py"
        assert row["grad_norm"] > 0 and row["param_norm"] > 0 and row["seconds"] > 0 and row["lr"] >= 0
    best = min(history, key=lambda row: row["valid_loss"])  # the best epoch is the lowest validation loss
    assert best["epoch"] == meta["best_epoch"]
    # a replayed history (benchmarks/replay_history.py) carries the replay's seconds
    seconds = meta.get("history_replay", meta)["train_seconds"]
    assert seconds == pytest.approx(sum(row["seconds"] for row in history), rel=0.05)


@pytest.mark.parametrize("name", list_models() + ["ensemble"])
def test_stored_study_agrees_with_the_checkpoint(name):
    study = read_study(name)
    assert study is not None, f"no study for {name}: run `python -m mnist_models study --drawings ...`"
    meta = read_metadata(name)
    mnist = np.array(study["mnist_confusion"])
    assert mnist.shape == (10, 10) and mnist.sum() == 10_000
    assert np.trace(mnist) == study["mnist_correct"] == round(meta["test_accuracy"] * 10_000)
    drawings = np.array(study["drawing_confusion"])
    assert drawings.shape == (10, 11) and drawings.sum() == meta["drawing_set"]["n"]
    assert np.trace(drawings) / drawings.sum() == pytest.approx(meta["drawing_accuracy"], abs=1e-12)
    assert len(study["mistakes"]) == 24
    confidences = [m["confidence"] for m in study["mistakes"]]
    assert confidences == sorted(confidences, reverse=True)
    assert all(m["label"] != m["predicted"] for m in study["mistakes"])


def test_stored_mistakes_are_the_real_test_digits(mnist_test):
    model, _ = load_model("lenet5")
    for m in read_study("lenet5")["mistakes"][:5]:
        assert np.array_equal(mistake_image(m), (mnist_test.x[m["index"], 0] * 255).round().byte().numpy())
        with torch.inference_mode():
            probs = torch.softmax(model(mnist_test.x[m["index"]:m["index"] + 1]), 1)[0]
        assert int(probs.argmax()) == m["predicted"] and float(probs.max()) == pytest.approx(m["confidence"], abs=1e-4)


def test_repeats_agree_with_the_committed_checkpoints():
    repeats = read_repeats(ROOT / "checkpoints" / "repeats.json")
    assert repeats, "no checkpoints/repeats.json: run `python -m mnist_models repeats`"
    for name, entry in repeats.items():
        assert len(entry["seeds"]) == len(entry["test_accuracy"]) == len(entry["drawing_accuracy"])
        meta = read_metadata(name)
        if meta["seed"] in entry["seeds"]:   # the committed checkpoint is one of the runs
            i = entry["seeds"].index(meta["seed"])
            assert entry["test_accuracy"][i] == meta["test_accuracy"], name
            assert entry["drawing_accuracy"][i] == pytest.approx(meta["drawing_accuracy"], abs=1e-12), name


def run_module(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "mnist_models", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("experiment", ["regularization", "fcn-depth", "batch-size", "bf16"])
@pytest.mark.slow
def test_experiment_command_end_to_end(tmp_path, experiment):
    result = run_module("experiment", experiment, "--seeds", "0", "--epochs", "1", "--train-limit", "600",
                        "--device", "cpu", "--root", str(tmp_path))
    assert result.returncode == 0, result.stderr
    runs = json.loads((tmp_path / f"{experiment}.json").read_text())["runs"]
    if experiment == "batch-size":  # ours only: every model, 4x the batch, the rate x2
        assert sorted(r["model"] for r in runs) == sorted(list_models()) and {r["setting"] for r in runs} == {"ours"}
        assert all(r["recipe"]["batch_size"] == 512 and r["recipe"]["lr"] == 2 * recipe(r["model"]).lr for r in runs)
    elif experiment == "bf16":  # ours only: every model's own recipe, its training steps in bf16 even on a CPU
        assert sorted(r["model"] for r in runs) == sorted(list_models()) and {r["setting"] for r in runs} == {"ours"}
        assert all({**r["recipe"], "bf16_cpu": False} == asdict(recipe(r["model"], epochs=1)) for r in runs)
    else:
        expected = 7 if experiment == "regularization" else 16
        assert len(runs) == 2 * expected and {r["setting"] for r in runs} == {"writeup", "ours"}
    assert all(0 <= r["test_accuracy"] <= 1 and len(r["history"]) == 1 and r["device"] == "cpu" for r in runs)
    if experiment == "fcn-depth":
        assert sorted({r["model_args"]["n_layers"] for r in runs}) == list(range(3, 11))
    rerun = run_module("experiment", experiment, "--seeds", "0", "--epochs", "1", "--train-limit", "600",
                       "--device", "cpu", "--root", str(tmp_path))
    assert rerun.returncode == 0 and rerun.stdout == ""   # everything recorded: nothing trained again


@pytest.mark.slow
def test_experiment_models_option_trains_only_those(tmp_path):
    result = run_module("experiment", "batch-size", "--models", "lenet5,mlp-128", "--seeds", "0", "--epochs", "1",
                        "--train-limit", "600", "--device", "cpu", "--root", str(tmp_path))
    assert result.returncode == 0, result.stderr
    runs = json.loads((tmp_path / "batch-size.json").read_text())["runs"]
    assert sorted(r["model"] for r in runs) == ["lenet5", "mlp-128"]


def test_experiment_merge_adds_only_new_runs(tmp_path):
    """Runs made side by side, one --root each, put in one file; a run recorded twice keeps the first."""
    def runs(*models_seeds, accuracy):
        return {"runs": [{"label": f"{m} batch 512", "setting": "ours", "seed": s, "model": m,
                          "test_accuracy": accuracy} for m, s in models_seeds]}
    for folder, content in {"main": runs(("lenet5", 0), accuracy=0.99),
                            "a": runs(("lenet5", 0), ("lenet5", 1), accuracy=0.5),
                            "b": runs(("cnn", 0), accuracy=0.995)}.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "batch-size.json").write_text(json.dumps(content))
    result = run_module("experiment", "batch-size", "--root", str(tmp_path / "main"),
                        "--merge", str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "missing"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2 runs added")
    merged = json.loads((tmp_path / "main" / "batch-size.json").read_text())["runs"]
    assert [(r["model"], r["seed"], r["test_accuracy"]) for r in merged] == [
        ("lenet5", 0, 0.99), ("lenet5", 1, 0.5), ("cnn", 0, 0.995)]


def test_batch_table_known_answer(tmp_path):
    from mnist_models.report import batch_table
    five = [0, 1, 2, 3, 4]
    (tmp_path / "repeats.json").write_text(json.dumps({
        "fcn-bn": {"seeds": five, "test_accuracy": [0.980, 0.981, 0.982, 0.983, 0.984],
                   "devices": ["cuda (NVIDIA H100 80GB HBM3)", "cpu", "cpu", "cpu", "cpu"]},  # seed 0: other images
        "mlp-128": {"seeds": [0, 1, 2], "test_accuracy": [0.98, 0.99, 0.97]},
        "lenet5": {"seeds": five, "test_accuracy": [0.990, 0.991, 0.992, 0.993, 0.994]}}))
    (tmp_path / "batch-size.json").write_text(json.dumps({"runs": [
        # 5 against 5, every run above every batch-128 run: p = 2/252, but higher, so it holds; seed 0's
        # batch-128 run was on a GPU, so only seeds 1-4 pair
        *({"model": "fcn-bn", "seed": s, "test_accuracy": 0.985 + s / 1000} for s in five),
        # one seed: too few for the test; below seed 0 but above the worst batch-128 seed: holds
        {"model": "mlp-128", "seed": 0, "test_accuracy": 0.975},
        # 5 against 5, every run 0.5 points below its own seed's: lower beyond seed noise
        *({"model": "lenet5", "seed": s, "test_accuracy": 0.985 + s / 1000} for s in five),
        {"model": "cnn", "seed": 0, "test_accuracy": 0.99}]}))  # no repeats to compare with
    rows = batch_table(tmp_path, tmp_path).splitlines()[2:]
    assert rows == [  # registry order
        "| `fcn-bn` | 98.20 ± 0.16 (n=5) | 98.70 ± 0.16 (n=5) | +0.50 ± 0.00 (4 seeds) | 0.008 | yes |",
        "| `mlp-128` | 98.00 ± 1.00 (n=3) | 97.50 (n=1) | -0.50 (seed 0) | — | yes |",
        "| `lenet5` | 99.20 ± 0.16 (n=5) | 98.70 ± 0.16 (n=5) | -0.50 ± 0.00 (5 seeds) | 0.008 | no |",
        "| `cnn` | no repeats | 99.00 (n=1) | — | — | — |"]


@pytest.mark.slow
def test_repeats_command_end_to_end(tmp_path):
    out = tmp_path / "not" / "yet"  # a folder that does not exist yet: once lost a finished 93-minute cnn run
    result = run_module("repeats", "--models", "custom-mlp-6,mlp-128", "--seeds", "1-2", "--epochs", "1",
                        "--train-limit", "600", "--drawings-limit", "100", "--checkpoints", str(out),
                        "--drawings", DRAWINGS)
    assert result.returncode == 0, result.stderr
    repeats = read_repeats(out / "repeats.json")
    assert set(repeats) == {"custom-mlp-6", "mlp-128"} and repeats["mlp-128"]["seeds"] == [1, 2]
