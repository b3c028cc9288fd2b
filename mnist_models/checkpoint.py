"""Self-describing checkpoints: <name>.safetensors (weights) + <name>.json (metadata), written atomically.

Nothing is ever unpickled. The JSON records the weights' sha256, so a half-replaced or corrupt pair is
caught on load and reported with the file and the fix.
"""
import contextlib
import hashlib
import json
import os
import signal
import sys
from pathlib import Path

from safetensors.torch import load_file, save_file

from .models import create_model


class CheckpointError(RuntimeError):
    pass


def paths(name, directory):
    directory = Path(directory)
    return directory / f"{name}.safetensors", directory / f"{name}.json"


def _atomic_write(path, write):
    # a folder that does not exist yet (a new --checkpoints or --root) must not cost the run that wrote here
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)  # a run killed before this line leaves the previous file untouched


def write_json(path, data):
    _atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=1) + "\n"))


def save_checkpoint(model, metadata, directory):
    weights_path, meta_path = paths(metadata["name"], directory)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _atomic_write(weights_path, lambda p: save_file(state, str(p)))
    metadata = {**metadata, "weights_sha256": hashlib.sha256(weights_path.read_bytes()).hexdigest()}
    write_json(meta_path, metadata)
    return metadata


def read_metadata(name, directory="checkpoints"):
    _, meta_path = paths(name, directory)
    fix = f"run `python train_all.py --models {name}` to (re)create it"
    if not meta_path.exists():
        raise CheckpointError(f"{meta_path}: missing; {fix}")
    try:
        return json.loads(meta_path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{meta_path}: not valid JSON ({e}); {fix}") from None


def load_model(name, checkpoint_dir="checkpoints"):
    """-> (model in eval mode on the CPU, metadata dict)."""
    weights_path, _ = paths(name, checkpoint_dir)
    fix = f"run `python train_all.py --models {name}` to (re)create it"
    metadata = read_metadata(name, checkpoint_dir)
    if not weights_path.exists():
        raise CheckpointError(f"{weights_path}: missing; {fix}")
    data = weights_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != metadata.get("weights_sha256"):
        raise CheckpointError(f"{weights_path}: does not match the sha256 in its .json (corrupt or "
                              f"from another run); {fix}")
    try:
        model = create_model(name, **metadata.get("model_args", {}))
        model.load_state_dict(load_file(str(weights_path)))
    except Exception as e:
        raise CheckpointError(f"{weights_path}: does not fit model {name!r} ({e}); {fix}") from None
    return model.eval(), metadata


def update_metadata(name, directory, **fields):
    """Add measurements (e.g. drawing accuracy) to a checkpoint's JSON; the weights are untouched."""
    _, meta_path = paths(name, directory)
    write_json(meta_path, {**read_metadata(name, directory), **fields})


def write_ensemble_metadata(directory, metadata):
    """ensemble.json: the ensemble's members and measurements (it has no weights of its own)."""
    write_json(Path(directory) / "ensemble.json", metadata)


@contextlib.contextmanager
def signals_deferred(signums=(signal.SIGINT, signal.SIGTERM)):
    """Ctrl-C or SIGTERM inside the block waits until it ends, then acts as usual: a set of checkpoints
    and ensemble.json is written whole, never half old and half new. (Main thread only; SIGKILL can't wait.)"""
    received = []

    def later(signum, frame):
        if not received:
            print(f"\n{signal.Signals(signum).name}: stopping once the checkpoints are written", file=sys.stderr)
        received.append(signum)

    previous = {signum: signal.signal(signum, later) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            signal.raise_signal(received[0])
