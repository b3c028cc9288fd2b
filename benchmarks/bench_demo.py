"""Demo start-up time and prediction round trip through a real server. Prints figures; asserts nothing.

    python benchmarks/bench_demo.py [--requests 50]
"""
import argparse
import os
import platform
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=50)
    args = p.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")

    code = "import time; t = time.perf_counter(); import demo; print(time.perf_counter() - t)"
    imports = [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                    check=True).stdout.split()[-1]) for _ in range(3)]
    print(f"import demo (models loaded, page built): median {statistics.median(imports):.2f} s of 3 {imports}")

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    start = time.perf_counter()
    server = subprocess.Popen([sys.executable, "demo.py"], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ, "GRADIO_SERVER_PORT": str(port)})
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        print(f"python demo.py -> page served: {time.perf_counter() - start:.2f} s")

        from gradio_client import Client, handle_file
        client = Client(url, verbose=False)
        digit = np.full((800, 800), 255, np.uint8)
        digit[150:650, 380:420] = 0  # a "1"
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "one.png")
            Image.fromarray(digit).save(path)
            client.predict(handle_file(path), api_name="/classify")  # warm-up
            times = []
            for _ in range(args.requests):
                t = time.perf_counter()
                result = client.predict(handle_file(path), api_name="/classify")
                times.append(1000 * (time.perf_counter() - t))
        assert result["ensemble"]["prediction"] == 1
        times.sort()
        print(f"/classify round trip (800x800 PNG upload, 12 models + ensemble), {args.requests} requests: "
              f"median {statistics.median(times):.1f} ms, p90 {times[int(0.9 * len(times))]:.1f} ms, "
              f"min {times[0]:.1f} ms")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
