"""to_mnist: turn any drawing or photo of one digit into a 28x28 MNIST-style image, as MNIST itself was made.

LeCun et al.: crop to the ink, scale the longer side to 20 px keeping the aspect ratio (anti-aliased),
place in a 28x28 field so that the centre of mass lands on pixel (14, 14).
"""
import numpy as np
from PIL import Image

BOX = 20          # MNIST digits are size-normalised to fit a 20x20 box...
FIELD = 28        # ...inside a 28x28 field...
CENTRE = 14.0     # ...with the centre of mass at pixel (14, 14): MNIST's mean is (14.00, 14.01), spread ±0.29
INK_FLOOR = 0.02  # fainter than this is not ink (noise); MNIST digits themselves round-trip unchanged
BLANK_LEVEL = 0.1 # an image whose strongest mark is below this fraction of full contrast is blank


def ink_map(image):
    """Any image -> float32 (H, W) in [0, 1], 1 = ink, background 0, whatever the image's polarity."""
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            image = image.convert("RGBA")
        elif image.mode != "L":
            image = image.convert("L")
        image = np.asarray(image)
    arr = np.asarray(image, dtype=np.float32)
    if arr.dtype != np.float32 or arr.max(initial=0) > 1.0:
        arr = arr / 255.0
    if arr.ndim == 3 and arr.shape[2] == 4 and arr[..., 3].min() < 1.0:
        return arr[..., 3]  # drawn on a transparent background: opacity is the ink, whatever its colour
    if arr.ndim == 3:
        arr = arr[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601 luma, as PIL's "L"
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    background = float(np.median(border))
    if background > 0.5:                      # dark ink on light paper: flip
        arr, background = 1.0 - arr, 1.0 - background
    return np.clip((arr - background) / max(1.0 - background, 1e-6), 0.0, 1.0)


def to_mnist(image):
    """PIL image or numpy array (L, RGB or RGBA, any size) -> (28, 28) float32 in [0, 1], or None if blank."""
    ink = ink_map(image)
    if ink.size == 0 or ink.max() < BLANK_LEVEL:
        return None
    ink = ink / ink.max()                     # a faint pencil drawing is as much a digit as a bold one
    rows, cols = np.nonzero(ink > INK_FLOOR)
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]

    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS), np.float32)
    small = np.clip(small, 0.0, 1.0)          # Lanczos rings slightly below 0 and above 1

    ys, xs = np.indices(small.shape)
    mass = small.sum()
    top = int(np.floor(CENTRE - (ys * small).sum() / mass + 0.5))
    left = int(np.floor(CENTRE - (xs * small).sum() / mass + 0.5))
    field = np.zeros((FIELD + 2 * BOX, FIELD + 2 * BOX), np.float32)  # margin: a lopsided digit may overhang
    field[BOX + top:BOX + top + size[1], BOX + left:BOX + left + size[0]] = small
    return field[BOX:BOX + FIELD, BOX:BOX + FIELD].copy()
