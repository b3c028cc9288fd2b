"""The trainer: models trained together see exactly the batches they would see alone, on real MNIST."""
import pytest
import torch

from mnist_models.data import load_splits
from mnist_models.train import AUGMENTATION_FIELDS, TrainConfig, recipe, stream_key, train_together


@pytest.fixture(scope="module")
def small_splits():
    train, valid, _ = load_splits("cpu", valid_size=500, train_limit=1024)
    return train, valid


def test_training_together_equals_training_alone(small_splits):
    # mlp-128 and custom-mlp-6 share the default augmentation; lenet5 has its own (lighter) stream
    names = ["mlp-128", "custom-mlp-6", "lenet5"]
    jobs = {name: recipe(name, epochs=2) for name in names}
    assert stream_key(jobs["mlp-128"]) == stream_key(jobs["custom-mlp-6"]) != stream_key(jobs["lenet5"])
    together = train_together(jobs, *small_splits, seed=3, progress=False)
    assert together["mlp-128"].trained_with == ["mlp-128", "custom-mlp-6"]
    for name in names:
        alone = train_together({name: jobs[name]}, *small_splits, seed=3, progress=False)[name]
        untimed = lambda history: [{k: v for k, v in row.items() if k != "seconds"} for row in history]  # noqa: E731
        assert untimed(together[name].history) == untimed(alone.history), name
        a, b = together[name].model.state_dict(), alone.model.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_models_stop_at_their_own_epoch_count(small_splits):
    jobs = {"custom-mlp-5": recipe("custom-mlp-5", epochs=1), "custom-mlp-6": recipe("custom-mlp-6", epochs=3)}
    seen = []
    runs = train_together(jobs, *small_splits, progress=False, on_epoch=lambda run: seen.append(run.name))
    assert [len(runs[n].history) for n in jobs] == [1, 3]
    assert seen == ["custom-mlp-5", "custom-mlp-6", "custom-mlp-6", "custom-mlp-6"]
    assert runs["custom-mlp-5"].train_seconds < runs["custom-mlp-6"].train_seconds


def test_quick_recipes_train_on_clean_images():
    for name in ("cnn", "lenet5", "mlp-500"):
        cfg = recipe(name, quick=True)
        assert all(getattr(cfg, field) == 0 for field in AUGMENTATION_FIELDS)
        assert cfg.epochs < recipe(name).epochs
    assert recipe("lenet5", quick=True).lr == recipe("lenet5").lr   # sigmoids need the higher rate either way
    assert TrainConfig().bf16 and not TrainConfig().compile


def test_history_records_each_epoch(small_splits):
    run = train_together({"custom-mlp-6": recipe("custom-mlp-6", epochs=3)}, *small_splits, progress=False)["custom-mlp-6"]
    assert [row["epoch"] for row in run.history] == [1, 2, 3]
    for row in run.history:
        assert set(row) == {"epoch", "train_loss", "train_accuracy", "valid_loss", "valid_accuracy", "lr",
                            "grad_norm", "param_norm", "seconds"}
        assert 0 <= row["train_accuracy"] <= 1 and 0 <= row["valid_accuracy"] <= 1
        assert row["grad_norm"] > 0 and row["param_norm"] > 0 and row["seconds"] > 0
    # one-cycle: the rate rises to its peak within the warm-up, then falls to nearly nothing at the end
    assert run.history[-1]["lr"] < run.history[0]["lr"] and run.history[-1]["lr"] < 1e-4
    model_norm = torch.nn.utils.get_total_norm(list(run.model.parameters())).item()
    assert run.history[-1]["param_norm"] == pytest.approx(model_norm, rel=1e-4)
    assert run.best[1] == min(run.history, key=lambda row: row["valid_loss"])["epoch"]


@pytest.mark.slow
def test_every_model_is_compiled_not_only_the_first_few(small_splits, monkeypatch):
    # every compiled model is a cache entry for the same code; past dynamo's recompile limit (8 by
    # default, 1 here to keep the test short) the rest would train eager, with only a logged warning
    from torch._dynamo.utils import counters
    monkeypatch.setattr(torch._dynamo.config, "recompile_limit", 1)
    clean = {field: 0.0 for field in AUGMENTATION_FIELDS}
    jobs = {name: recipe(name, epochs=1, compile=True, **clean) for name in ("custom-mlp-5", "custom-mlp-6")}
    before = counters["stats"]["unique_graphs"]
    train_together(jobs, *small_splits, progress=False)
    assert counters["stats"]["unique_graphs"] - before == len(jobs)
