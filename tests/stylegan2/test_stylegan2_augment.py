"""Differentiable augmentation: each transformation does what it says, keeps gradients and is seeded."""

from __future__ import annotations

import pytest
import torch

from helpers.stylegan2.augment import diff_augment, random_color, random_cutout, random_translation


def _images(n: int = 6, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_translation_shifts_each_image_by_at_most_an_eighth_and_pads_with_zeros():
    x = _images()
    y = random_translation(x, generator=_gen())
    assert y.shape == x.shape
    shifts = []
    for image, shifted in zip(x, y):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if torch.equal(shifted, torch.roll(torch.nn.functional.pad(image, [2, 2, 2, 2]), (-dy, -dx),
                                                    dims=(1, 2))[:, 2:-2, 2:-2])]
        assert len(found) == 1, "each image is the original moved by a whole number of pixels, zeros filled in"
        shifts.append(found[0])
    assert len(set(shifts)) > 1, "the shift is drawn per image"


def test_cutout_zeroes_one_square_per_image():
    x = _images(size=16) + 3  # no zeros in the input
    y = random_cutout(x, generator=_gen())
    for image, cut in zip(x, y):
        zero = (cut == 0).all(dim=0)
        assert torch.equal(cut[:, ~zero], image[:, ~zero]), "outside the square nothing changes"
        rows, cols = zero.any(dim=1).nonzero().flatten(), zero.any(dim=0).nonzero().flatten()
        assert 4 <= len(rows) <= 8 and 4 <= len(cols) <= 8, "a square of half the size, possibly clipped"
        assert int(zero.sum()) == len(rows) * len(cols), "the zeroed region is a rectangle"


def test_color_changes_each_image_by_its_own_brightness_saturation_and_contrast():
    x = _images()
    y = random_color(x, generator=_gen())
    assert y.shape == x.shape and not torch.allclose(x, y)
    gray = torch.zeros(2, 3, 4, 4)
    gray_out = random_color(gray, generator=_gen(1))
    assert torch.allclose(gray_out, gray_out[:, :1, :1, :1].expand_as(gray_out)), "a flat image stays flat"
    assert not torch.allclose(gray_out[0], gray_out[1]), "brightness is drawn per image"


def test_diff_augment_is_seeded_differentiable_and_checks_its_policy():
    x = _images().requires_grad_(True)
    a = diff_augment(x, generator=_gen(3))
    assert torch.equal(a, diff_augment(x, generator=_gen(3)))
    assert not torch.equal(a, diff_augment(x, generator=_gen(4)))
    a.square().sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0, "gradients reach the images (and so G)"
    assert diff_augment(x, "") is x
    with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
        diff_augment(x, "color, flip")
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        diff_augment(torch.zeros(3, 8, 8))
