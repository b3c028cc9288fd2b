"""mnist_models: a zoo of classic MNIST architectures, their training, checkpoints and preprocessing."""
__version__ = "0.5.0"  # recorded with every visitor drawing (the app that answered it)

from .checkpoint import CheckpointError, load_model
from .models import count_parameters, create_model, describe_model, list_models
from .predict import Predictor, Sets
from .preprocess import to_mnist

__all__ = ["list_models", "create_model", "describe_model", "count_parameters", "load_model",
           "to_mnist", "Predictor", "Sets", "CheckpointError"]
