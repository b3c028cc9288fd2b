"""The README's figures, drawn only from stored results (checkpoint JSON, repeats.json, experiments/*.json).

    python -m mnist_models figures      # -> docs/figures/*.png
"""
from pathlib import Path

import numpy as np

from .checkpoint import CheckpointError, read_metadata
from .experiments import REFERENCE_EXPERIMENTS, read_results, summarise
from .models import list_models
from .repeats import read_repeats

CURVES = [("valid_accuracy", "validation accuracy"), ("valid_loss", "validation loss"),
          ("grad_norm", "gradient norm (mean per epoch)"), ("param_norm", "parameter norm")]


def load_zoo(checkpoint_dir="checkpoints"):
    zoo = {}
    for name in list_models():
        try:
            zoo[name] = read_metadata(name, checkpoint_dir)
        except CheckpointError:
            pass
    return zoo


def write_figures(checkpoint_dir="checkpoints", experiments_dir="experiments", out="docs/figures"):
    """Draw every figure whose data exists; -> the paths written."""
    import matplotlib
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    zoo, repeats = load_zoo(checkpoint_dir), read_repeats(Path(checkpoint_dir) / "repeats.json")
    colour = {name: plt.get_cmap("tab20")(i % 20) for i, name in enumerate(list_models())}  # one per model, all figures
    written = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        written.append(out / name)

    # accuracy against size, with the seed-to-seed spread where repeats exist
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, metric, title in zip(axes, ("test_accuracy", "drawing_accuracy"), ("MNIST test", "drawings (dev set)")):
        for name, meta in zoo.items():
            runs = repeats.get(name, {}).get(metric, [])
            if len(runs) > 1:
                ax.errorbar(meta["parameters"], 100 * np.mean(runs), yerr=100 * np.std(runs, ddof=1), fmt="o",
                            capsize=3, color=colour[name])
            elif metric in meta:
                ax.plot(meta["parameters"], 100 * meta[metric], "o", color=colour[name])
            else:
                continue
            ax.annotate(name, (meta["parameters"], 100 * (np.mean(runs) if len(runs) > 1 else meta[metric])),
                        fontsize=7, xytext=(4, 2), textcoords="offset points")
        ax.set(xscale="log", xlabel="parameters", ylabel="accuracy %", title=title)
        ax.grid(alpha=0.3)
    fig.suptitle("Accuracy against size" + (" (mean ± std over seeds where repeated)" if repeats else ""))
    save(fig, "accuracy_vs_parameters.png")

    # training curves of the committed checkpoints, for the fields their histories record
    curves = [(field, title) for field, title in CURVES
              if any(field in row for meta in zoo.values() for row in meta["history"])]
    fig, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 4.2), squeeze=False)
    for ax, (field, title) in zip(axes.flat, curves):
        for name, meta in zoo.items():
            rows = [row for row in meta["history"] if field in row]
            if rows:
                ax.plot([r["epoch"] for r in rows], [r[field] for r in rows], label=name, lw=1, color=colour[name])
        ax.set(xlabel="epoch", title=title)
        if field == "valid_loss":
            ax.set_yscale("log")
        if field == "valid_accuracy":
            ax.set_ylim(0.97, 1.0)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7, ncol=2)
    save(fig, "training_curves.png")

    for experiment in REFERENCE_EXPERIMENTS:
        rows = summarise(experiment, experiments_dir) if read_results(experiment, experiments_dir)["runs"] else []
        if not rows:
            continue
        labels = list(dict.fromkeys(r["label"] for r in rows))
        fig, ax = plt.subplots(figsize=(max(7, 0.7 * len(labels)), 4.2))
        x, width = np.arange(len(labels)), 0.28
        reported = [next((r["reported"] for r in rows if r["label"] == label), None) for label in labels]
        ax.bar(x - width, [np.nan if v is None else v for v in reported], width, label="reported")
        for offset, setting, name in ((0, "writeup", "reproduced (write-up's setting)"), (width, "ours", "our recipe")):
            vals = {r["label"]: r for r in rows if r["setting"] == setting}
            ax.bar(x + offset, [100 * vals[label]["mean"] if label in vals else np.nan for label in labels], width,
                   yerr=[100 * (vals[label]["std"] or 0) if label in vals else 0 for label in labels],
                   capsize=2, label=name)
        ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
        finite = [v for r in rows for v in [100 * r["mean"]]] + [v for v in reported if v]
        bottom = max(0, min(v for v in finite if v > 50) - 1)
        ax.set_ylim(bottom, 100)
        for i, v in enumerate(reported):  # a collapsed run far below the others: say so rather than hide it
            if v is not None and v < bottom:
                ax.annotate(f"{v:.2f}\n(off scale)", (x[i] - width, bottom), ha="center", va="bottom", fontsize=7)
        ax.set(ylabel="MNIST test accuracy %")
        ax.set_title(f"experiment: {experiment} (mean ± std over seeds)", pad=24)
        ax.legend(fontsize=8, ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0))  # above, off the bars
        ax.grid(alpha=0.3, axis="y")
        save(fig, f"experiment_{experiment}.png")
    return written
