"""Differentiable augmentation for GAN discriminators on small data sets (Zhao et al., 2020, "Differentiable
Augmentation for Data-Efficient GAN Training").

With about 1,200 training emojis a discriminator soon memorises the real images, and its gradients stop telling
the generator anything useful (the samples stay blobs). Showing the discriminator *augmented* real and fake images,
with augmentations that are differentiable so that the generator still gets gradients through them, keeps it from
memorising. The same random transformations are applied to real and fake images alike, so the generator is not
pushed to produce augmented-looking images.

Images are (N, C, H, W) tensors in [-1, 1]. Every transformation draws its parameters per image from ``generator``
(or torch's global generator on the images' device when None).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def _uniform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One U(0, 1) number per image, shaped (N, 1, 1, 1) to broadcast over the image."""
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype, generator=generator)


def random_color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random brightness (shift by U(-0.5, 0.5)), saturation (x U(0, 2)) and contrast (x U(0.5, 1.5))."""
    x = x + (_uniform(x, generator) - 0.5)
    gray = x.mean(dim=1, keepdim=True)
    x = (x - gray) * (_uniform(x, generator) * 2) + gray
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_uniform(x, generator) + 0.5) + mean


def _randint(low: int, high: int, n: int, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randint(low, high, (n, 1, 1), device=x.device, generator=generator)


def random_translation(x: torch.Tensor, ratio: float = 0.125, generator: torch.Generator | None = None,
                       ) -> torch.Tensor:
    """Shift each image by a random whole number of pixels, up to ``ratio`` of its size in each direction; the
    uncovered border is filled with zeros (mid-grey)."""
    n, _, h, w = x.shape
    sy, sx = max(round(h * ratio), 1), max(round(w * ratio), 1)
    dy = _randint(-sy, sy + 1, n, x, generator)
    dx = _randint(-sx, sx + 1, n, x, generator)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + dy + sy  # rows of the padded image to read
    cols = torch.arange(w, device=x.device).view(1, 1, w) + dx + sx
    padded = F.pad(x, [sx, sx, sy, sy]).permute(0, 2, 3, 1)  # (N, H + 2sy, W + 2sx, C)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


def random_cutout(x: torch.Tensor, ratio: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Set a random square of ``ratio`` times the image size to zero (mid-grey) in each image; the square may
    stick out of the image."""
    n, _, h, w = x.shape
    ch, cw = max(round(h * ratio), 1), max(round(w * ratio), 1)
    top = _randint(-(ch // 2), h - ch // 2 + 1, n, x, generator)
    left = _randint(-(cw // 2), w - cw // 2 + 1, n, x, generator)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)  # (N, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the comma-separated augmentations of ``policy`` (any of ``color``, ``translation``, ``cutout``, in
    that order) to a batch of images; an empty policy returns ``x`` unchanged."""
    names = parse_policy(policy)
    if x.ndim != 4:
        raise ValueError(f"diff_augment expects images of shape (N, C, H, W), got {tuple(x.shape)}")
    if "color" in names:
        x = random_color(x, generator=generator)
    if "translation" in names:
        x = random_translation(x, generator=generator)
    if "cutout" in names:
        x = random_cutout(x, generator=generator)
    return x


def parse_policy(policy: str) -> list[str]:
    """The augmentation names in ``policy`` (comma-separated), checked."""
    names = [name.strip() for name in policy.split(",") if name.strip()]
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise ValueError(f"unknown augmentation {', '.join(map(repr, unknown))} in policy {policy!r}; "
                         f"choose from {', '.join(POLICIES)}")
    return names
