"""The GAN training loop of the DCGAN notebook: seeded, resumable, with progress, samples and metrics.

The loop is generic: the students' ``training_iteration`` (several discriminator
steps, then one generator step) is passed in, with their generator class.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from helpers.core.averaging import recalibrate_batchnorm, update_ema
from helpers.core.checkpoint import restore_rng_state, rng_state
from helpers.core.layers import DCDiscriminator
from helpers.core.metrics import SWDTracker
from helpers.core.plotting import plot_curves, save_gif, save_grid
from helpers.core.run import Run, TrainResult, renamed_fields
from helpers.core.runtime import fast_config, fast_mode, pick_device, seed_everything
from helpers.core.samplers import TensorSampler
from helpers.core.schedules import lr_scale
from helpers.dcgan.models import sample_noise

# Fields that may change between a run and its resumption: a longer run continues a shorter one.
# Fields a run may change when it resumes (none changes the training itself).
RESUMABLE_FIELDS = ("steps", "sample_every", "checkpoint_every", "out_dir", "device", "progress",
                    "bn_calibration_batches")
TrainingIteration = Callable[..., dict[str, torch.Tensor]]


@renamed_fields(train_iters="steps")
@dataclass
class DCGANConfig:
    """Every hyperparameter of a DCGAN run (the original assignment's ``args_dict``)."""

    image_size: int = 32
    g_conv_dim: int = 32
    d_conv_dim: int = 64
    noise_size: int = 100
    steps: int = 20000  # training iterations (each: d_train_iters D steps, then one G step)
    lr: float = 3e-5
    d_lr_multiplier: float = 2.0  # the discriminator learns at lr * d_lr_multiplier
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 32
    sample_every: int = 200
    checkpoint_every: int = 1000  # also when the image metric is computed
    gradient_penalty: bool = False
    gp_weight: float = 1.0
    spectral_norm: bool = False
    d_train_iters: int = 1  # discriminator steps per generator step
    ema_decay: float = 0.0  # > 0: sample from an exponential moving average of G's weights (0: off)
    # Noise batches over which the averaged G's BatchNorm statistics are measured before each sampling.
    bn_calibration_batches: int = 16
    # Both learning rates stay constant until this fraction of steps, then fall linearly to zero at the end
    # (1.0: constant throughout, as in the original).
    lr_decay_start: float = 1.0
    seed: int = 0
    channels_last: bool = True  # faster convolutions on CPUs and recent GPUs
    out_dir: str = "outputs/dcgan/run"
    device: str | None = None  # None: CUDA if available, else MPS, else CPU
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "sample_every", "checkpoint_every", "d_train_iters",
                     "noise_size", "g_conv_dim", "d_conv_dim", "bn_calibration_batches"):
            if getattr(self, name) < 1:
                raise ValueError(f"DCGANConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.image_size != 32:
            raise ValueError(f"the DCGAN of this notebook works on 32x32 images, got image_size={self.image_size}")
        if self.lr <= 0:
            raise ValueError(f"DCGANConfig.lr must be positive, got {self.lr}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"DCGANConfig.ema_decay must be in [0, 1), got {self.ema_decay}")
        if not 0.0 <= self.lr_decay_start <= 1.0:
            raise ValueError(f"DCGANConfig.lr_decay_start must be in [0, 1], got {self.lr_decay_start}")

    # Fast mode (grading, the smoke run): at most these lengths and intervals, learning rates kept constant.
    FAST_LIMITS: ClassVar[dict[str, int]] = {"steps": 2, "sample_every": 1, "checkpoint_every": 2,
                                             "bn_calibration_batches": 2}
    FAST_SETTINGS: ClassVar[dict[str, Any]] = {"lr_decay_start": 1.0}

    def replace(self, **changes: Any) -> DCGANConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def cpu_preset(cls, **changes: Any) -> DCGANConfig:
        """A CPU-friendly recipe: 5x fewer iterations at higher learning rates that fall linearly to zero over
        the second half, sampling from a moving average of G's weights (see ``bench/dcgan_quality.py``; without
        the decay the SWD stalls around 55-60, without the average it wanders between 41 and 65)."""
        base = cls(lr=2e-4, d_lr_multiplier=1.0, steps=4000, lr_decay_start=0.5, ema_decay=0.999,
                   sample_every=100, checkpoint_every=250)
        return base.replace(**changes)

    @classmethod
    def fast(cls, **changes: Any) -> DCGANConfig:
        """The fast-mode recipe (the CPU preset, a few iterations) with ``changes``: a tiny run for tests."""
        return cls.cpu_preset(**cls.FAST_LIMITS, **cls.FAST_SETTINGS).replace(**changes)


def _to_device(module: nn.Module, device: torch.device, channels_last: bool) -> nn.Module:
    module = module.to(device)
    return module.to(memory_format=torch.channels_last) if channels_last else module


def train_dcgan(
    config: DCGANConfig,
    make_generator: Callable[..., nn.Module],
    training_iteration: TrainingIteration,
    train_images: torch.Tensor,
    test_images: torch.Tensor | None = None,
    resume: bool = True,
) -> TrainResult:
    """Train a DCGAN on ``train_images`` (N x 3 x 32 x 32 in [-1, 1]) and save everything under ``config.out_dir``.

    ``make_generator(noise_size=..., conv_dim=..., spectral_norm=...)`` builds the generator;
    ``training_iteration(G, D, g_optimizer, d_optimizer, sample_real, sample_noise, d_train_iters, gp_weight)``
    does ``d_train_iters`` discriminator steps and one generator step and returns the losses
    ``{"D_real", "D_fake", "G"}`` as tensors. Every ``sample_every`` iterations a 10x10 grid from a fixed
    noise batch is saved; every ``checkpoint_every`` iterations a checkpoint (resumable) and, when
    ``test_images`` are given, the sliced Wasserstein distance to them. With ``resume=True`` a run whose
    checkpoint exists continues from it (and returns at once if it is complete). In fast mode the run is
    shortened (:func:`helpers.core.runtime.fast_config`), whatever ``config`` asks for.
    """
    config = fast_config(config)
    if train_images.dim() != 4 or tuple(train_images.shape[1:]) != (3, config.image_size, config.image_size):
        raise ValueError(f"train_images must have shape (N, 3, {config.image_size}, {config.image_size}), "
                         f"got {tuple(train_images.shape)}")
    out_dir = Path(config.out_dir)
    (out_dir / "samples").mkdir(parents=True, exist_ok=True)
    device = pick_device(config.device)
    seed_everything(config.seed)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format

    G = _to_device(make_generator(noise_size=config.noise_size, conv_dim=config.g_conv_dim,
                                  spectral_norm=config.spectral_norm), device, config.channels_last)
    D = _to_device(DCDiscriminator(conv_dim=config.d_conv_dim, spectral_norm=config.spectral_norm), device,
                   config.channels_last)
    # The averaged generator: a copy whose weights trail G's (its BatchNorm statistics are measured afresh each
    # time it is sampled, see generate()).
    G_ema = copy.deepcopy(G).eval().requires_grad_(False) if config.ema_decay > 0 else None
    g_opt = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
    d_opt = torch.optim.Adam(D.parameters(), lr=config.lr * config.d_lr_multiplier,
                             betas=(config.beta1, config.beta2))

    data = train_images.to(device).contiguous(memory_format=memory_format)
    real_sampler = TensorSampler(data, seed=config.seed)
    noise_rng = torch.Generator(device=device).manual_seed(config.seed + 1)
    fixed_noise = sample_noise(100, config.noise_size, device, torch.Generator(device=device).manual_seed(1234))
    swd = SWDTracker(test_images.to(device)) if test_images is not None else None

    history: dict[str, list[tuple[int, float]]] = {"D_real": [], "D_fake": [], "G": [], "swd": []}
    # With learning-rate decay the schedule depends on the run's length: a longer run is not a continuation then.
    resumable = tuple(f for f in RESUMABLE_FIELDS if config.lr_decay_start == 1 or f != "steps")
    run = Run(config, config.steps, counter="iteration", resumable=resumable, desc=f"DCGAN {out_dir.name}",
              device=device)
    state = run.resume(map_location=device) if resume else None
    if state is not None:
        G.load_state_dict(state["G"])
        if G_ema is not None:
            G_ema.load_state_dict(state["G_ema"])
        D.load_state_dict(state["D"])
        g_opt.load_state_dict(state["g_opt"])
        d_opt.load_state_dict(state["d_opt"])
        history = state["history"]
        restore_rng_state(state["rng"], real_sampler.generator, noise_rng)

    def sample_real() -> torch.Tensor:
        return real_sampler.sample(config.batch_size)

    def sample_train_noise() -> torch.Tensor:
        return sample_noise(config.batch_size, config.noise_size, device, noise_rng)

    def generate(noise: torch.Tensor) -> torch.Tensor:
        if G_ema is None:
            sampler = G.eval()
        else:
            # G_ema's weights are an average, so G's BatchNorm statistics do not fit them: measure its own
            # (fresh noise from a fixed seed, so that sampling leaves the training run's random streams alone).
            calibration_rng = torch.Generator(device=device).manual_seed(config.seed + 2)
            recalibrate_batchnorm(G_ema, (sample_noise(config.batch_size, config.noise_size, device, calibration_rng)
                                          for _ in range(config.bn_calibration_batches)))  # leaves it in eval mode
            sampler = G_ema
        with torch.no_grad():
            images = sampler(noise)
        G.train()
        return images

    def save_samples(iteration: int) -> None:
        save_grid(generate(fixed_noise), out_dir / "samples" / f"sample-{iteration:06d}.png")

    def checkpoint(iteration: int) -> None:
        if swd is not None:
            fakes = generate(sample_noise(swd.num_real, config.noise_size, device, noise_rng))
            history["swd"].append((iteration, swd(fakes)["swd_avg"]))
        extra = {"G_ema": G_ema.state_dict()} if G_ema is not None else {}
        run.save(iteration, G=G.state_dict(), **extra, D=D.state_dict(), g_opt=g_opt.state_dict(),
                 d_opt=d_opt.state_dict(), history=history, rng=rng_state(real_sampler.generator, noise_rng))

    gp_weight = config.gp_weight if config.gradient_penalty else 0.0
    pending: list[tuple[int, dict[str, torch.Tensor]]] = []  # losses stay on the device until logged
    began = time.perf_counter()
    for iteration in run.steps():
        scale = lr_scale(iteration - 1, config.steps, config.lr_decay_start)
        for optimizer, lr in ((g_opt, config.lr), (d_opt, config.lr * config.d_lr_multiplier)):
            for group in optimizer.param_groups:
                group["lr"] = lr * scale
        losses = training_iteration(G, D, g_opt, d_opt, sample_real, sample_train_noise,
                                    config.d_train_iters, gp_weight)
        pending.append((iteration, {k: v.detach() for k, v in losses.items()}))
        if G_ema is not None:
            update_ema(G_ema, G, config.ema_decay)
        if run.due(iteration, config.sample_every):
            for it, values in pending:
                for key in ("D_real", "D_fake", "G"):
                    history[key].append((it, float(values[key])))
            pending.clear()
            run.show(D_real=history["D_real"][-1][1], D_fake=history["D_fake"][-1][1], G=history["G"][-1][1])
            save_samples(iteration)
        if run.due(iteration, config.checkpoint_every):
            checkpoint(iteration)

    sample_paths = sorted((out_dir / "samples").glob("sample-*.png"))
    sample_paths = [p for p in sample_paths if int(p.stem.split("-")[-1]) <= config.steps]
    plot_curves({k: history[k] for k in ("D_real", "D_fake", "G")}, out_dir / "losses.png",
                title="Least-squares GAN losses", ylabel="loss")
    if history["swd"]:
        plot_curves({"SWD to held-out emojis": history["swd"]}, out_dir / "swd.png",
                    title="Sliced Wasserstein distance (lower is better)", ylabel="SWD x 1e3")
    if sample_paths:
        save_gif(sample_paths, out_dir / "samples.gif")
    return TrainResult(G_ema if G_ema is not None else G, D, history, out_dir, sample_paths,
                       time.perf_counter() - began)


RECIPES = ("auto", "full", "cpu_preset")


def recipe_for(recipe: str = "auto", device: str | None = None) -> str:
    """``"full"`` or ``"cpu_preset"``: ``"auto"`` is the preset on a CPU and the original recipe on a GPU."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}: choose one of {', '.join(RECIPES)}")
    if recipe == "auto":
        return "cpu_preset" if pick_device(device).type == "cpu" else "full"
    return recipe


def describe_recipe(recipe: str = "auto", runs: int = 1, device: str | None = None) -> str:
    """What a notebook's DCGAN cells will train here, in one line for the student."""
    chosen = recipe_for(recipe, device)
    config = DCGANConfig() if chosen == "full" else DCGANConfig.cpu_preset()
    where = "a GPU" if pick_device(device).type != "cpu" else "this CPU"
    name = "the original recipe" if chosen == "full" else "the CPU preset (5x fewer iterations, same quality)"
    other = "cpu_preset" if chosen == "full" else "full"
    line = (f"RECIPE = {recipe!r}: {name} on {where}, {config.steps:,} iterations per run, {runs} run(s) in this "
            f"notebook; each run prints how long it will take once it has timed its first iterations. "
            f'Set RECIPE = "{other}" to change.')
    return line + (" (Grading and KIT_FAST=1 train a few iterations only.)" if fast_mode() else "")


def notebook_config(recipe: str = "auto", **changes: Any) -> DCGANConfig:
    """The configuration a notebook cell should use: ``recipe`` (:func:`recipe_for`), or in fast mode (grading)
    the CPU preset shortened by the fast-mode policy (:func:`helpers.core.runtime.fast_config`: ``changes``
    cannot lengthen it)."""
    if fast_mode():
        return fast_config(DCGANConfig.cpu_preset(**changes))
    full = recipe_for(recipe, changes.get("device")) == "full"
    return DCGANConfig(**changes) if full else DCGANConfig.cpu_preset(**changes)
