"""Predictor: every trained model loaded once, classifying the same drawing, plus their ensemble."""
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CheckpointError, load_model, paths, read_metadata
from .inference import onnx_runner
from .models import list_models
from .preprocess import to_mnist

log = logging.getLogger(__name__)


def average(probs, members):
    """{name: probabilities (..., 10)} -> the mean over the named members: how an ensemble combines."""
    return np.mean([probs[name] for name in members], axis=0)


def validation_accuracy(metadata):
    return next(h["valid_accuracy"] for h in metadata["history"] if h["epoch"] == metadata["best_epoch"])


def eager(model):
    """The model itself as a runner: the reference the fast path is held to."""
    @torch.inference_mode()  # also when called outside predict_mnist (Predictor.cost)
    def run(x):
        return model(torch.from_numpy(x)).numpy()
    return run


def softmax(logits):
    """(1, 10) logits -> (10,) probabilities, in numpy: no torch call per model on the fast path."""
    e = np.exp(logits[0] - logits[0].max())
    return e / e.sum()


def split_into_lanes(cost, n):
    """{name: cost} -> at most n lists of names whose total costs are as even as a greedy split makes them.

    Largest first, each to the lane with the least so far (longest-processing-time scheduling).
    """
    lanes = [[] for _ in range(max(1, min(n, len(cost))))]
    totals = [0] * len(lanes)
    for name in sorted(cost, key=cost.get, reverse=True):
        i = totals.index(min(totals))
        lanes[i].append(name)
        totals[i] += cost[name]
    return lanes


class Predictor:
    """Loads every registered model that has a checkpoint; the rest are listed in `unavailable`.

    One drawing at a time (`predict`, `predict_mnist`) runs each model in ONNX Runtime (inference.py),
    one thread per model and as many models side by side as torch has threads, unless fast=False;
    batches (`predict_batch`, which re-measures recorded accuracies) run the eager models.
    """

    def __init__(self, checkpoint_dir="checkpoints", names=None, fast=True):
        self.models, self.metadata, self.unavailable = {}, {}, {}
        for name in names or list_models():
            try:
                self.models[name], self.metadata[name] = load_model(name, checkpoint_dir)
            except CheckpointError as e:
                self.unavailable[name] = str(e)
                log.warning("model %s unavailable: %s", name, e)
        self.fast = fast
        self.ensemble, self.ensemble_metadata = self._read_ensemble(checkpoint_dir, warn=names is None)

    @functools.cached_property
    def runners(self):
        """name -> function (1, 1, 28, 28) float32 array -> logits (1, 10) array, for one drawing at a time.

        Made on first use: exporting every model takes a moment, and batches (evaluation, the ensemble's choice,
        training machines without onnxruntime) never need it.
        """
        return {name: onnx_runner(m) if self.fast else eager(m) for name, m in self.models.items()}

    @functools.cached_property
    def cost(self):
        """name -> milliseconds per drawing: a running mean over the drawings seen, first measured here.

        The lanes are balanced by it: at batch 1 a model's time depends on this machine (its memory, its
        cache, its cores) more than on any count we could make of its weights or arithmetic.
        """
        x = np.zeros((1, 1, 28, 28), np.float32)
        cost = {}
        for name, run in self.runners.items():
            run(x)  # the first call allocates
            start = time.perf_counter()
            run(x)
            cost[name] = 1000 * (time.perf_counter() - start)
        return cost

    def lanes(self):
        """The models split into groups that run side by side, balanced by their measured time.

        The eager reference path runs in one lane (torch threads each model itself).
        """
        return split_into_lanes(self.cost, torch.get_num_threads() if self.fast else 1)

    @functools.cached_property
    def _helpers(self):
        """Threads for every lane but the first, which the calling thread runs itself."""
        return ThreadPoolExecutor(max(1, torch.get_num_threads() - 1), thread_name_prefix="predictor-lane")

    def _read_ensemble(self, checkpoint_dir, warn=True):
        """-> (members, metadata) from ensemble.json, which `python -m mnist_models ensemble` writes.

        If it is missing or names other weights than those loaded, the best model by validation
        accuracy stands in alone, with no measurements.
        """
        try:
            meta = read_metadata("ensemble", checkpoint_dir)
            loaded = {name: m["weights_sha256"] for name, m in self.metadata.items()}
            if meta["members"] and all(loaded.get(name) == sha for name, sha in meta["members_sha256"].items()):
                return meta["members"], meta
            reason = "its members' weights have changed or are missing"
        except CheckpointError as e:
            reason = str(e)
        except KeyError as e:
            reason = f"written by an older version: no {e} field"
        if warn and self.models:
            log.warning("ensemble.json not usable (%s): run `python -m mnist_models ensemble`", reason)
        best = max(self.metadata, key=lambda name: validation_accuracy(self.metadata[name]), default=None)
        return [best] if best else [], {}

    @torch.inference_mode()
    def predict_mnist(self, x, timings=None, side_by_side=True):
        """(28, 28) float32 in [0, 1] -> {name: probabilities (10,)} plus "ensemble" (mean of its members).

        Pass a dict as `timings` to get each model's milliseconds for this input. side_by_side=False runs every
        model in the calling thread: background work (a visitor's save) then never takes the answers' threads.
        """
        batch = np.asarray(x, dtype=np.float32).reshape(1, 1, 28, 28)  # (28,28) -> (1,1,28,28)
        runners = self.runners

        def run_lane(names):
            answers = {}
            for name in names:
                start = time.perf_counter()
                answers[name] = softmax(runners[name](batch)), 1000 * (time.perf_counter() - start)
            return answers

        first, *rest = self.lanes() if side_by_side else [list(runners)]
        others = [self._helpers.submit(run_lane, lane) for lane in rest]
        answers = run_lane(first)
        for lane in others:
            answers.update(lane.result())
        probs = {name: answers[name][0] for name in runners}  # registry order, whichever lane ran it
        if side_by_side:  # background work's times (one lane, lowest priority) would unbalance the answers' lanes
            for name, (_, ms) in answers.items():
                self.cost[name] += (ms - self.cost[name]) / 10
        if timings is not None:
            timings.update({name: answers[name][1] for name in runners})
        if probs:
            probs["ensemble"] = self.combine(probs)
            if timings is not None:
                timings["ensemble"] = sum(timings[name] for name in self.ensemble)
        return probs

    def predict(self, image):
        """Any image of one digit -> predict_mnist's dict, or None if the image is blank."""
        x = to_mnist(image, fast=self.fast)
        return None if x is None else self.predict_mnist(x)

    @torch.inference_mode()
    def predict_batch(self, batch):
        """(N,1,28,28) float32 -> {name: probabilities (N, 10)} plus "ensemble", in one pass per model."""
        probs = {name: torch.softmax(model(batch), dim=1).numpy() for name, model in self.models.items()}
        probs["ensemble"] = self.combine(probs)
        return probs

    def combine(self, probs):
        """{name: probabilities (..., 10)} -> the ensemble's probabilities: the mean over its members."""
        return average(probs, self.ensemble)


SETS = {"tuned": "MNIST + pen drawings", "mnist": "MNIST only"}  # the default answer's set first


class Sets:
    """The zoo (MNIST only) and, where <checkpoints>/tuned/ holds it, the drawing-tuned set, side by side.

    `default` is the set whose ensemble gives the default answer: the tuned one when it exists.
    """

    def __init__(self, checkpoint_dir="checkpoints", names=None, fast=True):
        self.predictors = {}
        tuned_dir = Path(checkpoint_dir) / "tuned"
        present = [name for name in names or list_models() if paths(name, tuned_dir)[1].exists()]
        if present:
            self.predictors["tuned"] = Predictor(tuned_dir, names=present, fast=fast)
        self.predictors["mnist"] = Predictor(checkpoint_dir, names=names, fast=fast)
        self.default = next(name for name, p in self.predictors.items() if p.models or name == "mnist")

    def __getitem__(self, name):
        return self.predictors[name]

    def predict_mnist(self, x, timings=None, side_by_side=True):
        """(28, 28) -> {set: Predictor.predict_mnist's dict}; `timings` {set: {name: ms}} if given."""
        out = {}
        for name, predictor in self.predictors.items():
            ms = {}
            out[name] = predictor.predict_mnist(x, timings=ms, side_by_side=side_by_side)
            if timings is not None:
                timings[name] = ms
        return out

    def predict(self, image):
        """Any image of one digit -> {set: {name: probabilities, "ensemble": ...}}, or None if blank."""
        x = to_mnist(image, fast=self.predictors["mnist"].fast)
        return None if x is None else self.predict_mnist(x)
