"""Fast answers for one drawing at a time: each model as a frozen TorchScript graph, convolutions channels_last.

The same answers as the eager models (a test holds the probabilities within 1e-5 on real drawings) in
less than half the time at batch 1 on a CPU; `python benchmarks/bench_inference.py` measures both.
"""
import copy
import warnings

import torch


def frozen(model):
    """Eval-mode model -> a frozen graph traced at (1, 1, 28, 28), weights folded in as constants."""
    model = copy.deepcopy(model).eval()
    if any(p.dim() == 4 for p in model.parameters()):
        # at batch 1 PyTorch's default convolution is im2col + GEMM; oneDNN's channels_last kernels win
        model = model.to(memory_format=torch.channels_last)
    with torch.no_grad(), warnings.catch_warnings():
        # TorchScript is deprecated, yet freezing is still the fastest CPU path we measured at batch 1
        # (torch.compile costs seconds per model at start-up, which a Space pays on every restart)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape tests: constant for 28x28 input
        return torch.jit.freeze(torch.jit.trace(model, torch.zeros(1, 1, 28, 28)))
