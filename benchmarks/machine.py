"""One line naming the machine a benchmark ran on: its figures mean nothing without it."""
import os
import platform
from pathlib import Path


def cpu_model():
    """The CPU's model name as Linux reports it (e.g. 'AMD EPYC 7B13'), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe():
    return f"{cpu_model()} ({platform.machine()}), {os.cpu_count()} CPUs, Python {platform.python_version()}"


def describe_training(device):
    """The machine line of a training benchmark: the CPU, torch's threads, the GPU it ran on, torch's version."""
    import torch
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "no GPU"
    return f"{describe()}; {torch.get_num_threads()} torch threads, {gpu}, torch {torch.__version__}"
