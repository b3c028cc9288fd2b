"""The drawing-tuned set: the writer-disjoint split, the UNIPEN converter, the committed tuned checkpoints
re-measured exactly, and train_all.py --drawings end to end on a small slice."""
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mnist_models import Predictor, load_model, list_models
from mnist_models.data import sha256_of_test_files
from mnist_models.pen import (HELDOUT_SOURCES, TRAIN_SOURCES, PenConfig, copies_per_drawing, file_sha256,
                              heldout_drawings, read_rows, split_by_source)
from mnist_models.repeats import drawing_accuracy
from mnist_models.train import evaluate
from mnist_models.tuned import accuracy
from mnist_models.unipen import convert

ROOT = Path(__file__).resolve().parents[1]
UNIPEN = Path(os.environ.get("UNIPEN_DEV", ROOT.parent / "shared" / "unipen" / "dev-digits.jsonl.gz"))
TUNED = ROOT / "checkpoints" / "tuned"
# skipped where the file is absent, except in CI, where it must be there (the tests then fail naming it)
needs_unipen = pytest.mark.skipif(not UNIPEN.exists() and not os.environ.get("CI"), reason=f"{UNIPEN} absent (set UNIPEN_DEV)")
TUNED_NAMES = [n for n in list_models() if (TUNED / f"{n}.json").exists()]


@pytest.fixture(scope="module")
def heldout():
    return heldout_drawings(UNIPEN)


@needs_unipen
def test_split_is_writer_disjoint_and_covers_the_file():
    rows = read_rows(UNIPEN)
    train, held = split_by_source(rows)
    assert len(train) + len(held) == len(rows) and train and held
    assert not {r["source"] for r in train} & {r["source"] for r in held}
    assert not {r["writer_file"] for r in train} & {r["writer_file"] for r in held}  # no writer on both sides
    assert {r["source"] for r in train} == set(TRAIN_SOURCES) and {r["source"] for r in held} == set(HELDOUT_SOURCES)


def test_a_source_in_neither_list_is_refused():
    with pytest.raises(ValueError, match="neither"):
        split_by_source([{"source": "new", "writer_file": "new/a.dat", "label": 1, "strokes": [[[0, 0]]]}])


def test_writers_with_few_drawings_get_more_renders():
    rows = [{"writer_file": "a"}] * 20 + [{"writer_file": "b"}] * 2 + [{"writer_file": "c"}] * 10
    copies = copies_per_drawing(rows, PenConfig(copies=3, max_copies=6))
    assert copies[0] == 2 and copies[20] == 6 and copies[-1] == 3   # median writer: 10 drawings
    assert copies_per_drawing(rows, PenConfig(copies=3, vary=False)) == [3] * len(rows)


def test_unipen_converter_on_a_fixture(tmp_path):
    out = tmp_path / "digits.jsonl.gz"
    assert convert(ROOT / "tests" / "fixtures" / "unipen", out) == {"tst": 3}
    rows = [json.loads(line) for line in gzip.open(out, "rt")]
    assert [(r["label"], r["source"], r["writer_file"]) for r in rows] == [
        (4, "tst", "tst/tst00/tst0001.dat"), (1, "tst", "tst/tst00/tst0001.dat"), (7, "tst", "tst/tst00/tst0001.dat")]
    # pen-down strokes of each segment, y flipped to point down, the box moved to (0, 0);
    # BAD segments, letters, pen-up points and extra columns (time) are left out
    assert rows[0]["strokes"] == [[[20, 0], [20, 100]], [[10, 20], [0, 60], [50, 60]]]
    assert rows[1]["strokes"] == [[[0, 0], [0, 80]]]
    assert rows[2]["strokes"] == [[[0, 0], [50, 0], [10, 100]]]


def test_unipen_converter_names_a_wrong_folder(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mnist_models", "unipen", str(tmp_path), "--out",
                             str(tmp_path / "x.jsonl.gz")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "data/1a" in result.stderr and "Traceback" not in result.stderr


@needs_unipen
@pytest.mark.parametrize("name", TUNED_NAMES)
@pytest.mark.slow
def test_tuned_checkpoint_names_its_data_and_reproduces_its_accuracies(name, mnist_test, heldout):
    model, meta = load_model(name, TUNED)
    twin, twin_meta = load_model(name)
    record = meta["drawings"]
    assert meta["set"] == "tuned" and record["sha256"] == file_sha256(UNIPEN)
    assert record["train_sources"] == list(TRAIN_SOURCES) and record["heldout_sources"] == list(HELDOUT_SOURCES)
    assert meta["heldout_set"]["sources"] == list(HELDOUT_SOURCES) and meta["heldout_set"]["n"] == len(heldout[1])
    assert meta["init_from"]["weights_sha256"] == twin_meta["weights_sha256"] == meta["twin"]["weights_sha256"]
    assert meta["test_set_sha256"] == sha256_of_test_files()
    _, accuracy, correct = evaluate(model, mnist_test)
    assert correct == meta["test_correct"] and accuracy == meta["test_accuracy"]
    assert drawing_accuracy(model, heldout) == meta["heldout_drawing_accuracy"]
    assert drawing_accuracy(twin, heldout) == meta["twin"]["heldout_drawing_accuracy"]


@needs_unipen
@pytest.mark.skipif(not TUNED_NAMES, reason="no tuned set committed")
@pytest.mark.slow
def test_tuned_ensemble_reproduces_its_accuracies(mnist_test, heldout):
    predictor = Predictor(TUNED, names=TUNED_NAMES)
    meta = predictor.ensemble_metadata
    assert meta and meta["set"] == "tuned", "checkpoints/tuned/ensemble.json missing or stale"
    images, labels, blank = heldout
    probs = predictor.predict_batch(torch.from_numpy(images).unsqueeze(1))["ensemble"]
    assert accuracy(probs, labels, blank) == meta["heldout_drawing_accuracy"]
    test = predictor.predict_batch(mnist_test.x)["ensemble"]
    assert int((test.argmax(1) == mnist_test.y.numpy()).sum()) == meta["test_correct"]
    zoo = Predictor().predict_batch(torch.from_numpy(images).unsqueeze(1))["ensemble"]   # the MNIST-only one
    assert accuracy(zoo, labels, blank) == meta["twin"]["heldout_drawing_accuracy"]


@needs_unipen
@pytest.mark.slow
def test_train_all_with_drawings_end_to_end(tmp_path):
    """The zoo's lenet5 fine-tuned on a slice of the drawings into OUT/tuned/, then its ensemble chosen."""
    out, drawings = tmp_path / "ck", tmp_path / "slice.jsonl.gz"
    out.mkdir()
    for suffix in (".json", ".safetensors"):
        (out / f"lenet5{suffix}").write_bytes((ROOT / "checkpoints" / f"lenet5{suffix}").read_bytes())
    rows = read_rows(UNIPEN)
    with gzip.open(drawings, "wt") as f:
        for row in rows[::40]:   # every source, both sides of the split
            f.write(json.dumps(row) + "\n")
    result = subprocess.run([sys.executable, "train_all.py", "--only-tuned", "--drawings", str(drawings), "--models",
                             "lenet5", "--epochs", "1", "--train-limit", "2000", "--out", str(out), "--device", "cpu"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "held-out drawings" in result.stdout and "lenet5" in result.stdout
    _, meta = load_model("lenet5", out / "tuned")
    assert meta["recipe"]["keep"] == "last" and meta["epochs"] == 1 and meta["pen_renders"] > 0
    assert meta["drawings"]["sha256"] == file_sha256(drawings)
    assert meta["seen"].startswith("MNIST + pen drawings")
    assert json.loads((out / "tuned" / "ensemble.json").read_text())["members"] == ["lenet5"]
    assert load_model("lenet5", out)[1]["weights_sha256"] == meta["init_from"]["weights_sha256"]  # zoo untouched


@pytest.mark.slow
def test_train_all_without_drawings_says_how_to_get_them(tmp_path):
    result = subprocess.run([sys.executable, "train_all.py", "--models", "mlp-128", "--epochs", "1", "--train-limit",
                             "500", "--out", str(tmp_path), "--device", "cpu"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "train_r01_v07" in result.stdout and "python -m mnist_models unipen" in result.stdout


@needs_unipen
@pytest.mark.slow
def test_levers_record_each_lever_and_the_tta_row(tmp_path):
    """Two levers on a slice of the drawings: each recorded once per model, the recipe's with its TTA twin."""
    from mnist_models.experiments import read_results
    from mnist_models.levers import TTA, run_levers
    from mnist_models.report import levers_table
    drawings = tmp_path / "slice.jsonl.gz"
    with gzip.open(drawings, "wt") as f:
        for row in read_rows(UNIPEN)[::40]:
            f.write(json.dumps(row) + "\n")
    run_levers(["lenet5"], drawings, root=tmp_path, levers=["recipe as it is", "no styles"])
    runs = read_results("drawing-levers", tmp_path)["runs"]
    assert sorted(r["lever"] for r in runs) == sorted(["recipe as it is", TTA, "no styles"])
    assert {r["recipe"]["styles"] for r in runs if r["lever"] == "no styles"} == {0.0}
    run_levers(["lenet5"], drawings, root=tmp_path, levers=["no styles"])   # recorded: not trained again
    assert len(read_results("drawing-levers", tmp_path)["runs"]) == 3
    assert "| no styles |" in levers_table(tmp_path)
