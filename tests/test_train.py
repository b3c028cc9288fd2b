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
        assert together[name].history == alone.history, name
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
