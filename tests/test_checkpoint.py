import json

import pytest
import torch

from mnist_models import CheckpointError, create_model, load_model
from mnist_models.checkpoint import paths, save_checkpoint


def saved(tmp_path, name="mlp-128"):
    model = create_model(name).eval()
    save_checkpoint(model, {"name": name, "test_accuracy": 0.5}, tmp_path)
    return model


def test_round_trip_gives_identical_outputs(tmp_path):
    model = saved(tmp_path, "cnn")
    loaded, meta = load_model("cnn", tmp_path)
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(model(x), loaded(x))
    assert not loaded.training
    assert meta["test_accuracy"] == 0.5 and len(meta["weights_sha256"]) == 64


def test_missing_checkpoint_names_file_and_fix(tmp_path):
    with pytest.raises(CheckpointError, match=r"lenet5\.json: missing; run `python train_all.py --models lenet5`"):
        load_model("lenet5", tmp_path)


def test_corrupt_weights_name_file_and_fix(tmp_path):
    saved(tmp_path)
    weights, _ = paths("mlp-128", tmp_path)
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=r"mlp-128\.safetensors: does not match .*train_all\.py --models mlp-128"):
        load_model("mlp-128", tmp_path)


def test_corrupt_metadata_names_file(tmp_path):
    saved(tmp_path)
    paths("mlp-128", tmp_path)[1].write_text("{not json")
    with pytest.raises(CheckpointError, match=r"mlp-128\.json: not valid JSON"):
        load_model("mlp-128", tmp_path)


def test_weights_of_another_architecture_are_refused(tmp_path):
    saved(tmp_path, "mlp-128")
    for src, dst in zip(paths("mlp-128", tmp_path), paths("mlp-500", tmp_path)):
        dst.write_bytes(src.read_bytes())
    with pytest.raises(CheckpointError, match=r"mlp-500\.safetensors: does not fit model 'mlp-500'"):
        load_model("mlp-500", tmp_path)


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    saved(tmp_path)
    before = [p.read_bytes() for p in paths("mlp-128", tmp_path)]

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # as if the run were interrupted while writing

    monkeypatch.setattr("mnist_models.checkpoint.save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(create_model("mlp-128"), {"name": "mlp-128"}, tmp_path)
    assert [p.read_bytes() for p in paths("mlp-128", tmp_path)] == before
    load_model("mlp-128", tmp_path)


def test_no_pickle_in_checkpoint_files(tmp_path):
    saved(tmp_path)
    weights, meta = paths("mlp-128", tmp_path)
    json.loads(meta.read_text())
    assert not weights.read_bytes().startswith(b"PK") and b"\x80\x02" not in weights.read_bytes()[:8]
