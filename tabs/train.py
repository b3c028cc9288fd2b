"""The Train tab: a visitor trains a model of their own (or re-runs a reference experiment from a preset),
watches its curves grow, then draws on it beside the zoo and downloads it. It lives in their session only.

Training runs in a child process, one at a time for the whole server (mnist_models/playground.py).
"""
import shutil
import threading
import time
import zipfile
from pathlib import Path

import gradio as gr
import pandas as pd

from mnist_models import playground
from mnist_models.data import TRAIN_FILES, raw_dir
from mnist_models.experiments import EXPERIMENTS, summarise

FIELDS = list(playground.DEFAULTS)  # the order of the controls' values in every event below
KEEP = 5  # models a session keeps: the oldest goes when a sixth is trained
SERIES = {"train": "training", "valid": "validation"}  # event field prefix -> the plots' series name

_stops, _stops_lock = {}, threading.Lock()  # session -> Event that Stop sets


def data_source():
    raw = raw_dir()
    if all((raw / name).exists() for name in TRAIN_FILES):
        return f"MNIST is read from `{raw}`."
    return (f"MNIST is not in `{raw}` yet: the first training downloads it there (about 12 MB; needs the "
            "network). Where that fails, this tab says so; the rest of the demo is unaffected.")


def reference(preset, experiments_dir):
    """What the write-up reported for a preset's setting, beside our stored 10-epoch reproduction of it."""
    experiment, label = playground.PRESETS[preset][1]
    reported = EXPERIMENTS[experiment]("writeup")[label][2]
    ours = next((row for row in summarise(experiment, experiments_dir)   # [] while nothing is stored
                 if row["label"] == label and row["setting"] == "writeup"), None)
    text = (f"the write-up reported **{reported} %**" + (" (its training collapsed)" if reported < 50 else "")
            if reported is not None else "the write-up reported no figure for this setting")
    if ours:
        spread = f" ± {100 * ours['std']:.2f}" if ours["std"] is not None else ""
        return text + f"; our reproduction in its setting (10 epochs, {ours['n']} seed{'s' * (ours['n'] > 1)}): **{100 * ours['mean']:.2f}{spread} %**"
    return text + f"; not yet reproduced here (`python -m mnist_models experiment {experiment}`)"


def preset_note(preset, experiments_dir):
    return (f"**{preset}**, in the write-up's setting (Adam at a constant 1e-3, clean images) but 2 epochs, so "
            f"that it runs in seconds here: {reference(preset, experiments_dir)}.")


def curves(events):
    """Events so far -> (loss table, accuracy table), long format for gr.LinePlot (x: epochs trained).

    Training: the untrained model, then each "progress" window; validation: the untrained model, then
    each epoch's end. Both start at epoch 0, so the plot sees both series in its first table.
    """
    wanted = {"start": ("train", "valid"), "progress": ("train",), "epoch": ("valid",)}

    def table(metric, column, scale):
        rows = [(round(e["epoch"] if e["kind"] == "start" else e["fraction"] * e["epochs"], 3),
                 scale * e[f"{series}_{metric}"], SERIES[series])
                for e in events for series in wanted.get(e["kind"], ())]
        frame = pd.DataFrame(rows, columns=["epoch", column, "curve"])
        return frame.astype({"epoch": float, column: float, "curve": str})  # numbers even when empty
    return table("loss", "loss", 1), table("accuracy", "accuracy %", 100)


def progress_text(event, start):
    """The status line for one event."""
    if event["kind"] == "start":
        return f"⏳ Training **{event['description']}** …"
    if event["kind"] == "error":
        return f"⚠️ {event['message']}"
    done = event.get("fraction", 0)
    line = (f"⏳ **{start['description']}**  \nepoch {event['epoch']}/{event['epochs']} · "
            f"{100 * done:.0f} % · {event['seconds']:.0f} s")
    if done > 0.02:
        line += f" · about {event['seconds'] * (1 - done) / done:.0f} s to go"
    return line + f" · limit {start['limits']['max_seconds']} s"


def result_text(label, metadata, seconds):
    """The line under the curves when a run ends; `seconds` from its start to its test measurement."""
    why = {"stopped": "stopped by you", "time limit": f"stopped at the {playground.MAX_SECONDS} s limit",
           "memory limit": "stopped at the memory limit"}.get(metadata["visitor"]["stopped"], "finished")
    return (f"✅ **{label}** ({why}; {seconds:.0f} s in all): **{100 * metadata['test_accuracy']:.2f} %** on the "
            f"full MNIST test set ({metadata['test_correct']:,}/10,000), best epoch {metadata['best_epoch']}. "
            "It is now in the Draw tab's model list and table, for this browser session only.")


def package(label, files):
    """The checkpoint pair -> one zip, a folder inside that `load_model(name, folder)` reads as it is."""
    folder = label.replace(":", "").replace(" ", "-")
    path = Path(files[0]).with_name(f"{folder}.zip")
    with zipfile.ZipFile(path, "w") as z:
        for f in files:
            z.write(f, f"{folder}/{Path(f).name}")
    return str(path)


def add_model(mine, event):
    """Session models + a finished run -> (new session models, its label). Keeps the newest KEEP."""
    number = max((entry["number"] for entry in mine.values()), default=0) + 1
    label = f"yours {number}: {event['metadata']['visitor']['settings']['model']}"
    mine = dict(list(mine.items())[-(KEEP - 1):])
    mine[label] = dict(number=number, model=event["model"], metadata=event["metadata"])
    return mine, label


def arm(request: gr.Request = None):
    """Before a run is queued: this session's stop flag, so Stop works even while the run waits its turn."""
    with _stops_lock:
        _stops.setdefault(session(request), threading.Event())


def stop(request: gr.Request = None):
    with _stops_lock:
        flag = _stops.get(session(request))
    if flag is None:
        return "Nothing is training."
    flag.set()
    return "⏹ Stopping after the current step; the model so far is kept and measured."


def session(request):
    return getattr(request, "session_hash", None) or "local"


def run(model, n_layers, epochs, train_images, batch_size, lr, optimizer, schedule, weight_decay, noise, augment,
        seed, preset=None, mine=None, zoo_choices=(), experiments_dir="experiments", request: gr.Request = None):
    """Generator for the Start button: yields (status, loss plot, accuracy plot, result, download, session
    models, the Draw tab's dropdown) as the run goes; only the first three change until the end. When the
    settings are still a preset's, the result names the figure the write-up reported beside it.

    Every parameter is named (FIELDS' order first), with no *args or partial: Gradio passes the request
    only to a plain function whose signature names it.
    """
    values = [model, n_layers, epochs, train_images, batch_size, lr, optimizer, schedule, weight_decay, noise,
              augment, seed]
    with _stops_lock:
        flag = _stops.setdefault(session(request), threading.Event())
    skip = [gr.skip()] * 4
    rows, start, began, files = [], None, time.perf_counter(), None
    try:
        try:
            values = playground.check(dict(zip(FIELDS, values)))
        except ValueError as e:
            raise gr.Error(str(e)) from None
        if flag.is_set():
            yield ("Stopped before it started.", gr.skip(), gr.skip(), *skip)
            return
        for event in playground.train_in_child(values, flag):
            if event["kind"] == "start":
                start = event
            rows.append(event)
            if event["kind"] == "done":
                mine, label = add_model(mine or {}, event)
                files = event["files"]
                # Gradio copies the zip into its own cache here, so the child's folder can go at the end
                download = gr.DownloadButton(f"Download {label} (safetensors + JSON)", value=package(label, files),
                                             visible=True)
                result = result_text(label, event["metadata"], time.perf_counter() - began)
                if preset in playground.PRESETS and playground.PRESETS[preset][0] == values:
                    result += f"  \nPreset **{preset}**: {reference(preset, experiments_dir)}."
                yield (f"✅ Done: **{label}** is in the Draw tab.", *curves(rows), result, download, mine,
                       gr.Dropdown(choices=list(zoo_choices) + list(mine), value=label))
                return
            # never an empty table (see the plots in `build`): nothing to draw until the run has started
            yield (progress_text(event, start), *(curves(rows) if start else [gr.skip()] * 2), *skip)
    finally:
        if files:
            shutil.rmtree(Path(files[0]).parent, ignore_errors=True)
        with _stops_lock:
            if _stops.get(session(request)) is flag:
                del _stops[session(request)]


def preset_values(preset):
    values = playground.PRESETS[preset][0]
    return [values[f] for f in FIELDS]


def build(mine, draw_model, zoo_choices, experiments_dir):
    """The tab's components and events; call inside a `gr.Tab`. `mine` is the session's gr.State of visitor
    models and `draw_model` the Draw tab's dropdown, which gains each finished model."""
    d, lim = playground.DEFAULTS, playground.LIMITS
    gr.Markdown(
        "Train a model yourself and put it beside the zoo. One training runs at a time on this server (others "
        f"wait in the queue and see their place); each stops at {playground.MAX_SECONDS} s of training. The "
        "defaults train on 30,000 of the 55,000 training images; the model is measured on the full 10,000-image "
        "test set, appears in the Draw tab for this session only, and can be downloaded. " + data_source())
    with gr.Row():
        preset = gr.Dropdown(list(playground.PRESETS), value=None, label="Preset: a reference experiment",
                             elem_id="train-preset")
    note = gr.Markdown(elem_id="train-reference")
    with gr.Row():
        with gr.Column():
            model = gr.Dropdown(playground.CHOICES["model"], value=d["model"], label="Architecture",
                                elem_id="train-model")
            n_layers = gr.Slider(*lim["n_layers"], value=d["n_layers"], step=1, label="FCN depth (layers)",
                                 visible=d["model"].startswith("fcn"))
            epochs = gr.Slider(*lim["epochs"], value=d["epochs"], step=1, label="Epochs", elem_id="train-epochs")
            train_images = gr.Slider(*lim["train_images"], value=d["train_images"], step=1000,
                                     label="Training images", elem_id="train-images")
            batch_size = gr.Slider(*lim["batch_size"], value=d["batch_size"], step=16, label="Batch size")
        with gr.Column():
            optimizer = gr.Radio(list(playground.CHOICES["optimizer"]), value=d["optimizer"], label="Optimizer")
            schedule = gr.Radio(list(playground.CHOICES["schedule"]), value=d["schedule"], label="Learning-rate schedule")
            lr = gr.Number(d["lr"], minimum=lim["lr"][0], maximum=lim["lr"][1], label="Learning rate (peak)")
            weight_decay = gr.Number(d["weight_decay"], minimum=lim["weight_decay"][0],
                                     maximum=lim["weight_decay"][1], label="Weight decay")
            noise = gr.Slider(*lim["noise"], value=d["noise"], step=0.05, label="Input noise std")
            with gr.Row():
                augment = gr.Checkbox(d["augment"], label="Augment (rotate, scale, shear, elastic…)")
                seed = gr.Number(d["seed"], minimum=lim["seed"][0], maximum=lim["seed"][1], precision=0, label="Seed")
    controls = [model, n_layers, epochs, train_images, batch_size, lr, optimizer, schedule, weight_decay, noise,
                augment, seed]
    with gr.Row():
        start_button = gr.Button("Start", variant="primary", elem_id="train-start")
        stop_button = gr.Button("Stop", elem_id="train-stop")
    status = gr.Markdown("Choose settings or a preset, then Start.", elem_id="train-status")
    with gr.Row():
        # None, not an empty table: a plot whose first table lacks a series (Gradio 6.31) never draws it
        loss_plot = gr.LinePlot(None, x="epoch", y="loss", color="curve", label="Loss", elem_id="train-loss")
        accuracy_plot = gr.LinePlot(None, x="epoch", y="accuracy %", color="curve", label="Accuracy",
                                    elem_id="train-accuracy")
    result = gr.Markdown(elem_id="train-result")
    download = gr.DownloadButton("Download", visible=False, elem_id="train-download")
    zoo = gr.State(list(zoo_choices))

    model.change(lambda m: gr.Slider(visible=m.startswith("fcn")), model, n_layers, api_name=False,
                 show_progress="hidden")
    preset.change(lambda p: [*preset_values(p), preset_note(p, experiments_dir)] if p else [gr.skip()] * (len(FIELDS) + 1),
                  preset, [*controls, note], api_name=False, show_progress="hidden")
    start_button.click(arm, None, None, api_name=False, show_progress="hidden").then(
        run, [*controls, preset, mine, zoo, gr.State(experiments_dir)],
        [status, loss_plot, accuracy_plot, result, download, mine, draw_model],
        api_name="train", concurrency_limit=1, concurrency_id="train", show_progress="minimal")
    stop_button.click(stop, None, status, api_name="stop", show_progress="hidden")
