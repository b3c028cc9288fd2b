"""What each trained model gets wrong, and why: confusion matrices, its most confident mistakes, saliency.

    python -m mnist_models study [--drawings ../shared/unipen/dev-digits.jsonl.gz]   # -> checkpoints/NAME.study.json
"""
import json

import numpy as np
import torch

from .checkpoint import paths, read_metadata, write_json
from .evaluate import confusion_matrix, drawing_scores

MISTAKES_KEPT = 24


def confident_mistakes(probs, labels, images=None, k=MISTAKES_KEPT):
    """(N, 10) probabilities, (N,) labels -> the k wrong answers given with the highest confidence.

    With `images` (N, 28, 28) uint8 each mistake carries its pixels (hex), so the demo can show them
    without the MNIST files.
    """
    preds, confidence = probs.argmax(1), probs.max(1)
    wrong = np.flatnonzero(preds != labels)
    worst = wrong[np.argsort(-confidence[wrong], kind="stable")[:k]]
    return [dict(index=int(i), label=int(labels[i]), predicted=int(preds[i]), confidence=round(float(confidence[i]), 5),
                 **({} if images is None else {"pixels": np.asarray(images[i], np.uint8).tobytes().hex()}))
            for i in worst]


def mistake_image(mistake):
    """A stored mistake's pixels -> (28, 28) uint8."""
    return np.frombuffer(bytes.fromhex(mistake["pixels"]), np.uint8).reshape(28, 28)


def study(predictor, test_images, test_labels, drawings=None):
    """-> {name: study} for every loaded model and the ensemble, from the MNIST test set (and drawings).

    `drawings` = (images, labels, blank, drawing_set) from evaluate.drawings_as_mnist plus a description.
    """
    probs = predictor.predict_batch(test_images.unsqueeze(1).float().div(255))  # (N,28,28) uint8 -> (N,1,28,28)
    labels = test_labels.numpy()
    drawn = drawing_scores(predictor, *drawings[:3])[1] if drawings else {}
    results = {}
    for name, p in probs.items():
        mnist = confusion_matrix(labels, p.argmax(1))[:, :10]  # MNIST digits are never blank
        results[name] = dict(
            weights_sha256=(predictor.metadata.get(name) or {}).get("weights_sha256"),
            members=list(predictor.ensemble) if name == "ensemble" else None,
            mnist_confusion=mnist.tolist(), mnist_correct=int(np.trace(mnist)),
            mistakes=confident_mistakes(p, labels, test_images.numpy()))
        if name in drawn:
            m = confusion_matrix(drawings[1], drawn[name])  # last column: drawings to_mnist found blank
            results[name].update(drawing_confusion=m.tolist(), drawing_correct=int(np.trace(m)),
                                 drawing_set=drawings[3])
    return results


def write_studies(results, checkpoint_dir="checkpoints"):
    for name, data in results.items():
        write_json(paths(name, checkpoint_dir)[1].with_suffix(".study.json"), data)


def read_study(name, checkpoint_dir="checkpoints"):
    """-> the stored study of `name`, or None if there is none or it belongs to other weights."""
    path = paths(name, checkpoint_dir)[1].with_suffix(".study.json")
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if name != "ensemble" and data.get("weights_sha256") != read_metadata(name, checkpoint_dir).get("weights_sha256"):
        return None
    return data


def saliency(model, x):
    """Gradient x input of the answer's log-probability: (28, 28) float32, > 0 where ink pushed toward the answer.

    Exactly zero where the input is zero: only ink can push, so empty canvas never lights up.
    """
    model.eval()
    x = torch.as_tensor(x, dtype=torch.float32).view(1, 1, 28, 28).clone().requires_grad_()
    with torch.enable_grad():
        log_probs = torch.log_softmax(model(x), dim=1)
        # the input's gradient only: no gradients stored on the weights (a server would keep them, one
        # set per model, and accumulate into them from every visitor's thread)
        grad, = torch.autograd.grad(log_probs[0, log_probs.argmax()], x)
    return (grad * x).detach()[0, 0].numpy()


def saliency_image(x, sal, scale=10):
    """The 28x28 input in grey with saliency over it (red: toward the answer, blue: away), enlarged."""
    grey = 0.35 * np.asarray(x, np.float32)
    peak = max(float(np.abs(sal).max()), 1e-12)
    pos, neg = np.clip(sal / peak, 0, 1), np.clip(-sal / peak, 0, 1)
    rgb = np.stack([grey + 0.65 * pos, grey, grey + 0.65 * neg], axis=-1)
    rgb = (255 * np.clip(rgb, 0, 1)).astype(np.uint8)
    return rgb.repeat(scale, 0).repeat(scale, 1)
