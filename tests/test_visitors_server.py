"""Visitors' drawings through the real server: 32 clients saving at once, a kill -9 in the middle of a burst,
hostile API input. Slow (a minute or two): `make check` leaves them to `make test`."""
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

import demo
from tests.conftest import _free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def digit_files(mnist_test, folder, n, offset=0):
    """n MNIST test digits as black-on-white 280x280 PNG files -> [(path, true label)]."""
    folder.mkdir(exist_ok=True)
    out = []
    for i in range(offset, offset + n):
        path = folder / f"{i}.png"
        ink = np.kron(mnist_test.x[i, 0].numpy(), np.ones((10, 10)))
        Image.fromarray((255 - 255 * ink).round().astype(np.uint8), "L").save(path)
        out.append((path, int(mnist_test.y[i])))
    return out


def inputs_of(path):
    """The stored 28x28 input each row of a database holds -> {input bytes: label}."""
    with sqlite3.connect(path) as db:
        return {bytes(r[0]): r[1] for r in db.execute("SELECT input, label FROM drawings")}


def expected_input(path):
    x = demo.drawing_to_mnist(str(path))
    return np.round(255 * x).astype(np.uint8).tobytes()


def test_32_clients_saving_at_once_lose_nothing(server_url, mnist_test, tmp_path):
    files = digit_files(mnist_test, tmp_path / "digits", 640)
    before = demo.drawings.count()
    sent = {}   # input bytes -> the label sent with it (not the true one: the row must hold what was sent)

    def client(k):
        c = Client(server_url, verbose=False)
        results = []
        for j in range(20):
            path, true = files[20 * k + j]
            results.append(c.predict(handle_file(str(path)), str((true + k) % 10), api_name="/save_drawing"))
        return results

    for k in range(32):
        for j in range(20):
            path, true = files[20 * k + j]
            sent[expected_input(path)] = (true + k) % 10
    with ThreadPoolExecutor(32) as pool:
        results = [r for batch in pool.map(client, range(32)) for r in batch]   # an error would raise here
    assert len(results) == 640 and len({r["saved"] for r in results}) == 640
    assert demo.drawings.count() == before + 640
    stored = inputs_of(demo.drawings.path)
    assert {k: stored[k] for k in sent} == sent       # every image there, with the label sent with it


def test_hostile_api_input_is_refused_and_nothing_is_written(server_url, mnist_test, tmp_path):
    from gradio_client.exceptions import AppError
    (good, _), = digit_files(mnist_test, tmp_path / "digits", 1)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    huge = tmp_path / "huge.png"
    Image.new("L", (8000, 5001), 255).save(huge)     # 40 MP
    c = Client(server_url, verbose=False)
    before = demo.drawings.count()
    cases = [(good, "-1", "one digit"), (good, "10", "one digit"), (good, "7; DROP TABLE drawings", "one digit"),
             (good, "x" * 1_000_000, "one digit"), (text, "3", "not an image file"), (huge, "3", "too")]
    for path, label, reason in cases:
        with pytest.raises(AppError, match=reason):
            c.predict(handle_file(str(path)), label, api_name="/save_drawing")
    assert demo.drawings.count() == before
    assert c.predict(handle_file(str(good)), "4", api_name="/save_drawing")["count"] == before + 1


def test_kill_9_in_the_middle_of_saves_keeps_every_acknowledged_one(mnist_test, tmp_path):
    db = tmp_path / "drawings.sqlite"
    port = _free_port()
    env = dict(os.environ, DRAWINGS_DB=str(db), DRAWINGS_PER_MINUTE="1000")
    server = subprocess.Popen([sys.executable, "-c", f"import demo; demo.demo.launch(server_name='127.0.0.1', "
                               f"server_port={port}, **demo.PAGE)"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                Client(url, verbose=False)
                break
            except Exception:
                time.sleep(0.5)
        files = digit_files(mnist_test, tmp_path / "digits", 200)
        acknowledged, lock, stop = [], threading.Lock(), threading.Event()

        def client(k):
            c = Client(url, verbose=False)
            for j in range(k, 200, 8):
                if stop.is_set():
                    return
                try:
                    saved = c.predict(handle_file(str(files[j][0])), str(files[j][1]), api_name="/save_drawing")
                except Exception:
                    return   # the server died under it: not acknowledged
                with lock:
                    acknowledged.append(saved["saved"])

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        while len(acknowledged) < 40:
            time.sleep(0.05)
        server.send_signal(signal.SIGKILL)
        server.wait()
        stop.set()
        for t in threads:
            t.join()
    finally:
        server.kill()
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = {r[0] for r in con.execute("SELECT id FROM drawings")}
    assert len(acknowledged) >= 40 and set(acknowledged) <= ids
