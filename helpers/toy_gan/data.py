"""Real data of the toy GAN lab: Gaussian mixtures (1-D and 2-D), and the students' two samplers.

The kit holds the generic samplers (:func:`gaussian`, :func:`mixture`, :func:`ring`, :func:`grid`). The data of
the modes ``"mixture_4"`` and ``"half_circles"`` are TODOs of the lab: only the students' own sampler and
``Dataset`` make them, passed to :func:`make_distribution` in ``samplers`` (the kit's tests and benchmarks pass the
source notebook's reference, :func:`autograder.solutions.load_reference`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset

# The literature's settings (PacGAN, VEEGAN).
RING_RADIUS, RING_STD = 1.0, 0.01
GRID_STD = 0.05


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


DISTRIBUTIONS: dict[str, Callable[..., Any]] = {"gaussian": gaussian, "mixture": mixture, "ring": ring,
                                                "grid": grid}
# The modes whose data only the students' samplers make: mode -> what to pass in ``samplers``.
OWN_SAMPLERS = {"mixture_4": "your mixture_4 function", "half_circles": "your HalfCircles class"}
# The variance at which a mixture_4 sampler's points are taken as its modes (for the mode metrics).
_LIMIT_VARIANCE = 1e-12
_MAX_MODES = 16


def check_mode(mode: str, params: dict[str, Any]) -> None:
    """A clear error for an unknown ``mode`` or bad ``params``, without building the data (which may need a
    student's sampler)."""
    if mode in OWN_SAMPLERS:
        if mode == "mixture_4":
            extra = set(params) - {"variance"}
            if "variance" not in params or extra:
                raise ValueError(f"mode 'mixture_4' takes data={{'variance': ...}} only, got {sorted(params)}")
            if not params["variance"] > 0:
                raise ValueError(f"variance must be positive, got {params['variance']}")
        return
    if mode not in DISTRIBUTIONS:
        raise ValueError(f"unknown mode {mode!r}; choose one of {sorted([*DISTRIBUTIONS, *OWN_SAMPLERS])}")
    DISTRIBUTIONS[mode](**params)


def _mixture_modes(sample_fn: Callable[..., Any]) -> torch.Tensor:
    """The modes of a student's mixture sampler: where its points gather as the variance goes to 0."""
    n = 1024
    points = torch.as_tensor(sample_fn(n, _LIMIT_VARIANCE, torch.Generator().manual_seed(0))).double()
    if tuple(points.shape) != (n, 2):
        raise ValueError(f"the mixture_4 sampler returned shape {tuple(points.shape)} for n={n}, expected ({n}, 2)")
    modes = torch.unique(torch.round(points, decimals=3), dim=0)
    if len(modes) > _MAX_MODES:
        raise ValueError(f"your mixture_4 sampler's points do not gather at a few centres as the variance goes to 0 "
                         f"({len(modes)} distinct points of {n} at variance {_LIMIT_VARIANCE:g}): scale the noise by "
                         "the square root of the variance")
    return modes.float()


def make_distribution(mode: str, samplers: dict[str, Callable[..., Any]] | None = None,
                      **params: Any) -> GaussianMixture | DatasetSampler:
    """The real data of ``mode`` (one of :data:`DISTRIBUTIONS` or :data:`OWN_SAMPLERS`), built with ``params``.

    ``"mixture_4"`` and ``"half_circles"`` need the students' own versions in ``samplers``: ``"mixture_4"``, a
    function ``(n, variance, generator)`` returning ``n`` points (``params``: ``variance``; the mode metrics take
    as modes the points it returns at a vanishing variance, and ``sqrt(variance)`` as their std), and
    ``"half_circles"``, a ``Dataset`` class taking ``num_samples`` and ``seed``.
    """
    check_mode(mode, params)
    own = (samplers or {}).get(mode)
    if mode in OWN_SAMPLERS:
        if own is None:
            raise ValueError(f"mode {mode!r} needs {OWN_SAMPLERS[mode]}: pass samplers={{{mode!r}: ...}} "
                             f"(the notebook's SAMPLERS)")
        if mode == "half_circles":
            return DatasetSampler(own(**params))
        variance = params["variance"]
        return SampledMixture(mode, _mixture_modes(own), variance ** 0.5,
                              lambda n, generator: own(n, variance, generator))
    if own is not None:
        raise ValueError(f"no sampler of your own is used for mode {mode!r} (only mixture_4 and half_circles)")
    return DISTRIBUTIONS[mode](**params)
