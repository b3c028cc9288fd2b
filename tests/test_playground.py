"""Training in the demo (mnist_models/playground.py, tabs/train.py): settings checked, events streamed,
stop within one step, limits enforced, the visitor's model beside the zoo and downloadable."""
import shutil
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_models import playground
from mnist_models.checkpoint import load_model
from mnist_models.data import load_splits

TINY = dict(model="mlp-128", epochs=2, train_images=1000, batch_size=100)
POSITION = {"epoch", "epochs", "fraction", "seconds", "train_loss", "train_accuracy"}


@pytest.fixture(scope="module")
def tiny_splits():
    train, valid, test = load_splits("cpu", valid_size=500, train_limit=1000)
    return train, valid, test


@pytest.mark.parametrize("bad, message", [
    (dict(epochs=100), "epochs must be between 1 and 30"),
    (dict(batch_size=0), "batch_size must be between 16 and 1024"),
    (dict(lr=float("nan")), "lr must be a float"),
    (dict(optimizer="rmsprop"), "optimizer must be one of adam, adamw, sgd"),
    (dict(model="resnet"), "model must be one of"),
    (dict(augment="yes"), "augment must be a bool"),
    (dict(train_images=10**9), "train_images must be between 1000 and 55000"),
    (dict(epochs=2.5), "epochs must be a int"),
    (dict(layers=3), "unknown setting(s) layers"),
])
def test_settings_beyond_the_limits_get_a_clear_message(bad, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        playground.check(bad)


def test_settings_map_onto_the_training_config():
    values = playground.check(dict(model="fcn-dropout", n_layers=4, epochs=3.0, augment=False, noise=0.2))
    architecture, cfg = playground.to_config(values)
    assert architecture == ("fcn-dropout", {"n_layers": 4}) and values["epochs"] == 3
    assert (cfg.epochs, cfg.noise, cfg.rotate, cfg.elastic) == (3, 0.2, 0.0, 0.0)
    assert playground.to_config(playground.check(dict(augment=True)))[1].rotate > 0
    for label, (values, (experiment, setting)) in playground.PRESETS.items():
        assert playground.check(values) == values, label


def test_training_emits_documented_events_and_a_measured_model(tiny_splits):
    events = []
    model, metadata = playground.train(TINY, tiny_splits, events.append)
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "start" and kinds.count("epoch") == 2 and kinds[-1] == "epoch"
    assert {"settings", "description", "train_images", "steps_per_epoch", "limits"} <= set(events[0])
    for e in events:
        assert POSITION <= set(e), e
    start, epochs = events[0], [e for e in events if e["kind"] == "epoch"]
    assert start["epoch"] == 0 and start["fraction"] == 0 and 0.8 < start["valid_accuracy"] + 0.75 < 1.05  # ~10 %
    assert all({"valid_loss", "valid_accuracy"} <= set(e) for e in epochs)
    assert [e["fraction"] for e in epochs] == [0.5, 1.0]
    # every epoch ends with a progress window, and the windows cover the epoch's images exactly once
    ends = [e for e in events if e["kind"] == "progress" and e["fraction"] in (0.5, 1.0)]
    assert len(ends) == 2
    assert [h["valid_loss"] for h in metadata["history"]] == [e["valid_loss"] for e in epochs]
    assert metadata["visitor"]["stopped"] is None and metadata["visitor"]["train_images"] == 1000
    # measured on the whole test set it was given, with the weights of the recorded best epoch
    correct = (model(tiny_splits[2].x).argmax(1) == tiny_splits[2].y).sum().item()
    assert correct == metadata["test_correct"] and len(tiny_splits[2].y) == 10_000


def test_stop_ends_the_run_within_one_step(tiny_splits):
    asked = []
    def should_stop():
        asked.append(1)
        return len(asked) >= 3   # true when asked after the third step
    events = []
    model, metadata = playground.train(dict(TINY, epochs=5), tiny_splits, events.append, should_stop)
    assert len(asked) == 3
    assert metadata["visitor"]["stopped"] == "stopped"
    assert metadata["history"][-1]["partial"] == 0.3       # 3 steps of 100 out of 1,000 images
    assert events[-1]["kind"] == "epoch" and events[-1]["fraction"] == 0.06
    assert events[-2]["kind"] == "progress" and events[-2]["fraction"] == 0.06   # the last window, reported
    assert 0 < metadata["test_accuracy"] <= 1   # the model so far is kept and measured


def test_time_and_memory_limits_stop_a_run_and_keep_the_model(tiny_splits):
    _, timed = playground.train(TINY, tiny_splits, lambda e: None, max_seconds=0)
    assert timed["visitor"]["stopped"] == "time limit" and timed["history"][-1]["partial"] == 0.1
    _, big = playground.train(TINY, tiny_splits, lambda e: None, max_memory_mb=-1)  # a limit passed at once
    assert big["visitor"]["stopped"] == "memory limit"


@pytest.mark.slow
def test_child_process_streams_events_and_returns_a_loadable_checkpoint():
    events = list(playground.train_in_child(TINY))
    assert [e["kind"] for e in events][0] == "start" and events[-1]["kind"] == "done"
    done = events[-1]
    assert done["metadata"]["test_accuracy"] == done["test_accuracy"] > 0.5
    folder = Path(done["files"][0]).parent
    model, metadata = load_model("mlp-128", folder)
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(model(x), done["model"](x)) and metadata == done["metadata"]
    shutil.rmtree(folder)


@pytest.mark.slow
def test_child_process_stops_when_asked():
    flag, events = threading.Event(), []
    for event in playground.train_in_child(dict(TINY, epochs=30, train_images=20000), flag):
        events.append(event)
        if event["kind"] in ("progress", "epoch"):
            flag.set()
    done = events[-1]
    shutil.rmtree(Path(done["files"][0]).parent)
    assert done["kind"] == "done" and done["stopped"] == "stopped"
    assert done["metadata"]["history"][-1].get("partial") and len(done["metadata"]["history"]) < 30


def test_child_process_reports_bad_data_instead_of_failing(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(b"not MNIST")
    events = list(playground.train_in_child(TINY, data_dir=tmp_path))
    assert events[-1]["kind"] == "error" and "train-images-idx3-ubyte" in events[-1]["message"]



def test_no_data_and_no_network_is_a_message_in_the_tab(tmp_path, monkeypatch):
    # an empty folder, and a download that fails at once (a proxy nobody listens on): what a Space without
    # network would meet
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    events = list(playground.train_in_child(TINY, data_dir=tmp_path))
    assert events[-1]["kind"] == "error"
    assert "MNIST not found" in events[-1]["message"] and "download failed" in events[-1]["message"]


@pytest.fixture(scope="module")
def finished_in_tab():
    """The Train tab's Start handler run to the end without a server -> its last yield."""
    import demo
    from tabs import train as tab
    values = dict(playground.DEFAULTS, **TINY)
    *_, last = tab.run(*[values[f] for f in tab.FIELDS], None, {}, demo.CHOICES)
    return last


@pytest.mark.slow
def test_the_visitors_model_joins_the_draw_tab(finished_in_tab):
    import demo
    _, _, _, result, download, mine, dropdown = finished_in_tab
    label = "yours 1: mlp-128"
    assert list(mine) == [label] and label in result and "full MNIST test set" in result
    assert dropdown.choices[-1] == (label, label) and dropdown.value == label
    assert [c[0] for c in dropdown.choices[:-1]] == demo.CHOICES   # the zoo is all still there
    one = np.zeros((800, 800, 4), np.uint8)
    one[150:650, 380:420, 3] = 255
    _, card, _, why, table, status = demo.analyse(one, label, mine)
    assert status.startswith(f"### {label}:") and "trained in this session" in card
    assert "class='yours'" in table and table.count("<tr") == len(demo.CHOICES) + 2  # + header + yours
    assert why.shape == (280, 280, 3)
    # another visitor (no models of their own) sees only the zoo
    assert "yours" not in demo.analyse(one, label, {})[4]


def test_the_download_is_a_checkpoint_pair_load_model_reads(finished_in_tab, tmp_path):
    _, _, _, _, download, mine, _ = finished_in_tab
    entry = next(iter(mine.values()))
    assert download.visible
    with zipfile.ZipFile(download.value["path"]) as z:
        names = sorted(z.namelist())
        z.extractall(tmp_path)
    folder = names[0].split("/")[0]
    assert names == [f"{folder}/mlp-128.json", f"{folder}/mlp-128.safetensors"]
    model, metadata = load_model("mlp-128", tmp_path / folder)
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(model(x), entry["model"](x)) and metadata["visitor"]["settings"]["train_images"] == 1000


def test_a_session_keeps_its_newest_models(finished_in_tab):
    from tabs import train as tab
    entry = next(iter(finished_in_tab[5].values()))
    event = dict(model=entry["model"], metadata=entry["metadata"])
    mine = {}
    for _ in range(tab.KEEP + 2):
        mine, label = tab.add_model(mine, event)
    assert len(mine) == tab.KEEP and label == f"yours {tab.KEEP + 2}: mlp-128" and label in mine


def test_start_refuses_settings_beyond_the_limits():
    import gradio as gr
    from tabs import train as tab
    values = dict(playground.DEFAULTS, epochs=1000)
    with pytest.raises(gr.Error, match="epochs must be between 1 and 30"):
        next(tab.run(*[values[f] for f in tab.FIELDS], None, {}, []))


def test_start_handler_takes_the_settings_in_the_controls_order():
    import inspect

    from tabs import train as tab
    assert list(inspect.signature(tab.run).parameters)[:len(tab.FIELDS)] == tab.FIELDS


@pytest.mark.slow
def test_presets_name_the_reported_figure_and_our_reproduction(monkeypatch):
    from mnist_models.experiments import summarise
    from tabs import train as tab
    ours = next(r for r in summarise("regularization") if r["label"] == "weight decay 1e-2" and r["setting"] == "writeup")
    note = tab.preset_note("LeNet-5, weight decay 1e-2", "experiments")
    assert "**11.35 %** (its training collapsed)" in note and f"{100 * ours['mean']:.2f} ± {100 * ours['std']:.2f} %" in note
    assert "97.85 %" in tab.reference("FCN, 10 layers, BatchNorm", "experiments")
    # a run whose settings are still a preset's ends with that preset's figures beside its own
    values = playground.check(dict(TINY))
    monkeypatch.setitem(playground.PRESETS, "tiny", (values, ("regularization", "plain")))
    *_, last = tab.run(*[values[f] for f in tab.FIELDS], "tiny", {}, [])
    assert "Preset **tiny**: the write-up reported **98.59 %**" in last[3]
    *_, other = tab.run(*[dict(values, seed=1)[f] for f in tab.FIELDS], "tiny", {}, [])
    assert "Preset" not in other[3]   # settings changed since: no longer that preset's run
