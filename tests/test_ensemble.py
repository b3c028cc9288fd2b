"""The ensemble's members: greedy selection on hand-built probabilities, and the committed choice re-made."""
import json
import shutil

import numpy as np
import pytest

from mnist_models import Predictor
from mnist_models.ensemble import choose_ensemble, log_loss, select_members
from mnist_models.predict import validation_accuracy


def one_hot_ish(labels, p_right):
    """(N,10) probabilities: p_right[i] on the true class, the rest spread over the others."""
    p_right = np.asarray(p_right, float)
    probs = np.tile(((1 - p_right) / 9)[:, None], (1, 10))
    probs[np.arange(len(labels)), labels] = p_right
    return probs


LABELS = np.array([0, 1, 2, 3])


def test_log_loss_known_answer():
    assert log_loss(one_hot_ish(LABELS, [0.5] * 4), LABELS) == pytest.approx(np.log(2))


STRONG = one_hot_ish(LABELS, [0.9, 0.9, 0.9, 0.3])   # loss 0.379: sure three times, unsure once


def test_complementary_model_joins():
    other = one_hot_ish(LABELS, [0.6, 0.6, 0.6, 0.9])  # loss 0.410 alone, but sure where STRONG is not
    assert select_members({"other": other, "strong": STRONG}, LABELS) == ["strong", "other"]  # mean: 0.343


def test_a_copy_adds_nothing():
    assert select_members({"strong": STRONG, "copy": STRONG.copy()}, LABELS) == ["strong"]


def test_a_worse_model_is_not_added():
    probs = {"good": one_hot_ish(LABELS, [0.9] * 4), "bad": one_hot_ish(LABELS, [0.3] * 4)}
    assert select_members(probs, LABELS) == ["good"]


@pytest.mark.slow
def test_committed_ensemble_is_the_one_selection_chooses(tmp_path):
    """Re-make the choice on the real validation split: same members, same validation and test figures."""
    stored = Predictor().ensemble_metadata
    assert stored, "checkpoints/ensemble.json missing or stale: python -m mnist_models ensemble"
    work = shutil.copytree("checkpoints", tmp_path / "ck")
    remade = choose_ensemble(work)
    for key in ("members", "members_sha256", "valid_loss", "valid_accuracy", "test_correct", "test_accuracy"):
        assert remade[key] == stored[key], key
    assert json.loads((work / "ensemble.json").read_text())["members"] == stored["members"]


def test_stale_ensemble_falls_back_to_the_best_single_model(tmp_path):
    work = shutil.copytree("checkpoints", tmp_path / "ck")
    meta = json.loads((work / "ensemble.json").read_text())
    meta["members_sha256"][meta["members"][0]] = "0" * 64      # as if that model had been retrained since
    (work / "ensemble.json").write_text(json.dumps(meta))
    predictor = Predictor(work)
    best = max(predictor.metadata, key=lambda name: validation_accuracy(predictor.metadata[name]))
    assert predictor.ensemble == [best] and predictor.ensemble_metadata == {}
    (work / "ensemble.json").unlink()
    assert Predictor(work).ensemble == [best]
