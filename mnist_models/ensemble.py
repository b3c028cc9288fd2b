"""Which models the ensemble averages: greedy forward selection on validation log-loss (Caruana et al. 2004).

Start from the best single model, add whichever model lowers the averaged probabilities' loss most,
stop when none does. Chosen once on held-out training images; stored in checkpoints/ensemble.json.
"""
import numpy as np

from .checkpoint import paths, write_ensemble_metadata
from .data import Split, load_splits
from .models import list_models
from .predict import Predictor, average

SELECTION = "greedy forward selection on validation log-loss"


def log_loss(probs, labels):
    return float(-np.log(probs[np.arange(len(labels)), labels] + 1e-12).mean())


def select_members(probs, labels):
    """{name: validation probabilities (N, 10)}, labels (N,) -> the member names, in the order chosen."""
    def loss(names):
        return log_loss(average(probs, names), labels)

    members, best = [], np.inf
    while len(members) < len(probs):
        name = min((n for n in probs if n not in members), key=lambda n: loss(members + [n]))
        if loss(members + [name]) >= best:
            break  # a weaker model only blurs what the members already get right
        members.append(name)
        best = loss(members)
    return members


def choose_ensemble(checkpoint_dir="checkpoints", data_dir=None, splits=None):
    """Select the members among the checkpoints, measure them, write ensemble.json; -> its metadata.

    `splits` = (valid, test) as loaded by data.load_splits; loaded here (CPU) when not given.
    """
    present = [name for name in list_models() if paths(name, checkpoint_dir)[1].exists()]  # no warnings for the rest
    predictor = Predictor(checkpoint_dir, names=present) if present else None
    if not predictor or not predictor.models:
        raise ValueError(f"{checkpoint_dir}: no usable checkpoints to choose an ensemble from")
    seeds = {m["seed"] for m in predictor.metadata.values()}
    valid_sizes = {m["recipe"]["valid_size"] for m in predictor.metadata.values()}
    if len(seeds) > 1 or len(valid_sizes) > 1:  # one model's validation images were another's training images
        raise ValueError(f"{checkpoint_dir}: checkpoints were trained on different validation splits "
                         f"(seeds {sorted(seeds)}, sizes {sorted(valid_sizes)}); retrain them with one seed")
    if splits is None:
        _, *splits = load_splits("cpu", valid_sizes.pop(), seeds.pop(), data_dir)
    valid, test = (Split(s.x.cpu(), s.y.cpu()) for s in splits)
    valid_probs, test_probs = predictor.predict_batch(valid.x), predictor.predict_batch(test.x)
    members = select_members({n: valid_probs[n] for n in predictor.models}, valid.y.numpy())
    valid_mean, test_mean = average(valid_probs, members), average(test_probs, members)
    test_correct = int((test_mean.argmax(1) == test.y.numpy()).sum())
    metadata = dict(
        name="ensemble", members=members, selection=SELECTION,
        members_sha256={n: predictor.metadata[n]["weights_sha256"] for n in members},
        valid_loss=round(log_loss(valid_mean, valid.y.numpy()), 6),
        valid_accuracy=float((valid_mean.argmax(1) == valid.y.numpy()).mean()),
        test_correct=test_correct, test_accuracy=test_correct / len(test.y),
    )
    write_ensemble_metadata(checkpoint_dir, metadata)
    return metadata
