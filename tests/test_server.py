"""The named API endpoints through a real Gradio server, driven by gradio_client."""
import numpy as np
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
