"""How well are *drawings* recognised? Pen-drawn digits rendered like the sketchpad, through the demo's path.

    python -m mnist_models evaluate --drawings ../shared/unipen/dev-digits.jsonl.gz [--limit N]
"""
import numpy as np
import torch

from .drawings import rendered
from .preprocess import to_mnist


def drawings_as_mnist(path, limit=None, seed=0):
    """-> (images (N,28,28) float32, labels (N,), blank mask (N,)): every drawing after to_mnist."""
    labels, inputs = [], []
    for label, canvas in rendered(path, limit, seed):
        labels.append(label)
        inputs.append(to_mnist(canvas))
    images, blank = stack_inputs(inputs)
    return images, np.array(labels), blank


def stack_inputs(inputs):
    """to_mnist results (each (28,28) or None) -> (images (N,28,28) float32, blank mask (N,)); blank = zeros."""
    blank = np.array([x is None for x in inputs])
    return np.stack([np.zeros((28, 28), np.float32) if x is None else x for x in inputs]), blank


def drawing_scores(predictor, images, labels, blank):
    """-> ({name: accuracy}, {name: predictions}); a blank drawing counts as wrong for every model."""
    probs = predictor.predict_batch(torch.from_numpy(images).unsqueeze(1))  # (N,28,28) -> (N,1,28,28)
    preds = {name: np.where(blank, -1, p.argmax(1)) for name, p in probs.items()}
    return {name: float((p == labels).mean()) for name, p in preds.items()}, preds


def confusion_matrix(labels, preds):
    m = np.zeros((10, 11), int)  # last column: no prediction (blank)
    for t, p in zip(labels, preds):
        m[t, p if p >= 0 else 10] += 1
    return m


def format_confusion(m):
    lines = ["true\\pred " + " ".join(f"{d:>5}" for d in range(10)) + "  blank  recall"]
    for t in range(10):
        lines.append(f"{t:>9} " + " ".join(f"{v:>5}" for v in m[t, :10]) + f"  {m[t, 10]:>5}  "
                     f"{100 * m[t, t] / max(1, m[t].sum()):5.1f}%")
    return "\n".join(lines)


def mnist_test_scores(predictor, data_dir=None):
    """-> {name: number correct} on the MNIST test set, ensemble included (CPU, float32)."""
    from .data import load_mnist
    images, labels = load_mnist(train=False, data_dir=data_dir)
    probs = predictor.predict_batch(images.unsqueeze(1).float().div(255))  # (N,28,28) -> (N,1,28,28)
    return {name: int((p.argmax(1) == labels.numpy()).sum()) for name, p in probs.items()}
