"""Batched, on-device augmentation that turns clean MNIST digits into what canvas drawings look like.

Stroke thickness changes, then one grid_sample applying a random affine warp (rotation, scale, shear,
shift) plus a smooth elastic displacement. Applied to the whole training set once per epoch.
"""
import math

import torch
import torch.nn.functional as F


def thickness(x, strength, generator):
    """Blend each image toward its dilation (thicker) or erosion (thinner) by a random amount."""
    t = (torch.rand(len(x), 1, 1, 1, device=x.device, generator=generator) * 2 - 1) * strength
    grown = F.max_pool2d(x, 3, stride=1, padding=1)
    shrunk = -F.max_pool2d(-x, 3, stride=1, padding=1)
    return torch.where(t > 0, x + t * (grown - x), x - t * (shrunk - x))


def random_affine(n, cfg, generator, device):
    """(n, 2, 3) matrices for affine_grid: output -> input coordinates, in [-1, 1] units."""
    def uniform(limit):
        return (torch.rand(n, device=device, generator=generator) * 2 - 1) * limit

    angle = uniform(math.radians(cfg.rotate))
    scale = torch.exp(uniform(math.log1p(cfg.scale)))
    shear = uniform(cfg.shear)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([
        torch.stack([cos, -sin + shear * cos, uniform(cfg.shift * 2 / 28)], 1),
        torch.stack([sin, cos + shear * sin, uniform(cfg.shift * 2 / 28)], 1),
    ], 1)
    return theta


def elastic_field(n, strength, generator, device, coarse=4):
    """Smooth random displacement (n, 28, 28, 2) in [-1, 1] units: coarse noise, bicubic-upsampled."""
    noise = torch.randn(n, 2, coarse, coarse, device=device, generator=generator)
    field = F.interpolate(noise, size=(28, 28), mode="bicubic", align_corners=True)
    return field.permute(0, 2, 3, 1) * (strength * 2 / 28)  # (n,2,28,28) -> (n,28,28,2)


@torch.no_grad()
def augment(x, cfg, generator, chunk=8192):
    """(N,1,28,28) in [0,1] -> a freshly augmented copy, processed in chunks to bound memory."""
    out = torch.empty_like(x)
    for i in range(0, len(x), chunk):
        xb = x[i:i + chunk]
        n, device = len(xb), xb.device
        if cfg.thickness:
            xb = thickness(xb, cfg.thickness, generator)
        grid = F.affine_grid(random_affine(n, cfg, generator, device), list(xb.shape), align_corners=False)
        if cfg.elastic:
            grid = grid + elastic_field(n, cfg.elastic, generator, device)
        out[i:i + chunk] = F.grid_sample(xb, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.clamp_(0, 1)
