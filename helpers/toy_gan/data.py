"""Real data of the toy GAN lab: Gaussian mixtures (1-D and 2-D) and the half circles.

``mixture_4`` and ``HalfCircles`` are the kit's reference versions, for its benchmarks and tests (and the
``mode="mixture_4"`` / ``"half_circles"`` of :class:`~helpers.toy_gan.training.ToyGANConfig` when no sampler of
the student's is given); in the notebook the students write their own, and :func:`make_distribution` builds a run's
data from them when they are passed in ``samplers``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset

# The literature's settings (PacGAN, VEEGAN) and the lab's two variances of mixture_4.
RING_RADIUS, RING_STD = 1.0, 0.01
GRID_STD = 0.05
MIXTURE_4_TIGHT, MIXTURE_4_WIDE = 0.02, 2.0  # variances: well separated vs overlapping modes at (+-2, +-2)


@dataclass
class GaussianMixture:
    """An equal-weight mixture of isotropic Gaussians: ``modes`` (K x dim) with a common ``std``."""

    name: str
    modes: torch.Tensor
    std: float

    def __post_init__(self) -> None:
        self.modes = torch.as_tensor(self.modes, dtype=torch.float32)
        if self.modes.dim() != 2 or len(self.modes) == 0:
            raise ValueError(f"modes must be a non-empty (K, dim) tensor, got shape {tuple(self.modes.shape)}")
        if not self.std > 0:
            raise ValueError(f"std must be positive, got {self.std}")

    @property
    def dim(self) -> int:
        return self.modes.shape[1]

    @property
    def num_modes(self) -> int:
        return self.modes.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples (n x dim): a uniformly chosen mode plus Gaussian noise."""
        which = torch.randint(self.num_modes, (n,), generator=generator)
        return self.modes[which] + self.std * torch.randn(n, self.dim, generator=generator)

    def bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A box (low, high) that holds nearly all the samples, for plots."""
        margin = 4 * self.std + 0.25 * (self.modes.max(0).values - self.modes.min(0).values).clamp(min=1.0)
        return self.modes.min(0).values - margin, self.modes.max(0).values + margin


def gaussian(mean: float | Sequence[float] = 0.0, std: float = 1.0) -> GaussianMixture:
    """One Gaussian: 1-D for a number ``mean``, else of the dimension of ``mean`` (e.g. ``(0, 0)``)."""
    point = [float(mean)] if isinstance(mean, (int, float)) else [float(m) for m in mean]
    return GaussianMixture("gaussian", torch.tensor([point]), std)


def mixture(centers: Sequence[float] | Sequence[Sequence[float]] = (-2.0, 2.0), std: float = 0.5) -> GaussianMixture:
    """Two (or more) Gaussians of equal weight: 1-D for numbers in ``centers``, else points."""
    points = [[float(c)] if isinstance(c, (int, float)) else [float(v) for v in c] for c in centers]
    return GaussianMixture("mixture", torch.tensor(points), std)


def mixture_4(variance: float = MIXTURE_4_TIGHT) -> GaussianMixture:
    """Four Gaussians at (+-2, +-2) of the given ``variance`` (small: well separated; large: overlapping)."""
    if not variance > 0:
        raise ValueError(f"variance must be positive, got {variance}")
    modes = torch.tensor([[2.0, 2.0], [-2.0, 2.0], [-2.0, -2.0], [2.0, -2.0]])
    return GaussianMixture("mixture_4", modes, math.sqrt(variance))


def ring(num_modes: int = 8, radius: float = RING_RADIUS, std: float = RING_STD) -> GaussianMixture:
    """``num_modes`` Gaussians evenly spaced on a circle (angles 2 pi k / num_modes)."""
    if num_modes < 1:
        raise ValueError(f"num_modes must be at least 1, got {num_modes}")
    angles = 2 * math.pi * torch.arange(num_modes, dtype=torch.float64) / num_modes
    modes = radius * torch.stack([torch.cos(angles), torch.sin(angles)], 1)
    return GaussianMixture("ring", modes.float(), std)


def grid(size: int = 5, spacing: float = 2.0, std: float = GRID_STD) -> GaussianMixture:
    """``size`` x ``size`` Gaussians on a square grid centred on 0 (the default: {-4, -2, 0, 2, 4}^2)."""
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    ticks = spacing * (torch.arange(size, dtype=torch.float32) - (size - 1) / 2)
    modes = torch.cartesian_prod(ticks, ticks)
    return GaussianMixture("grid", modes, std)


class HalfCircles(Dataset):
    """Two offset half-circles of radius 10 in the plane.

    With theta ~ U(0, 2 pi) and r ~ N(0, 1), a point is ((10 + r) cos theta, (10 + r) sin theta), shifted up
    by 10 when pi/2 <= theta <= 3 pi/2 (the left half-circle, which becomes the upper one) and down by 10
    otherwise.
    """

    def __init__(self, num_samples: int = 10_000, seed: int = 0) -> None:
        if num_samples < 1:
            raise ValueError(f"num_samples must be at least 1, got {num_samples}")
        rng = torch.Generator().manual_seed(seed)
        theta = 2 * math.pi * torch.rand(num_samples, generator=rng, dtype=torch.float64)
        r = torch.randn(num_samples, generator=rng, dtype=torch.float64)
        x, y = (10 + r) * torch.cos(theta), (10 + r) * torch.sin(theta)
        upper = (theta >= math.pi / 2) & (theta <= 3 * math.pi / 2)
        y = y + torch.where(upper, 10.0, -10.0)
        self.points = torch.stack([x, y], 1).float()
        self.upper = upper

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.points[index]


class SampledMixture(GaussianMixture):
    """A Gaussian mixture whose points come from ``sample_fn(n, generator)`` (e.g. a student's sampler).

    ``modes`` and ``std`` are those of the mixture the function is meant to sample: the mode metrics and the
    plots use them. ``sample`` checks that the function returns an ``(n, dim)`` tensor (a NumPy array is turned
    into one).
    """

    def __init__(self, name: str, modes: torch.Tensor, std: float,
                 sample_fn: Callable[[int, torch.Generator | None], Any]) -> None:
        super().__init__(name, modes, std)
        self.sample_fn = sample_fn

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        points = torch.as_tensor(self.sample_fn(n, generator)).float()
        if tuple(points.shape) != (n, self.dim):
            raise ValueError(f"the {self.name} sampler returned shape {tuple(points.shape)} for n={n}, "
                             f"expected ({n}, {self.dim})")
        return points


class DatasetSampler:
    """Random batches (with replacement) from a dataset of points, like :class:`GaussianMixture`'s ``sample``."""

    name = "half_circles"

    def __init__(self, dataset: Dataset) -> None:
        self.points = torch.stack([dataset[i] for i in range(len(dataset))]).float()
        self.dim = self.points.shape[1]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.points[torch.randint(len(self.points), (n,), generator=generator)]

    def bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        low, high = self.points.min(0).values, self.points.max(0).values
        return low - 0.1 * (high - low), high + 0.1 * (high - low)


DISTRIBUTIONS: dict[str, Callable[..., Any]] = {
    "gaussian": gaussian, "mixture": mixture, "mixture_4": mixture_4, "ring": ring, "grid": grid,
    "half_circles": lambda **kw: DatasetSampler(HalfCircles(**kw)),
}


def make_distribution(mode: str, samplers: dict[str, Callable[..., Any]] | None = None,
                      **params: Any) -> GaussianMixture | DatasetSampler:
    """The real data of ``mode`` (one of :data:`DISTRIBUTIONS`), built with ``params``.

    ``samplers`` may hold the students' own versions: ``"mixture_4"``, a function ``(n, variance, generator)``
    returning ``n`` points (the mixture's modes and std for the metrics are the reference's), and
    ``"half_circles"``, a ``Dataset`` class taking ``num_samples`` and ``seed``. Modes without one use the kit's.
    """
    if mode not in DISTRIBUTIONS:
        raise ValueError(f"unknown mode {mode!r}; choose one of {sorted(DISTRIBUTIONS)}")
    reference = DISTRIBUTIONS[mode](**params)
    own = (samplers or {}).get(mode)
    if own is None:
        return reference
    if mode == "mixture_4":
        variance = params.get("variance", MIXTURE_4_TIGHT)
        return SampledMixture(mode, reference.modes, reference.std,
                              lambda n, generator: own(n, variance, generator))
    if mode == "half_circles":
        return DatasetSampler(own(**params))
    raise ValueError(f"no sampler of your own is used for mode {mode!r} (only mixture_4 and half_circles)")
