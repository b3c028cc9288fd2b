import pytest
import torch

from mnist_models import count_parameters, create_model, list_models
from mnist_models.models import C3_TABLE, fcn_widths

EXPECTED_PARAMETERS = {
    "mlp-500": 648_010, "mlp-128": 109_386, "lenet5": 60_806,
    "custom-mlp-1": 60_804, "custom-mlp-2": 60_819, "custom-mlp-3": 60_808,
    "custom-mlp-4": 60_813, "custom-mlp-5": 60_827, "custom-mlp-6": 60_040,
    # derived from the specs (no published figure): see test_fcn_widths and the cnn block layout
    "fcn-bn": 2_076_749, "fcn-dropout": 2_069_567, "cnn": 4_741_876,
}


def test_registry_lists_every_model_once():
    assert sorted(list_models()) == sorted(EXPECTED_PARAMETERS)
    assert len(set(list_models())) == 12


@pytest.mark.parametrize("name", list_models())
def test_model_forward_backward(name):
    model = create_model(name)
    x = torch.rand(3, 1, 28, 28, requires_grad=True)
    logits = model(x)
    assert logits.shape == (3, 10)
    assert torch.isfinite(logits).all()
    logits.logsumexp(1).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name", list_models())
def test_exact_parameter_count(name):
    assert count_parameters(create_model(name)) == EXPECTED_PARAMETERS[name]


def test_lenet5_parameters_per_layer():
    sizes = [sum(p.numel() for p in m.parameters()) for m in create_model("lenet5") if any(True for _ in m.parameters())]
    assert sizes == [156, 1_516, 48_120, 10_164, 850]


def test_lenet5_c3_follows_the_connection_table():
    c3 = create_model("lenet5")[4]
    x = torch.rand(1, 6, 14, 14, requires_grad=True)
    for out_map, inputs in enumerate(C3_TABLE):
        x.grad = None
        c3(x)[0, out_map].sum().backward()
        seen = [i for i in range(6) if x.grad[0, i].abs().sum() > 0]
        assert seen == sorted(inputs), f"C3 map {out_map}"


def test_fcn_widths():
    assert fcn_widths(10) == [707, 630, 553, 476, 399, 322, 245, 168, 91]
    linears = [m for m in create_model("fcn-bn") if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == list(
        zip([784, 707, 630, 553, 476, 399, 322, 245, 168, 91], [707, 630, 553, 476, 399, 322, 245, 168, 91, 10]))
    kinds = {type(m).__name__ for m in create_model("fcn-dropout")}
    assert "Dropout" in kinds and "BatchNorm1d" not in kinds


def test_cnn_halves_resolution_down_to_1x1():
    model = create_model("cnn").eval()
    x = model[0](torch.rand(2, 1, 28, 28))
    sizes = []
    for block in model[1:6]:
        x = block(x)
        sizes.append((x.shape[1], x.shape[2]))
    assert sizes == [(32, 14), (64, 7), (128, 4), (256, 2), (512, 1)]


def test_unknown_model_lists_valid_names():
    with pytest.raises(KeyError, match="lenet5"):
        create_model("resnet-1000")


def test_lenet5_c3_equals_the_table_map_by_map():
    # known answer built by hand: each C3 map is the sum of 5x5 convolutions over its own input maps
    c3 = create_model("lenet5")[4]
    x = torch.rand(2, 6, 14, 14)
    w = c3.dense_weight()
    bias = torch.cat([conv.bias for conv in c3.groups])[c3.unshuffle]
    expected = torch.stack([
        sum(torch.nn.functional.conv2d(x[:, [c]], w[j, [c]][None]) for c in inputs)[:, 0] + bias[j]
        for j, inputs in enumerate(C3_TABLE)], dim=1)
    torch.testing.assert_close(c3(x), expected, atol=1e-5, rtol=1e-5)
    unused = torch.ones(16, 6, dtype=torch.bool)
    for j, inputs in enumerate(C3_TABLE):
        unused[j, inputs] = False
    assert (w[unused] == 0).all() and (w[~unused] != 0).all()


def test_lanes_take_the_longest_first_each_to_the_lightest_lane():
    from mnist_models.predict import split_into_lanes
    # worked by hand: a->0 (5), b->1 (4), c->1 (7), d->0 (8), e->1 (8)
    assert split_into_lanes({"a": 5, "b": 4, "c": 3, "d": 3, "e": 1}, 2) == [["a", "d"], ["b", "c", "e"]]
    assert split_into_lanes({"a": 5, "b": 4}, 8) == [["a"], ["b"]]
    assert split_into_lanes({"a": 5, "b": 4}, 1) == [["a", "b"]]
    assert split_into_lanes({}, 2) == [[]]


@pytest.mark.parametrize("name", list_models())
def test_onnx_runner_gives_the_eager_answers(name):
    from mnist_models.inference import onnx_runner
    torch.manual_seed(1)
    model = create_model(name)
    with torch.no_grad():
        model(torch.rand(64, 1, 28, 28))  # nothing learnt, but BatchNorm's statistics must not be the identity
    model.eval()
    run = onnx_runner(model)
    for _ in range(3):
        x = torch.rand(1, 1, 28, 28)
        with torch.inference_mode():
            torch.testing.assert_close(torch.from_numpy(run(x.numpy())), model(x), atol=1e-5, rtol=1e-5)
