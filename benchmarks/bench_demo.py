"""Demo start-up time and prediction round trip through a real server. Prints figures; asserts nothing.

    python benchmarks/bench_demo.py [--requests 50]

The round trip is set beside Gradio's own floor, measured in the same run: a trivial endpoint of the
same shape (an image file in, JSON out, no work), served by Gradio on this machine. Both are called as a
browser tab calls them (`Probe`); through gradio_client, which polls every 50 ms, both came out at ~99 ms.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import httpx
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


class Probe:
    """/classify as a browser tab calls it: one session, the upload, the queue, the session's event stream (what
    Gradio's own JS client does). gradio_client polls for its messages every 50 ms, too coarse a clock for a few
    milliseconds' change; Gradio's /call/ API starts a new session per call, which costs a page of this size
    about 10 ms more than a visitor ever pays."""

    def __init__(self, url):
        self.url, self.http, self.session = url, httpx.Client(timeout=60), uuid.uuid4().hex[:11]
        config = self.http.get(url + "config").json()
        self.fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "classify")

    def classify(self, path):
        """An image file -> /classify's answer."""
        with open(path, "rb") as f:
            served = self.http.post(self.url + "gradio_api/upload", files={"files": (Path(path).name, f, "image/png")})
        joined = self.http.post(self.url + "gradio_api/queue/join", json={
            "data": [{"path": served.json()[0], "meta": {"_type": "gradio.FileData"}}], "fn_index": self.fn_index,
            "session_hash": self.session, "event_data": None, "trigger_id": None})
        event = joined.json()["event_id"]
        with self.http.stream("GET", self.url + f"gradio_api/queue/data?session_hash={self.session}") as stream:
            for line in stream.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("event_id") == event and message.get("msg") == "process_completed":
                    if not message.get("success", True):
                        raise RuntimeError(f"/classify failed: {message}")
                    return message["output"]["data"][0]
        raise RuntimeError("/classify: the event stream ended without an answer")


def round_trips(probe, path, n):
    """-> (sorted milliseconds of n calls after one warm-up, the last answer)."""
    probe.classify(path)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        result = probe.classify(path)
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

        digit = np.full((800, 800), 255, np.uint8)
        digit[150:650, 380:420] = 0  # a "1"
        floor, floor_url = trivial_server()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "one.png")
            Image.fromarray(digit).save(path)
            # alternate the two servers in rounds, so that a slow moment of the machine hits both
            demo_ms, floor_ms = [], []
            demo_probe, floor_probe = Probe(url), Probe(floor_url)
            per_round = max(1, args.requests // 5)  # at least one request per round, however few asked for
            for _ in range(5):
                times, result = round_trips(demo_probe, path, per_round)
                demo_ms += times
                floor_ms += round_trips(floor_probe, path, per_round)[0]
            import demo  # the handler's own work on the same file, in this process: what the server adds to the floor
            demo.classify(path)
            work_ms = []
            for _ in range(args.requests):
                t = time.perf_counter()
                demo.classify(path)
                work_ms.append(1000 * (time.perf_counter() - t))
        floor.close()
        assert result["ensemble"]["prediction"] == 1
        for label, times in (("/classify (800x800 PNG upload, both sets: 24 models + 2 ensembles)", demo_ms),
                             ("trivial endpoint, same shape (Gradio's floor)", floor_ms)):
            times.sort()
            print(f"{label}, {len(times)} requests: median {statistics.median(times):.1f} ms, "
                  f"p90 {times[int(0.9 * len(times))]:.1f} ms, min {times[0]:.1f} ms")
        print(f"/classify p50 / floor p50 = {statistics.median(demo_ms) / statistics.median(floor_ms):.2f}x; the "
              f"difference, {statistics.median(demo_ms) - statistics.median(floor_ms):.1f} ms, beside the handler's own "
              f"work on the same file in-process (demo.classify): median {statistics.median(work_ms):.1f} ms")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
