"""Draw a digit and watch every model in the zoo classify it, side by side (Gradio app; Hugging Face Spaces).

The logic is pure functions (`analyse`, `classify`) that tests call without a server; `demo` is the page.
"""
import html
import logging
import os
import time

import gradio as gr
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from mnist_models import Sets, mirror, to_mnist
from mnist_models.predict import SETS
from mnist_models.preprocess import check_size
from mnist_models.study import saliency, saliency_image
from mnist_models.visitors import Drawings
from tabs import compare
from tabs import train as train_tab
from tabs import visitors

log = logging.getLogger("demo")
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKPOINTS = os.environ.get("MNIST_CHECKPOINTS", os.path.join(HERE, "checkpoints"))
EXPERIMENTS = os.environ.get("MNIST_EXPERIMENTS", os.path.join(HERE, "experiments"))
CANVAS = 800          # px: the sketchpad's own resolution (what it delivers), shown scaled to fit its box
BRUSH = 25            # px on that canvas: after to_mnist's scaling, close to MNIST's stroke width
LOW_CONFIDENCE = 0.5  # below this the ensemble is unsure: say so rather than pretend

started = time.perf_counter()
torch.set_num_threads(min(4, os.cpu_count() or 1))  # a 2-vCPU Space: don't oversubscribe
sets = Sets(CHECKPOINTS)  # the zoo (MNIST only) and the drawing-tuned set, where checkpoints/tuned/ has it
predictor = sets["mnist"]
for each in sets.predictors.values():
    each.cost  # the models exported and timed now, not during the first visitor's drawing
if predictor.unavailable:
    log.warning("%d model(s) unavailable (%s); `python train_all.py` creates them",
                len(predictor.unavailable), ", ".join(predictor.unavailable))
# The default answer is the first choice, the ensemble, of the default set (the tuned one where it exists).
CHOICES = (["ensemble"] if predictor.models else []) + list(predictor.models)
DEFAULT_MODEL = CHOICES[0] if CHOICES else None
TRAINED_ON = [SETS[name] for name in sets.predictors if sets[name].models]  # the switch's choices
DEFAULT_SET = SETS[sets.default]


def set_named(label):
    """The switch's label -> that set's Predictor (the default set's for anything else)."""
    return sets[next((name for name, shown in SETS.items() if shown == label and name in sets.predictors),
                     sets.default)]


# ---------------------------------------------------------------- pure logic

def sketch_to_array(value):
    """gr.Sketchpad's value ({"background", "layers", "composite"}), a file path or an array -> array, or
    None if there is nothing; ValueError, saying why, for anything else."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("composite")
    if isinstance(value, str):  # a filepath, when called through the API
        try:
            with Image.open(value) as image:
                check_size(image.height, image.width)  # from the header: a huge image is never decoded
                image.load()
                value = image
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as e:
            raise ValueError(f"not an image file this demo can read ({type(e).__name__}): upload a PNG or JPEG "
                             "of one digit") from None
    if value is None:
        return None
    if not isinstance(value, (np.ndarray, Image.Image)):
        raise ValueError(f"expected a sketchpad value, an image file or an array, got {type(value).__name__}")
    return value


def drawing_to_mnist(value):
    """Sketchpad value, file path or array -> the 28x28 model input, or None if blank."""
    image = sketch_to_array(value)
    return None if image is None else to_mnist(image)


def probabilities_for(x):
    """(28,28) -> ({set: {name: probs}}, {set: {name: milliseconds}}) with each model timed on this drawing."""
    ms = {}
    return sets.predict_mnist(x, timings=ms), ms


def measured(m):
    """'MNIST test accuracy · drawing accuracy' of one metadata dict, as far as it was measured."""
    parts = [f"MNIST test accuracy: **{100 * m['test_accuracy']:.2f} %**"] if "test_accuracy" in m else []
    if "heldout_drawing_accuracy" in m:
        parts.append(f"accuracy on {m['heldout_set']['n']:,} pen drawings by writers it never saw (sources "
                     f"{', '.join(m['heldout_set']['sources'])}): **{100 * m['heldout_drawing_accuracy']:.2f} %**")
    elif "drawing_accuracy" in m:
        parts.append(f"accuracy on {m['drawing_set']['n']:,} real pen drawings: **{100 * m['drawing_accuracy']:.2f} %**")
    return " · ".join(parts)


def heldout_of(name, chosen):
    """A model's accuracy on the held-out writers, for either set: the zoo's is recorded beside its tuned twin."""
    if chosen is predictor and "tuned" in sets.predictors:
        tuned = sets["tuned"]
        twin = (tuned.ensemble_metadata if name == "ensemble" else tuned.metadata.get(name, {})).get("twin", {})
        return twin.get("heldout_drawing_accuracy")
    meta = chosen.ensemble_metadata if name == "ensemble" else chosen.metadata.get(name, {})
    return meta.get("heldout_drawing_accuracy")


def seen_by(m):
    """Which data a checkpoint saw, in words."""
    if m.get("set") == "tuned":
        d = m["drawings"]
        return (f"Trained on: **MNIST + {d['train_drawings']:,} pen drawings** by {d['train_writers']} writers "
                f"(sources {', '.join(d['train_sources'])}), fine-tuned from the MNIST-only {m['name']}")
    return "Trained on: **MNIST only**"


def enlarge(x, factor=10):
    """28x28 in [0,1] -> 280x280 uint8 with hard pixel edges (nearest neighbour, no browser blur)."""
    return np.kron((x * 255).round().astype(np.uint8), np.ones((factor, factor), np.uint8))


@torch.inference_mode()
def visitor_probabilities(x, mine):
    """(28,28) -> {label: probabilities} for the models this visitor trained in the Train tab."""
    batch = torch.as_tensor(x, dtype=torch.float32).view(1, 1, 28, 28)
    return {label: torch.softmax(entry["model"](batch), dim=1)[0].numpy() for label, entry in (mine or {}).items()}


def why(x, name, mine=None, chosen=None):
    """Saliency of the chosen model's answer over the 28x28 view (the ensemble: its members' mean)."""
    if name in (mine or {}):
        return saliency_image(x, saliency(mine[name]["model"], x))
    chosen = chosen or predictor
    members = chosen.ensemble if name == "ensemble" else [name]
    return saliency_image(x, np.mean([saliency(chosen.models[m], x) for m in members], axis=0))


def model_card(name, ms=None, mine=None, chosen=None):
    chosen = chosen or set_named(DEFAULT_SET)
    if name is None:
        return "No trained models found: run `python train_all.py`."
    timing = f"  \nInference for this drawing: **{ms:.1f} ms**" if ms is not None else ""
    if name in (mine or {}):
        m = mine[name]["metadata"]
        return (f"**{name}** (yours, trained in this session; not stored on the server): {m['description']}  \n"
                f"{m['visitor']['description']}  \nParameters: **{m['parameters']:,}** · best epoch "
                f"{m['best_epoch']}/{m['epochs']}  \n{measured(m)}{timing}")
    if name == "ensemble":
        m = chosen.ensemble_metadata
        how = ("chosen on the held-out writers' drawings" if m.get("set") == "tuned"
               else "chosen on held-out validation images")
        seen = seen_by(chosen.metadata[chosen.ensemble[0]]) if chosen.ensemble else ""
        return (f"**ensemble**: the mean of the probabilities of {', '.join(chosen.ensemble)} ({how})  \n"
                f"{seen}  \n{measured(m)}{timing}")
    m = chosen.metadata[name]
    return (f"**{name}**: {m['description']}  \n{seen_by(m)}  \n"
            f"Parameters: **{m['parameters']:,}** · epochs {m['best_epoch']}/{m['epochs']}  \n"
            f"{measured(m)}{timing}")


def comparison_html(probs, mine=None, chosen=None):
    """One row per model of the chosen set (its ensemble, then the visitor's own): prediction, confidence,
    top-3; disagreements with the ensemble highlighted."""
    if probs is None:
        return "<p class='hint'>Draw a digit to see every model's answer here.</p>"
    chosen = chosen or set_named(DEFAULT_SET)
    consensus = int(probs["ensemble"].argmax())
    rows = []
    for name, p in probs.items():
        top3 = np.argsort(p)[::-1][:3]
        pred = int(top3[0])
        yours = name in (mine or {})
        meta = mine[name]["metadata"] if yours else chosen.metadata.get(name) or chosen.ensemble_metadata
        params = f"{meta['parameters']:,}" if "parameters" in meta else "—"
        acc = f"{100 * meta['test_accuracy']:.2f} %" if "test_accuracy" in meta else "—"
        heldout = None if yours else heldout_of(name, chosen)
        drawn = "—" if heldout is None else f"{100 * heldout:.2f} %"
        disagree = pred != consensus
        cls = " ".join(["ensemble"] * (name == "ensemble") + ["disagree"] * (disagree and name != "ensemble")
                       + ["yours"] * yours)
        mark = " ≠" if disagree else ""
        shown = f"{html.escape(name)} <span class='mine'>yours</span>" if yours else html.escape(name)
        rows.append(
            f"<tr class='{cls}'><td>{shown}</td><td class='pred'>{pred}{mark}</td>"
            f"<td>{100 * p[pred]:.1f} %</td><td>{', '.join(f'{d} ({100 * p[d]:.0f}%)' for d in top3)}</td>"
            f"<td>{params}</td><td>{acc}</td><td>{drawn}</td></tr>")
    return ("<table class='zoo'><thead><tr><th>model</th><th>prediction</th><th>confidence</th>"
            "<th>top 3</th><th>parameters</th><th>MNIST test acc.</th><th>acc. on unseen writers</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def analyse(sketch, model_name, mine=None, trained_on=None):
    """Sketchpad value + chosen model (+ the visitor's own models, from the Train tab) + which set (the switch)
    -> (label, model card, what the model sees, saliency, comparison, status)."""
    mine = mine or {}
    chosen = set_named(trained_on or DEFAULT_SET)
    model_name = (model_name if model_name in mine or model_name in chosen.models or
                  (model_name == "ensemble" and chosen.models) else DEFAULT_MODEL)
    try:
        x = drawing_to_mnist(sketch)
    except ValueError as e:  # not a drawing we can read: say so, keep the page as it was meant to be
        return None, model_card(model_name, mine=mine, chosen=chosen), None, None, comparison_html(None), f"### ⚠️ {e}"
    if x is None or not predictor.models:
        status = ("### ✏️ Draw a digit (0–9) in the box" if predictor.models
                  else "### ⚠️ No trained models: run `python train_all.py`")
        return None, model_card(model_name, mine=mine, chosen=chosen), None, None, comparison_html(None), status
    by_set, ms_by_set = probabilities_for(x)
    kind = next(k for k, p in sets.predictors.items() if p is chosen)
    probs, ms = by_set[kind], ms_by_set[kind]
    probs.update(visitor_probabilities(x, mine))
    p = probs[model_name]
    label = {str(d): float(p[d]) for d in range(10)}
    confidence = float(probs["ensemble"].max())
    status = (f"### ⚠️ Not sure this is a digit: the models are only {100 * confidence:.0f} % confident"
              if confidence < LOW_CONFIDENCE else
              f"### {model_name}: **{int(p.argmax())}** ({100 * float(p.max()):.1f} %)")
    return (label, model_card(model_name, ms.get(model_name), mine, chosen), enlarge(x), why(x, model_name, mine, chosen),
            comparison_html(probs, mine, chosen), status)


def analyse_page(sketch, model_name, mine=None, trained_on=None):
    """analyse, plus what the label row needs: shown once there is an answer, and that answer ("Right")."""
    out = analyse(sketch, model_name, mine, trained_on)
    answer = None if out[0] is None else int(max(out[0], key=out[0].get))
    return (*out, gr.update(visible=answer is not None), answer)


def classify(image):
    """API: image file (or array) -> {"ensemble": the default answer, "ensemble_set": its set, "models": {name:
    {...}} (the zoo), "sets": {set: {"models": ..., "ensemble": ...}}}; prediction null if blank."""
    try:
        x = drawing_to_mnist(image)
    except ValueError as e:
        raise gr.Error(str(e)) from None  # a ValueError the client sees with its message
    by_set = None if x is None else probabilities_for(x)[0]

    def entry(kind, name):
        if by_set is None:
            return {"prediction": None, "probabilities": None}
        p = by_set[kind][name]
        return {"prediction": int(p.argmax()), "probabilities": [float(v) for v in p]}

    every = {kind: {"models": {name: entry(kind, name) for name in p.models}, "ensemble": entry(kind, "ensemble")}
             for kind, p in sets.predictors.items() if p.models}
    result = {"ensemble": entry(sets.default, "ensemble"), "ensemble_set": SETS[sets.default],
              "models": every.get("mnist", {}).get("models", {}), "sets": every}
    if by_set is None:
        result["reason"] = "blank image: no ink found"
    return result


# ---------------------------------------------------------------- page

CSS = """
#sketch { max-width: 460px; }
.zoo { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
.zoo th, .zoo td { padding: 4px 10px; text-align: left; border-bottom: 1px solid var(--border-color-primary); }
.zoo tr.disagree { background: rgba(255, 80, 80, 0.18); }
.zoo tr.ensemble { font-weight: bold; background: rgba(80, 140, 255, 0.12); }
.zoo tr.yours { border-top: 2px solid var(--color-accent); }
.zoo .mine { font-size: 0.8em; padding: 0 6px; border-radius: 8px; background: var(--color-accent); color: white; }
.zoo td.pred { font-size: 1.25em; font-weight: bold; }
#seen img, #why img { image-rendering: pixelated; }
.hint { opacity: 0.7; }
"""
# Phones: give the canvas the page's side margins. A raw <style>, since Gradio scopes `css` to its
# content area, which can't reach the page padding around it.
# The introduction gives way too: on a phone the answer and the label buttons must fit beside the canvas.
PHONE_CSS = "<style>@media (max-width: 520px) { .app.fillable { padding-left: 4px !important; " \
            "padding-right: 4px !important; } #intro p { display: none; } }</style>"

# Gradio's sketchpad opens (and re-opens after "clear") with no tool selected; a visitor should be
# able to draw at once, so whenever the brush is not selected we select it. Never while a pointer is
# down: the observer fires on every DOM change, drawing's own included, and clicking a tool button in
# the middle of a stroke could drop that stroke.
JS = """
() => {
  let pressed = false, queued = false;
  document.addEventListener('pointerdown', () => { pressed = true; }, true);
  const release = () => { pressed = false; schedule(); };
  document.addEventListener('pointerup', release, true);
  document.addEventListener('pointercancel', release, true);
  const pickBrush = () => {
    queued = false;
    if (pressed) return;  // mid-stroke: try again on release
    const root = document.querySelector('#sketch');
    if (!root) return;
    const brush = root.querySelector('button[aria-label="Brush"]');
    if (brush && !brush.classList.contains('highlight')) brush.click();  // "highlight" marks the active tool
  };
  const schedule = () => { if (!queued) { queued = true; requestAnimationFrame(pickBrush); } };
  new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true });
  pickBrush();
}
"""

unavailable_note = ("" if not predictor.unavailable else
                    f"⚠️ Unavailable (no checkpoint): {', '.join(predictor.unavailable)}. "
                    "`python train_all.py` creates them.")

zoo = compare.Zoo(CHECKPOINTS, EXPERIMENTS)
drawings = Drawings()  # DRAWINGS_DB, else data/drawings.sqlite: created on the first save
try:
    drawings.mirror = mirror.from_environment(drawings)  # a Space with DRAWINGS_DATASET: kept on the Hub too
except Exception as e:  # the Hub unreachable: the page still serves, saving keeps to the local file
    log.warning("the drawings' Hub copy is off: %s", e)
# DRAWINGS_SAVE_BACKGROUND=0: saves as equals of the answers, the way bench_visitors.py measures beside the default
collection = visitors.Collection(drawings, sets, sketch_to_array,
                                 background=os.environ.get("DRAWINGS_SAVE_BACKGROUND", "1") != "0")

# delete_cache: the Train tab's downloads are copied into Gradio's cache; drop them after a day
with gr.Blocks(title="MNIST model zoo", delete_cache=(3600, 86400)) as demo:
    gr.Markdown("# ✍️ MNIST model zoo\nDraw a digit. Every model classifies it as you draw; "
                "pick one to see its probabilities, what it sees and why. Compare them, or train your own "
                "and put it beside them.", elem_id="intro")
    if unavailable_note:
        gr.Markdown(unavailable_note)
    with gr.Tab("Draw", id="draw"):
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                # the answer and the label row sit with the canvas: on a phone they stay in view while drawing
                status = gr.Markdown("### ✏️ Draw a digit (0–9) in the box", elem_id="status")
                sketch = gr.Sketchpad(
                    elem_id="sketch", label="Draw here", type="numpy", image_mode="RGBA",
                    canvas_size=(CANVAS, CANVAS), fixed_canvas=True, layers=False, transforms=(),
                    brush=gr.Brush(default_size=BRUSH, colors=["#000000"], color_mode="fixed"),
                    eraser=gr.Eraser(default_size=BRUSH * 2), height=460, width=460)
                shown = gr.State(None)  # the answer on the page, which "Right" confirms
                label_row = visitors.label_row(collection, sketch, shown)
                with gr.Row():
                    seen = gr.Image(label="What the model sees (28×28)", elem_id="seen", height=200, width=200,
                                    interactive=False, buttons=[])
                    why_image = gr.Image(label="Why: red pushed toward its answer, blue away", elem_id="why",
                                         height=200, width=200, interactive=False, buttons=[])
            with gr.Column(scale=1, min_width=320):
                trained_on = gr.Radio(TRAINED_ON, value=DEFAULT_SET, label="Trained on", elem_id="trained-on",
                                      visible=len(TRAINED_ON) > 1)
                model = gr.Dropdown(CHOICES, value=DEFAULT_MODEL, label="Model", elem_id="model")
                label = gr.Label(num_top_classes=10, label="Probabilities", elem_id="probs")
                card = gr.Markdown(model_card(DEFAULT_MODEL), elem_id="card")
        gr.Markdown("## All models, same drawing")
        table = gr.HTML(comparison_html(None), elem_id="table")
    with gr.Tab("Compare", id="compare") as compare_tab:
        refresh_visitors, visitors_shown = visitors.compare_section(collection)
        compare.build(zoo, predictor)
    with gr.Tab("Train", id="train"):
        mine = gr.State({})  # this visitor's own models: never shared, never written to checkpoints/
        train_tab.build(mine, model, CHOICES, EXPERIMENTS)

    outputs = [label, card, seen, why_image, table, status, label_row, shown]
    inputs = [sketch, model, mine, trained_on]
    sketch.change(analyse_page, inputs, outputs, trigger_mode="always_last", show_progress="hidden", api_name="analyse")
    model.change(analyse_page, inputs, outputs, show_progress="hidden", api_name=False)
    trained_on.change(analyse_page, inputs, outputs, show_progress="hidden", api_name=False)
    compare_tab.select(refresh_visitors, None, visitors_shown, api_name=False)  # live: what is new since the last visit

    # A programmatic endpoint: an image file in, every model's answer out (see README).
    # gr.File, not gr.Image: a non-image upload reaches classify, which says what is wrong with it
    api_image = gr.File(type="filepath", visible=False)
    api_result = gr.JSON(visible=False)
    gr.Button(visible=False).click(classify, api_image, api_result, api_name="classify")
    # An image file and its label in, {"saved": id, "count": N} out (see README); a Textbox, so any label
    # reaches the server's own check and gets its reason back
    api_label = gr.Textbox(visible=False)
    gr.Button(visible=False).click(collection.api_save, [api_image, api_label], api_result, api_name="save_drawing",
                                   **visitors.SAVES)

# Two requests at a time per event: while one request is in Gradio's upload and JSON work, the other
# computes. Measured against one on this 2-core machine with 32 clients (benchmarks/bench_load.py,
# figures in docs/benchmarks.md), two has led or tied in every run. The queue is bounded so a flood gets
# "queue full" at once instead of unbounded waits.
CONCURRENCY = int(os.environ.get("DEMO_CONCURRENCY", "2"))
demo.queue(default_concurrency_limit=CONCURRENCY, max_size=int(os.environ.get("DEMO_QUEUE_SIZE", "128")))

log.info("ready: %s loaded in %.2f s since import",
         ", ".join(f"{len(p.models)} models ({SETS[kind]})" for kind, p in sets.predictors.items()),
         time.perf_counter() - started)

MAX_UPLOAD = "10mb"  # an 800x800 drawing is ~30 kB as PNG; far bigger uploads are refused by the server
PAGE = dict(css=CSS + compare.CSS + visitors.CSS, js=f"() => {{ ({JS})(); ({visitors.POINTER_JS})(); }}",
            head=PHONE_CSS, max_file_size=MAX_UPLOAD)

if __name__ == "__main__":
    demo.launch(**PAGE)
