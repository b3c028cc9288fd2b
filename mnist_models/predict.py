"""Predictor: every trained model loaded once, classifying the same drawing, plus their ensemble."""
import logging

import numpy as np
import torch

from .checkpoint import CheckpointError, load_model
from .models import list_models
from .preprocess import to_mnist

log = logging.getLogger(__name__)


class Predictor:
    """Loads every registered model that has a checkpoint; the rest are listed in `unavailable`."""

    def __init__(self, checkpoint_dir="checkpoints", names=None):
        self.models, self.metadata, self.unavailable = {}, {}, {}
        for name in names or list_models():
            try:
                self.models[name], self.metadata[name] = load_model(name, checkpoint_dir)
            except CheckpointError as e:
                self.unavailable[name] = str(e)
                log.warning("model %s unavailable: %s", name, e)

    @torch.inference_mode()
    def predict_mnist(self, x):
        """(28, 28) float32 in [0, 1] -> {name: probabilities (10,)} plus "ensemble" (mean of the models)."""
        batch = torch.as_tensor(x, dtype=torch.float32).view(1, 1, 28, 28)  # (28,28) -> (1,1,28,28)
        probs = {name: torch.softmax(model(batch), dim=1)[0].numpy() for name, model in self.models.items()}
        if probs:
            probs["ensemble"] = np.mean(list(probs.values()), axis=0)
        return probs

    def predict(self, image):
        """Any image of one digit -> predict_mnist's dict, or None if the image is blank."""
        x = to_mnist(image)
        return None if x is None else self.predict_mnist(x)
