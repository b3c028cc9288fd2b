"""Visitors' drawings: the database (WAL, migrations, limits, damaged / read-only / full files), the page's
and the API's checks, the Hub shards and a restart from them, the measure (Wilson) and the CLI."""
import gzip
import io
import json
import os
import sqlite3
import subprocess
import sys
import threading

import httpx
import numpy as np
import pytest
from PIL import Image

import demo
from mnist_models import mirror
from mnist_models.visitors import (MIGRATIONS, Drawings, Limits, SaveRefused, argmax, input_of, measure,
                                   parse_label, report, wilson)
from tabs.visitors import Collection
from tests.test_demo import sketchpad_value

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def digits(mnist_test):
    """The first 40 MNIST test digits as the sketchpad sends them, with their labels."""
    return [(sketchpad_value(mnist_test.x[i, 0].numpy()), int(mnist_test.y[i])) for i in range(40)]


def collection(path, **limits):
    return Collection(Drawings(path, Limits(**limits)), demo.sets, demo.sketch_to_array)


def test_a_save_keeps_what_was_drawn_and_every_models_answer(tmp_path, digits):
    c = collection(tmp_path / "d.sqlite")
    sketch, label = digits[0]
    saved, count = c.save(sketch, label, "touch", "visit-1")
    assert (saved, count) == (1, 1)
    row = c.drawings.rows()[0]
    assert row["label"] == label and row["pointer"] == "touch" and row["session"] == "visit-1"
    assert row["created"].endswith("Z") and len(row["created"]) == len("2026-12-05T01:02Z")  # to the minute
    np.testing.assert_array_equal(input_of(row), np.round(255 * demo.drawing_to_mnist(sketch)) / 255)
    png = Image.open(io.BytesIO(row["drawing"]))
    assert png.mode == "L" and max(png.size) <= 256 and len(row["drawing"]) < 20_000   # cropped, small
    for kind, predictor in demo.sets.predictors.items():    # both sets, every model, its weights' sha256
        answers = row["answers"][kind]
        assert set(answers) == set(predictor.models) | {"ensemble"}
        for name in predictor.models:
            assert answers[name]["sha256"] == predictor.metadata[name]["weights_sha256"]
            assert abs(sum(answers[name]["probabilities"]) - 1) < 1e-3
    with sqlite3.connect(tmp_path / "d.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        columns = {r[1] for r in db.execute("PRAGMA table_info(drawings)")}
    assert not columns & {"ip", "user_agent", "account", "host"}


@pytest.mark.parametrize("label", [-1, 10, 3.5, True, None, "", "7; DROP TABLE drawings", "x" * 1_000_000,
                                   "12", [4], {"label": 4}])
def test_a_bad_label_is_refused_with_its_reason_and_nothing_is_written(tmp_path, digits, label):
    c = collection(tmp_path / "d.sqlite")
    with pytest.raises(SaveRefused, match="one digit, 0 to 9") as e:
        c.save(digits[0][0], label, "mouse", "v")
    assert len(str(e.value)) < 120                 # a 1 MB label is not echoed back
    assert c.drawings.count() == 0


@pytest.mark.parametrize("label, expected", [(0, 0), (9, 9), ("4", 4), (" 7 ", 7), (np.int64(3), 3), (2.0, 2)])
def test_good_labels(label, expected):
    assert parse_label(label) == expected


def test_blank_unreadable_and_huge_drawings_are_refused(tmp_path, digits):
    c = collection(tmp_path / "d.sqlite")
    blank = sketchpad_value(np.zeros((28, 28)))
    with pytest.raises(SaveRefused, match="blank"):
        c.save(blank, 3, "mouse", "v")
    text = tmp_path / "not-an-image.png"
    text.write_text("hello")
    with pytest.raises(SaveRefused, match="not an image file"):
        c.save(str(text), 3, "api", "v")
    huge = tmp_path / "huge.png"
    Image.new("L", (8000, 5001), 255).save(huge)   # 40 MP: refused from the header, never decoded
    with pytest.raises(SaveRefused, match="too"):
        c.save(str(huge), 3, "api", "v")
    assert c.drawings.count() == 0


def test_the_pages_saves_run_in_one_lowest_priority_thread_with_the_same_result(tmp_path, digits):
    c = collection(tmp_path / "d.sqlite")
    sketch, label = digits[0]
    message, session = c.label(label)(sketch, "mouse", None, None)   # the page's path: through the background
    assert message.startswith("✅ Saved as") and c.drawings.count() == 1
    row = c.drawings.rows()[0]
    np.testing.assert_array_equal(input_of(row), np.round(255 * demo.drawing_to_mnist(sketch)) / 255)
    with pytest.raises(SaveRefused, match="blank"):                   # its refusals reach the caller
        c.save_in_background(sketch_blank(), 3, "mouse", session)
    thread = c.background.submit(threading.get_native_id).result()
    assert thread != threading.get_native_id()
    if hasattr(os, "SCHED_IDLE"):   # Linux: the saves' thread only runs when a CPU would otherwise idle
        assert os.sched_getscheduler(thread) == os.SCHED_IDLE
        assert os.sched_getscheduler(threading.get_native_id()) != os.SCHED_IDLE   # and nothing else is lowered
    # its answers: every model of both sets, run in that thread (none on the answers' lanes), same as side by side
    x = demo.drawing_to_mnist(sketch)
    alone, side_by_side = demo.sets.predict_mnist(x, side_by_side=False), demo.sets.predict_mnist(x)
    for kind in side_by_side:
        for name in side_by_side[kind]:
            np.testing.assert_allclose(alone[kind][name], side_by_side[kind][name], atol=1e-6)


def sketch_blank():
    return sketchpad_value(np.zeros((28, 28)))


def test_undo_and_delete_touch_only_this_visits_drawings(tmp_path, digits):
    c = collection(tmp_path / "d.sqlite")
    for i, (sketch, label) in enumerate(digits[:6]):
        c.save(sketch, label, "mouse", "mine" if i % 2 else "theirs")
    assert "Deleted your last" in c.undo("mine")
    assert [r["session"] for r in c.drawings.rows()].count("mine") == 2
    assert "Deleted the 2 drawing(s)" in c.forget("mine")
    assert "nothing" in c.forget("mine").lower() and "Nothing" in c.undo(None)
    assert [r["session"] for r in c.drawings.rows()] == ["theirs"] * 3


def test_the_rate_limit_and_the_caps_say_so_and_predictions_go_on(tmp_path, digits):
    c = collection(tmp_path / "rate.sqlite", per_session=5)
    for sketch, label in digits[:5]:
        c.save(sketch, label, "mouse", "fast")
    with pytest.raises(SaveRefused, match="try again in"):
        c.save(digits[5][0], digits[5][1], "mouse", "fast")
    c.save(digits[5][0], digits[5][1], "mouse", "another visitor")   # the limit is per visitor
    rows = collection(tmp_path / "rows.sqlite", max_rows=3)
    for sketch, label in digits[:3]:
        rows.save(sketch, label, "mouse", "v")
    with pytest.raises(SaveRefused, match="collection is full"):
        rows.save(digits[3][0], digits[3][1], "mouse", "v")
    assert rows.drawings.count() == 3
    message, _ = rows.label(4)(digits[3][0], "mouse", "v", None)
    assert message.startswith("⚠️ Not saved: the collection is full")
    assert demo.analyse(digits[3][0], "ensemble")[0] is not None         # the Draw tab still answers


def test_a_full_database_file_refuses_cleanly_and_stays_sound(tmp_path, digits):
    """max_bytes is also SQLite's max_page_count: the file itself cannot grow past it."""
    c = collection(tmp_path / "full.sqlite", max_bytes=80_000)
    saved = 0
    with pytest.raises(SaveRefused, match="full") as e:
        for sketch, label in digits:
            c.save(sketch, label, "mouse", f"v{saved}")
            saved += 1
    assert 0 < saved < len(digits) and "full" in str(e.value)
    assert c.drawings.count() == saved and c.drawings.integrity() == "ok"
    assert os.path.getsize(tmp_path / "full.sqlite") <= 80_000


def test_a_damaged_database_names_its_file_and_the_fix(tmp_path, digits):
    path = tmp_path / "damaged.sqlite"
    path.write_bytes(b"this is not a database, it was overwritten" * 100)
    c = collection(path)
    message, _ = c.label(3)(digits[0][0], "mouse", None, None)
    assert "Not saved" in message and str(path) in message and "move the file aside" in message
    assert str(path) in c.measured()[0]                     # the Compare tab says why instead of failing
    assert demo.analyse(digits[0][0], "ensemble")[0] is not None
    assert path.read_bytes().startswith(b"this is not a database")   # nothing was written over it
    path.unlink()
    assert c.save(digits[0][0], digits[0][1], "mouse", "v")[1] == 1  # moved aside: a new one is created


def read_only(path):
    """A read-only file and folder, even for root (who ignores permission bits): the immutable flag."""
    os.chmod(path, 0o444)
    os.chmod(path.parent, 0o555)
    if os.access(path, os.W_OK):
        subprocess.run(["chattr", "+i", str(path), str(path.parent)], check=True)
    return lambda: (subprocess.run(["chattr", "-i", str(path), str(path.parent)], capture_output=True),
                    os.chmod(path.parent, 0o755), os.chmod(path, 0o644))


def test_a_read_only_database_says_so(tmp_path, digits):
    folder = tmp_path / "ro"
    folder.mkdir()
    c = collection(folder / "d.sqlite")
    c.save(digits[0][0], digits[0][1], "mouse", "v")
    with sqlite3.connect(folder / "d.sqlite") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    undo = read_only(folder / "d.sqlite")
    try:
        message, _ = c.label(3)(digits[1][0], "mouse", "v", None)
        assert "Not saved" in message and ("read-only" in message or "cannot be" in message), message
        assert demo.analyse(digits[1][0], "ensemble")[0] is not None
    finally:
        undo()
    assert c.drawings.count() == 1


def test_schema_migrations_run_once_and_a_newer_schema_is_refused(tmp_path, digits):
    path = tmp_path / "d.sqlite"
    c = collection(path)
    c.save(digits[0][0], digits[0][1], "mouse", "v")
    c.save(digits[1][0], digits[1][1], "mouse", "v")           # reopening: no second CREATE TABLE
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(SaveRefused, match="newer than this code"):
        c.drawings.count()


def test_hub_shards_survive_a_restart_deletions_included(tmp_path, digits):
    """Off the network: rows and deletions go to the scheduler's folder as JSONL; a new disk rebuilds from it."""
    shards = tmp_path / "shards"
    first = Drawings(tmp_path / "space-1.sqlite", Limits(), mirror.Mirror(shards))
    c = Collection(first, demo.sets, demo.sketch_to_array)
    for i, (sketch, label) in enumerate(digits[:5]):
        c.save(sketch, label, "mouse", "a" if i < 4 else "b")
    c.undo("a")
    lines = [json.loads(line) for f in shards.glob("*.jsonl") for line in f.read_text().splitlines()]
    assert len(lines) == 6 and all("session" not in line for line in lines)   # 5 rows and 1 tombstone
    restarted = Drawings(tmp_path / "space-2.sqlite")                          # the Space's fresh disk
    assert restarted.restore(mirror.replay(shards)) == 4
    assert [r["uid"] for r in restarted.rows()] == [r["uid"] for r in first.rows()]
    assert [r["drawing"] for r in restarted.rows()] == [r["drawing"] for r in first.rows()]
    assert restarted.restore(mirror.replay(shards)) == 0                       # a second start adds nothing


def test_wilson_interval_matches_hand_computed_values():
    # 95 % Wilson intervals (z = 1.96), computed by hand: 8/10 -> [0.4902, 0.9433], 0/10 -> [0, 0.2775]
    assert np.allclose(wilson(8, 10), (0.4902, 0.9433), atol=1e-4)
    assert np.allclose(wilson(0, 10), (0.0, 0.2775), atol=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_measure_counts_each_models_answers_against_the_labels():
    def row(label, said, pointer):
        probs = [0.0] * 10
        probs[said] = 1.0
        return {"label": label, "pointer": pointer, "answers": {"tuned": {"ensemble": {"probabilities": probs},
                                                                          "cnn": {"probabilities": probs}}}}
    m = measure([row(4, 4, "mouse"), row(4, 9, "touch"), row(7, 7, "touch")])
    assert m.count == 3 and m.by_pointer == {"touch": 2, "mouse": 1}
    assert m.correct["tuned/cnn"] == (2, 3) and m.confusion[4, 9] == 1 and m.confusion.sum() == 3
    last = report(m).splitlines()[-1]
    assert json.loads(last) == {"count": 3, "accuracy": {"tuned/ensemble": 66.67, "tuned/cnn": 66.67}}


def same_measure(a, b):
    return (a.count, a.by_pointer, a.correct) == (b.count, b.by_pointer, b.correct) and (a.confusion == b.confusion).all()


def test_the_compare_tabs_tally_reads_only_new_drawings_and_starts_over_after_a_deletion(tmp_path, digits):
    c = collection(tmp_path / "d.sqlite")
    for i, (sketch, label) in enumerate(digits[:6]):
        c.save(sketch, label, "mouse" if i % 2 else "touch", "a" if i < 3 else "b")
    assert same_measure(c.tally(), measure(c.drawings.rows(), c.default))
    asked = []                                   # which drawings each look reads: those after `after`
    read = c.drawings.answered_since
    c.drawings.answered_since = lambda after: (asked.append(after), read(after))[1]
    c.save(*digits[6], "pen", "a")
    m = c.tally()
    assert asked == [6] and m.count == 7 and m.by_pointer["pen"] == 1
    assert same_measure(m, measure(c.drawings.rows(), c.default))
    c.forget("b")                                # three counted drawings gone: counted again from the start
    asked.clear()
    m = c.tally()
    assert asked == [7, 0] and m.count == 4 and same_measure(m, measure(c.drawings.rows(), c.default))
    assert c.tally().count == 4 and asked[-1] == 7  # nothing new: one look, no rows


def test_the_gallery_shows_the_newest_mistakes_of_the_default_answer(tmp_path, digits, monkeypatch):
    c = collection(tmp_path / "d.sqlite")
    wrong = [(sketch, (label + 1) % 10) for sketch, label in digits[:5]]   # labelled wrongly on purpose
    for sketch, label in wrong + digits[5:12]:
        c.save(sketch, label, "mouse", "v")
    m = c.tally()
    assert m.mistakes[:5] == [1, 2, 3, 4, 5]     # the right-labelled ones: the default answer rarely misses
    monkeypatch.setattr("tabs.visitors.GALLERY", 3)
    captions = [caption for _, caption in c.latest_mistakes(m)]
    newest = m.mistakes[-3:][::-1]
    rows = {row["id"]: row for row in c.drawings.rows()}
    assert captions == [f"drawn {rows[i]['label']}, answered {argmax(rows[i]['answers']['tuned']['ensemble']['probabilities'])} "
                        f"({rows[i]['created']})" for i in newest]


def test_visitors_command_reports_and_exports(tmp_path, digits):
    c = collection(tmp_path / "d.sqlite")
    for sketch, label in digits[:4]:
        c.save(sketch, label, "pen", "v")
    run = [sys.executable, "-m", "mnist_models", "visitors", "--db", str(tmp_path / "d.sqlite")]
    out = subprocess.run(run, capture_output=True, text=True, cwd=ROOT, check=True).stdout
    last = json.loads(out.strip().splitlines()[-1])
    assert last["count"] == 4 and set(last["accuracy"]) >= {"tuned/ensemble", "mnist/cnn"}
    assert "by pointer: pen 4" in out and "95 % interval" in out
    subprocess.run(run[:4] + ["export", "--db", str(tmp_path / "d.sqlite"), "--out", str(tmp_path / "all.jsonl.gz")],
                   capture_output=True, text=True, cwd=ROOT, check=True)
    with gzip.open(tmp_path / "all.jsonl.gz", "rt") as f:
        exported = [json.loads(line) for line in f]
    assert [e["label"] for e in exported] == [label for _, label in digits[:4]]
    assert all("session" not in e for e in exported)


def test_the_hub_copy_is_off_unless_configured_and_a_first_start_needs_no_dataset(tmp_path, monkeypatch, digits):
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError
    drawings = Drawings(tmp_path / "d.sqlite")
    monkeypatch.delenv("DRAWINGS_DATASET", raising=False)
    assert mirror.from_environment(drawings, tmp_path / "shards") is None
    made = {}

    class Scheduler:   # stands in for CommitScheduler: no network here
        def __init__(self, **kwargs):
            made.update(kwargs)
            self.lock = threading.Lock()

    def missing(*args, **kwargs):
        raise RepositoryNotFoundError("no such dataset",
                                      response=httpx.Response(404, request=httpx.Request("GET", "https://hf.co")))

    monkeypatch.setenv("DRAWINGS_DATASET", "someone/drawings")
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", missing)
    monkeypatch.setattr(huggingface_hub, "CommitScheduler", Scheduler)
    copy = mirror.from_environment(drawings, tmp_path / "shards")
    assert made["repo_id"] == "someone/drawings" and made["repo_type"] == "dataset" and made["path_in_repo"] == "shards"
    Collection(Drawings(tmp_path / "d.sqlite", mirror=copy), demo.sets, demo.sketch_to_array).save(
        digits[0][0], digits[0][1], "mouse", "v")
    assert len(mirror.replay(tmp_path / "shards")) == 1   # what the scheduler pushes
