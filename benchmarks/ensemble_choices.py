"""Other ways to choose the ensemble, scored beside the committed choice. Prints figures; asserts nothing.

    MNIST_DIR=../shared/mnist python benchmarks/ensemble_choices.py --drawings ../shared/unipen/dev-digits.jsonl.gz
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mnist_models.data import load_splits  # noqa: E402
from mnist_models.ensemble import log_loss  # noqa: E402
from mnist_models.evaluate import drawings_as_mnist  # noqa: E402
from mnist_models.predict import Predictor, average, validation_accuracy  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--drawings", default="../shared/unipen/dev-digits.jsonl.gz")
    p.add_argument("--checkpoints", default="checkpoints")
    args = p.parse_args()

    predictor = Predictor(args.checkpoints)
    _, valid, test = load_splits("cpu")
    images, draw_labels, blank = drawings_as_mnist(args.drawings)
    probs = {split: predictor.predict_batch(x) for split, x in
             [("valid", valid.x), ("test", test.x), ("drawings", torch.from_numpy(images).unsqueeze(1))]}
    labels = {"valid": valid.y.numpy(), "test": test.y.numpy(), "drawings": draw_labels}

    def scores(members):
        out = {}
        for split, y in labels.items():
            mean = average(probs[split], members)
            pred = np.where(blank, -1, mean.argmax(1)) if split == "drawings" else mean.argmax(1)
            out[split] = 100 * (pred == y).mean()
            if split == "valid":
                out["loss"] = log_loss(mean, y)
        return out

    ranked = sorted(predictor.models, key=lambda n: validation_accuracy(predictor.metadata[n]), reverse=True)
    choices = {f"ensemble.json: {' + '.join(predictor.ensemble)}": predictor.ensemble}
    choices.update({f"top {k} by validation accuracy": ranked[:k] for k in (1, 2, 3, 4, 6, len(ranked))})
    choices.update({f"{ranked[0]} + {name}": [ranked[0], name] for name in ranked[1:6]})
    print(f"{'choice':<40}{'valid %':>8}{'loss':>8}{'MNIST test %':>14}{'drawings %':>12}")
    for name, members in choices.items():
        s = scores(members)
        print(f"{name:<40}{s['valid']:>8.2f}{s['loss']:>8.4f}{s['test']:>14.2f}{s['drawings']:>12.2f}")


if __name__ == "__main__":
    main()
