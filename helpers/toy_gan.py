"""GANs on 1-D and 2-D toy data: the lab's models, real-data samplers, training loop, frames and metrics.

The two training steps (``train_discriminator`` and ``train_generator``) are the students' work and are
passed in; everything else lives here. The extra techniques of the kit's best recipe (packing, the R1
gradient penalty, spectral normalisation, a generator moving average, learning-rate decay) are options of
:class:`ToyGANConfig`.

Metrics follow the mode-collapse literature (VEEGAN, PacGAN): a generated sample is *high quality* if it
lies within 3 standard deviations of its nearest mode; a mode is *captured* if it has at least one
high-quality sample, and *fairly captured* if it holds at least 20% of its fair share of the samples.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from helpers.checkpoint import (
    check_resumable,
    load_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
)
from helpers.gan_training import update_ema
from helpers.plotting import plot_curves, save_gif
from helpers.runtime import fast_mode, pick_device, seed_everything

StepFunction = Callable[..., torch.Tensor]

# The literature's settings (PacGAN, VEEGAN) and the lab's two variances of mixture_4.
RING_RADIUS, RING_STD = 1.0, 0.01
GRID_STD = 0.05
MIXTURE_4_TIGHT, MIXTURE_4_WIDE = 0.02, 2.0  # variances: well separated vs overlapping modes at (+-2, +-2)


# --------------------------------------------------------------------------------------------------------------
# Real data
# --------------------------------------------------------------------------------------------------------------

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


def make_distribution(mode: str, **params: Any) -> GaussianMixture | DatasetSampler:
    """The real data of ``mode`` (one of :data:`DISTRIBUTIONS`), built with ``params``."""
    if mode not in DISTRIBUTIONS:
        raise ValueError(f"unknown mode {mode!r}; choose one of {sorted(DISTRIBUTIONS)}")
    return DISTRIBUTIONS[mode](**params)


# --------------------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------------------

class MLPGenerator(nn.Module):
    """Noise (N x noise_dim) -> points (N x data_dim): ``depth`` ReLU layers of ``hidden`` units, linear output."""

    def __init__(self, noise_dim: int = 2, data_dim: int = 2, hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = noise_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, data_dim))
        self.net = nn.Sequential(*layers)
        self.noise_dim, self.data_dim = noise_dim, data_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """Points (N x data_dim) -> one logit per point (N,), i.e. before the sigmoid.

    With ``pack`` > 1 (PacGAN) it judges ``pack`` points at once: N must be a multiple of ``pack`` and the output
    has N / pack logits, one per group of consecutive points.
    """

    def __init__(self, data_dim: int = 2, hidden: int = 128, depth: int = 3, pack: int = 1,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        if pack < 1:
            raise ValueError(f"pack must be at least 1, got {pack}")
        layers: list[nn.Module] = []
        width = data_dim * pack
        for _ in range(depth):
            linear = nn.Linear(width, hidden)
            layers += [_spectral_norm(linear) if spectral_norm else linear, nn.LeakyReLU(0.2)]
            width = hidden
        last = nn.Linear(width, 1)
        layers.append(_spectral_norm(last) if spectral_norm else last)
        self.net = nn.Sequential(*layers)
        self.data_dim, self.pack = data_dim, pack

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.data_dim or x.shape[0] % self.pack:
            raise ValueError(f"expected points of shape (N, {self.data_dim}) with N a multiple of {self.pack}, "
                             f"got {tuple(x.shape)}")
        return self.net(x.reshape(-1, self.data_dim * self.pack)).squeeze(1)


def r1_penalty_step(D: nn.Module, d_optimizer: torch.optim.Optimizer, real: torch.Tensor, gamma: float,
                    ) -> torch.Tensor:
    """One extra D update on the R1 penalty (gamma / 2) E|grad_x D(x)|^2 on real data (Mescheder et al., 2018).

    Applied as its own step after the students' discriminator step ("lazy" regularisation, as in StyleGAN2), so
    their step stays the plain GAN loss. Returns the penalty.
    """
    d_optimizer.zero_grad()
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(real).sum(), real, create_graph=True)
    penalty = 0.5 * gamma * grad.pow(2).sum(1).mean() * getattr(D, "pack", 1)
    penalty.backward()
    d_optimizer.step()
    return penalty.detach()


# --------------------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------------------

def mode_metrics(samples: torch.Tensor, distribution: GaussianMixture, num_stds: float = 3.0,
                 fair_fraction: float = 0.2) -> dict[str, float]:
    """Mode coverage and sample quality of ``samples`` (N x dim) against a Gaussian mixture.

    Returns ``modes`` (modes with at least one high-quality sample), ``modes_fair`` (modes holding at least
    ``fair_fraction`` of their fair share N / K of high-quality samples), ``num_modes`` and ``hq_share`` (the
    share of samples within ``num_stds`` standard deviations of their nearest mode).
    """
    if not isinstance(distribution, GaussianMixture):
        raise ValueError(f"mode metrics need a Gaussian mixture, got {type(distribution).__name__}")
    samples = samples.detach().float().cpu()
    if samples.dim() != 2 or samples.shape[1] != distribution.dim or len(samples) == 0:
        raise ValueError(f"samples must have shape (N, {distribution.dim}), got {tuple(samples.shape)}")
    distances = torch.cdist(samples, distribution.modes)
    nearest_distance, nearest = distances.min(1)
    good = nearest_distance <= num_stds * distribution.std
    counts = torch.bincount(nearest[good], minlength=distribution.num_modes)
    fair_share = len(samples) / distribution.num_modes
    return {"modes": int((counts > 0).sum()), "modes_fair": int((counts >= fair_fraction * fair_share).sum()),
            "num_modes": distribution.num_modes, "hq_share": float(good.float().mean())}


def sample_moments(samples: torch.Tensor) -> tuple[float, float]:
    """Mean and standard deviation of 1-D samples (N or N x 1)."""
    flat = samples.detach().float().reshape(-1)
    return float(flat.mean()), float(flat.std())


# --------------------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------------------

# Fields that may change between a run and its resumption: a longer run continues a shorter one.
RESUMABLE_FIELDS = ("num_steps", "log_every", "num_frames", "checkpoint_every", "out_dir", "device", "progress",
                    "gif", "eval_samples")


@dataclass
class ToyGANConfig:
    """Every hyperparameter of a toy GAN run.

    ``mode`` names the real data (see :data:`DISTRIBUTIONS`) and ``data`` holds its parameters, e.g.
    ``mode="mixture_4", data={"variance": 2.0}``. ``d_steps`` discriminator updates precede each generator update.
    """

    mode: str = "mixture_4"
    data: dict[str, Any] = field(default_factory=dict)
    d_steps: int = 1
    num_steps: int = 2000  # generator updates
    batch_size: int = 128  # points per batch (times ``pack``)
    noise_dim: int | None = None  # None: the data's dimension
    g_hidden: int = 128
    g_depth: int = 3
    d_hidden: int = 128
    d_depth: int = 3
    optimizer: str = "adam"  # "adam", or "sgd" (plain gradient descent, no momentum)
    lr: float = 1e-3  # generator
    d_lr: float | None = None  # None: the same as lr
    betas: tuple[float, float] = (0.5, 0.999)
    final_lr_fraction: float = 1.0  # learning rates decay linearly to this fraction of their start
    # The best recipe's extras (all off: the plain GAN).
    pack: int = 1  # PacGAN: the discriminator judges this many points at once
    r1_gamma: float = 0.0  # R1 gradient penalty on real data, applied as an extra D step
    spectral_norm: bool = False
    ema: float = 0.0  # e.g. 0.999: evaluate a moving average of the generator's weights
    seed: int = 0
    log_every: int = 10
    num_frames: int = 8  # frames of real vs generated points over training (0: none)
    checkpoint_every: int = 1000
    eval_samples: int = 2500
    gif: bool = False
    out_dir: str = "outputs/toy_gan/run"
    device: str | None = "cpu"  # these networks are tiny: a GPU does not help
    progress: bool = True

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        make_distribution(self.mode, **self.data)  # a clear error for an unknown mode or bad parameters
        for name in ("d_steps", "num_steps", "batch_size", "g_hidden", "g_depth", "d_hidden", "d_depth", "pack",
                     "log_every", "checkpoint_every", "eval_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"ToyGANConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"ToyGANConfig.optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.lr <= 0 or (self.d_lr is not None and self.d_lr <= 0):
            raise ValueError(f"learning rates must be positive, got lr={self.lr}, d_lr={self.d_lr}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ToyGANConfig.ema must be in [0, 1), got {self.ema}")
        if self.num_frames < 0:
            raise ValueError(f"ToyGANConfig.num_frames must be at least 0, got {self.num_frames}")

    def replace(self, **changes: Any) -> ToyGANConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def best(cls, **changes: Any) -> ToyGANConfig:
        """The kit's best recipe for many tight modes (see ``bench/toy_modes.py``)."""
        # Packing (pack=4) and a weight average were tried too: packing cut the grid's high-quality share to a few
        # percent, and the average changed nothing. Length matters most: on the grid, 12,000 steps rather than
        # 6,000 took seed 0 from 92% to 96% high quality, 16,000 rather than 12,000 took the worst seed (7) from
        # 94.5% to 96.0%; a smaller final learning rate (0.5%) or R1 weight (0.01) did not help.
        base = cls(mode="ring", num_steps=16000, batch_size=256, noise_dim=2, g_hidden=256, d_hidden=256,
                   lr=1e-3, final_lr_fraction=0.02, r1_gamma=0.1, log_every=50)
        return base.replace(**changes)

    @classmethod
    def gaussian_1d(cls, mean: float, std: float, **changes: Any) -> ToyGANConfig:
        """The 1-D task: learn N(mean, std) with plain gradient descent (no Adam), seed 42."""
        base = cls(mode="gaussian", data={"mean": mean, "std": std}, optimizer="sgd", lr=0.05, d_lr=0.2,
                   num_steps=3000, batch_size=256, noise_dim=1, g_hidden=32, g_depth=2, d_hidden=128, d_depth=2,
                   final_lr_fraction=0.02, seed=42, log_every=20)
        return base.replace(**changes)


@dataclass
class ToyGANResult:
    """What a run leaves behind: the models, the history, the files and the final metrics."""

    config: ToyGANConfig
    generator: nn.Module  # the moving average when ``config.ema`` > 0
    discriminator: nn.Module
    distribution: GaussianMixture | DatasetSampler
    history: dict[str, list[tuple[int, float]]]
    out_dir: Path
    frame_paths: list[Path] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """``n`` generated points from fixed noise (drawn with ``seed``, by default the run's seed)."""
        seed = self.config.seed if seed is None else seed
        return generate(self.generator, n, seed)


def generate(G: nn.Module, n: int, seed: int = 1234) -> torch.Tensor:
    """``n`` points from ``G`` on standard normal noise drawn with ``seed`` (CPU tensor)."""
    device = next(G.parameters()).device
    noise = torch.randn(n, G.noise_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    with torch.no_grad():
        return G(noise).cpu()


def evaluate(G: nn.Module, distribution: GaussianMixture | DatasetSampler, num_samples: int = 2500,
             seed: int = 1234) -> dict[str, float]:
    """Mode metrics (Gaussian mixtures) and, for 1-D data, the mean and std of ``num_samples`` generated points."""
    samples = generate(G, num_samples, seed)
    metrics: dict[str, float] = {}
    if isinstance(distribution, GaussianMixture):
        metrics.update(mode_metrics(samples, distribution))
    if samples.shape[1] == 1:
        metrics["mean"], metrics["std"] = sample_moments(samples)
    return metrics


def _frame_steps(config: ToyGANConfig) -> list[int]:
    if config.num_frames == 0:
        return []
    return sorted({round(config.num_steps * k / config.num_frames) for k in range(config.num_frames + 1)})


@contextmanager
def one_thread():
    """Run torch on one CPU thread inside the block: for networks this small, more threads only add waiting
    (much more so on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_toy_gan(config: ToyGANConfig, train_discriminator: StepFunction, train_generator: StepFunction,
                  resume: bool = True) -> ToyGANResult:
    """Train a GAN on ``config.mode``'s data (see :func:`_train`); torch uses one CPU thread meanwhile."""
    with one_thread():
        return _train(config, train_discriminator, train_generator, resume)


def _train(config: ToyGANConfig, train_discriminator: StepFunction, train_generator: StepFunction,
           resume: bool) -> ToyGANResult:
    """Train a GAN on ``config.mode``'s data and save its frames, curves and checkpoint under ``config.out_dir``.

    ``train_discriminator(D, G, d_optimizer, real, noise)`` does one discriminator update and returns its loss;
    ``train_generator(D, G, g_optimizer, noise)`` one generator update. Each iteration does ``d_steps`` D updates
    (fresh real points and noise each), then one G update. Frames (real vs generated points, and the
    discriminator's output) are saved at ``num_frames + 1`` evenly spaced steps as ``frames/frame-NNNNNN.png``.
    With ``resume=True`` a run whose checkpoint exists continues from it (returns at once if complete).
    """
    out_dir = Path(config.out_dir)
    ckpt_path = out_dir / "checkpoint.pt"
    device = pick_device(config.device)
    seed_everything(config.seed)
    distribution = make_distribution(config.mode, **config.data)
    dim = distribution.dim
    noise_dim = config.noise_dim or dim

    G = MLPGenerator(noise_dim, dim, config.g_hidden, config.g_depth).to(device)
    D = MLPDiscriminator(dim, config.d_hidden, config.d_depth, config.pack, config.spectral_norm).to(device)
    G_avg = copy.deepcopy(G).requires_grad_(False) if config.ema > 0 else G
    d_lr = config.d_lr or config.lr
    if config.optimizer == "adam":
        g_opt = torch.optim.Adam(G.parameters(), lr=config.lr, betas=config.betas)
        d_opt = torch.optim.Adam(D.parameters(), lr=d_lr, betas=config.betas)
    else:
        g_opt = torch.optim.SGD(G.parameters(), lr=config.lr)
        d_opt = torch.optim.SGD(D.parameters(), lr=d_lr)
    data_rng = torch.Generator().manual_seed(config.seed + 1)
    noise_rng = torch.Generator().manual_seed(config.seed + 2)

    history: dict[str, list[tuple[int, float]]] = {k: [] for k in ("D_loss", "G_loss", "D_real", "D_fake",
                                                                     "modes", "modes_fair", "hq_share")}
    start = 0
    if resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path, map_location=device)
        # With learning-rate decay the schedule depends on num_steps: a longer run is not a continuation then.
        ignore = RESUMABLE_FIELDS if config.final_lr_fraction == 1 else tuple(
            f for f in RESUMABLE_FIELDS if f != "num_steps")
        check_resumable(state, config, out_dir, ignore=ignore)
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        if config.ema > 0:
            G_avg.load_state_dict(state["G_avg"])
        g_opt.load_state_dict(state["g_opt"])
        d_opt.load_state_dict(state["d_opt"])
        history = state["history"]
        start = state["step"]
        restore_rng_state(state["rng"], data_rng, noise_rng)

    per_batch = config.batch_size * config.pack

    def real_batch() -> torch.Tensor:
        return distribution.sample(per_batch, data_rng).to(device)

    def noise_batch() -> torch.Tensor:
        return torch.randn(per_batch, noise_dim, generator=noise_rng).to(device)

    def set_learning_rates(step: int) -> None:
        scale = 1 - (1 - config.final_lr_fraction) * step / config.num_steps
        for group in g_opt.param_groups:
            group["lr"] = config.lr * scale
        for group in d_opt.param_groups:
            group["lr"] = d_lr * scale

    def log(step: int, d_loss: torch.Tensor, g_loss: torch.Tensor, real: torch.Tensor) -> None:
        with torch.no_grad():
            d_real = torch.sigmoid(D(real)).mean()
            d_fake = torch.sigmoid(D(G(noise_batch()))).mean()
        for key, value in (("D_loss", d_loss), ("G_loss", g_loss), ("D_real", d_real), ("D_fake", d_fake)):
            history[key].append((step, float(value)))

    def frame(step: int) -> Path:
        path = out_dir / "frames" / f"frame-{step:06d}.png"
        metrics = evaluate(G_avg, distribution, config.eval_samples, config.seed) if isinstance(distribution,
                                                                                  GaussianMixture) else {}
        for key in ("modes", "modes_fair", "hq_share"):
            if key in metrics and (not history[key] or history[key][-1][0] != step):
                history[key].append((step, float(metrics[key])))
        plot_frame(G_avg, D, distribution, path, title=f"{config.mode}, step {step}", metrics=metrics)
        return path

    def checkpoint(step: int) -> None:
        save_checkpoint({"config": dataclasses.asdict(config), "step": step, "G": G.state_dict(),
                         "D": D.state_dict(), "G_avg": G_avg.state_dict() if config.ema > 0 else None,
                         "g_opt": g_opt.state_dict(), "d_opt": d_opt.state_dict(), "history": history,
                         "rng": rng_state(data_rng, noise_rng)}, ckpt_path)

    frame_steps = set(_frame_steps(config))
    if start == 0 and 0 in frame_steps:
        frame(0)
    began = time.perf_counter()
    bar = tqdm(range(start + 1, config.num_steps + 1), initial=start, total=config.num_steps,
               desc=f"GAN {config.mode} {out_dir.name}", disable=not config.progress)
    for step in bar:
        set_learning_rates(step - 1)
        for _ in range(config.d_steps):
            real = real_batch()
            d_loss = train_discriminator(D, G, d_opt, real, noise_batch())
            if config.r1_gamma > 0:
                r1_penalty_step(D, d_opt, real, config.r1_gamma)
        g_loss = train_generator(D, G, g_opt, noise_batch())
        if config.ema > 0:
            beta = min(config.ema, step / (step + 10))  # warm-up: forget the random initial weights quickly
            update_ema(G_avg, G, beta)
        if step % config.log_every == 0 or step == config.num_steps:
            log(step, d_loss, g_loss, real)
            bar.set_postfix(D=history["D_loss"][-1][1], G=history["G_loss"][-1][1])
        if step in frame_steps:
            frame(step)
        if step % config.checkpoint_every == 0 or step == config.num_steps:
            checkpoint(step)
    bar.close()

    frame_paths = [out_dir / "frames" / f"frame-{s:06d}.png" for s in sorted(frame_steps)]
    frame_paths = [p for p in frame_paths if p.is_file()]
    plot_curves({"discriminator": history["D_loss"], "generator": history["G_loss"]}, out_dir / "losses.png",
                title=f"GAN losses ({config.mode}, d_steps={config.d_steps})", xlabel="generator step",
                ylabel="loss")
    plot_curves({"D(x), real": history["D_real"], "D(G(z)), fake": history["D_fake"]}, out_dir / "d_outputs.png",
                title="Mean discriminator output (probability of 'real')", xlabel="generator step",
                ylabel="probability")
    if config.gif and frame_paths:
        save_gif(frame_paths, out_dir / "frames.gif", seconds_per_frame=0.5)
    metrics = evaluate(G_avg, distribution, config.eval_samples, config.seed)
    return ToyGANResult(config, G_avg, D, distribution, history, out_dir, frame_paths, metrics,
                        time.perf_counter() - began)


def train_gan(mode: str, d_steps: int, num_steps: int, batch_size: int, train_discriminator: StepFunction,
              train_generator: StepFunction, resume: bool = True, **changes: Any) -> ToyGANResult:
    """Train on ``mode``'s data with ``d_steps`` D updates per G update; other :class:`ToyGANConfig` fields
    (``data``, ``lr``, ``out_dir``, ``seed``, ...) go in ``changes``."""
    config = ToyGANConfig(mode=mode, d_steps=d_steps, num_steps=num_steps, batch_size=batch_size, **changes)
    return train_toy_gan(config, train_discriminator, train_generator, resume=resume)


def notebook_steps(num_steps: int) -> int:
    """``num_steps``, or a few dozen when the notebook is graded or smoke-tested (fast mode)."""
    return min(num_steps, 40) if fast_mode() else num_steps


# --------------------------------------------------------------------------------------------------------------
# Pictures
# --------------------------------------------------------------------------------------------------------------

def _discriminator_probability(D: nn.Module, points: torch.Tensor) -> torch.Tensor:
    """D's probability of 'real' at each point (a packed D sees the point repeated ``pack`` times)."""
    pack = getattr(D, "pack", 1)
    device = next(D.parameters()).device
    with torch.no_grad():
        logits = D(points.to(device).repeat_interleave(pack, 0))
    return torch.sigmoid(logits).cpu()


def plot_frame(G: nn.Module, D: nn.Module, distribution: GaussianMixture | DatasetSampler, path: str | Path,
               num_points: int = 1000, title: str = "", metrics: dict[str, float] | None = None) -> Path:
    """Save one frame: real vs generated points, over the discriminator's output.

    2-D: scatter plots on the discriminator's decision surface (its probability of 'real', shaded).
    1-D: histograms of real and generated points, and the discriminator's probability as a curve.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    real = distribution.sample(num_points, torch.Generator().manual_seed(0))
    fake = generate(G, num_points, seed=1)
    low, high = distribution.bounds()
    low, high = torch.minimum(low, real.min(0).values), torch.maximum(high, real.max(0).values)
    fig = Figure(figsize=(5.5, 5) if distribution.dim == 2 else (6.5, 4), dpi=80)
    ax = fig.add_subplot()
    if distribution.dim == 2:
        xs = torch.linspace(float(low[0]), float(high[0]), 100)
        ys = torch.linspace(float(low[1]), float(high[1]), 100)
        gx, gy = torch.meshgrid(xs, ys, indexing="xy")
        prob = _discriminator_probability(D, torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)).reshape(gx.shape)
        surface = ax.contourf(gx.numpy(), gy.numpy(), prob.numpy(), levels=torch.linspace(0, 1, 11).tolist(),
                              cmap="RdBu", alpha=0.5)
        fig.colorbar(surface, ax=ax, label="D(x): probability of real", shrink=0.8)
        ax.scatter(real[:, 0], real[:, 1], s=3, c="tab:orange", label="real")
        ax.scatter(fake[:, 0], fake[:, 1], s=3, c="tab:green", label="generated")
        ax.set_xlim(float(low[0]), float(high[0]))
        ax.set_ylim(float(low[1]), float(high[1]))
        ax.set_aspect("equal")
    else:
        lo, hi = float(low[0]), float(high[0])
        bins = torch.linspace(lo, hi, 60).tolist()
        ax.hist(real[:, 0].numpy(), bins=bins, density=True, alpha=0.5, color="tab:orange", label="real")
        ax.hist(fake[:, 0].clamp(lo, hi).numpy(), bins=bins, density=True, alpha=0.5, color="tab:green",
                label="generated")
        line = torch.linspace(lo, hi, 300)
        twin = ax.twinx()
        twin.plot(line.numpy(), _discriminator_probability(D, line[:, None]).numpy(), color="tab:blue",
                  label="D(x)")
        twin.set_ylim(0, 1)
        twin.set_ylabel("D(x): probability of real")
    metrics = metrics or {}
    if metrics.get("num_modes", 1) > 1:
        title += f"\nmodes {metrics['modes']}/{metrics['num_modes']}, high quality {100 * metrics['hq_share']:.1f}%"
    if "mean" in metrics:
        title += f"\ngenerated mean {metrics['mean']:.2f}, std {metrics['std']:.2f}"
    elif "hq_share" in metrics and metrics["num_modes"] == 1:
        title += f"\nhigh quality (within 3 std) {100 * metrics['hq_share']:.1f}%"
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8, markerscale=3)
    fig.subplots_adjust(left=0.12, right=0.88 if distribution.dim == 1 else 0.95, top=0.88, bottom=0.1)
    fig.savefig(path)
    return path


def plot_real_data(distributions: dict[str, GaussianMixture | DatasetSampler], path: str | Path,
                   num_points: int = 2000) -> Path:
    """Save one panel of real samples per named distribution (histograms for 1-D, scatter plots for 2-D)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(3.2 * len(distributions), 3.2), dpi=90)
    for index, (name, distribution) in enumerate(distributions.items()):
        ax = fig.add_subplot(1, len(distributions), index + 1)
        points = distribution.sample(num_points, torch.Generator().manual_seed(0))
        if distribution.dim == 1:
            ax.hist(points[:, 0].numpy(), bins=60, color="tab:orange")
        else:
            ax.scatter(points[:, 0], points[:, 1], s=2, c="tab:orange")
            ax.set_aspect("equal")
        ax.set_title(name, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    return path
