"""`python -m mnist_models predict` on generated images, a blank one and an unreadable one; `ensemble`'s errors."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "mnist_models", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def save_digit(path, digit_28):
    """Draw an MNIST digit big, black on white, off-centre, as someone's photo of paper might look."""
    big = Image.fromarray((255 * (1 - digit_28)).astype(np.uint8)).resize((140, 140), Image.Resampling.BICUBIC)
    canvas = Image.new("L", (300, 220), 255)
    canvas.paste(big, (120, 40))
    canvas.convert("RGB").save(path)


@pytest.mark.slow
def test_predict_one_model_on_real_digits(tmp_path, mnist_test):
    paths = []
    for i in range(5):
        paths.append(str(tmp_path / f"digit{i}.png"))
        save_digit(paths[-1], mnist_test.x[i, 0].numpy())
    result = cli("predict", "--model", "cnn", *paths)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["model"] for r in rows} == {"cnn"}
    for kind in ("mnist", "tuned"):   # the zoo's cnn and its drawing-tuned twin, each on every image
        of_set = [r for r in rows if r["set"] == kind]
        assert [r["image"] for r in of_set] == paths
        assert [r["prediction"] for r in of_set] == mnist_test.y[:5].tolist()
    for r in rows:
        assert len(r["probabilities"]) == 10 and abs(sum(r["probabilities"]) - 1) < 1e-4


@pytest.mark.slow
def test_predict_all_blank_and_unreadable(tmp_path, mnist_test):
    good, blank, bad = tmp_path / "seven.png", tmp_path / "blank.png", tmp_path / "broken.png"
    save_digit(good, mnist_test.x[0, 0].numpy())
    Image.new("RGB", (100, 100), "white").save(blank)
    bad.write_bytes(b"not an image")
    result = cli("predict", "--model", "all", str(bad), str(good), str(blank))
    assert result.returncode == 1
    assert "broken.png" in result.stderr and "Traceback" not in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2 * 25  # 12 models of each set + the default answer, for each readable image
    by_image = {}
    for r in rows:
        by_image.setdefault(Path(r["image"]).name, {})[r["set"], r["model"]] = r
    assert [(r["set"], r["model"]) for r in rows[:25]][-1] == ("tuned", "ensemble")  # the Draw tab's default answer
    assert by_image["seven.png"]["tuned", "ensemble"]["prediction"] == 7
    assert all(r["prediction"] is None and "blank" in r["reason"] for r in by_image["blank.png"].values())


@pytest.mark.slow
def test_predict_ensemble_only(tmp_path, mnist_test):
    path = tmp_path / "two.png"
    save_digit(path, mnist_test.x[1, 0].numpy())
    rows = [json.loads(line) for line in cli("predict", "--model", "ensemble", str(path)).stdout.splitlines()]
    assert [(r["model"], r["set"], r["prediction"]) for r in rows] == [("ensemble", "tuned", 2)]


def test_ensemble_without_checkpoints_says_so(tmp_path):
    result = cli("ensemble", "--checkpoints", str(tmp_path))
    assert result.returncode != 0 and "no usable checkpoints" in result.stderr and "Traceback" not in result.stderr
