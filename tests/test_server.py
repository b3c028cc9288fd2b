"""The named API endpoints through a real Gradio server, driven by gradio_client."""
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image


def test_classify_endpoint(server_url, tmp_path, mnist_test):
    client = Client(server_url, verbose=False)
    assert "/classify" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for i in range(3):
        path = tmp_path / f"{i}.png"
        big = Image.fromarray((255 * (1 - mnist_test.x[i, 0].numpy())).astype(np.uint8)).resize((300, 300))
        big.save(path)
        result = client.predict(handle_file(str(path)), api_name="/classify")
        assert result["ensemble"]["prediction"] == int(mnist_test.y[i])
        assert len(result["models"]) == 12
        assert all(len(m["probabilities"]) == 10 for m in result["models"].values())
    blank = tmp_path / "blank.png"
    Image.new("RGB", (64, 64), "white").save(blank)
    result = client.predict(handle_file(str(blank)), api_name="/classify")
    assert result["ensemble"]["prediction"] is None


def test_bad_uploads_get_clear_errors(server_url, tmp_path):
    import pytest
    from gradio_client.exceptions import AppError

    client = Client(server_url, verbose=False)
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    with pytest.raises(AppError, match="not an image file"):
        client.predict(handle_file(str(text)), api_name="/classify")
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG" + bytes(11 * 2**20))   # over the server's 10 MB upload limit
    with pytest.raises(Exception, match="(?i)file size|too large|exceeds"):
        client.predict(handle_file(str(huge)), api_name="/classify")
    # and the server still answers afterwards
    blank = tmp_path / "blank.png"
    Image.new("L", (32, 32), 255).save(blank)
    assert client.predict(handle_file(str(blank)), api_name="/classify")["ensemble"]["prediction"] is None


@pytest.mark.slow
def test_train_endpoint_streams_a_short_training(server_url):
    from mnist_models import playground
    client = Client(server_url, verbose=False)
    values = dict(playground.DEFAULTS, model="mlp-128", epochs=3, train_images=3000)
    job = client.submit(*[values[f] for f in playground.DEFAULTS], None, api_name="/train")  # None: no preset
    statuses = [update[0] for update in job]   # each streamed update, as it came
    assert job.status().success
    assert any("epoch 2/3" in s for s in statuses[:-1])
    assert "yours 1: mlp-128" in statuses[-1] and "full MNIST test set" in job.outputs()[-1][3]
    loss_plot = job.outputs()[-1][1]
    rows = loss_plot["data"]   # (epoch, loss, curve): training and validation at least once per epoch
    assert {(x, curve) for x, _, curve in rows} >= {(e, c) for e in (1.0, 2.0, 3.0) for c in ("training", "validation")}


def test_train_endpoint_refuses_settings_beyond_its_limits(server_url):
    import pytest
    from gradio_client.exceptions import AppError

    from mnist_models import playground
    client = Client(server_url, verbose=False)
    # Gradio's components check their bounds first; playground.check repeats them for every other caller
    for bad, message in ((dict(epochs=1000), "greater than maximum value 30"),
                         (dict(lr=5.0), "greater than maximum value 1|lr must be between"),
                         (dict(optimizer="rmsprop"), "rmsprop")):
        values = dict(playground.DEFAULTS, **bad)
        with pytest.raises(AppError, match=message):
            client.predict(*[values[f] for f in playground.DEFAULTS], None, api_name="/train")
