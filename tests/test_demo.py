"""The demo's logic as pure functions, fed exactly what gr.Sketchpad delivers; no server needed."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import demo

ROOT = Path(__file__).resolve().parents[1]


def sketchpad_value(digit_28, transparent=False, size=800, offset=(150, 230), height=420):
    """An MNIST digit drawn black on the sketchpad, as Gradio sends it: RGBA background/layers/composite."""
    stroke = Image.fromarray((255 * digit_28).astype(np.uint8)).resize((height, height), Image.Resampling.BICUBIC)
    alpha = np.zeros((size, size), np.uint8)
    alpha[offset[0]:offset[0] + height, offset[1]:offset[1] + height] = np.asarray(stroke)
    layer = np.zeros((size, size, 4), np.uint8)
    layer[..., 3] = alpha                                             # black ink, opacity = stroke
    background = np.zeros((size, size, 4), np.uint8)
    if not transparent:
        background[:] = 255                                           # opaque white since Gradio 5.24
    a = alpha[..., None] / 255.0
    composite = background.astype(float) * (1 - a) + layer.astype(float) * a
    composite[..., 3] = np.maximum(background[..., 3], alpha)
    return {"background": background, "layers": [layer], "composite": composite.round().astype(np.uint8)}


def blank_value(transparent=False):
    background = np.zeros((800, 800, 4), np.uint8) if transparent else np.full((800, 800, 4), 255, np.uint8)
    return {"background": background, "layers": [np.zeros((800, 800, 4), np.uint8)], "composite": background}


@pytest.mark.parametrize("transparent", [False, True], ids=["opaque-white", "transparent"])
def test_drawn_digits_are_recognised(mnist_test, transparent):
    for i in range(10):
        digit, truth = mnist_test.x[i, 0].numpy(), int(mnist_test.y[i])
        label, card, seen, why, table, status = demo.analyse(sketchpad_value(digit, transparent), "cnn")
        assert max(label, key=label.get) == str(truth)
        assert abs(sum(label.values()) - 1) < 1e-4 and len(label) == 10
        assert f"**{truth}**" in status
        assert seen.shape == (280, 280) and seen.dtype == np.uint8
        assert why.shape == (280, 280, 3) and why.dtype == np.uint8   # saliency over the same 28x28 view
        assert "ms" in card and "99." in card          # inference time and recorded accuracy
        assert table.count("<tr") == 1 + len(demo.predictor.models) + 1


@pytest.mark.parametrize("value", [None, blank_value(), blank_value(transparent=True),
                                   {"background": None, "layers": [], "composite": None}],
                         ids=["none", "white", "transparent", "empty-dict"])
def test_blank_canvas_makes_no_prediction(value):
    label, card, seen, why, table, status = demo.analyse(value, "cnn")
    assert label is None and seen is None and why is None
    assert "Draw a digit" in status and "Draw a digit" in table


def test_disagreeing_models_are_marked():
    probs = {name: np.eye(10)[3] for name in demo.predictor.models}
    probs["mlp-128"] = np.eye(10)[5]
    probs["ensemble"] = np.mean(list(probs.values()), axis=0)
    table = demo.comparison_html(probs)
    assert table.count("class='disagree'") == 1 and "5 ≠" in table


def test_tiny_dot_and_full_scribble_are_handled():
    dot = blank_value()
    dot["composite"] = dot["composite"].copy()
    dot["composite"][400:410, 400:410, :3] = 0
    assert demo.analyse(dot, "ensemble")[0] is not None   # a dot is ink: some answer, never a crash
    scribble = blank_value()
    scribble["composite"] = scribble["composite"].copy()
    scribble["composite"][::20, :, :3] = 0
    scribble["composite"][:, ::20, :3] = 0
    label, _, _, _, _, status = demo.analyse(scribble, "ensemble")
    assert label is not None and "###" in status


def test_every_model_choice_works(mnist_test):
    value = sketchpad_value(mnist_test.x[0, 0].numpy())
    for name in demo.CHOICES:
        label, card, *_ = demo.analyse(value, name)
        assert max(label, key=label.get) == "7", name
        assert name in card


def test_default_answer_is_the_drawing_tuned_ensemble():
    assert demo.CHOICES[0] == demo.DEFAULT_MODEL == "ensemble"
    assert demo.DEFAULT_SET == "MNIST + pen drawings" and demo.TRAINED_ON == ["MNIST + pen drawings", "MNIST only"]
    tuned = demo.sets["tuned"]
    assert demo.set_named(demo.DEFAULT_SET) is tuned and tuned.ensemble_metadata["set"] == "tuned"


def test_the_switch_shows_either_set(mnist_test):
    value = sketchpad_value(mnist_test.x[0, 0].numpy())
    tuned = demo.analyse(value, "cnn", None, "MNIST + pen drawings")
    zoo = demo.analyse(value, "cnn", None, "MNIST only")
    assert "MNIST + " in tuned[1] and "pen drawings by" in tuned[1] and "MNIST only" in zoo[1]
    for result, chosen in ((tuned, demo.sets["tuned"]), (zoo, demo.predictor)):
        assert max(result[0], key=result[0].get) == "7"
        assert f"{100 * chosen.metadata['cnn']['test_accuracy']:.2f} %" in result[4]   # the table is that set's
        assert result[4].count("<tr") == 1 + len(chosen.models) + 1
    # both tables give each model's accuracy on the same unseen writers
    twin = demo.sets["tuned"].metadata["cnn"]["twin"]["heldout_drawing_accuracy"]
    assert f"{100 * twin:.2f} %" in zoo[4]
    assert f"{100 * demo.sets['tuned'].metadata['cnn']['heldout_drawing_accuracy']:.2f} %" in tuned[4]


def test_classify_api_shape(tmp_path, mnist_test):
    path = tmp_path / "d.png"
    Image.fromarray(sketchpad_value(mnist_test.x[1, 0].numpy())["composite"]).save(path)
    result = demo.classify(str(path))
    assert set(result) == {"models", "ensemble", "ensemble_set", "sets"} and set(result["models"]) == set(demo.predictor.models)
    assert result["ensemble"]["prediction"] == 2 and len(result["ensemble"]["probabilities"]) == 10
    assert result["ensemble_set"] == "MNIST + pen drawings" and result["ensemble"] == result["sets"]["tuned"]["ensemble"]
    assert set(result["sets"]["tuned"]["models"]) == set(demo.sets["tuned"].models)
    json.dumps(result)
    blank = tmp_path / "blank.png"
    Image.new("RGB", (50, 50), "white").save(blank)
    result = demo.classify(str(blank))
    assert result["ensemble"]["prediction"] is None and "blank" in result["reason"]


@pytest.mark.slow
def test_page_starts_without_checkpoints(tmp_path):
    code = ("import demo; print('MODELS', len(demo.predictor.models)); "
            "print('STATUS', demo.analyse(None, None)[5]); print('CARD', demo.model_card(None))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "MNIST_CHECKPOINTS": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "MODELS 0" in result.stdout and "python train_all.py" in result.stdout
    assert "12 model(s) unavailable" in result.stderr and "python train_all.py" in result.stderr
