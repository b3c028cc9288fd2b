"""The committed checkpoints, re-measured on the real MNIST test set: exact match and the issue's floors."""
import pytest

from mnist_models import list_models, load_model
from mnist_models.data import sha256_of_test_files
from mnist_models.train import evaluate

FLOORS = {  # test accuracy, %: the project's promise for the default recipes
    "fcn-bn": 98.5, "fcn-dropout": 98.3, "mlp-500": 98.5, "mlp-128": 98.0, "lenet5": 99.0,
    "custom-mlp-1": 95.0, "custom-mlp-2": 97.0, "custom-mlp-3": 97.0, "custom-mlp-4": 97.0,
    "custom-mlp-5": 97.0, "custom-mlp-6": 97.0, "cnn": 99.4,
}


@pytest.mark.parametrize("name", list_models())
def test_committed_checkpoint_reproduces_its_test_accuracy(name, mnist_test):
    model, meta = load_model(name)
    assert meta["test_set_sha256"] == sha256_of_test_files(), "measured on a different test set"
    loss, accuracy, correct = evaluate(model, mnist_test)
    assert correct == meta["test_correct"]
    assert accuracy == meta["test_accuracy"]
    assert loss == pytest.approx(meta["test_loss"], abs=1e-5)
    assert 100 * accuracy >= FLOORS[name]
