"""The Compare tab: training curves overlaid, accuracy against size (with the seed-to-seed spread),
each model's confusion matrices and most confident mistakes, the reference experiments and our own.

Everything shown is read from stored results (checkpoint JSON, NAME.study.json, repeats.json,
experiments/*.json); the pure functions below build what each component displays.
"""
import html
import math
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd

from mnist_models.experiments import REFERENCE_EXPERIMENTS, read_results, summarise
from mnist_models.figures import load_zoo
from mnist_models.repeats import read_repeats, summary
from mnist_models.report import batch_table, bf16_table, levers_table, tuned_rows
from mnist_models.study import mistake_image, read_study

CURVES = {"validation accuracy": "valid_accuracy", "validation loss": "valid_loss",
          "training loss": "train_loss", "gradient norm": "grad_norm", "parameter norm": "param_norm",
          "learning rate": "lr"}


class Zoo:
    """The stored results behind the tab, read once at start-up."""

    def __init__(self, checkpoint_dir, experiments_dir):
        self.checkpoint_dir, self.experiments_dir = checkpoint_dir, experiments_dir
        self.metadata = load_zoo(checkpoint_dir)
        self.repeats = read_repeats(Path(checkpoint_dir) / "repeats.json")
        # only the curves some checkpoint records (older ones lack the norms, the rate and training accuracy)
        self.curve_names = [label for label, field in CURVES.items()
                            if any(field in row for meta in self.metadata.values() for row in meta["history"])]

    def curves(self, names, curve):
        """-> long table (epoch, value, model) of one per-epoch field for the chosen models."""
        field = CURVES[curve]
        rows = [(row["epoch"], row[field], name) for name in names or [] if name in self.metadata
                for row in self.metadata[name]["history"] if field in row]
        return pd.DataFrame(rows, columns=["epoch", curve, "model"])

    def accuracy_vs_size(self, metric):
        """-> one point per run (every seed where repeated, else the committed checkpoint)."""
        key = "test_accuracy" if metric == "MNIST test" else "drawing_accuracy"
        rows = []
        for name, meta in self.metadata.items():
            runs = self.repeats.get(name, {}).get(key) or ([meta[key]] if key in meta else [])
            rows += [(round(math.log10(meta["parameters"]), 3), 100 * acc, name) for acc in runs]
        # log10: the zoo spans 60 thousand to 4.7 million parameters, and Gradio's plots have no log axis
        return pd.DataFrame(rows, columns=["log10 parameters", f"{metric} accuracy %", "model"])

    def spread_table(self):
        """Mean ± std per model over the repeated seeds (empty until `python -m mnist_models repeats`)."""
        rows = []
        test = {n: (m, s, k) for n, m, s, k in summary(self.repeats, "test_accuracy")}
        drawn = {n: (m, s, k) for n, m, s, k in summary(self.repeats, "drawing_accuracy")}
        def pm(mean, std, n):
            return f"{100 * mean:.2f} ± {100 * std:.2f}" if n > 1 else f"{100 * mean:.2f} (one run)"
        for name, (mean, std, n) in test.items():
            rows.append((name, n, pm(mean, std, n), pm(*drawn[name])))
        return pd.DataFrame(rows, columns=["model", "seeds", "MNIST test % (mean ± std)", "drawings % (mean ± std)"])

    def real_drawings(self):
        """Per architecture: MNIST only vs tuned on pen drawings, on MNIST test and on writers neither saw."""
        rows = []
        for r in tuned_rows(self.checkpoint_dir):
            (t0, t1), (h0, h1) = r["mnist_test"], r["heldout"]
            rows.append((r["name"], f"{100 * t0:.2f}", f"{100 * t1:.2f}", f"{100 * h0:.2f}", f"{100 * h1:.2f}",
                         f"{100 * (h1 - h0):+.2f}", r["spread"] or "one run"))
        return pd.DataFrame(rows, columns=["model", "MNIST test %: MNIST only", "MNIST test %: tuned",
                                           "unseen writers %: MNIST only", "unseen writers %: tuned", "gain, points",
                                           "tuned, over seeds"])

    def real_drawings_plot(self):
        """Points gained on unseen writers by tuning, per architecture (a bar each; Gradio stacks, never groups)."""
        rows = [(r["name"], round(100 * (r["heldout"][1] - r["heldout"][0]), 2)) for r in tuned_rows(self.checkpoint_dir)]
        return pd.DataFrame(rows, columns=["model", "points gained on unseen writers"])

    def up_close(self, name):
        """-> (confusion matrices' HTML, most confident mistakes) of one model, from one read of its study."""
        study = read_study(name, self.checkpoint_dir)
        return self.confusion(name, study), self.mistakes(name, study)

    def confusion(self, name, study=None):
        study = study or read_study(name, self.checkpoint_dir)
        if study is None:
            return "<p class='hint'>No study stored for this model: run `python -m mnist_models study`.</p>"
        parts = [confusion_html(study["mnist_confusion"], "MNIST test set")]
        if "drawing_confusion" in study:
            parts.append(confusion_html(study["drawing_confusion"], "real pen drawings (dev set)"))
        return "<div class='confusions'>" + "".join(parts) + "</div>"

    def mistakes(self, name, study=None):
        study = study or read_study(name, self.checkpoint_dir)
        if study is None:
            return []
        return [(np.kron(255 - mistake_image(m), np.ones((4, 4), np.uint8)),
                 f"#{m['index']}: true {m['label']}, said {m['predicted']} ({100 * m['confidence']:.1f} %)")
                for m in study["mistakes"] if "pixels" in m]

    def experiments(self, name):
        if not read_results(name, self.experiments_dir)["runs"]:
            return pd.DataFrame(columns=["setting", "reported %", "reproduced %", "ours %"])
        rows = {}
        for r in summarise(name, self.experiments_dir):
            row = rows.setdefault(r["label"], {"setting": r["label"], "reported %": r["reported"]})
            spread = f" ± {100 * r['std']:.2f}" if r["std"] is not None else ""
            row["reproduced %" if r["setting"] == "writeup" else "ours %"] = (
                f"{100 * r['mean']:.2f}{spread} (n={r['n']})")
        return pd.DataFrame(list(rows.values()), columns=["setting", "reported %", "reproduced %", "ours %"]).astype(object).fillna("—")

    def own_experiments(self):
        """Our own experiments (one change to every recipe, beside the repeats), as the README shows them."""
        return "\n\n".join(f"**{title}** (`python -m mnist_models experiment {name}`)\n\n"
                             f"{table(self.checkpoint_dir, self.experiments_dir)}"
                             for title, name, table in (("Batch 512, rate ×2", "batch-size", batch_table),
                                                        ("bf16 training steps", "bf16", bf16_table)))


def confusion_html(matrix, title):
    """A confusion matrix as a heat-mapped table: rows true digit, columns answer (+ blank for drawings)."""
    m = np.array(matrix)
    head = "".join(f"<th>{d}</th>" for d in range(10)) + ("<th>blank</th>" if m.shape[1] > 10 else "")
    body = []
    for t in range(10):
        cells = []
        for p in range(m.shape[1]):
            share = m[t, p] / max(1, m[t].sum())
            colour = f"rgba(60,130,255,{share:.2f})" if p == t else f"rgba(255,70,70,{min(1, 8 * share):.2f})"
            cells.append(f"<td style='background:{colour}'>{m[t, p] or ''}</td>")
        recall = 100 * m[t, t] / max(1, m[t].sum())
        body.append(f"<tr><th>{t}</th>{''.join(cells)}<td>{recall:.1f} %</td></tr>")
    correct, total = int(np.trace(m[:, :10])), int(m.sum())
    return (f"<table class='confusion'><caption>{html.escape(title)}: {correct:,}/{total:,} correct "
            f"({100 * correct / max(1, total):.2f} %)</caption><thead><tr><th>true ↓ said →</th>{head}"
            f"<th>recall</th></tr></thead><tbody>{''.join(body)}</tbody></table>")


CSS = """
.confusions { display: flex; flex-wrap: wrap; gap: 24px; }
.confusion { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 0.85em; }
.confusion td, .confusion th { padding: 2px 6px; text-align: right; border: 1px solid var(--border-color-primary); }
.confusion caption { text-align: left; font-weight: bold; padding-bottom: 4px; }
"""


def build(zoo, models):
    """The tab's components and events; call inside a `gr.Tab`."""
    names = list(zoo.metadata)
    gr.Markdown("Everything here comes from stored results: each checkpoint's per-epoch history, its study "
                "(`python -m mnist_models study`), the repeated runs and the reference experiments.")
    real = zoo.real_drawings()
    if len(real):
        gr.Markdown("### What real drawings buy each architecture\nEach architecture trained on MNIST only, and the "
                    "same one fine-tuned on MNIST plus real pen drawings, measured on MNIST test and on pen "
                    "drawings by writers neither version ever saw (held-out sources). Seeds: the fine-tune "
                    "repeated (`python -m mnist_models tuned-repeats`).")
        gr.BarPlot(zoo.real_drawings_plot(), x="model", y="points gained on unseen writers", x_label_angle=-45,
                   sort=list(zoo.real_drawings_plot()["model"]), label="What tuning on pen drawings gained",
                   elem_id="real-plot")
        gr.Dataframe(real, label="MNIST only vs tuned on pen drawings", interactive=False, elem_id="real-drawings")
        gr.Markdown("**Each lever of the tuned recipe**, alone (`python -m mnist_models levers`)\n\n"
                    + levers_table(zoo.experiments_dir), elem_id="levers")
    with gr.Row():
        chosen = gr.CheckboxGroup(names, value=[n for n in ("cnn", "lenet5", "mlp-500", "fcn-bn") if n in names],
                                  label="Models", elem_id="compare-models")
        curve = gr.Radio(zoo.curve_names, value="validation accuracy", label="Per-epoch curve")
    # No `height`: with a shown label, a fixed height cuts the legend's entries off below the x-axis
    # (Gradio 6.31), and a curve nobody can name is no use; the browser test checks they show.
    curves = gr.LinePlot(zoo.curves(chosen.value, curve.value), x="epoch", y=curve.value, color="model",
                         label="Training curves", elem_id="curves")

    def redraw(names_, curve_):
        return gr.LinePlot(zoo.curves(names_, curve_), x="epoch", y=curve_, color="model")
    gr.on([chosen.change, curve.change], redraw, [chosen, curve], curves, api_name=False)

    gr.Markdown("### Accuracy against size\nOne point per training run: every seed where the model was trained "
                "repeatedly, so the spread shows how much of a difference is seed-to-seed noise.")
    with gr.Row():
        metric = gr.Radio(["MNIST test", "drawings"], value="MNIST test", label="Measured on")
    size = gr.ScatterPlot(zoo.accuracy_vs_size("MNIST test"), x="log10 parameters", y="MNIST test accuracy %",
                          color="model", label="Accuracy against parameters (4 = 10,000; 6 = 1,000,000)",
                          elem_id="size")
    metric.change(lambda m: gr.ScatterPlot(zoo.accuracy_vs_size(m), y=f"{m} accuracy %"), metric, size,
                  api_name=False)
    gr.Dataframe(zoo.spread_table(), label="Repeated runs", interactive=False)

    gr.Markdown("### One model up close")
    one = gr.Dropdown(names, value=names[0] if names else None, label="Model", elem_id="compare-one")
    shown = zoo.up_close(one.value) if names else ("", [])
    confusion = gr.HTML(shown[0], elem_id="confusion")
    gallery = gr.Gallery(shown[1], label="Its most confident mistakes (MNIST test)",
                         columns=8, height=260, elem_id="mistakes", format="png")
    one.change(zoo.up_close, one, [confusion, gallery], api_name=False)

    gr.Markdown("### The reference experiments\nReported by the write-up → reproduced in its own setting → "
                "with our recipe (mean ± std over seeds). `python -m mnist_models experiment NAME` runs them.")
    for name in REFERENCE_EXPERIMENTS:
        gr.Dataframe(zoo.experiments(name), label=f"experiment: {name}", interactive=False)
    gr.Markdown("### Our own experiments\nOne change to every model's recipe, beside its repeated runs: same "
                "seed, same images in the same order, so the difference is paired. Holds = not lower beyond "
                "seed noise (the repeats' permutation test, p < 0.05).")
    gr.Markdown(zoo.own_experiments(), elem_id="own-experiments")
