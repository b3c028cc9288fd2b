"""The README's results table is exactly what the committed checkpoints' metadata says."""
from pathlib import Path

import pytest

from mnist_models.report import readme_with_table, with_logs

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_results_table_matches_checkpoints():
    text = README.read_text()
    assert text == readme_with_table(text), "run: python -m mnist_models table --update README.md"


def test_readme_starts_with_spaces_front_matter():
    front = README.read_text().split("---")[1]
    assert "sdk: gradio" in front and "app_file: demo.py" in front


@pytest.mark.parametrize("doc", ["README.md", "BENCHMARKS.md"])
def test_benchmark_figures_are_the_stored_logs(doc):
    text = (ROOT / doc).read_text()
    assert text == with_logs(text, ROOT), f"run: python -m mnist_models table --update {doc}"


def test_log_blocks_are_filled_from_their_files(tmp_path):
    (tmp_path / "b.txt").write_text("speed-up: 2.00x\n")
    text = "a\n<!-- log: b.txt -->\nold\n<!-- /log -->\nz"
    assert with_logs(text, tmp_path) == "a\n<!-- log: b.txt -->\n```\nspeed-up: 2.00x\n```\n<!-- /log -->\nz"


def test_readme_figures_are_drawn_from_the_stored_results(tmp_path):
    import numpy as np
    from PIL import Image

    from mnist_models.figures import write_figures
    written = write_figures(ROOT / "checkpoints", ROOT / "experiments", tmp_path)
    text = README.read_text()
    for path in written:
        committed = ROOT / "docs" / "figures" / path.name
        assert f"docs/figures/{path.name}" in text, path.name
        assert committed.exists(), f"run: python -m mnist_models figures ({path.name} missing)"
        a, b = (np.asarray(Image.open(p).convert("RGB"), np.int16) for p in (path, committed))
        assert a.shape == b.shape and np.abs(a - b).mean() < 1.0, f"{path.name} is stale: python -m mnist_models figures"
