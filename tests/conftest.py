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


@pytest.fixture(scope="session")
def server_url():
    """The real demo, served by Gradio on 127.0.0.1 (a free port) for the whole session."""
    import demo

    app, url, _ = demo.demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True,
                                   quiet=True, **demo.PAGE)
    yield url.rstrip("/")
    demo.demo.close()


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
