"""The README and docs/ pages: generated tables and log blocks match the stored results, every link works."""
import re
from pathlib import Path

import pytest

from mnist_models.report import readme_with_table, with_logs

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README] + sorted((ROOT / "docs").glob("*.md"))
NAMES = [str(p.relative_to(ROOT)) for p in PAGES]


def test_readme_is_read_in_five_minutes():
    assert len(README.read_text().splitlines()) <= 250


@pytest.mark.parametrize("page", NAMES)
def test_generated_tables_match_the_stored_results(page):
    text = (ROOT / page).read_text()
    assert text == readme_with_table(text, ROOT / "checkpoints", ROOT / "experiments"), "run: make docs"


@pytest.mark.parametrize("page", NAMES)
def test_log_blocks_are_the_stored_logs(page):
    text = (ROOT / page).read_text()
    assert text == with_logs(text, ROOT), "run: make docs"


def test_readme_starts_with_spaces_front_matter():
    front = README.read_text().split("---")[1]
    assert "sdk: gradio" in front and "app_file: demo.py" in front


def test_log_blocks_are_filled_from_their_files(tmp_path):
    (tmp_path / "b.txt").write_text("speed-up: 2.00x\n")
    text = "a\n<!-- log: b.txt -->\nold\n<!-- /log -->\nz"
    assert with_logs(text, tmp_path) == "a\n<!-- log: b.txt -->\n```\nspeed-up: 2.00x\n```\n<!-- /log -->\nz"


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {slug(m[1]) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def links(path):
    """Every markdown link and image target outside code blocks and inline code."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def test_slug_matches_githubs_rule():
    assert slug("Right for people it has never seen: the drawing-tuned set") == \
        "right-for-people-it-has-never-seen-the-drawing-tuned-set"
    assert slug("The demo (`demo.py`)") == "the-demo-demopy"


@pytest.mark.parametrize("page", NAMES)
def test_every_link_works(page):
    """Files and images exist, anchors name a heading of their page (web links are not fetched: no network)."""
    path = ROOT / page
    broken = []
    for target in links(path):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        where = (path.parent / file).resolve() if file else path
        if not where.exists():
            broken.append(target)
        elif anchor and where.suffix == ".md" and anchor not in anchors(where):
            broken.append(target)
    assert not broken, f"broken links in {page}: {broken}"


def test_readme_figures_are_drawn_from_the_stored_results(tmp_path):
    import numpy as np
    from PIL import Image

    from mnist_models.figures import write_figures
    written = write_figures(ROOT / "checkpoints", ROOT / "experiments", tmp_path)
    text = "".join(p.read_text() for p in PAGES)
    for path in written:
        committed = ROOT / "docs" / "figures" / path.name
        assert f"figures/{path.name}" in text, path.name
        assert committed.exists(), f"run: python -m mnist_models figures ({path.name} missing)"
        a, b = (np.asarray(Image.open(p).convert("RGB"), np.int16) for p in (path, committed))
        assert a.shape == b.shape and np.abs(a - b).mean() < 1.0, f"{path.name} is stale: python -m mnist_models figures"
