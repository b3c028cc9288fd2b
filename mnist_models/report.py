"""The README's results table and the benchmark figures in the docs, generated from stored results
(checkpoint metadata, benchmark logs) so no number is ever typed in."""
import re
from pathlib import Path

from .checkpoint import CheckpointError, read_metadata
from .models import list_models


def results_table(checkpoint_dir="checkpoints"):
    lines = ["| model | architecture | parameters | MNIST test accuracy | drawing accuracy | best epoch "
             "| train seconds | device |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for name in list_models() + ["ensemble"]:
        try:
            m = read_metadata(name, checkpoint_dir)
        except CheckpointError:
            lines.append(f"| `{name}` | not trained yet | | | | | | |")
            continue
        drawing = f"{100 * m['drawing_accuracy']:.2f} %" if "drawing_accuracy" in m else "not measured"
        if name == "ensemble":
            lines.append(f"| **ensemble** | mean of the probabilities of {', '.join(m['members'])} ({m['selection']}) "
                         f"| | {100 * m['test_accuracy']:.2f} % | {drawing} | | | |")
            continue
        lines.append(f"| `{name}` | {m['description']} | {m['parameters']:,} | {100 * m['test_accuracy']:.2f} % "
                     f"| {drawing} | {m['best_epoch']}/{m['epochs']} | {m['train_seconds']:.0f} | {m['device']} |")
    return "\n".join(lines)


START, END = "<!-- results:start -->", "<!-- results:end -->"


def readme_with_table(readme_text, checkpoint_dir="checkpoints"):
    """The README text with the block between the results markers regenerated."""
    if START not in readme_text:
        return readme_text
    head, rest = readme_text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{results_table(checkpoint_dir)}\n{END}{tail}"


# <!-- log: benchmarks/results/X.txt --> ... <!-- /log -->: the stored output of a benchmark run, verbatim
LOG_BLOCK = re.compile(r"(<!-- log: (\S+) -->\n).*?(<!-- /log -->)", re.S)


def with_logs(text, root="."):
    """Every log block refilled from the file it names (relative to `root`)."""
    def fill(m):
        return f"{m[1]}```\n{(Path(root) / m[2]).read_text().rstrip()}\n```\n{m[3]}"
    return LOG_BLOCK.sub(fill, text)
