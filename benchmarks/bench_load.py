"""The real demo server under load: many gradio_client clients at once on /classify, known answers checked.

    MNIST_DIR=../shared/mnist python benchmarks/bench_load.py [--clients 32] [--requests 20] [--concurrency 1,2] [--visitor]

For each queue concurrency setting (DEMO_CONCURRENCY), starts `python demo.py` on 127.0.0.1, then
--clients threads each send --requests drawings (MNIST test digits drawn dark on white at 400x400, whose
answer the models are known to give) and checks every answer. Prints errors, wrong answers, requests/s,
p50/p95 latency, and the server's resident memory after start, after 200 requests and at the end.
Clients and server share this machine's cores, as they did in the independent run the issue quotes.
--visitor adds a person at the page: a real browser drawing and waiting for each answer, idle and under load.
"""
import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bench_demo import start_demo  # noqa: E402
from benchmarks.machine import describe  # noqa: E402


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def known_drawings(folder, n=20):
    """-> [(png path, digit)] of MNIST test digits the ensemble answers correctly, as drawings."""
    from mnist_models import Predictor
    from mnist_models.data import load_mnist
    images, labels = load_mnist(train=False)
    predictor, drawings = Predictor(), []
    for i in range(len(labels)):
        canvas = Image.fromarray(255 - images[i].numpy()).resize((400, 400), Image.Resampling.BICUBIC)
        if predictor.predict(np.asarray(canvas))["ensemble"].argmax() == labels[i]:
            path = Path(folder) / f"{i}.png"
            canvas.save(path)
            drawings.append((str(path), int(labels[i])))
        if len(drawings) == n:
            return drawings


def load(url, drawings, clients, requests, server_pid):
    from gradio_client import Client, handle_file
    latencies, errors, wrong, done, rss_at_200 = [], [], [], [0], []
    lock = threading.Lock()

    def client_loop(k):
        client = Client(url, verbose=False)
        for r in range(requests):
            path, digit = drawings[(k + r) % len(drawings)]
            start = time.perf_counter()
            try:
                result = client.predict(handle_file(path), api_name="/classify")
            except Exception as e:  # noqa: BLE001 (every failure counts, whatever it is)
                with lock:
                    errors.append(repr(e)[:200])
                continue
            with lock:
                latencies.append(1000 * (time.perf_counter() - start))
                if result["ensemble"]["prediction"] != digit:
                    wrong.append((path, result["ensemble"]["prediction"], digit))
                done[0] += 1
                if done[0] == 200:
                    rss_at_200.append(rss_mib(server_pid))

    threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return latencies, errors, wrong, wall, rss_at_200[0] if rss_at_200 else float("nan")


def visitor(url, seconds, stop=None, rounds=None):
    """A person at the page meanwhile: headless chromium draws a 1 with the mouse, waits for the page's
    answer, clears, again -> [seconds from the end of the stroke to the answer] (None: never answered)."""
    from playwright.sync_api import expect, sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url, wait_until="load")
        canvas, status = page.locator("#sketch canvas").first, page.locator("#status")
        expect(canvas).to_be_visible(timeout=60_000)
        while not (stop is not None and stop.is_set()) and (rounds is None or len(seconds) < rounds):
            page.locator('#sketch button[aria-label="Clear canvas"]').click()
            expect(status).to_contain_text("Draw a digit", timeout=60_000)
            box = canvas.bounding_box()
            x, top = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2
            page.mouse.move(x, top)
            page.mouse.down()
            for i in range(1, 5):
                page.mouse.move(x, top + i * box["height"] * 0.15)
            page.mouse.up()
            start = time.perf_counter()
            try:
                expect(status).to_contain_text(": 1 (", timeout=60_000)
                seconds.append(time.perf_counter() - start)
            except AssertionError:
                seconds.append(None)
        browser.close()
    return seconds


def describe_visits(seconds):
    answered = sorted(s for s in seconds if s is not None)
    if not answered:
        return f"{len(seconds)} drawings, none answered"
    return (f"{len(answered)}/{len(seconds)} drawings answered; after the stroke: median "
            f"{statistics.median(answered):.2f} s, worst {answered[-1]:.2f} s")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--concurrency", default="1,2", help="DEMO_CONCURRENCY values to compare")
    p.add_argument("--visitor", action="store_true",
                   help="also a person drawing in a real browser (chromium), idle first, then during the load")
    args = p.parse_args()
    print(f"machine: {describe()}; "
          f"{args.clients} clients x {args.requests} requests to /classify, clients and server on this machine")
    with tempfile.TemporaryDirectory() as folder:
        drawings = known_drawings(folder)
        for concurrency in map(int, args.concurrency.split(",")):
            server, url = start_demo(DEMO_CONCURRENCY=str(concurrency))
            try:
                started = rss_mib(server.pid)
                if args.visitor:
                    idle = visitor(url, [], rounds=5)
                    under_load, stop = [], threading.Event()
                    person = threading.Thread(target=visitor, args=(url, under_load, stop))
                    person.start()
                latencies, errors, wrong, wall, at_200 = load(url, drawings, args.clients, args.requests, server.pid)
                if args.visitor:
                    stop.set()
                    person.join()
                ms = sorted(latencies)
                p95 = ms[int(0.95 * (len(ms) - 1))] if ms else float("nan")
                print(f"\nDEMO_CONCURRENCY={concurrency}: {len(ms)} answered, {len(errors)} errors, {len(wrong)} wrong; "
                      f"{len(ms) / wall:.1f} requests/s; latency p50 {statistics.median(ms) / 1000:.2f} s, "
                      f"p95 {p95 / 1000:.2f} s")
                print(f"  server resident memory: {started:.0f} MiB after start, {at_200:.0f} MiB after 200 "
                      f"requests, {rss_mib(server.pid):.0f} MiB after {len(ms) + len(errors)}")
                for e in errors[:3]:
                    print(f"  error: {e}")
                if args.visitor:
                    print(f"  a person drawing a 1 in chromium meanwhile: {describe_visits(under_load)}")
                    print(f"  the same person with the server idle, just before: {describe_visits(idle)}")
            finally:
                server.terminate()
                server.wait(timeout=30)


if __name__ == "__main__":
    main()
