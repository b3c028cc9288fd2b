"""to_mnist against hand-built images whose MNIST form is worked out by hand."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mnist_models import to_mnist


def paper(h, w):
    return np.full((h, w), 255, np.uint8)


def expected_bar():
    # a bar 4x as tall as wide becomes 20x5 px; its centre of mass (9.5, 2) moves to (14, 14):
    # top = floor(14 - 9.5 + 0.5) = 5, left = floor(14 - 2 + 0.5) = 12
    e = np.zeros((28, 28), np.float32)
    e[5:25, 12:17] = 1
    return e


def bar_on_paper(h, w, top, left, bar_h, bar_w):
    img = paper(h, w)
    img[top:top + bar_h, left:left + bar_w] = 0
    return img


def test_off_centre_bar():
    np.testing.assert_allclose(to_mnist(bar_on_paper(200, 200, 30, 150, 100, 25)), expected_bar(), atol=1e-3)


def test_tiny_bar_is_scaled_up():
    np.testing.assert_allclose(to_mnist(bar_on_paper(100, 100, 80, 3, 8, 2)), expected_bar(), atol=1e-3)


def test_huge_bar_is_scaled_down():
    np.testing.assert_allclose(to_mnist(bar_on_paper(2000, 1500, 100, 700, 1600, 400)), expected_bar(), atol=1e-3)


def test_inverted_light_ink_on_dark():
    img = 255 - bar_on_paper(200, 200, 30, 150, 100, 25)
    np.testing.assert_allclose(to_mnist(img), expected_bar(), atol=1e-3)


def test_transparent_background_rgba():
    rgba = np.zeros((200, 200, 4), np.uint8)          # fully transparent...
    rgba[30:130, 150:175] = (0, 0, 0, 255)            # ...with an opaque black bar
    np.testing.assert_allclose(to_mnist(rgba), expected_bar(), atol=1e-3)
    np.testing.assert_allclose(to_mnist(Image.fromarray(rgba, "RGBA")), expected_bar(), atol=1e-3)


def test_opaque_rgb_and_pil_inputs():
    rgb = np.stack([bar_on_paper(200, 200, 30, 150, 100, 25)] * 3, axis=2)
    np.testing.assert_allclose(to_mnist(rgb), expected_bar(), atol=1e-3)
    np.testing.assert_allclose(to_mnist(Image.fromarray(rgb)), expected_bar(), atol=1e-3)


def test_faint_pencil_counts_as_full_ink():
    img = bar_on_paper(200, 200, 30, 150, 100, 25)
    img[img == 0] = 200                               # light grey strokes on white
    np.testing.assert_allclose(to_mnist(img), expected_bar(), atol=1e-3)


def test_centre_of_mass_not_bounding_box_is_centred():
    # a 20x20 "7": top band (80 px, centre (1.5, 9.5)) + right stem (64 px, centre (11.5, 17.5)).
    # Centre of mass: y = (80*1.5 + 64*11.5)/144 = 5.94, x = (80*9.5 + 64*17.5)/144 = 13.06,
    # so top = floor(14 - 5.94 + 0.5) = 8 and left = floor(14 - 13.06 + 0.5) = 1.
    seven = np.zeros((20, 20), np.float32)
    seven[0:4, :] = 1
    seven[4:, 16:] = 1
    img = paper(60, 60)
    img[20:40, 30:50] = np.where(seven > 0, 0, 255)
    expected = np.zeros((28, 28), np.float32)
    expected[8:28, 1:21] = seven
    np.testing.assert_allclose(to_mnist(img), expected, atol=1e-3)


@pytest.mark.parametrize("image", [
    paper(100, 100), np.zeros((100, 100), np.uint8), np.zeros((50, 50, 4), np.uint8),
    np.full((64, 64, 4), 255, np.uint8), np.full((10, 10, 3), 128, np.uint8),
], ids=["white", "black", "transparent", "opaque-white-rgba", "flat-grey"])
def test_blank_images_are_none(image):
    assert to_mnist(image) is None


def test_mnist_digits_round_trip_unchanged(mnist_test):
    # MNIST was made this way, so an MNIST digit (drawn dark on white paper) must come back as itself.
    digits = mnist_test.x[:300, 0].numpy()
    for digit in digits:
        out = to_mnist((255 * (1 - digit)).round().astype(np.uint8))
        np.testing.assert_allclose(out, digit, atol=0.03)


def sketch(paper_colour=(255, 255, 255, 255), ink_alpha=255, ink_at_edge=False):
    """An RGBA canvas as the sketchpad sends it: a bar with grey anti-aliased edges on opaque paper."""
    canvas = np.empty((120, 160, 4), np.uint8)
    canvas[:] = paper_colour
    canvas[20:90, 70:84] = (90, 90, 90, ink_alpha)
    canvas[22:88, 72:82] = (0, 0, 0, ink_alpha)
    if ink_at_edge:
        canvas[0:30, 0:3] = (0, 0, 0, 255)
    return canvas


@st.composite
def canvases(draw):
    """8-bit canvases on paper of one colour (grey or RGBA, any colour) with random marks inside."""
    h, w = draw(st.integers(3, 60)), draw(st.integers(3, 60))
    rgba = draw(st.booleans())
    colour = draw(st.tuples(*[st.integers(0, 255)] * 3, st.sampled_from([255, 255, 128, 0]))) if rgba else \
        draw(st.integers(0, 255))
    canvas = np.empty((h, w, 4) if rgba else (h, w), np.uint8)
    canvas[:] = colour
    for _ in range(draw(st.integers(0, 4))):
        top, left = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
        ink = draw(st.tuples(*[st.integers(0, 255)] * 4)) if rgba else draw(st.integers(0, 255))
        canvas[top:top + draw(st.integers(1, h)), left:left + draw(st.integers(1, w))] = ink
    return canvas


@settings(max_examples=300, deadline=None)
@given(canvases())
def test_fast_crop_inside_a_plain_border_changes_nothing(canvas):
    # the fast path narrows a canvas to the pixels unlike its border before anything else
    a, b = to_mnist(canvas), to_mnist(canvas, fast=False)
    assert (a is None) == (b is None)
    if a is not None:
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("image", [
    bar_on_paper(200, 200, 30, 150, 100, 25), 255 - bar_on_paper(200, 200, 30, 150, 100, 25),
    np.stack([bar_on_paper(90, 120, 10, 5, 70, 9)] * 3, axis=2), paper(40, 40),
    np.where(bar_on_paper(60, 60, 5, 50, 50, 3) == 0, 200, 255).astype(np.uint8),
    np.dstack([np.full((50, 70, 3), 255, np.uint8), 255 - bar_on_paper(50, 70, 1, 1, 48, 68)]),
    np.pad(np.full((3, 3, 4), 255, np.uint8), ((30, 10), (2, 40), (0, 0))),
    sketch(), sketch(paper_colour=(200, 100, 50, 255)), sketch(ink_alpha=128), sketch(ink_at_edge=True),
], ids=["dark-on-light", "light-on-dark", "rgb", "blank", "faint", "rgba-opaque-dark-background", "rgba-transparent",
        "sketchpad", "coloured-paper", "half-transparent-ink", "ink-at-edge"])
def test_fast_path_gives_the_same_answer(image):
    # fast crops on 8-bit values before converting and resizes by matrix products: the same image
    a, b = to_mnist(image), to_mnist(image, fast=False)
    assert (a is None) == (b is None)
    if a is not None:
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape, size", [
    ((350, 360), (20, 19)),   # a drawing's crop: shrink 18x
    ((801, 37), (1, 20)),     # a thin stroke: one column
    ((5, 3), (12, 20)),       # a dot: enlarged
    ((1, 1), (20, 20)),
    ((20, 20), (20, 20)),     # unchanged
    ((64, 7), (20, 3)),       # one axis shrinks, the other not quite
])
def test_resize_is_pillows_lanczos(shape, size):
    from mnist_models.preprocess import resize
    a = np.random.default_rng(0).random(shape, dtype=np.float32)
    pillow = np.asarray(Image.fromarray(a).resize(size, Image.Resampling.LANCZOS))
    ours = resize(a, size)
    assert ours.shape == pillow.shape == size[::-1] and ours.dtype == np.float32
    np.testing.assert_allclose(ours, pillow, atol=1e-6, rtol=0)
