"""Tests of the offline image metrics: Laplacian pyramid and ProGAN-style sliced Wasserstein distance."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from helpers.core.metrics import (
    SWDTracker,
    _extract_patches,
    laplacian_pyramid,
    reconstruct_laplacian_pyramid,
    sliced_wasserstein_distance,
)

# Settings for the behaviour tests (half the default patches and projections, to stay fast),
# and much cheaper ones for tests that check plumbing rather than the metric's behaviour.
KW = {"patches_per_image": 32, "num_projections": 256}
FAST = {"patches_per_image": 16, "num_projections": 64, "num_repeats": 2}


def make_images(n: int, seed: int, size: int = 32) -> torch.Tensor:
    """``n`` random RGB images in [-1, 1]: a flat background plus five soft blobs or hard discs."""
    g = torch.Generator().manual_seed(seed)
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    yy, xx = coords.view(1, 1, -1, 1), coords.view(1, 1, 1, -1)
    k = 5
    cy, cx = torch.rand(n, k, 1, 1, generator=g), torch.rand(n, k, 1, 1, generator=g)
    radius = 0.08 + 0.2 * torch.rand(n, k, 1, 1, generator=g)
    d2 = (yy - cy) ** 2 + (xx - cx) ** 2
    soft = torch.exp(-d2 / (2 * radius**2))
    hard = (d2 < radius**2).float()
    shapes = torch.where(torch.rand(n, k, 1, 1, generator=g) < 0.5, soft, hard)
    colours = torch.rand(n, k, 3, generator=g) * 2 - 1
    background = torch.rand(n, 3, 1, 1, generator=g) - 0.5
    return (background + torch.einsum("nkhw,nkc->nchw", shapes, colours)).clamp(-1, 1)


def add_noise(images: torch.Tensor, sigma: float, seed: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (images + sigma * torch.randn(images.shape, generator=g)).clamp(-1, 1)


def blur3(images: torch.Tensor) -> torch.Tensor:
    """3x3 binomial blur with reflected borders."""
    k = torch.tensor([1.0, 2.0, 1.0])
    kernel = (torch.outer(k, k) / 16).expand(images.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(images, (1, 1, 1, 1), mode="reflect"), kernel, groups=images.shape[1])


@pytest.fixture(scope="module")
def real() -> torch.Tensor:
    return make_images(256, seed=1)


@pytest.fixture(scope="module")
def other() -> torch.Tensor:
    """An independent sample from the same distribution as ``real``."""
    return make_images(256, seed=2)


@pytest.fixture(scope="module")
def tracker(real: torch.Tensor) -> SWDTracker:
    return SWDTracker(real, **KW)


@pytest.fixture(scope="module")
def baseline(tracker: SWDTracker, other: torch.Tensor) -> dict[str, float]:
    return tracker(other)


# --- Laplacian pyramid --------------------------------------------------------------------


@pytest.mark.parametrize("size,num_levels", [(32, 1), (32, 2), (32, 4), (64, 3), (64, 5)])
def test_pyramid_shapes_and_exact_reconstruction(size: int, num_levels: int) -> None:
    images = make_images(4, seed=0, size=size)
    pyramid = laplacian_pyramid(images, num_levels)
    expected = [(4, 3, size >> i, size >> i) for i in range(num_levels)]
    assert [tuple(level.shape) for level in pyramid] == expected
    assert torch.allclose(reconstruct_laplacian_pyramid(pyramid), images, atol=1e-5)


def test_pyramid_odd_and_non_square_sizes_reconstruct() -> None:
    images = torch.randn(2, 3, 33, 20, generator=torch.Generator().manual_seed(0))
    pyramid = laplacian_pyramid(images, 3)
    assert [tuple(level.shape[-2:]) for level in pyramid] == [(33, 20), (17, 10), (9, 5)]
    assert torch.allclose(reconstruct_laplacian_pyramid(pyramid), images, atol=1e-5)


def test_pyramid_residual_is_binomial_blur_then_subsample() -> None:
    """Check the matrix implementation against an independent 5x5 convolution with mirror borders."""
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    kernel = (torch.outer(k, k) / 256).expand(3, 1, 5, 5)
    expected = images
    for _ in range(2):
        expected = F.conv2d(F.pad(expected, (2, 2, 2, 2), mode="reflect"), kernel, groups=3)[:, :, ::2, ::2]
    assert torch.allclose(laplacian_pyramid(images, 3)[-1], expected, atol=1e-5)


def test_pyramid_bands_of_a_constant_image_vanish() -> None:
    images = torch.full((2, 3, 32, 32), 0.3)
    *bands, residual = laplacian_pyramid(images, 3)
    for band in bands:
        assert band.abs().max() < 1e-5
    assert torch.allclose(residual, torch.full_like(residual, 0.3), atol=1e-5)


def test_pyramid_bad_input() -> None:
    with pytest.raises(ValueError, match="num_levels"):
        laplacian_pyramid(torch.zeros(1, 3, 8, 8), 0)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        laplacian_pyramid(torch.zeros(3, 8, 8), 2)
    with pytest.raises(ValueError, match="too small"):
        laplacian_pyramid(torch.zeros(1, 3, 8, 8), 4)


# --- sliced Wasserstein distance: behaviour -----------------------------------------------


def test_extracted_patches_are_the_image_windows() -> None:
    level = torch.randn(5, 3, 20, 17, generator=torch.Generator().manual_seed(0))
    patches = _extract_patches(level, 7, 10, torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(4)  # the same draws: all rows, then all columns
    ys = torch.randint(0, 14, (5, 10), generator=g)
    xs = torch.randint(0, 11, (5, 10), generator=g)
    assert patches.shape == (50, 7 * 7 * 3)
    for i in range(5):
        for j in range(10):
            y, x = int(ys[i, j]), int(xs[i, j])
            window = level[i, :, y : y + 7, x : x + 7].permute(1, 2, 0).reshape(-1)  # channel last
            assert torch.equal(patches[i * 10 + j], window)


def test_keys_and_average(baseline: dict[str, float]) -> None:
    assert list(baseline) == ["swd_32", "swd_16", "swd_avg"]
    assert baseline["swd_avg"] == pytest.approx((baseline["swd_32"] + baseline["swd_16"]) / 2)
    assert all(math.isfinite(v) and v > 0 for v in baseline.values())


def test_levels_of_64px_images() -> None:
    images = make_images(8, seed=0, size=64)
    result = sliced_wasserstein_distance(images, make_images(8, seed=5, size=64), **FAST)
    assert list(result) == ["swd_64", "swd_32", "swd_16", "swd_avg"]
    result = sliced_wasserstein_distance(images, images, min_resolution=32, **FAST)
    assert list(result) == ["swd_64", "swd_32", "swd_avg"]


def test_noise_floor_is_small(tracker: SWDTracker, real: torch.Tensor, baseline: dict[str, float]) -> None:
    # The same images with other random patches are closer still than an independent sample.
    assert tracker(real)["swd_avg"] < baseline["swd_avg"] < 60


def test_noise_increases_swd_monotonically(
    tracker: SWDTracker, other: torch.Tensor, baseline: dict[str, float]
) -> None:
    values = [tracker(add_noise(other, sigma))["swd_avg"] for sigma in (0.02, 0.05, 0.2, 0.5)]
    assert values[0] > 1.5 * baseline["swd_avg"]
    assert values[1] > 1.3 * values[0]
    assert values[0] < values[1] < values[2] < values[3]
    # Each set is normalised by its own statistics, so once noise swamps the finest band its
    # amplitude hardly matters any more (0.2 and 0.5 differ by a few per cent here).


def test_noise_with_real_normalisation_grows_with_amplitude(real: torch.Tensor, other: torch.Tensor) -> None:
    tracker = SWDTracker(real, normalize="real", **KW)
    values = [tracker(add_noise(other, sigma))["swd_avg"] for sigma in (0.0, 0.05, 0.2, 0.5)]
    assert all(b > 1.5 * a for a, b in zip(values, values[1:]))


def test_blur_increases_swd_at_the_finest_level(
    tracker: SWDTracker, other: torch.Tensor, baseline: dict[str, float]
) -> None:
    once = tracker(blur3(other))
    twice = tracker(blur3(blur3(other)))
    assert once["swd_32"] > 2 * baseline["swd_32"]
    assert twice["swd_32"] > 1.2 * once["swd_32"]
    assert twice["swd_avg"] > once["swd_avg"] > 1.3 * baseline["swd_avg"]


def test_per_set_normalisation_ignores_affine_colour_change(
    real: torch.Tensor, other: torch.Tensor, tracker: SWDTracker, baseline: dict[str, float]
) -> None:
    shifted = other * 0.5 + 0.2
    assert tracker(shifted)["swd_avg"] == pytest.approx(baseline["swd_avg"], rel=1e-3)
    strict = SWDTracker(real, normalize="real", **KW)
    assert strict(shifted)["swd_avg"] > 3 * strict(other)["swd_avg"]


def test_mode_collapse_is_penalised(
    tracker: SWDTracker, other: torch.Tensor, baseline: dict[str, float]
) -> None:
    collapsed = other[:1].expand_as(other).contiguous()
    assert tracker(collapsed)["swd_avg"] > 2 * baseline["swd_avg"]


def test_roughly_symmetric(real: torch.Tensor, other: torch.Tensor, baseline: dict[str, float]) -> None:
    swapped = sliced_wasserstein_distance(other, real, **KW)
    assert swapped["swd_avg"] == pytest.approx(baseline["swd_avg"], rel=0.25)
    noisy = add_noise(other, 0.05)
    forward = sliced_wasserstein_distance(real, noisy, **FAST)["swd_avg"]
    backward = sliced_wasserstein_distance(noisy, real, **FAST)["swd_avg"]
    assert backward == pytest.approx(forward, rel=0.25)


# --- determinism, caching, devices --------------------------------------------------------


def test_deterministic_for_a_seed(real: torch.Tensor, other: torch.Tensor) -> None:
    real_before, other_before = real.clone(), other.clone()
    first = sliced_wasserstein_distance(real, other, seed=7, **FAST)
    assert torch.equal(real, real_before) and torch.equal(other, other_before)  # inputs untouched
    assert sliced_wasserstein_distance(real, other, seed=7, **FAST) == first
    different = sliced_wasserstein_distance(real, other, seed=8, **FAST)
    assert different != first
    assert different["swd_avg"] == pytest.approx(first["swd_avg"], rel=0.3)


def test_does_not_touch_global_rng(real: torch.Tensor, other: torch.Tensor) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    sliced_wasserstein_distance(real[:8], other[:8], **FAST)
    assert torch.equal(torch.rand(3), expected)


def test_tracker_matches_function_and_repeats(
    tracker: SWDTracker, real: torch.Tensor, other: torch.Tensor, baseline: dict[str, float]
) -> None:
    assert sliced_wasserstein_distance(real, other, **KW) == baseline
    assert tracker(other) == baseline


def test_tracker_matches_function_with_defaults(real: torch.Tensor, other: torch.Tensor) -> None:
    tracker = SWDTracker(real[:64])
    first = tracker(other[:64])
    assert first == sliced_wasserstein_distance(real[:64], other[:64])
    assert tracker(other[:64]) == first


@pytest.mark.parametrize("num_fake", [40, 100])
def test_unequal_counts(real: torch.Tensor, other: torch.Tensor, num_fake: int) -> None:
    small_real = real[:64]
    tracker = SWDTracker(small_real, **FAST)
    result = tracker(other[:num_fake])
    assert result == sliced_wasserstein_distance(small_real, other[:num_fake], **FAST)
    assert all(math.isfinite(v) and v > 0 for v in result.values())


def test_memory_layout_does_not_matter(
    tracker: SWDTracker, other: torch.Tensor, baseline: dict[str, float]
) -> None:
    assert tracker(other.to(memory_format=torch.channels_last)) == pytest.approx(baseline, rel=1e-4)
    assert tracker(torch.cat([other, other], dim=3)[..., 32:]) == pytest.approx(baseline, rel=1e-4)


def test_accepts_grad_half_and_double(real: torch.Tensor, other: torch.Tensor) -> None:
    tracker = SWDTracker(real[:16], **FAST)
    fake = other[:16].clone().requires_grad_(True)
    reference = tracker(fake)
    assert tracker(fake.double()) == pytest.approx(reference, rel=1e-4)
    assert tracker(fake.half())["swd_avg"] == pytest.approx(reference["swd_avg"], rel=0.05)


def test_nan_input_gives_nan(real: torch.Tensor) -> None:
    fake = real[:8].clone()
    fake[0, 0, 0, 0] = float("nan")
    assert math.isnan(sliced_wasserstein_distance(real[:8], fake, **FAST)["swd_avg"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(real: torch.Tensor, other: torch.Tensor) -> None:
    cpu = sliced_wasserstein_distance(real, other, **KW)
    cuda = sliced_wasserstein_distance(real.cuda(), other.cuda(), **KW)
    assert cuda == pytest.approx(cpu, rel=1e-3)
    tracker = SWDTracker(real.cuda(), **KW)
    assert tracker(other) == pytest.approx(cpu, rel=1e-3)  # fakes are moved to the real images' device


# --- errors -------------------------------------------------------------------------------


def test_errors_on_bad_input(real: torch.Tensor) -> None:
    x = real[:4]
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        sliced_wasserstein_distance(x[0], x)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        SWDTracker(x, **FAST)(x[0])
    with pytest.raises(ValueError, match="same"):
        sliced_wasserstein_distance(x, x[:, :1])
    with pytest.raises(ValueError, match="channels"):
        SWDTracker(x, **FAST)(x[:, :1])
    with pytest.raises(ValueError, match="16x16"):
        SWDTracker(x, **FAST)(x[..., :16, :16])
    with pytest.raises(ValueError, match="patch_size"):
        sliced_wasserstein_distance(x[..., :5, :5], x[..., :5, :5], min_resolution=4)
    with pytest.raises(ValueError, match="min_resolution"):
        sliced_wasserstein_distance(x, x, min_resolution=64)
    with pytest.raises(ValueError, match="at least 2"):
        sliced_wasserstein_distance(x, x[:1])
    with pytest.raises(ValueError, match="at least 2"):
        SWDTracker(x[:1])
    with pytest.raises(ValueError, match="floating"):
        sliced_wasserstein_distance(x, (x > 0).to(torch.uint8))
    with pytest.raises(ValueError, match="num_repeats"):
        SWDTracker(x, num_projections=2, num_repeats=4)
    with pytest.raises(ValueError, match="patches_per_image"):
        SWDTracker(x, patches_per_image=0)
    with pytest.raises(ValueError, match="normalize"):
        SWDTracker(x, normalize="fake")  # type: ignore[arg-type]
