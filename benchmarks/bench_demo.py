"""Demo start-up time and prediction round trip through a real server. Prints figures; asserts nothing.

    python benchmarks/bench_demo.py [--requests 50]

The round trip is set beside Gradio's own floor, measured in the same run: a trivial endpoint of the
same shape (an image file in, JSON out, no work), served by Gradio on this machine.
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.machine import describe  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_demo(cpus=None, **env):
    """`python demo.py` on a free port of 127.0.0.1 with extra environment (and only on `cpus`, a set of CPU numbers,
    where given) -> (process, url) once it serves its page."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen([sys.executable, "demo.py"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "GRADIO_SERVER_PORT": str(port), **env},
                              preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return server, url
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"demo.py exited with status {server.returncode} before serving its page")
            time.sleep(0.05)


def trivial_server():
    """Gradio's floor: the /classify endpoint's shape with no work behind it -> (blocks, url)."""
    import gradio as gr
    with gr.Blocks() as blocks:
        image, result = gr.File(type="filepath", visible=False), gr.JSON(visible=False)
        gr.Button(visible=False).click(lambda path: {"models": {}, "ensemble": None}, image, result,
                                       api_name="classify")
    _, url, _ = blocks.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                              quiet=True)
    return blocks, url


def round_trips(client, path, n):
    """-> (sorted milliseconds of n calls after one warm-up, the last answer)."""
    from gradio_client import handle_file
    client.predict(handle_file(path), api_name="/classify")
    times = []
    for _ in range(n):
        t = time.perf_counter()
        result = client.predict(handle_file(path), api_name="/classify")
        times.append(1000 * (time.perf_counter() - t))
    return sorted(times), result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=50)
    args = p.parse_args()
    print(f"machine: {describe()}")

    code = "import time; t = time.perf_counter(); import demo; print(time.perf_counter() - t)"
    imports = [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                    check=True).stdout.split()[-1]) for _ in range(3)]
    print(f"import demo (models loaded, page built): median {statistics.median(imports):.2f} s of 3 {imports}")

    start = time.perf_counter()
    server, url = start_demo()
    try:
        print(f"python demo.py -> page served: {time.perf_counter() - start:.2f} s")

        from gradio_client import Client
        digit = np.full((800, 800), 255, np.uint8)
        digit[150:650, 380:420] = 0  # a "1"
        floor, floor_url = trivial_server()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "one.png")
            Image.fromarray(digit).save(path)
            # alternate the two servers in rounds, so that a slow moment of the machine hits both
            demo_ms, floor_ms = [], []
            demo_client, floor_client = Client(url, verbose=False), Client(floor_url, verbose=False)
            per_round = max(1, args.requests // 5)  # at least one request per round, however few asked for
            for _ in range(5):
                times, result = round_trips(demo_client, path, per_round)
                demo_ms += times
                floor_ms += round_trips(floor_client, path, per_round)[0]
        floor.close()
        assert result["ensemble"]["prediction"] == 1
        for label, times in (("/classify (800x800 PNG upload, both sets: 24 models + 2 ensembles)", demo_ms),
                             ("trivial endpoint, same shape (Gradio's floor)", floor_ms)):
            times.sort()
            print(f"{label}, {len(times)} requests: median {statistics.median(times):.1f} ms, "
                  f"p90 {times[int(0.9 * len(times))]:.1f} ms, min {times[0]:.1f} ms")
        print(f"/classify p50 / floor p50 = {statistics.median(demo_ms) / statistics.median(floor_ms):.2f}x")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
