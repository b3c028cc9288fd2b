"""to_mnist: turn any drawing or photo of one digit into a 28x28 MNIST-style image, as MNIST itself was made.

LeCun et al.: crop to the ink, scale the longer side to 20 px keeping the aspect ratio (anti-aliased),
place in a 28x28 field so that the centre of mass lands on pixel (14, 14).
"""
import contextlib
import functools

import numpy as np
from PIL import Image

BOX = 20          # MNIST digits are size-normalised to fit a 20x20 box...
FIELD = 28        # ...inside a 28x28 field...
CENTRE = 14.0     # ...with the centre of mass at pixel (14, 14): MNIST's mean is (14.00, 14.01), spread ±0.29
INK_FLOOR = 0.02  # fainter than this is not ink (noise); MNIST digits themselves round-trip unchanged
BLANK_LEVEL = 0.1 # an image whose strongest mark is below this fraction of full contrast is blank


MAX_PIXELS = 40_000_000  # larger images are refused: bounded time and memory for a public demo
MAX_SIDE = 10_000        # and longer sides: resizing a 2 x 8,000,000 line took 19 s and 3 GB

LUMA = np.array([0.299, 0.587, 0.114, 0.0], np.float32)  # ITU-R 601 luma, as PIL's "L" (alpha: no part)


def pixels(image):
    """PIL image or array -> ndarray: RGBA where there is transparency, else L; arrays as they are.

    Raises ValueError, saying why, for anything that is not an image to_mnist can read.
    """
    if isinstance(image, Image.Image):
        check_size(image.height, image.width)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            image = image.convert("RGBA")
        elif image.mode != "L":
            image = image.convert("L")
    elif not isinstance(image, np.ndarray):
        raise ValueError(f"expected a PIL image or a numpy array of pixels, got {type(image).__name__}")
    return checked(np.asarray(image))


def checked(raw):
    """An array of pixels -> (H, W) or (H, W, 3|4) numbers to_mnist can read, else ValueError saying why."""
    if raw.dtype == bool:
        raw = raw.astype(np.uint8) * 255
    if raw.dtype.kind not in "uif":
        raise ValueError(f"pixels must be numbers, not {raw.dtype}")
    if raw.ndim not in (2, 3) or (raw.ndim == 3 and raw.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"expected an image of shape (H, W) or (H, W, 1 to 4 channels), got shape {raw.shape}")
    check_size(*raw.shape[:2])
    if raw.size and raw.dtype.kind == "f" and not np.isfinite(raw).all():
        raise ValueError("the image has NaN or infinite pixel values")
    if raw.size and raw.dtype != np.uint8 and (raw.min() < 0 or raw.max() > 255):  # uint8 always fits
        raise ValueError(f"pixel values must lie in 0-255 (or 0-1), got {raw.min()} to {raw.max()}")
    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[..., 0]
    elif raw.ndim == 3 and raw.shape[2] == 2:  # grey + alpha: as RGBA
        raw = raw[..., [0, 0, 0, 1]]
    return raw


def check_size(height, width):
    """ValueError, saying why, for an image too big to work on in bounded time and memory."""
    if height * width > MAX_PIXELS:
        raise ValueError(f"image too large ({width}x{height} px); at most {MAX_PIXELS // 1_000_000} megapixels")
    if max(height, width) > MAX_SIDE:
        raise ValueError(f"image too long ({width}x{height} px); at most {MAX_SIDE:,} px a side")


def ink_map(image, crop=False):
    """Any image -> float32 (H, W) in [0, 1], 1 = ink, background 0, whatever the image's polarity.

    crop=True returns only a box that holds all the ink (an empty array if there is none), found on
    the 8-bit values first, so a big canvas is never converted to float as a whole.
    """
    raw = pixels(image)
    if raw.size == 0:
        return np.zeros((0, 0), np.float32)
    edges = [raw[0], raw[-1], raw[:, 0], raw[:, -1]]
    # 0-255 values, or already 0-1; the border usually settles it without reading the whole image
    unit = 255.0 if max(e.max() for e in edges) > 1 or raw.max() > 1 else 1.0

    def as_float(a):
        a = np.asarray(a, np.float32)
        return a / 255.0 if unit > 1 else a

    whole = raw
    if crop and (paper := _inside_plain_border(raw)) is not None:
        raw = raw[paper]  # the rest is the border's own colour: ink 0 whatever follows
        if raw.size == 0:
            return np.zeros((0, 0), np.float32)
    column_lows = raw.min(axis=0) if raw.ndim == 3 else None  # (W, channels), reused to crop dark ink
    if raw.ndim == 3 and raw.shape[2] == 4 and as_float(column_lows[:, 3].min()) < 1.0:
        # drawn on a transparent background: opacity is the ink, whatever its colour
        alpha = whole[..., 3]
        return as_float(alpha[_box(alpha > 0)] if crop else alpha)

    def luma(a):  # (..., channels) or grey (...) -> a new float32 array in [0, 1]
        if raw.ndim == 2:
            out = a.astype(np.float32)
        else:     # channel by channel, in place: no (H, W, 4) float copy
            out = a[..., 0].astype(np.float32)
            out *= LUMA[0]
            for c in (1, 2):
                channel = a[..., c].astype(np.float32)
                channel *= LUMA[c]
                out += channel
        if unit > 1:
            out /= 255.0
        return out

    background = float(np.median(luma(np.concatenate(edges))))
    flip = background > 0.5                    # dark ink on light paper
    if crop and raw.dtype == np.uint8 and (raw.ndim == 2 or raw.shape[2] in (3, 4)):
        # Only pixels with ink >= INK_FLOOR * BLANK_LEVEL can change to_mnist's answer (fainter ones are
        # below the crop threshold of any image that is not blank). Luma lies between a pixel's smallest
        # and largest channel, so their box is found from 8-bit channel extremes per row and column.
        faint = INK_FLOOR * BLANK_LEVEL / 2
        if flip:   # dark ink: any channel darker than the paper (opaque alpha, 255, never is)
            limit = unit * background * (1 - faint)
            rows = raw.reshape(len(raw), -1).min(axis=1)   # contiguous reductions: fast
            cols = column_lows.min(axis=1) if raw.ndim == 3 else raw.min(axis=0)
            keep_rows, keep_cols = rows < limit, cols < limit
        else:      # light ink: any colour channel brighter than the background (alpha left out)
            colour = raw if raw.ndim == 2 else np.maximum(np.maximum(raw[..., 0], raw[..., 1]), raw[..., 2])
            limit = unit * (background + faint * (1 - background))
            keep_rows, keep_cols = colour.max(axis=1) > limit, colour.max(axis=0) > limit
        raw = raw[_span(keep_rows), _span(keep_cols)]
    arr = luma(raw)  # from here on in place: a large drawing's crop is a megabyte or more
    if flip:
        np.subtract(1.0, arr, out=arr)
        background = 1.0 - background
    if background:  # on clean paper (background 0) these would change nothing: two passes skipped
        arr -= background
        arr /= max(1.0 - background, 1e-6)
    return np.clip(arr, 0.0, 1.0, out=arr)


def _inside_plain_border(raw):
    """The (rows, cols) box of the pixels unlike the border, if the border is all one opaque 8-bit colour.

    A canvas: its border is the paper, and so is every pixel of exactly that colour, whose ink comes
    out exactly 0 (it is the background). One comparison per pixel, on RGBA packed into one word.
    None where that does not hold (photos, transparency, other types): the general path decides.
    """
    if raw.dtype != np.uint8 or not raw.flags.c_contiguous or (raw.ndim == 3 and raw.shape[2] != 4):
        return None
    if raw.ndim == 3 and raw[0, 0, 3] != 255:
        return None  # transparent paper: opacity is the ink, read from the whole image
    words = raw if raw.ndim == 2 else raw.view(np.uint32)[..., 0]
    colour = words[0, 0]
    if any((edge != colour).any() for edge in (words[0], words[-1], words[:, 0], words[:, -1])):
        return None
    unlike = words != colour
    rows = _span(unlike.any(axis=1))
    return rows, _span(unlike[rows].any(axis=0))


def _span(keep):
    """Bool (N,) -> the slice from its first to its last True (empty if none)."""
    idx = np.flatnonzero(keep)
    return slice(idx[0], idx[-1] + 1) if len(idx) else slice(0, 0)


def _box(mask):
    """Bool (H, W) -> the (rows, cols) slices of its True pixels' bounding box."""
    return _span(mask.any(1)), _span(mask.any(0))


@functools.lru_cache(maxsize=32)  # drawings repeat their sizes; each at most 20 x MAX_SIDE doubles (1.6 MB)
def lanczos_weights(n_in, n_out):
    """(n_out, n_in) float64, read-only: Pillow's Lanczos-3 resampling weights (Resample.c, precompute_coeffs)."""
    scale = n_in / n_out
    stretch = max(scale, 1.0)        # shrinking widens the kernel so that every input pixel counts
    support = 3.0 * stretch
    centre = (np.arange(n_out) + 0.5) * scale
    first = np.maximum((centre - support + 0.5).astype(np.int64), 0)  # C's (int) rounds toward zero
    last = np.minimum((centre + support + 0.5).astype(np.int64), n_in)
    width = int(np.ceil(support)) * 2 + 1
    taps = first[:, None] + np.arange(width)                          # only the kernel's reach: cheap
    x = (taps - centre[:, None] + 0.5) / stretch
    # Lanczos-3, sinc(x)·sinc(x/3) = 3·sin(πx)·sin(πx/3) / (πx)², with one sine (the costly part):
    # sin(πx) = s·(3 - 4s²) for s = sin(πx/3). At x = 0 its limit, 1.
    s2 = np.sin(np.pi / 3 * x) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(x == 0, 1.0, 3 * s2 * (3 - 4 * s2) / (np.pi * x) ** 2)
    w *= (x >= -3) & (x < 3) & (taps < last[:, None])
    total = w.sum(1, keepdims=True)
    w /= np.where(total == 0, 1, total)
    dense = np.zeros((n_out, n_in + width))
    np.put_along_axis(dense, taps, w, axis=1)
    dense = dense[:, :n_in].copy()
    dense.flags.writeable = False  # shared by every call with these sizes
    return dense


def resize(a, size):
    """float32 (H, W) -> size (w, h): Image.resize(size, LANCZOS) as two matrix products.

    The same numbers as Pillow to within 1e-6 (a test compares), several times faster: Pillow filters
    one pixel at a time in double precision, a matrix product runs vectorised.
    """
    w, h = size
    # Like Pillow: sums in double precision, each pass stored as float32. Float32 sums would differ in
    # the last bit, enough to move a symmetric digit's centre of mass off an exact .5 and shift it a row.
    if a.shape[1] != w:
        a = (a.astype(np.float64) @ lanczos_weights(a.shape[1], w).T).astype(np.float32)
    if a.shape[0] != h:
        a = (lanczos_weights(a.shape[0], h) @ a.astype(np.float64)).astype(np.float32)
    return np.ascontiguousarray(a, np.float32)


@functools.cache
def _blas():
    """threadpoolctl's handle on numpy's BLAS, or None where it is not installed (a training machine:
    only to_mnist's speed depends on it, never its answer)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def one_blas_thread():
    """to_mnist's matrix products are small: one BLAS thread does them as fast as two, and OpenBLAS's
    helpers would go on spinning for a while afterwards, on the core the models are about to run on."""
    blas = _blas()
    return blas.limit(limits=1, user_api="blas") if blas else contextlib.nullcontext()


def to_mnist(image, fast=True):
    """PIL image or numpy array (L, RGB or RGBA, any size) -> (28, 28) float32 in [0, 1], or None if blank.

    fast=False is the first release's way (the whole image converted to float before cropping, Pillow's
    resize): the same answer to within 1e-6, slower; benchmarks compare the two.
    """
    with one_blas_thread():
        return _to_mnist(image, fast)


def _to_mnist(image, fast):
    ink = ink_map(image, crop=fast)
    strongest = ink.max(initial=0.0)
    if strongest < BLANK_LEVEL:
        return None
    ink = ink / strongest                        # a faint pencil drawing is as much a digit as a bold one
    crop = ink[_box(ink > INK_FLOOR)]

    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = resize(crop, size) if fast else \
        np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS), np.float32)
    small = np.clip(small, 0.0, 1.0)          # Lanczos rings slightly below 0 and above 1

    ys, xs = np.indices(small.shape)
    mass = small.sum()
    top = int(np.floor(CENTRE - (ys * small).sum() / mass + 0.5))
    left = int(np.floor(CENTRE - (xs * small).sum() / mass + 0.5))
    field = np.zeros((FIELD + 2 * BOX, FIELD + 2 * BOX), np.float32)  # margin: a lopsided digit may overhang
    field[BOX + top:BOX + top + size[1], BOX + left:BOX + left + size[0]] = small
    return field[BOX:BOX + FIELD, BOX:BOX + FIELD].copy()
