"""Visitors' drawings: the one module that speaks SQL. A SQLite database (WAL) of the drawings visitors
labelled, each with every model's answer, and what those answers say about each model (Wilson intervals).
"""
import base64
import copy
import gzip
import io
import json
import math
import os
import sqlite3
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from .preprocess import ink_map

DEFAULT_DB = "data/drawings.sqlite"
POINTERS = ("mouse", "touch", "pen", "api", "unknown")
BUSY_SECONDS = 10     # a writer waits this long for another's transaction instead of failing at once
MARGIN = 0.15         # kept drawings: the ink's box plus this share of its longer side on each edge...
KEPT_SIDE = 256       # ...scaled down to at most this many pixels: a few kB of PNG, still readable
PAGE_SIZE = 4096

# Entry i (its statements) brings the schema from version i to i + 1 (PRAGMA user_version); append, never edit.
MIGRATIONS = [
    [
        """CREATE TABLE drawings (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,            -- the same id in the Hub shards and the export
            session TEXT NOT NULL,               -- random per page visit, for undo: never exported
            created TEXT NOT NULL,               -- UTC, to the minute
            label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
            pointer TEXT NOT NULL,
            app_version TEXT NOT NULL,
            drawing BLOB NOT NULL,               -- PNG, cropped to the ink plus a margin
            input BLOB NOT NULL CHECK (length(input) = 784),  -- the 28x28 model input, uint8
            answers TEXT NOT NULL                -- JSON {set: {model: {probabilities, sha256}}}
        )""",
        "CREATE INDEX drawings_session ON drawings (session, id)",
    ],
]


class SaveRefused(Exception):
    """The collection could not do what was asked (nothing was written), with the reason to show."""


@dataclass
class Limits:
    """What one collection and one visitor may add; past it saving says so and predicting goes on."""
    max_rows: int = int(os.environ.get("DRAWINGS_MAX_ROWS", 100_000))
    # enforced by SQLite itself too (max_page_count): the file cannot outgrow it
    max_bytes: int = int(os.environ.get("DRAWINGS_MAX_BYTES", 500_000_000))
    per_session: int = int(os.environ.get("DRAWINGS_PER_MINUTE", 30))  # saves per visitor per minute
    window_seconds: float = 60.0


def utc_minute(now=None):
    return (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%MZ")


def kept_png(image):
    """Any drawing -> PNG bytes: dark ink on white, cropped to its ink plus a margin, at most KEPT_SIDE px."""
    ink = ink_map(image, crop=True)
    pad = int(math.ceil(MARGIN * max(ink.shape)))
    ink = np.pad(ink, pad)
    picture = Image.fromarray((255 - np.round(255 * ink)).astype(np.uint8), "L")
    picture.thumbnail((KEPT_SIDE, KEPT_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, "PNG")  # optimize=True: 4 % smaller, twice the time of the whole save
    return out.getvalue()


def parse_label(value):
    """A label from a page or an API client -> int 0-9, else SaveRefused saying why."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value <= 9:
        return int(value)
    if isinstance(value, float) and value.is_integer() and 0 <= value <= 9:
        return int(value)
    if isinstance(value, str) and len(value.strip()) == 1 and value.strip() in "0123456789":
        return int(value.strip())
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    raise SaveRefused(f"the label must be one digit, 0 to 9; got {shown}")


def new_record(x, image, label, pointer, answers, app_version, session):
    """A row to save: x the (28, 28) model input in [0, 1], image the drawing it came from."""
    return {"uid": uuid.uuid4().hex, "session": session, "created": utc_minute(), "label": parse_label(label),
            "pointer": pointer if pointer in POINTERS else "unknown", "app_version": app_version,
            "drawing": kept_png(image), "input": np.round(255 * np.asarray(x, np.float32)).astype(np.uint8).tobytes(),
            "answers": answers}


def input_of(row):
    """A row's stored model input -> (28, 28) float32 in [0, 1]."""
    return np.frombuffer(row["input"], np.uint8).reshape(28, 28).astype(np.float32) / 255


FIELDS = ("uid", "session", "created", "label", "pointer", "app_version", "drawing", "input", "answers")
INSERT = f"INSERT {{}} INTO drawings ({', '.join(FIELDS)}) VALUES ({', '.join(':' + f for f in FIELDS)})"


def stored(record):
    """A record as its row holds it: the answers as compact JSON."""
    return dict(record, answers=json.dumps(record["answers"], separators=(",", ":")))


class Drawings:
    """The collection at `path` (created on the first save). Every call opens its own connection, so the
    server's threads and processes never share one; WAL lets readers go on while one writes."""

    def __init__(self, path=None, limits=None, mirror=None):
        self.path = Path(path or os.environ.get("DRAWINGS_DB") or DEFAULT_DB)
        self.limits = limits or Limits()
        self.mirror = mirror          # a mirror.Mirror where a Hub dataset keeps a copy, else None
        self._recent = {}             # session -> deque of save times (the rate limit)
        self._lock = threading.Lock()

    # ------------------------------------------------------------ connection and schema
    def _connect(self, create=False):
        if not create and not self.path.exists():
            return None
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}")
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA page_size = %d" % PAGE_SIZE)   # only takes effect on a new file
                db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")  # an acknowledged save survives a crash of the server
            page = db.execute("PRAGMA page_size").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {max(16, self.limits.max_bytes // page)}")
            self._migrate(db)
            return db
        except (sqlite3.Error, OSError) as e:
            raise SaveRefused(self.why(e)) from None

    def _migrate(self, db):
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise sqlite3.DatabaseError(f"schema version {version} is newer than this code ({len(MIGRATIONS)})")
        for i in range(version, len(MIGRATIONS)):
            db.execute("BEGIN IMMEDIATE")
            try:
                if db.execute("PRAGMA user_version").fetchone()[0] == i:  # another process may have done it
                    for statement in MIGRATIONS[i]:
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version = {i + 1}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def why(self, error):
        """A database error -> what a visitor (or the person running the server) should read."""
        text = str(error)
        if "full" in text:
            return f"the drawings database {self.path} is full (limit {self.limits.max_bytes:,} bytes)"
        if "readonly" in text or "read-only" in text or isinstance(error, PermissionError):
            return f"the drawings database {self.path} is read-only here"
        if "not a database" in text or "malformed" in text or "newer than" in text:
            return (f"the drawings database {self.path} is damaged ({text}): move the file aside and a new "
                    "one is created on the next save")
        return f"the drawings database {self.path} cannot be used ({text})"

    # ------------------------------------------------------------ writing
    def allow(self, session):
        """The per-visitor rate limit (successful saves only): SaveRefused, saying when to try again, past it."""
        now = time.monotonic()
        with self._lock:
            recent = self._recent.setdefault(session, deque())
            while recent and now - recent[0] > self.limits.window_seconds:
                recent.popleft()
            if len(recent) >= self.limits.per_session:
                wait = self.limits.window_seconds - (now - recent[0])
                raise SaveRefused(f"that is {len(recent)} saves in a minute, the most one visitor may make: "
                                  f"try again in {math.ceil(wait)} s")

    def _saved(self, session):
        with self._lock:
            self._recent.setdefault(session, deque()).append(time.monotonic())

    def save(self, record):
        """-> (id, count) once the row is on disk; SaveRefused, saying why, when nothing was written."""
        self.allow(record["session"])
        values = stored(record)
        size = len(values["drawing"]) + len(values["input"]) + len(values["answers"])
        db = self._connect(create=True)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                # the file's own size (what max_page_count caps), not a scan of every row on every save
                count = db.execute("SELECT count(*) FROM drawings").fetchone()[0]
                used = db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
                if count >= self.limits.max_rows or used + size > self.limits.max_bytes:
                    raise SaveRefused(f"the collection is full ({count:,} drawings, {used:,} bytes; limits "
                                      f"{self.limits.max_rows:,} drawings, {self.limits.max_bytes:,} bytes)")
                cursor = db.execute(INSERT.format(""), values)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            raise SaveRefused(self.why(e)) from None
        finally:
            db.close()
        self._saved(record["session"])
        if self.mirror:
            self.mirror.add(record)
        return cursor.lastrowid, count + 1

    def _delete(self, session, newest_only):
        db = self._connect()
        if db is None:
            return 0
        try:
            where = "session = ?" + (" AND id = (SELECT max(id) FROM drawings WHERE session = ?)" if newest_only else "")
            args = (session, session) if newest_only else (session,)
            uids = [r[0] for r in db.execute(f"SELECT uid FROM drawings WHERE {where}", args)]
            db.execute(f"DELETE FROM drawings WHERE {where}", args)
        except sqlite3.Error as e:
            raise SaveRefused(self.why(e)) from None
        finally:
            db.close()
        if self.mirror and uids:
            self.mirror.remove(uids)
        return len(uids)

    def undo_last(self, session):
        """Delete this session's newest drawing -> how many were deleted (0 or 1)."""
        return self._delete(session, newest_only=True)

    def delete_session(self, session):
        """Delete every drawing this session saved -> how many."""
        return self._delete(session, newest_only=False)

    def restore(self, records):
        """Rows from a mirror (a restarted Space) -> how many were new here."""
        db = self._connect(create=True)
        try:
            before = db.total_changes
            db.execute("BEGIN IMMEDIATE")
            db.executemany(INSERT.format("OR IGNORE"), [stored(r) for r in records])
            db.execute("COMMIT")
            return db.total_changes - before
        finally:
            db.close()

    # ------------------------------------------------------------ reading
    def count(self):
        db = self._connect()
        if db is None:
            return 0
        try:
            return db.execute("SELECT count(*) FROM drawings").fetchone()[0]
        finally:
            db.close()

    def rows(self, newest_first=False, limit=None, session=None, ids=None):
        """Every drawing (of `session`; with one of `ids`) as a dict, answers parsed, oldest first unless asked."""
        return list(self.each_row(newest_first, limit, session, ids))

    def each_row(self, newest_first=False, limit=None, session=None, ids=None):
        """`rows`, one at a time: the export streams the whole collection without holding it in memory. The file
        is opened here, so an unusable one is refused before the caller writes anything."""
        db = self._connect()
        if db is None:
            return iter(())
        where, values = [], []
        if session is not None:
            where.append("session = ?")
            values.append(session)
        if ids is not None:
            where.append(f"id IN ({', '.join('?' * len(ids))})")
            values += [int(i) for i in ids]
        sql = "SELECT * FROM drawings" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id" + (" DESC" if newest_first else "") + (f" LIMIT {int(limit)}" if limit else "")

        def stream():
            try:
                for r in db.execute(sql, values):
                    yield dict(r, answers=json.loads(r["answers"]))
            finally:
                db.close()
        return stream()

    def answered_since(self, after):
        """-> (the id, label, pointer and answers of every drawing with an id above `after`, oldest first; how many
        drawings there are now), both from one snapshot. No images: what measuring needs, and no more."""
        db = self._connect()
        if db is None:
            return [], 0
        try:
            db.execute("BEGIN")  # one read transaction: the count and the rows agree
            rows = [dict(r, answers=json.loads(r["answers"])) for r in db.execute(
                "SELECT id, label, pointer, answers FROM drawings WHERE id > ? ORDER BY id", (after,))]
            count = db.execute("SELECT count(*) FROM drawings").fetchone()[0]
            db.execute("COMMIT")
            return rows, count
        finally:
            db.close()

    def integrity(self):
        """PRAGMA integrity_check's answer ('ok' when the file is sound)."""
        db = self._connect()
        if db is None:
            return "ok"
        try:
            return "; ".join(r[0] for r in db.execute("PRAGMA integrity_check"))
        finally:
            db.close()


def public(row):
    """A row as it leaves the server (export, Hub shards): no session token, binary as base64."""
    out = {k: row[k] for k in FIELDS if k != "session"}
    out["drawing"] = base64.b64encode(row["drawing"]).decode()
    out["input"] = base64.b64encode(row["input"]).decode()
    return out


def from_public(item, session="restored"):
    return dict(item, session=session, drawing=base64.b64decode(item["drawing"]), input=base64.b64decode(item["input"]))


def export(drawings, out):
    """The whole collection -> OUT (.jsonl.gz, one drawing per line) -> how many rows."""
    n = 0
    with gzip.open(out, "wt", encoding="utf-8") as f:
        for row in drawings.each_row():
            f.write(json.dumps(public(row), separators=(",", ":")) + "\n")
            n += 1
    return n


# ---------------------------------------------------------------- what the answers say

def wilson(k, n, z=1.96):
    """95 % Wilson score interval of k successes in n -> (low, high) as fractions; (0, 1) for n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Measured:
    count: int = 0
    by_pointer: Counter = field(default_factory=Counter)
    correct: dict = field(default_factory=dict)   # "set/model" -> (right, answered)
    confusion: np.ndarray = field(default_factory=lambda: np.zeros((10, 10), int))  # the default answer's
    default: str = ""
    mistakes: list = field(default_factory=list)   # ids of the drawings the default answer got wrong, oldest first

    def accuracy(self):
        return {name: round(100 * k / n, 2) for name, (k, n) in self.correct.items() if n}

    def add(self, row):
        """Count one drawing: each model's answer (as answered when saved) against the visitor's label."""
        self.count += 1
        self.by_pointer[row["pointer"]] += 1
        for kind, models in row["answers"].items():
            for name, answer in models.items():
                key = f"{kind}/{name}"
                k, n = self.correct.get(key, (0, 0))
                said = argmax(answer["probabilities"])
                self.correct[key] = (k + (said == row["label"]), n + 1)
                if key == self.default:
                    self.confusion[row["label"], said] += 1
                    if said != row["label"]:
                        self.mistakes.append(row.get("id"))


def argmax(probabilities):
    """The digit answered: a list's largest entry's index (a tenth of np.argmax's time on a list of ten)."""
    return max(range(len(probabilities)), key=probabilities.__getitem__)


def measure(rows, default="tuned/ensemble"):
    """Rows -> Measured: each model's answers against the visitors' labels (as answered when saved)."""
    m = Measured(default=default)
    for row in rows:
        m.add(row)
    return m


class Tally:
    """A Measured kept up to date: each look reads only the drawings saved since the last one, so a page visit
    costs the same at 100,000 drawings as at 100. A deletion (undo, delete my session) starts it over."""

    def __init__(self, drawings, default="tuned/ensemble"):
        self.drawings, self.default = drawings, default
        self.measured, self.last = Measured(default=default), 0
        self._lock = threading.Lock()   # two visitors opening the Compare tab at once

    def __call__(self):
        """-> the Measured of every drawing in the database now."""
        with self._lock:
            rows, count = self.drawings.answered_since(self.last)
            if self.measured.count + len(rows) != count:   # a drawing counted before is gone
                self.measured, self.last = Measured(default=self.default), 0
                rows, count = self.drawings.answered_since(0)
            for row in rows:
                self.measured.add(row)
                self.last = row["id"]
            return copy.deepcopy(self.measured)   # a snapshot: the next look may add to the tally as it is read


def report(m):
    """Measured -> the `visitors` command's text, its last line one JSON object."""
    lines = [f"{m.count:,} labelled drawings by visitors"]
    if m.count:
        lines.append("by pointer: " + ", ".join(f"{p} {n:,}" for p, n in m.by_pointer.most_common()))
        lines += ["", f"{'model':<24} {'right':>7} {'of':>6} {'accuracy %':>11}  95 % interval (Wilson)"]
        for name, (k, n) in sorted(m.correct.items(), key=lambda item: -item[1][0] / max(1, item[1][1])):
            low, high = wilson(k, n)
            lines.append(f"{name:<24} {k:>7,} {n:>6,} {100 * k / n:>11.2f}  {100 * low:.1f} – {100 * high:.1f}")
        lines += ["", f"confusion of the default answer ({m.default}): rows drawn, columns answered",
                  "     " + " ".join(f"{d:>4}" for d in range(10))]
        lines += [f"{t:>4} " + " ".join(f"{v:>4}" for v in m.confusion[t]) for t in range(10)]
    lines.append(json.dumps({"count": m.count, "accuracy": m.accuracy()}))
    return "\n".join(lines)
