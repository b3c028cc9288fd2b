"""A copy of the visitors' drawings that outlives a Space's disk: append-only JSONL shards in a folder that
huggingface_hub's CommitScheduler pushes to a Hub dataset, read back on start-up by a restarted Space.
"""
import json
import logging
import os
import threading
import uuid
from pathlib import Path

from .visitors import from_public, public

log = logging.getLogger(__name__)
SHARDS = "shards"   # the shards' folder inside the dataset repo


class Mirror:
    """Appends each saved row, and each deletion as a tombstone, to this process's own shard in `folder`;
    never rewrites a line, so what the scheduler already pushed stays valid."""

    def __init__(self, folder, scheduler=None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shard = self.folder / f"drawings-{uuid.uuid4().hex[:12]}.jsonl"  # one writer per file
        self.lock = scheduler.lock if scheduler else threading.Lock()  # no push sees half a line
        self.scheduler = scheduler

    def _append(self, item):
        with self.lock, open(self.shard, "a", encoding="utf-8") as f:
            f.write(json.dumps(item, separators=(",", ":")) + "\n")

    def add(self, row):
        self._append(public(row))

    def remove(self, uids):
        for uid in uids:
            self._append({"deleted": uid})


def replay(folder):
    """Every shard under `folder` -> the rows they leave (deletions applied), oldest first."""
    rows, deleted = {}, set()
    for shard in sorted(Path(folder).rglob("*.jsonl")):
        for line in shard.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a crash mid-write: the rest still counts
                log.warning("skipped an unreadable line in %s", shard)
                continue
            if "deleted" in item:
                deleted.add(item["deleted"])
            else:
                rows[item["uid"]] = item
    return [from_public(item) for uid, item in sorted(rows.items(), key=lambda kv: kv[1]["created"])
            if uid not in deleted]


def from_environment(drawings, folder="data/drawings-shards"):
    """Where DRAWINGS_DATASET (a Hub dataset id) and a token (HF_TOKEN) are set: bring back what earlier runs
    pushed, then push new rows every few minutes. Off (None) when unset."""
    repo, token = os.environ.get("DRAWINGS_DATASET"), os.environ.get("HF_TOKEN")
    if not repo or not token:
        return None
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError
    try:
        restored = huggingface_hub.snapshot_download(repo, repo_type="dataset", token=token,
                                                     allow_patterns=[f"{SHARDS}/*.jsonl"],
                                                     local_dir=Path(folder).parent / "drawings-restored")
        log.info("restored %d drawing(s) from %s", drawings.restore(replay(restored)), repo)
    except RepositoryNotFoundError:  # the first start: the scheduler creates it
        log.info("%s does not exist yet: it is created with the first push", repo)
    scheduler = huggingface_hub.CommitScheduler(repo_id=repo, repo_type="dataset", folder_path=folder, path_in_repo=SHARDS,
                                every=5, token=token, private=True)
    return Mirror(folder, scheduler)
