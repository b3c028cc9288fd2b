"""Real pen strokes replayed with the mouse on the real page (issue 10's lost strokes). Prints figures.

    python benchmarks/bench_pen_replay.py [--drawings 63] [--points 8]

For each UNIPEN dev drawing (a seeded sample across writers): "Clear canvas", wait for the page's
"Draw a digit" state, then replay every stroke with the mouse in headless chromium (each stroke thinned
to at most --points points: every mouse event costs ~0.4 s of software rendering here) and wait up to
20 s for an answer. A drawing that never gets one is a lost drawing; its screenshot is kept.
"""
import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_demo import start_demo  # noqa: E402
from mnist_models.drawings import read_drawings  # noqa: E402

ANSWER = re.compile(r": \d \(|Not sure")


def mouse_paths(strokes, box, points):
    """Strokes in pen coordinates -> mouse paths in page pixels, the digit ~60 % of the canvas tall, centred."""
    xs = [x for s in strokes for x, _ in s]
    ys = [y for s in strokes for _, y in s]
    scale = 0.6 * box["height"] / max(max(ys) - min(ys), 1e-6)
    scale = min(scale, 0.8 * box["width"] / max(max(xs) - min(xs), 1e-6))
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    paths = []
    for stroke in strokes:
        step = max(1, -(-len(stroke) // points))
        kept = stroke[::step] + ([stroke[-1]] if (len(stroke) - 1) % step else [])
        paths.append([(box["x"] + box["width"] / 2 + (x - cx) * scale, box["y"] + box["height"] / 2 + (y - cy) * scale)
                      for x, y in kept])
    return paths


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--drawings", type=int, default=63)
    p.add_argument("--points", type=int, default=8, help="most mouse points per stroke")
    p.add_argument("--unipen", default=os.environ.get("UNIPEN_DEV", str(ROOT.parent / "shared/unipen/dev-digits.jsonl.gz")))
    args = p.parse_args()
    from playwright.sync_api import expect, sync_playwright

    drawings = read_drawings(args.unipen, limit=args.drawings)
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; {len(drawings)} UNIPEN dev "
          f"drawings, at most {args.points} mouse points per stroke")
    server, url = start_demo()
    answered, correct, lost, seconds = 0, 0, [], []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(url, wait_until="load")
            canvas = page.locator("#sketch canvas").first
            expect(canvas).to_be_visible(timeout=30_000)
            status = page.locator("#status")
            for i, (label, strokes) in enumerate(drawings):
                page.locator('#sketch button[aria-label="Clear canvas"]').click()
                expect(status).to_contain_text("Draw a digit", timeout=20_000)
                start = time.perf_counter()
                for path in mouse_paths(strokes, canvas.bounding_box(), args.points):
                    page.mouse.move(*path[0])
                    page.mouse.down()
                    for point in path[1:]:
                        page.mouse.move(*point)
                    page.mouse.up()
                try:
                    expect(status).to_contain_text(ANSWER, timeout=20_000)
                    answered += 1
                    correct += f": {label} (" in status.inner_text()
                    seconds.append(time.perf_counter() - start)
                except AssertionError:
                    lost.append((i, label, len(strokes)))
                    page.screenshot(path=str(out / f"pen-replay-lost-{i}.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait()
    print(f"answered {answered}/{len(drawings)} drawings ({correct} correctly, by the default model); "
          f"never answered: {lost or 'none'}")
    if seconds:
        seconds.sort()
        print(f"from the first stroke to the answer: median {seconds[len(seconds) // 2]:.1f} s (replaying included)")


if __name__ == "__main__":
    main()
