"""Shared fixtures: the real MNIST test set (from $MNIST_DIR, else data/, downloading if possible)."""
import pytest
import torch

from mnist_models.data import Split, load_mnist


@pytest.fixture(scope="session")
def mnist_test():
    images, labels = load_mnist(train=False)
    return Split(images.unsqueeze(1).float().div(255), labels)  # (N,28,28) -> (N,1,28,28)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
