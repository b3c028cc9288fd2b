"""Fast answers for one drawing at a time: each model exported to ONNX and run by ONNX Runtime.

The same answers as the eager models (a test holds the probabilities within 1e-5 on real drawings) in
about half the time of TorchScript at batch 1 on a CPU; `python benchmarks/bench_inference.py` measures both.
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
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    # Spinning threads wait for work by burning a core: with twelve sessions (and the server's own
    # threads) on two cores they starve each other, and twelve models took several times longer.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(graph.getvalue(), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x})[0]
