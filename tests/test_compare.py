"""The Compare tab's pure functions on the committed results and on hand-built known answers."""
import json

import numpy as np
import pytest

from mnist_models.checkpoint import read_metadata
from tabs.compare import Zoo, confusion_html


def test_confusion_html_known_answer():
    m = np.zeros((10, 10), int)
    np.fill_diagonal(m, 9)
    m[3, 5] = 1
    html = confusion_html(m.tolist(), "tiny")
    assert "tiny: 90/91 correct (98.90 %)" in html and html.count("<tr>") == 11
    assert "90.0 %" in html   # the recall of digit 3: 9 of 10


def test_curves_come_from_the_checkpoint_history():
    zoo = Zoo("checkpoints", "experiments")
    table = zoo.curves(["cnn", "lenet5"], "validation loss")
    for name in ("cnn", "lenet5"):
        history = read_metadata(name)["history"]
        rows = table[table.model == name]
        assert list(rows.epoch) == [h["epoch"] for h in history]
        assert list(rows["validation loss"]) == [h["valid_loss"] for h in history]
    assert zoo.curves([], "validation loss").empty


def test_accuracy_against_size_has_one_point_per_run():
    zoo = Zoo("checkpoints", "experiments")
    points = zoo.accuracy_vs_size("MNIST test")
    for name, meta in zoo.metadata.items():
        runs = zoo.repeats.get(name, {}).get("test_accuracy") or [meta["test_accuracy"]]
        mine = points[points.model == name]
        assert sorted(mine["MNIST test accuracy %"]) == sorted(100 * a for a in runs)
        assert list(10 ** mine["log10 parameters"]) == pytest.approx([meta["parameters"]] * len(runs), rel=1e-2)


def test_experiment_table_reads_the_results(tmp_path):
    runs = [dict(label="plain", setting="writeup", seed=s, reported=98.59, test_accuracy=a, parameters=60806)
            for s, a in enumerate([0.98, 0.99, 0.985])]
    (tmp_path / "regularization.json").write_text(json.dumps({"runs": runs}))
    table = Zoo("checkpoints", tmp_path).experiments("regularization")
    assert list(table.columns) == ["setting", "reported %", "reproduced %", "ours %"]
    row = table.iloc[0]
    assert row["setting"] == "plain" and row["reported %"] == 98.59
    assert row["reproduced %"] == "98.50 ± 0.50 (n=3)" and row["ours %"] == "—"


def test_one_model_up_close_reads_its_study_once(monkeypatch):
    import tabs.compare as compare
    reads = []
    real = compare.read_study
    monkeypatch.setattr(compare, "read_study", lambda *a: reads.append(a) or real(*a))
    confusion, mistakes = Zoo("checkpoints", "experiments").up_close("lenet5")
    assert len(reads) == 1 and "MNIST test set" in confusion and len(mistakes) == 24


def test_own_experiments_are_the_readme_tables(tmp_path):
    from mnist_models.report import batch_table
    zoo = Zoo("checkpoints", "experiments")
    shown = zoo.own_experiments()
    assert batch_table() in shown and "| `lenet5` |" in shown
    # an experiment not run yet says how to run it
    assert "Not run yet: `python -m mnist_models experiment bf16`" in Zoo("checkpoints", tmp_path).own_experiments()
