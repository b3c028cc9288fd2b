"""Nothing lost: train_all.py interrupted (SIGINT, SIGTERM) mid-epoch or while writing leaves --out consistent."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnist_models import load_model
from mnist_models.checkpoint import read_metadata

pytestmark = pytest.mark.slow  # interrupts real training processes
ROOT = Path(__file__).resolve().parents[1]
MODELS = "mlp-128,custom-mlp-6"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def as_in_a_terminal():
    """For the child: Ctrl-C's default disposition. A suite started in the background (`cmd &`) inherits
    SIGINT ignored, and Python then never turns SIGINT into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def fingerprint(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).iterdir())}


def assert_consistent(folder):
    """Every checkpoint loads (its weights match the sha256 in its JSON) and the ensemble's members are those weights."""
    for name in MODELS.split(","):
        load_model(name, folder)
    ensemble = json.loads((Path(folder) / "ensemble.json").read_text())
    for name, sha in ensemble["members_sha256"].items():
        assert read_metadata(name, folder)["weights_sha256"] == sha, name
        load_model(name, folder)


@pytest.fixture(scope="module")
def previous(tmp_path_factory):
    """A finished earlier run: the checkpoints an interrupted run must not damage."""
    out = tmp_path_factory.mktemp("previous")
    subprocess.run([sys.executable, "train_all.py", "--device", "cpu", "--models", MODELS, "--epochs", "1",
                    "--train-limit", "1000", "--out", str(out)], cwd=ROOT, check=True, capture_output=True, env=ENV,
                   timeout=300)
    return out


def copy_of(previous, tmp_path):
    out = tmp_path / "ck"
    out.mkdir()
    for p in previous.iterdir():
        (out / p.name).write_bytes(p.read_bytes())
    return out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_mid_epoch_leaves_previous_checkpoints_untouched(previous, tmp_path, signum):
    out = copy_of(previous, tmp_path)
    before = fingerprint(out)
    run = subprocess.Popen([sys.executable, "train_all.py", "--device", "cpu", "--models", MODELS, "--epochs", "200",
                            "--train-limit", "20000", "--out", str(out)], cwd=ROOT, env=ENV, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=as_in_a_terminal)
    try:
        assert "device cpu" in run.stdout.readline()   # data loaded; training starts now
        time.sleep(3)
        run.send_signal(signum)
        _, stderr = run.communicate(timeout=120)
    finally:
        run.kill()  # a run the signal failed to stop must not go on eating the CPU the other tests need
    assert run.returncode != 0 and "interrupted" in stderr and "Traceback" not in stderr
    assert fingerprint(out) == before
    assert_consistent(out)


WRITE_THEN_SIGNAL = """
import os, signal, sys
import train_all
save = train_all.save_checkpoint
def save_then_signal(*args, **kwargs):
    saved = save(*args, **kwargs)
    os.kill(os.getpid(), signal.{name})   # arrives after the first of the new checkpoints is written
    return saved
train_all.save_checkpoint = save_then_signal
signal.signal(signal.SIGTERM, signal.default_int_handler)
try:
    train_all.main(sys.argv[1:])
except KeyboardInterrupt:
    sys.exit("interrupted")
"""


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_interrupted_while_writing_finishes_the_set(previous, tmp_path, name):
    out = copy_of(previous, tmp_path)
    before = fingerprint(out)
    result = subprocess.run([sys.executable, "-c", WRITE_THEN_SIGNAL.format(name=name), "--device", "cpu",
                             "--models", MODELS, "--epochs", "2", "--train-limit", "1000", "--seed", "1",
                             "--out", str(out)], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300,
                            preexec_fn=as_in_a_terminal)
    assert result.returncode != 0 and f"{name}: stopping once the checkpoints are written" in result.stderr
    after = fingerprint(out)
    changed = {f for f in after if after[f] != before.get(f)}
    # the whole new set landed: both models' weights and JSON, and the ensemble re-chosen over them
    assert changed >= {"mlp-128.safetensors", "mlp-128.json", "custom-mlp-6.safetensors", "custom-mlp-6.json",
                       "ensemble.json"}
    assert all(read_metadata(n, out)["seed"] == 1 for n in MODELS.split(","))
    assert_consistent(out)
