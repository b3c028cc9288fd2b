"""benchmarks/replay_history.py merges a replayed history only when the replay is the same training."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.replay_history import merge  # noqa: E402

OLD = [dict(epoch=e, train_loss=1.0 / e, valid_loss=0.5 / e, valid_accuracy=0.9) for e in (1, 2)]
FULL = [dict(row, train_accuracy=0.8, lr=1e-3, grad_norm=0.5, param_norm=10.0, seconds=3.0) for row in OLD]


def write(folder, **changes):
    meta = dict(name="lenet5", weights_sha256="ab" * 32, device="cpu", torch_version="2.14.1", best_epoch=2,
                test_correct=9900, train_seconds=6.1, history=OLD, **changes)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lenet5.json").write_text(json.dumps(meta))
    return meta


def test_identical_replay_is_merged_with_its_provenance(tmp_path):
    committed = write(tmp_path / "ckpt")
    merge("lenet5", {**committed, "history": FULL, "train_seconds": 6.0}, "c2b6878", tmp_path / "ckpt")
    meta = json.loads((tmp_path / "ckpt" / "lenet5.json").read_text())
    assert meta["history"] == FULL and meta["history_replay"]["commit"] == "c2b6878"
    assert meta["history_replay"]["device"] == "cpu"
    assert meta["history_replay"]["train_seconds"] == 6.0 and meta["train_seconds"] == 6.1  # the original's kept


@pytest.mark.parametrize("replayed", [
    dict(weights_sha256="cd" * 32, history=FULL),                               # other weights
    dict(history=[FULL[0], dict(FULL[1], valid_loss=0.26)]),                     # a recorded figure differs
    dict(history=FULL[:1]),                                                      # fewer epochs
])
def test_a_different_replay_is_refused_and_nothing_changes(tmp_path, replayed):
    committed = write(tmp_path / "ckpt")
    before = (tmp_path / "ckpt" / "lenet5.json").read_text()
    with pytest.raises((SystemExit, ValueError)):
        merge("lenet5", {**committed, "train_seconds": 6.0, **replayed}, "c2b6878", tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "lenet5.json").read_text() == before
