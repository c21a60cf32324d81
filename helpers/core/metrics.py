"""Offline image-quality metrics that need no downloaded network.

The main metric is the sliced Wasserstein distance (SWD) between multi-scale patch
statistics of two image sets, the metric of the Progressive GAN paper (Karras et al.,
"Progressive Growing of GANs for Improved Quality, Stability, and Variation", ICLR 2018,
appendix D).  It works like this:

1. Each image is split into a Laplacian pyramid: band-pass images at the full, half,
   quarter, ... resolution and a low-pass residual at the coarsest level kept.
2. From every level, random ``patch_size`` x ``patch_size`` patches ("descriptors") are cut
   out of each image, so each level gives a cloud of ``N * patches_per_image`` points in a
   ``C * patch_size**2``-dimensional space.
3. Each descriptor set is normalised per colour channel to zero mean and unit variance.
4. The two point clouds of a level are compared with the sliced Wasserstein distance: both
   are projected onto many random unit directions; along one direction the 1-D Wasserstein-1
   distance between equally many samples is the mean absolute difference of the sorted values.

Fine levels measure texture and edges, the coarse ones colour blobs and layout.  Lower is
better; the values are multiplied by 1e3 as in the paper.  Everything is computed on the
device of the real images, while all random numbers come from CPU generators seeded from
``seed``, so a given seed gives the same patches and directions on CPU and CUDA.

Note the normalisation of step 3: as in ProGAN each set is normalised with its *own*
statistics by default, which makes the metric blind to a per-channel affine change of
intensities (a global colour cast or contrast change), and makes it saturate once noise
dominates a band (the fine band of noisy smooth images looks like white noise whatever its
amplitude).  ``normalize="real"`` normalises both sets with the real statistics instead, so
that such shifts and amplitudes count.

Cost: per level and image set, the (N * patches_per_image, C * patch_size**2) descriptors
are multiplied by ``num_projections`` directions and each projection is sorted; on CPU the
sorts use NumPy's SIMD sort, several times faster than ``torch.sort``.  :class:`SWDTracker`
keeps the real side, so evaluating a fake set costs about half of
:func:`sliced_wasserstein_distance`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

__all__ = [
    "SWDTracker",
    "laplacian_pyramid",
    "reconstruct_laplacian_pyramid",
    "sliced_wasserstein_distance",
]


# 5-tap binomial filter [1, 4, 6, 4, 1] / 16 (the classic Burt-Adelson Gaussian approximation).
_BINOMIAL_5 = (1.0, 4.0, 6.0, 4.0, 1.0)
# Independent random streams derived from ``seed``.
_STREAM_DIRECTIONS = 0
_STREAM_REAL_PATCHES = 1
_STREAM_FAKE_PATCHES = 2
_STREAM_SUBSAMPLE = 3
Normalize = Literal["per_set", "real"]


def _check_images(images: torch.Tensor, name: str) -> None:
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor (images in [-1, 1]), got {images.dtype}")


def _blur_matrix(n: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(n, n) matrix of the 1-D 5-tap binomial blur with mirror borders (``x[-1] = x[1]``)."""
    taps = torch.tensor(_BINOMIAL_5, dtype=torch.float64) / sum(_BINOMIAL_5)
    matrix = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        for k, weight in zip(range(-2, 3), taps):
            j = abs(i + k)  # reflect at the start
            if j > n - 1:
                j = 2 * (n - 1) - j  # reflect at the end
            matrix[i, j] += weight
    return matrix.to(dtype=dtype).to(device)  # cast on the CPU: MPS has no float64


class _PyramidOps:
    """Separable blur + 2x down/upsampling of (..., H, W) tensors as small matrix products.

    Downsampling is ``blur, then keep every second row and column`` ((H, W) -> (ceil(H/2),
    ceil(W/2))); upsampling inserts zeros between the samples and blurs with four times the
    kernel, i.e. its 1-D matrix is twice the even columns of the blur matrix.
    """

    def __init__(self, device: torch.device, dtype: torch.dtype) -> None:
        self.device, self.dtype = device, dtype
        self._cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def _matrices(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        if n not in self._cache:
            blur = _blur_matrix(n, self.device, self.dtype)
            self._cache[n] = (blur[::2].contiguous(), (2.0 * blur[:, ::2]).contiguous())
        return self._cache[n]

    def down(self, x: torch.Tensor) -> torch.Tensor:
        down_h, _ = self._matrices(x.shape[-2])
        down_w, _ = self._matrices(x.shape[-1])
        return down_h @ (x @ down_w.T)

    def up(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        _, up_h = self._matrices(size[0])
        _, up_w = self._matrices(size[1])
        return up_h @ (x @ up_w.T)


def laplacian_pyramid(images: torch.Tensor, num_levels: int) -> list[torch.Tensor]:
    """Laplacian pyramid of a batch of images, finest level first.

    Level ``i`` has spatial size ``ceil(H / 2**i) x ceil(W / 2**i)``.  Levels
    ``0 .. num_levels - 2`` are band-pass images ``G_i - up(G_{i+1})`` where ``G_0`` is the
    input and ``G_{i+1}`` is ``G_i`` blurred with the 5-tap binomial filter and subsampled by
    two; the last level is the low-pass residual ``G_{num_levels - 1}``.  The input is
    recovered exactly (up to rounding) by :func:`reconstruct_laplacian_pyramid`.

    Args:
        images: float tensor of shape (N, C, H, W), any value range, any device.
        num_levels: number of levels returned, >= 1 (1 returns ``[images]``).

    Returns:
        A list of ``num_levels`` tensors with the dtype and device of ``images``.

    Raises:
        ValueError: for a non-4-D or non-float tensor, ``num_levels < 1``, or an image too
            small to be blurred (a level that gets downsampled must be at least 3x3).
    """
    _check_images(images, "images")
    if not isinstance(num_levels, int) or num_levels < 1:
        raise ValueError(f"num_levels must be an int >= 1, got {num_levels!r}")
    ops = _PyramidOps(images.device, images.dtype)
    pyramid: list[torch.Tensor] = []
    current = images
    for level in range(num_levels - 1):
        h, w = current.shape[-2:]
        if min(h, w) < 3:
            raise ValueError(
                f"images of {tuple(images.shape[-2:])} are too small for {num_levels} pyramid levels "
                f"(level {level} is {h}x{w}; a level must be at least 3x3 to be downsampled)"
            )
        lower = ops.down(current)
        pyramid.append(current - ops.up(lower, (h, w)))
        current = lower
    pyramid.append(current)
    return pyramid


def reconstruct_laplacian_pyramid(pyramid: list[torch.Tensor]) -> torch.Tensor:
    """Invert :func:`laplacian_pyramid`: upsample the residual and add the bands back in."""
    if not pyramid:
        raise ValueError("pyramid must contain at least one level")
    image = pyramid[-1]
    ops = _PyramidOps(image.device, image.dtype)
    for band in reversed(pyramid[:-1]):
        image = band + ops.up(image, (band.shape[-2], band.shape[-1]))
    return image


def _generator(seed: int, stream: int) -> torch.Generator:
    """A CPU generator for one independent random stream derived from ``seed``."""
    state = np.random.SeedSequence([seed & 0xFFFF_FFFF_FFFF_FFFF, stream]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def _extract_patches(
    level: torch.Tensor, patch_size: int, patches_per_image: int, generator: torch.Generator
) -> torch.Tensor:
    """Random patches of one pyramid level: (N, C, H, W) -> (N * P, ps * ps * C), channel last.

    The top-left corners are uniform over all positions where the patch fits, drawn on the
    CPU from ``generator`` (so they do not depend on the device).
    """
    n, c, h, w = level.shape
    ys = torch.randint(0, h - patch_size + 1, (n, patches_per_image, 1), generator=generator)
    xs = torch.randint(0, w - patch_size + 1, (n, patches_per_image, 1), generator=generator)
    # A patch is patch_size row segments of patch_size pixels; in channel-last layout each
    # segment is contiguous, so view the level as overlapping segments and gather those.
    pixels = level.permute(0, 2, 3, 1).contiguous()
    segments = pixels.as_strided((n * h * w - patch_size + 1, patch_size * c), (c, 1))
    rows = ys + torch.arange(patch_size).view(1, 1, -1)  # (N, P, ps)
    first_pixel = (torch.arange(n).view(n, 1, 1) * h + rows) * w + xs
    patches = segments.index_select(0, first_pixel.reshape(-1).to(level.device))
    return patches.reshape(n * patches_per_image, patch_size * patch_size * c)


def _center_(
    descriptors: torch.Tensor, channels: int, stats: tuple[torch.Tensor, torch.Tensor] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel normalisation of (M, D) descriptors whose channel is the fastest index of D.

    Subtracts the per-channel mean over all descriptors and patch positions *in place* and
    returns ``(mean, std)`` as (D,) vectors; the division by ``std`` is left to the caller
    (it is folded into the projection directions, which is cheaper).  With ``stats`` given,
    that mean is subtracted and ``stats`` is returned instead.
    """
    if stats is not None:
        descriptors.sub_(stats[0])
        return stats
    repeats = descriptors.shape[1] // channels
    count = descriptors.shape[0] * repeats
    mean = (descriptors.sum(dim=0).view(repeats, channels).sum(dim=0) / count).repeat(repeats)
    descriptors.sub_(mean)
    var = (descriptors * descriptors).sum(dim=0).view(repeats, channels).sum(dim=0) / count
    return mean, var.sqrt().clamp_min(1e-8).repeat(repeats)


def _sort_rows_(values: torch.Tensor) -> torch.Tensor:
    """Sort each row ascending, in place.  On CPU NumPy's SIMD sort is several times faster than torch's."""
    if values.device.type == "cpu":
        values.numpy().sort(axis=1)
        return values
    return torch.sort(values, dim=1).values


def _split_sizes(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


class SWDTracker:
    """Sliced Wasserstein distance to a fixed set of real images, for repeated evaluation.

    The real images' pyramids, descriptors, projections and their sorted values are computed
    once here, so each call only processes the fake images.  Calls are deterministic: the
    fake patches and the count-equalising subsamples are drawn from generators re-seeded
    from ``seed`` on every call, so ``SWDTracker(real, **kw)(fake)`` equals
    ``sliced_wasserstein_distance(real, fake, **kw)`` exactly.

    Unequal counts are equalised by subsampling: with more fake descriptors than real ones,
    a random subset of the fake descriptors is projected; with fewer, a random subset of the
    positions of the cached sorted real projections is used (for each direction that is the
    sorted projection of a random subset of the real descriptors).

    Memory: the cache holds ``N_real * patches_per_image * num_projections`` float32 values
    per level (about 130 MB per level for 1000 real images with the defaults) on the device
    of ``real_images``.

    Args:
        real_images: float tensor (N, C, H, W), images in [-1, 1], at least 2 of them.
        patch_size: side of the square patches (descriptors), ProGAN uses 7.
        patches_per_image: random patches cut from each image at each level (ProGAN: 128).
        num_projections: random unit directions in total (ProGAN: 4 x 128 = 512).
        num_repeats: the directions are evaluated in this many batches (ProGAN's
            ``dir_repeats``), which bounds the temporary memory; each batch draws a fresh
            subsample when the descriptor counts differ.  The result is the mean over all
            directions.
        min_resolution: coarsest pyramid level kept; levels smaller than ``patch_size`` are
            never kept.  With the default 16, 32x32 images give levels 32 and 16 (the latter
            being the low-pass residual) and 64x64 images levels 64, 32 and 16.
        seed: seed of all random choices (patch positions, directions, subsamples).
        normalize: ``"per_set"`` (ProGAN) normalises each descriptor set per channel by its
            own mean/std; ``"real"`` uses the real set's mean/std for both, so that global
            colour and contrast shifts of the fakes are penalised as well.

    Raises:
        ValueError: for a non-4-D or non-float tensor, fewer than 2 images, images smaller
            than ``patch_size`` or ``min_resolution``, or invalid settings.
    """

    def __init__(
        self,
        real_images: torch.Tensor,
        *,
        patch_size: int = 7,
        patches_per_image: int = 64,
        num_projections: int = 512,
        num_repeats: int = 4,
        min_resolution: int = 16,
        seed: int = 0,
        normalize: Normalize = "per_set",
    ) -> None:
        for name, value in (
            ("patch_size", patch_size),
            ("patches_per_image", patches_per_image),
            ("num_projections", num_projections),
            ("num_repeats", num_repeats),
            ("min_resolution", min_resolution),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if num_repeats > num_projections:
            raise ValueError(f"num_repeats ({num_repeats}) must not exceed num_projections={num_projections}")
        if normalize not in ("per_set", "real"):
            raise ValueError(f"normalize must be 'per_set' or 'real', got {normalize!r}")
        if not isinstance(seed, int):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.patch_size = patch_size
        self.patches_per_image = patches_per_image
        self.num_projections = num_projections
        self.num_repeats = num_repeats
        self.min_resolution = min_resolution
        self.seed = seed
        self.normalize = normalize

        real = self._validate(real_images, "real_images")
        self.num_channels, self.height, self.width = real.shape[1:]
        self.device = real.device
        self.num_real = real.shape[0]

        # Levels to keep: every halving whose smaller side is still >= min_resolution and >= patch_size.
        smallest = max(min_resolution, patch_size)
        sizes = [(self.height, self.width)]
        while True:
            h, w = sizes[-1]
            nxt = ((h + 1) // 2, (w + 1) // 2)
            if min(nxt) < smallest or min(h, w) < 3:
                break
            sizes.append(nxt)
        if min(sizes[0]) < smallest:
            raise ValueError(
                f"images of {self.height}x{self.width} are smaller than patch_size={patch_size} "
                f"or min_resolution={min_resolution}"
            )
        self.resolutions: list[int] = [h for h, _ in sizes]

        descriptor_dim = self.num_channels * patch_size * patch_size
        dir_gen = _generator(seed, _STREAM_DIRECTIONS)
        directions = torch.randn(descriptor_dim, num_projections, generator=dir_gen)
        directions /= directions.norm(dim=0, keepdim=True)
        # num_repeats batches of directions, each (k, D).
        self._directions = [
            batch.contiguous().to(self.device)
            for batch in directions.T.split(_split_sizes(num_projections, num_repeats))
        ]

        generator = _generator(seed, _STREAM_REAL_PATCHES)
        self._real_stats: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._real_sorted: list[list[torch.Tensor]] = []  # [level][repeat] -> (k, N_real * P)
        with torch.no_grad():
            for level in laplacian_pyramid(real, len(self.resolutions)):
                desc = _extract_patches(level, patch_size, patches_per_image, generator)
                mean, std = _center_(desc, self.num_channels)
                self._real_stats.append((mean, std))
                self._real_sorted.append([_sort_rows_((dirs / std) @ desc.T) for dirs in self._directions])

    def _validate(self, images: torch.Tensor, name: str) -> torch.Tensor:
        _check_images(images, name)
        if images.shape[0] < 2:
            raise ValueError(f"{name} must contain at least 2 images, got {images.shape[0]}")
        h, w = images.shape[-2:]
        if min(h, w) < self.patch_size:
            raise ValueError(f"{name} of {h}x{w} are smaller than patch_size={self.patch_size}")
        return images.detach().float()

    def __call__(self, fake_images: torch.Tensor) -> dict[str, float]:
        """SWD between the cached real images and ``fake_images`` (N, C, H, W) in [-1, 1].

        ``fake_images`` may live on any device; they are moved to the real images' device.

        Returns:
            ``{"swd_<res>": value, ..., "swd_avg": mean over levels}``, finest level first,
            with values multiplied by 1e3 as in ProGAN.  Non-finite inputs give ``nan``.

        Raises:
            ValueError: for a non-4-D or non-float tensor, fewer than 2 images, or a shape
                (channels, height, width) other than the real images'.
        """
        fake = self._validate(fake_images, "fake_images")
        if fake.shape[1] != self.num_channels:
            raise ValueError(f"fake_images have {fake.shape[1]} channels but real_images {self.num_channels}")
        if tuple(fake.shape[-2:]) != (self.height, self.width):
            raise ValueError(
                f"fake_images are {fake.shape[-2]}x{fake.shape[-1]}, real_images {self.height}x{self.width}"
            )
        fake = fake.to(self.device)
        patch_gen = _generator(self.seed, _STREAM_FAKE_PATCHES)
        subsample_gen = _generator(self.seed, _STREAM_SUBSAMPLE)
        results: dict[str, float] = {}
        with torch.no_grad():
            pyramid = laplacian_pyramid(fake, len(self.resolutions))
            for res, level, real_stats, real_sorted in zip(
                self.resolutions, pyramid, self._real_stats, self._real_sorted
            ):
                desc = _extract_patches(level, self.patch_size, self.patches_per_image, patch_gen)
                stats = real_stats if self.normalize == "real" else None
                _, std = _center_(desc, self.num_channels, stats)
                n_fake, n_real = desc.shape[0], real_sorted[0].shape[1]
                n = min(n_fake, n_real)
                distances = []
                for dirs, real_proj in zip(self._directions, real_sorted):
                    # Equal counts: a random subset of the fake descriptors, or of the sorted real
                    # projections (a sorted random subsample is a random subset of the sorted positions).
                    subset = desc
                    if n_fake > n:
                        keep = torch.randperm(n_fake, generator=subsample_gen)[:n]
                        subset = desc.index_select(0, keep.to(self.device))
                    elif n_real > n:
                        keep = torch.randperm(n_real, generator=subsample_gen)[:n].sort().values
                        real_proj = real_proj[:, keep.to(self.device)]
                    fake_proj = _sort_rows_((dirs / std) @ subset.T)
                    distances.append((fake_proj - real_proj).abs_().mean())
                results[f"swd_{res}"] = float(torch.stack(distances).mean()) * 1e3
        results["swd_avg"] = float(np.mean(list(results.values())))
        return results

    def __repr__(self) -> str:
        return (
            f"SWDTracker(num_real={self.num_real}, size={self.height}x{self.width}, "
            f"levels={self.resolutions}, patch_size={self.patch_size}, "
            f"patches_per_image={self.patches_per_image}, num_projections={self.num_projections}, "
            f"num_repeats={self.num_repeats}, seed={self.seed}, normalize={self.normalize!r})"
        )


def sliced_wasserstein_distance(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    patch_size: int = 7,
    patches_per_image: int = 64,
    num_projections: int = 512,
    num_repeats: int = 4,
    min_resolution: int = 16,
    seed: int = 0,
    normalize: Normalize = "per_set",
) -> dict[str, float]:
    """Multi-scale sliced Wasserstein distance (ProGAN's SWD) between two image sets.

    Args:
        real, fake: float tensors (N, C, H, W) with images in [-1, 1]; the counts may
            differ (the larger descriptor set is subsampled), channels and size must match.
            The computation runs on ``real``'s device.
        patch_size, patches_per_image, num_projections, num_repeats, min_resolution, seed,
        normalize: see :class:`SWDTracker`.

    Returns:
        ``{"swd_<res>": value, ..., "swd_avg": mean over levels}`` (x1e3, lower is better),
        e.g. ``swd_32``, ``swd_16`` and ``swd_avg`` for 32x32 images.

    Raises:
        ValueError: for a non-4-D or non-float tensor, fewer than 2 images in a set, a
            channel or size mismatch, images smaller than ``patch_size`` or ``min_resolution``,
            or invalid settings.

    To evaluate many fake sets against the same real set (e.g. at every checkpoint), build an
    :class:`SWDTracker` once instead; it caches the real side and gives identical numbers.
    """
    _check_images(real, "real")
    _check_images(fake, "fake")
    if fake.shape[1:] != real.shape[1:]:
        raise ValueError(
            f"real and fake images must have the same (C, H, W), got {tuple(real.shape[1:])} "
            f"and {tuple(fake.shape[1:])}"
        )
    tracker = SWDTracker(
        real,
        patch_size=patch_size,
        patches_per_image=patches_per_image,
        num_projections=num_projections,
        num_repeats=num_repeats,
        min_resolution=min_resolution,
        seed=seed,
        normalize=normalize,
    )
    return tracker(fake)
