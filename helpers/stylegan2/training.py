"""The kit's StyleGAN2 training script: a small generator on the emoji data, on a GPU or (32x32) on a CPU.

The recipe follows StyleGAN2 (Karras et al., 2020) and NVIDIA's stylegan2-ada-pytorch ``loss.py`` and
``training_loop.py``, in short:

* non-saturating logistic loss: D minimises softplus(D(fake)) + softplus(-D(real)), G minimises softplus(-D(fake));
* R1 penalty on real images, (gamma / 2) * |dD/dx|^2, applied lazily every ``r1_every`` steps (scaled up by
  the interval, with Adam's learning rate and betas adjusted as in the paper);
* optional path length regularisation of G (``pl_weight > 0``), lazily every ``pl_every`` steps;
* style-mixing regularisation: with probability ``style_mixing_prob`` the ws after a random layer come from a
  second latent;
* differentiable augmentation (``helpers.stylegan2.augment``, Zhao et al. 2020) of every image D sees, real or
  fake: with about 1,200 training emojis D otherwise memorises them within a few thousand iterations (its loss
  falls, its R1 norm climbs) and G's samples stay blobs;
* an exponential moving average of G's weights (``G_ema``), which gives the samples and the saved generator.

The generator is :class:`helpers.stylegan2.generator.Generator`; the discriminator is a small residual network of
equalized-learning-rate convolutions with a minibatch standard deviation layer (simpler than the official
one). Runs are seeded and resumable: re-running with the same ``out_dir`` continues from the checkpoint.

Command line (the bundled generator was made this way, with the defaults: 20,000 iterations, about 2 hours on one
CPU thread beside other jobs, 3 iterations/s; SWD to the held-out emojis 37.5 with 1,000 samples, 42.7 with 138,
and already 42 by iteration 10,000, about an hour; without augmentation and R1 gamma 0.02 it stalled at 56-60)::

    OMP_NUM_THREADS=1 nice python -m helpers.stylegan2.training --out-dir outputs/stylegan2/train --threads 1
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from helpers.core.averaging import update_ema
from helpers.core.checkpoint import restore_rng_state, rng_state
from helpers.core.emoji_data import load_emojis
from helpers.core.metrics import SWDTracker
from helpers.core.plotting import plot_curves, save_grid
from helpers.core.run import Run, renamed_fields
from helpers.core.runtime import fast_config, pick_device, seed_everything
from helpers.core.samplers import TensorSampler
from helpers.stylegan2.augment import diff_augment, parse_policy
from helpers.stylegan2.discriminator import Discriminator
from helpers.stylegan2.generator import Generator, save_generator
from helpers.stylegan2.losses import generate_with_mixing, path_length_penalty, r1_penalty

# Fields that may change between a run and its resumption: a longer run continues a shorter one.
RESUMABLE_FIELDS = ("steps", "sample_every", "checkpoint_every", "out_dir", "device", "progress", "threads")


@renamed_fields(train_iters="steps", r1_interval="r1_every", pl_interval="pl_every")
@dataclass
class StyleGAN2Config:
    """Every hyperparameter of a StyleGAN2 training run."""

    image_size: int = 32
    z_dim: int = 64
    w_dim: int = 64
    mapping_layers: int = 2
    channel_base: int = 1024  # channels at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 64
    d_channel_base: int = 1024
    d_channel_max: int = 64
    conv_clamp: float | None = 256
    batch_size: int = 16
    steps: int = 20000  # training iterations (one G step and one D step each)
    g_lr: float = 0.0025
    d_lr: float = 0.0025
    beta1: float = 0.0
    beta2: float = 0.99
    r1_gamma: float = 0.1  # above the paper's 0.01 for CIFAR-10: with ~1,200 images D needs holding back
    r1_every: int = 16  # the R1 penalty is applied lazily, every this many steps
    pl_weight: float = 0.0  # path length regularisation (StyleGAN2 uses 2; off by default: it costs time)
    pl_every: int = 4
    pl_decay: float = 0.01
    style_mixing_prob: float = 0.9
    ema_kimg: float = 2.0  # half-life of the EMA of G in thousands of images
    ema_rampup: float = 0.05  # the half-life grows with training: at most ema_rampup * images seen
    xflip: bool = True  # mirror real images at random (emojis look fine either way)
    augment: str = "color,translation,cutout"  # DiffAugment policy for what D sees ("" for none)
    seed: int = 0
    sample_every: int = 200
    checkpoint_every: int = 400  # also when the SWD to the held-out emojis is computed
    threads: int | None = None  # torch CPU threads (None: torch's default)
    out_dir: str = "outputs/stylegan2/train"
    device: str | None = None  # None: CUDA if available, else MPS, else CPU
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max", "d_channel_base",
                     "d_channel_max", "batch_size", "steps", "r1_every", "pl_every", "sample_every",
                     "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"StyleGAN2Config.{name} must be at least 1, got {getattr(self, name)}")
        if self.image_size < 8 or self.image_size & (self.image_size - 1):
            raise ValueError(f"image_size must be a power of two of at least 8, got {self.image_size}")
        for name in ("g_lr", "d_lr"):
            if getattr(self, name) <= 0:
                raise ValueError(f"StyleGAN2Config.{name} must be positive, got {getattr(self, name)}")
        parse_policy(self.augment)
        if not 0 <= self.style_mixing_prob <= 1:
            raise ValueError(f"style_mixing_prob must be in [0, 1], got {self.style_mixing_prob}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (minibatch std), got {self.batch_size}")

    # Fast mode (grading, the smoke run): at most these lengths and intervals.
    FAST_LIMITS: ClassVar[dict[str, int]] = {"steps": 4, "sample_every": 2, "checkpoint_every": 2}

    def replace(self, **changes: Any) -> StyleGAN2Config:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def fast(cls, **changes: Any) -> StyleGAN2Config:
        """A tiny run of a few iterations: for tests and the notebook's fast mode."""
        base = cls(channel_base=256, channel_max=16, d_channel_base=256, d_channel_max=16, batch_size=8,
                   **cls.FAST_LIMITS, r1_every=2, pl_every=2)
        return base.replace(**changes)

    def generator_kwargs(self) -> dict[str, Any]:
        """The :class:`helpers.stylegan2.generator.Generator` constructor arguments of this configuration."""
        return dict(z_dim=self.z_dim, c_dim=0, w_dim=self.w_dim, img_resolution=self.image_size, img_channels=3,
                    mapping_kwargs={"num_layers": self.mapping_layers},
                    synthesis_kwargs={"channel_base": self.channel_base, "channel_max": self.channel_max,
                                      "conv_clamp": self.conv_clamp})


@dataclass
class StyleGAN2Result:
    """What a run leaves behind: the networks, the history and the files it wrote."""

    G_ema: Generator
    G: Generator
    D: Discriminator
    history: dict[str, list[tuple[int, float]]]
    out_dir: Path
    generator_path: Path
    sample_paths: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def _lazy_adam(params: Any, lr: float, beta1: float, beta2: float, interval: int) -> torch.optim.Adam:
    # A regulariser applied every `interval` steps changes the optimizer's time scale (StyleGAN2 appendix B).
    ratio = interval / (interval + 1)
    return torch.optim.Adam(params, lr=lr * ratio, betas=(beta1**ratio, beta2**ratio), eps=1e-8)


def train_stylegan2(
    config: StyleGAN2Config,
    train_images: torch.Tensor | None = None,
    test_images: torch.Tensor | None = None,
    resume: bool = True,
) -> StyleGAN2Result:
    """Train a StyleGAN2 on ``train_images`` (N x 3 x R x R in [-1, 1]; default: the emoji train split).

    Every ``sample_every`` iterations an 8x8 grid of ``G_ema`` samples from fixed latents is saved under
    ``out_dir/samples``; every ``checkpoint_every`` iterations a checkpoint (resumable) and, when
    ``test_images`` are given, the sliced Wasserstein distance of 1000 ``G_ema`` samples to them. At the
    end ``G_ema`` is saved to ``out_dir/generator.pt`` (load it with ``helpers.stylegan2.generator.load_generator``).
    In fast mode the run is shortened (:func:`helpers.core.runtime.fast_config`), whatever ``config`` asks for.
    """
    config = fast_config(config)
    if config.threads:
        torch.set_num_threads(config.threads)
    if train_images is None:
        train_images = load_emojis("train", image_size=config.image_size)
    size = config.image_size
    if train_images.ndim != 4 or tuple(train_images.shape[1:]) != (3, size, size):
        raise ValueError(f"train_images must have shape (N, 3, {size}, {size}), got {tuple(train_images.shape)}")
    if len(train_images) < config.batch_size:
        raise ValueError(f"batch_size {config.batch_size} is larger than the {len(train_images)} training images")
    out_dir = Path(config.out_dir)
    (out_dir / "samples").mkdir(parents=True, exist_ok=True)
    device = pick_device(config.device)
    seed_everything(config.seed)

    G = Generator(**config.generator_kwargs()).to(device).train()
    D = Discriminator(size, config.d_channel_base, config.d_channel_max).to(device).train()
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    g_opt = _lazy_adam(G.parameters(), config.g_lr, config.beta1, config.beta2,
                       config.pl_every if config.pl_weight > 0 else 10**9)
    d_opt = _lazy_adam(D.parameters(), config.d_lr, config.beta1, config.beta2, config.r1_every)
    pl_mean = torch.zeros([], device=device)

    sampler = TensorSampler(train_images.to(device), seed=config.seed)
    fixed_z = torch.randn(64, config.z_dim, generator=torch.Generator().manual_seed(1234)).to(device)
    swd = SWDTracker(test_images.to(device)) if test_images is not None else None
    history: dict[str, list[tuple[int, float]]] = {"D": [], "G": [], "R1": [], "swd": []}
    run = Run(config, config.steps, counter="iteration", resumable=RESUMABLE_FIELDS, desc=f"StyleGAN2 {out_dir.name}",
              device=device)
    state = run.resume(map_location="cpu") if resume else None  # RNG states must stay CPU tensors
    if state is not None:
        for module, key in ((G, "G"), (D, "D"), (G_ema, "G_ema"), (g_opt, "g_opt"), (d_opt, "d_opt")):
            module.load_state_dict(state[key])
        history, pl_mean = state["history"], state["pl_mean"].to(device)
        restore_rng_state(state["rng"], sampler.generator)

    def real_batch() -> torch.Tensor:
        real = sampler.sample(config.batch_size)
        if config.xflip:
            flip = torch.rand(len(real), 1, 1, 1, device=device) < 0.5
            real = torch.where(flip, real.flip(3), real)
        return real

    def augment(images: torch.Tensor) -> torch.Tensor:
        # D only ever sees augmented images, real and fake alike; G's gradients pass through the augmentation.
        return diff_augment(images, config.augment)

    def save_samples(iteration: int) -> Path:
        with torch.no_grad():
            images = G_ema(fixed_z, None, noise_mode="const")
        return save_grid(images, out_dir / "samples" / f"sample-{iteration:06d}.png", nrow=8)

    def checkpoint(iteration: int) -> None:
        if swd is not None:
            with torch.no_grad():
                z = torch.randn(1000, config.z_dim, generator=torch.Generator().manual_seed(99)).to(device)
                fakes = torch.cat([G_ema(part, None, noise_mode="const") for part in z.split(250)])
            history["swd"].append((iteration, swd(fakes)["swd_avg"]))
        run.save(iteration, G=G.state_dict(), D=D.state_dict(), G_ema=G_ema.state_dict(), g_opt=g_opt.state_dict(),
                 d_opt=d_opt.state_dict(), history=history, pl_mean=pl_mean, rng=rng_state(sampler.generator))

    began = time.perf_counter()
    for iteration in run.steps():
        # Generator: non-saturating loss, then (lazily) the path length penalty.
        G.requires_grad_(True)
        D.requires_grad_(False)
        z = torch.randn(config.batch_size, config.z_dim, device=device)
        g_loss = F.softplus(-D(augment(generate_with_mixing(G, z, config.style_mixing_prob)))).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        if config.pl_weight > 0 and iteration % config.pl_every == 0:
            penalty, pl_mean = path_length_penalty(G, z[: max(config.batch_size // 2, 1)], pl_mean,
                                                   config.pl_decay)
            (penalty.mean() * config.pl_weight * config.pl_every).backward()
        g_opt.step()

        # Discriminator: logistic loss on real and fake images, then (lazily) the R1 penalty.
        G.requires_grad_(False)
        D.requires_grad_(True)
        real = augment(real_batch())
        with torch.no_grad():
            fake = generate_with_mixing(G, torch.randn(config.batch_size, config.z_dim, device=device),
                                        config.style_mixing_prob)
        d_loss = F.softplus(D(augment(fake))).mean() + F.softplus(-D(real)).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        r1 = None
        if config.r1_gamma > 0 and iteration % config.r1_every == 0:
            r1 = r1_penalty(D, real).mean()
            (r1 * (config.r1_gamma / 2) * config.r1_every).backward()
        d_opt.step()

        # EMA of G, with a half-life that ramps up over the first images.
        images_seen = iteration * config.batch_size
        ema_nimg = min(config.ema_kimg * 1000, images_seen * config.ema_rampup)
        update_ema(G_ema, G, 0.5 ** (config.batch_size / max(ema_nimg, 1e-8)))

        history["D"].append((iteration, float(d_loss.detach())))
        history["G"].append((iteration, float(g_loss.detach())))
        if r1 is not None:
            history["R1"].append((iteration, float(r1.detach())))
        if run.due(iteration, config.sample_every):
            run.show(D=history["D"][-1][1], G=history["G"][-1][1])
            save_samples(iteration)
        if run.due(iteration, config.checkpoint_every):
            checkpoint(iteration)

    sample_paths = sorted(p for p in (out_dir / "samples").glob("sample-*.png")
                          if int(p.stem.split("-")[-1]) <= config.steps)
    plot_curves({k: history[k] for k in ("D", "G")}, out_dir / "losses.png", title="StyleGAN2 losses",
                ylabel="loss")
    if history["swd"]:
        plot_curves({"SWD to held-out emojis": history["swd"]}, out_dir / "swd.png",
                    title="Sliced Wasserstein distance (lower is better)", ylabel="SWD x 1e3")
    generator_path = save_generator(G_ema, out_dir / "generator.pt")
    return StyleGAN2Result(G_ema, G, D, history, out_dir, generator_path, sample_paths, time.perf_counter() - began)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the kit's StyleGAN2 on the emoji data.")
    parser.add_argument("--out-dir", default=StyleGAN2Config.out_dir)
    parser.add_argument("--steps", type=int, default=StyleGAN2Config.steps)
    parser.add_argument("--batch-size", type=int, default=StyleGAN2Config.batch_size)
    parser.add_argument("--image-size", type=int, default=StyleGAN2Config.image_size)
    parser.add_argument("--augment", default=StyleGAN2Config.augment,
                        help="DiffAugment policy: comma-separated color, translation, cutout ('' for none)")
    parser.add_argument("--r1-gamma", type=float, default=StyleGAN2Config.r1_gamma)
    parser.add_argument("--seed", type=int, default=StyleGAN2Config.seed)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    config = StyleGAN2Config(out_dir=args.out_dir, steps=args.steps, batch_size=args.batch_size,
                             image_size=args.image_size, augment=args.augment, r1_gamma=args.r1_gamma,
                             seed=args.seed, threads=args.threads, device=args.device,
                             progress=not args.no_progress)
    test = load_emojis("test", image_size=config.image_size)
    result = train_stylegan2(config, test_images=test)
    swd = result.history["swd"][-1][1] if result.history["swd"] else float("nan")
    print(f"done in {result.seconds / 60:.1f} min; final SWD {swd:.2f}; generator: {result.generator_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
