"""The README's results table is exactly what the committed checkpoints' metadata says."""
from pathlib import Path

from mnist_models.report import readme_with_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_results_table_matches_checkpoints():
    text = README.read_text()
    assert text == readme_with_table(text), "run: python -m mnist_models table --update README.md"


def test_readme_starts_with_spaces_front_matter():
    front = README.read_text().split("---")[1]
    assert "sdk: gradio" in front and "app_file: demo.py" in front
