"""Fast answers for one drawing at a time: each model exported to ONNX and run by ONNX Runtime.

The same answers as the eager models (a test holds the probabilities within 1e-5 on real drawings) in
less than half their time at batch 1 on a CPU; `python benchmarks/bench_inference.py` measures both.
"""
import io
import warnings

import torch


def onnx_runner(model):
    """Eval-mode model -> a function (1, 1, 28, 28) float32 array -> logits (1, 10) array, run by ONNX Runtime.

    The model is exported in memory at load time, never stored: the checkpoint stays the one source of
    its weights (the exporter puts the model in eval mode and back: no copy needed). onnxruntime is
    imported here so that training (on machines without it) never needs it.
    """
    import onnxruntime

    graph = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated, yet needs no onnxscript
        torch.onnx.export(model, (torch.zeros(1, 1, 28, 28),), graph, dynamo=False,
                          input_names=["x"], output_names=["logits"])
    options = onnxruntime.SessionOptions()
    # One thread per model: at batch 1 splitting each layer across cores costs a thread wake-up per
    # layer; the Predictor runs whole models side by side instead (12 models: 3.3 -> 2.0 ms on 2 cores).
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(graph.getvalue(), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x})[0]
