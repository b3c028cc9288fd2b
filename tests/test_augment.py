"""Training augmentation: shapes, ranges, determinism, and the synthetic writing styles."""
import torch

from mnist_models.augment import add_styles, augment, draw_segments, draw_where, ink_box
from mnist_models.train import TrainConfig


def test_augment_keeps_shape_range_and_is_seeded(mnist_test):
    x, y = mnist_test.x[:256], mnist_test.y[:256]
    a = augment(x, y, TrainConfig(), torch.Generator().manual_seed(1))
    b = augment(x, y, TrainConfig(), torch.Generator().manual_seed(1))
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, x)
    # the digit survives: most of the ink is still there, still roughly centred
    assert 0.6 < a.sum() / x.sum() < 1.6


def test_no_augmentation_settings_change_nothing(mnist_test):
    x, y = mnist_test.x[:64], mnist_test.y[:64]
    off = TrainConfig(rotate=0, scale=0, shear=0, shift=0, thickness=0, elastic=0, styles=0)
    assert torch.allclose(augment(x, y, off, torch.Generator().manual_seed(0)), x, atol=1e-5)


def test_draw_segment_known_answer():
    x = torch.zeros(1, 1, 28, 28)
    out = draw_segments(x, torch.tensor([[5.0, 4.0]]), torch.tensor([[5.0, 20.0]]), torch.tensor([1.0]))
    assert out[0, 0, 5, 4:21].min() == 1 and out[0, 0, 5].sum() == 17   # a 1 px line, row 5, cols 4..20
    assert out[0, 0, 3].sum() == 0 and out[0, 0, 7].sum() == 0


def test_ink_box_known_answer():
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 6:20, 9:13] = 1
    assert [float(v) for v in ink_box(x)] == [6, 19, 9, 12]


def test_styles_only_touch_zeros_sevens_and_ones(mnist_test):
    x, y = mnist_test.x[:500], mnist_test.y[:500]
    out = add_styles(x, y, 1.0, torch.Generator().manual_seed(0))
    changed = (out - x).abs().sum((1, 2, 3)) > 1
    assert changed[(y == 0) | (y == 7) | (y == 1)].float().mean() > 0.95
    assert not changed[(y != 0) & (y != 7) & (y != 1)].any()
    assert (out >= x).all()   # strokes are added, never removed


def test_drawing_only_where_chosen_equals_drawing_everywhere():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 28, 28, generator=g)
    mask = torch.rand(64, generator=g) < 0.2
    p0, p1 = torch.rand(64, 2, generator=g) * 28, torch.rand(64, 2, generator=g) * 28
    width = 1 + torch.rand(64, generator=g)
    everywhere = torch.where(mask.view(-1, 1, 1, 1), draw_segments(x, p0, p1, width), x)
    assert torch.equal(draw_where(x, mask, p0, p1, width), everywhere)
    assert torch.equal(draw_where(x, torch.zeros(64, dtype=torch.bool), p0, p1, width), x)
