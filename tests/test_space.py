"""What a Hugging Face Space needs: its card's front matter, exactly the right files, and the app started its way."""
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import numpy as np
from gradio_client import Client, handle_file
from huggingface_hub import metadata_load
from PIL import Image

from mnist_models.models import list_models
from mnist_models.space import describe, main, space_files

pytestmark = pytest.mark.slow  # starts the app from the uploaded files, as a Space does
ROOT = Path(__file__).resolve().parents[1]


def pin(package, requirements="requirements.txt"):
    for line in (ROOT / requirements).read_text().splitlines():
        if line.startswith(f"{package}=="):
            return line.split("==")[1]
    raise AssertionError(f"{package} is not pinned in {requirements}")


def test_front_matter_as_the_hub_reads_it():
    card = metadata_load(ROOT / "README.md")   # huggingface_hub's own parser
    assert card["sdk"] == "gradio" and card["sdk_version"] == pin("gradio")
    assert (ROOT / card["app_file"]).is_file()
    assert card["python_version"] == "3.11"


def test_space_gets_exactly_what_the_app_needs():
    paths = {path for path, _ in space_files()}
    for needed in ["demo.py", "tabs/compare.py", "mnist_models/predict.py", "requirements.txt", "README.md",
                   "checkpoints/ensemble.json", "checkpoints/tuned/ensemble.json",
                   *(f"checkpoints/{d}{n}.safetensors" for n in list_models() for d in ("", "tuned/"))]:
        assert needed in paths, needed
    for path in paths:
        assert not path.startswith((".venv/", "data/", "tests/", "test-artifacts/", "benchmarks/", ".ci/")), path
        assert "__pycache__" not in path and not path.endswith((".tmp", ".pyc"))
    # every module the app imports is there
    for module in list((ROOT / "mnist_models").glob("*.py")) + list((ROOT / "tabs").glob("*.py")):
        assert module.relative_to(ROOT).as_posix() in paths


def test_dry_run_lists_files_and_total_and_uploads_nothing(capsys):
    assert main(["--space", "someone/mnist-zoo", "--dry-run"]) == 0
    out = capsys.readouterr().out
    files = space_files()
    assert describe(files) in out and "dry run: nothing uploaded" in out
    assert f"{sum(size for _, size in files):,}  bytes in {len(files)} files" in out


def test_the_uploaded_files_alone_start_the_app_the_way_a_space_does(tmp_path, mnist_test):
    """A Space holds only what `make space` uploads: copy exactly that, start `python demo.py` there on
    0.0.0.0 (GRADIO_SERVER_NAME, as a Space sets it), fetch the page and classify a digit through it."""
    space = tmp_path / "space"
    for path, _ in space_files():
        (space / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, space / path)
    port = 7800 + os.getpid() % 100
    env = {**os.environ, "GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": str(port), "PYTHONPATH": ""}
    app = subprocess.Popen([sys.executable, "demo.py"], cwd=space, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.time() + 120, None
        while time.time() < deadline and page is None:
            assert app.poll() is None, app.stdout.read()
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
            except OSError:
                time.sleep(1)
        assert page is not None, "the app did not serve its page within 120 s"
        assert "MNIST model zoo" in page and "Unavailable" not in page   # every checkpoint made the trip
        digit = tmp_path / "digit.png"
        Image.fromarray((255 * (1 - mnist_test.x[0, 0].numpy())).astype(np.uint8)).resize((280, 280)).save(digit)
        result = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(handle_file(str(digit)),
                                                                           api_name="/classify")
        assert result["ensemble"]["prediction"] == int(mnist_test.y[0]) and len(result["models"]) == 12
    finally:
        app.terminate()
        app.wait(timeout=30)
