"""Shared fixtures: the real MNIST test set (from $MNIST_DIR, else data/, downloading if possible)."""
import os
import tempfile

import pytest
import torch

from mnist_models.data import Split, load_mnist

# The demo's visitor drawings go to a throw-away database, never the repository's data/, and Gradio's
# cache to this run's own folder: a shared /tmp/gradio made by another user is not writable
os.environ["DRAWINGS_DB"] = os.path.join(tempfile.mkdtemp(prefix="drawings-"), "drawings.sqlite")
os.environ.setdefault("GRADIO_TEMP_DIR", tempfile.mkdtemp(prefix="gradio-"))


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


@pytest.hookimpl(trylast=True)  # after pytest's own short summary: the last thing above the counts
def pytest_terminal_summary(terminalreporter):
    """Say plainly, last, when the browser tests did not run (no chromium), which ones, why, and the fix."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "browser tests not run" in str(r.longrepr)]
    if skipped:
        why = skipped[0].longrepr[2] if isinstance(skipped[0].longrepr, tuple) else str(skipped[0].longrepr)
        terminalreporter.section("browser tests not run")
        terminalreporter.write_line(f"{len(skipped)} browser tests did not run: "
                                    + ", ".join(r.nodeid.split("::")[-1] for r in skipped))
        terminalreporter.write_line(why.replace("Skipped: ", ""))
