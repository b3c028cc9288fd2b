"""The README's results table, generated from checkpoint metadata so no number is ever typed in."""
from .checkpoint import CheckpointError, read_metadata
from .models import list_models


def results_table(checkpoint_dir="checkpoints"):
    lines = ["| model | architecture | parameters | MNIST test accuracy | best epoch | train seconds | device |",
             "|---|---|---:|---:|---:|---:|---|"]
    for name in list_models():
        try:
            m = read_metadata(name, checkpoint_dir)
        except CheckpointError:
            lines.append(f"| `{name}` | not trained yet | | | | | |")
            continue
        lines.append(f"| `{name}` | {m['description']} | {m['parameters']:,} | {100 * m['test_accuracy']:.2f} % "
                     f"| {m['best_epoch']}/{m['epochs']} | {m['train_seconds']:.0f} | {m['device']} |")
    return "\n".join(lines)


START, END = "<!-- results:start -->", "<!-- results:end -->"


def readme_with_table(readme_text, checkpoint_dir="checkpoints"):
    """The README text with the block between the results markers regenerated."""
    head, rest = readme_text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{results_table(checkpoint_dir)}\n{END}{tail}"
