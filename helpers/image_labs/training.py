"""The epoch-based GAN training loop of the image-GAN labs: seeded, resumable, with logs, grids and metrics.

The loop is generic: the lab's models and its ``step_fn`` (the students' BCE step) are passed in.
``step_fn(G, D, g_optimizer, d_optimizer, real, noise, step)`` updates the models on one real batch and one
noise batch and returns scalar tensors: ``d_loss`` and ``g_loss``, and usually ``d_x`` and ``d_g_z`` (the mean
discriminator probabilities of real and generated images). Every value is logged per step and averaged per
epoch. The generator sees Gaussian noise of shape ``(batch, z_dim)``.

It shares the run bookkeeping and the result type (:mod:`helpers.core.run`) and the
sliced Wasserstein distance (:class:`helpers.core.metrics.SWDTracker`) with the DCGAN loop of
:mod:`helpers.dcgan.training`; it differs in counting epochs (one shuffled pass over the data) rather than
iterations, and in the loss, which lives entirely in ``step_fn``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from tqdm.auto import tqdm

from helpers.core.checkpoint import restore_rng_state, rng_state
from helpers.core.metrics import SWDTracker
from helpers.core.plotting import plot_curves, save_gif, save_grid
from helpers.core.run import Run, TrainResult
from helpers.core.runtime import fast_config, pick_device, seed_everything

# Fields that may change between a run and its resumption: a longer run continues a shorter one.
RESUMABLE_FIELDS = ("epochs", "sample_epochs", "checkpoint_every", "log_every", "out_dir", "device", "progress")
NUM_FIXED_SAMPLES = 64
StepFn = Callable[..., dict[str, torch.Tensor]]


@dataclass
class ImageGANConfig:
    """Every hyperparameter of an image-GAN lab run (defaults: the labs' z_dim 100, Adam lr 2e-4, batch 64)."""

    z_dim: int = 100
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 64
    epochs: int = 50
    steps_per_epoch: int | None = None  # None: one pass over the data (the last incomplete batch is dropped)
    sample_epochs: tuple[int, ...] = (1, 5, 10, 25)  # grids of fixed noise after these epochs (and the last)
    checkpoint_every: int = 5  # epochs; also when the SWD to held-out images is measured
    log_every: int = 1  # print the epoch's mean losses every this many epochs
    seed: int = 0
    out_dir: str = "outputs/image_gan/run"
    device: str | None = None  # None: CUDA if available, else MPS, else CPU
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("z_dim", "batch_size", "epochs", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"ImageGANConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"ImageGANConfig.steps_per_epoch must be at least 1 (or None), "
                             f"got {self.steps_per_epoch}")
        if self.lr <= 0:
            raise ValueError(f"ImageGANConfig.lr must be positive, got {self.lr}")
        self.sample_epochs = tuple(int(e) for e in self.sample_epochs)

    # Fast mode (grading, the smoke run): at most two epochs of two batches of 16, a checkpoint and a log line
    # every epoch, samples after the first epoch (and the last, as always).
    FAST_LIMITS: ClassVar[dict[str, int]] = {"epochs": 2, "steps_per_epoch": 2, "checkpoint_every": 1, "log_every": 1,
                                             "batch_size": 16}
    FAST_SETTINGS: ClassVar[dict[str, Any]] = {"sample_epochs": (1,)}

    def replace(self, **changes: Any) -> ImageGANConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def lab_config(**changes: Any) -> ImageGANConfig:
    """The configuration a lab cell should use: as given, or in fast mode (grading) shortened by the fast-mode
    policy (:func:`helpers.core.runtime.fast_config`), which no ``changes`` can defeat."""
    return fast_config(ImageGANConfig(**changes))


def epoch_batches(num_images: int, batch_size: int, generator: torch.Generator,
                  steps: int | None = None) -> list[torch.Tensor]:
    """Index batches of one epoch: a shuffled pass without the last incomplete batch, or ``steps`` batches.

    With fewer images than ``batch_size`` every batch is the whole (shuffled) data. With ``steps`` larger than
    one pass allows, further passes are appended.
    """
    size = min(batch_size, num_images)
    batches: list[torch.Tensor] = []
    wanted = steps if steps is not None else num_images // size
    while len(batches) < wanted:
        order = torch.randperm(num_images, generator=generator)
        batches += list(order[: num_images // size * size].split(size))
    return batches[:wanted]


def train_image_gan(
    config: ImageGANConfig,
    generator: nn.Module,
    discriminator: nn.Module,
    step_fn: StepFn,
    train_images: torch.Tensor,
    test_images: torch.Tensor | None = None,
    resume: bool = True,
    swd_kwargs: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``generator`` and ``discriminator`` on ``train_images`` (N x C x H x W in [-1, 1]).

    Each epoch is a shuffled pass over the images in batches of ``config.batch_size`` (or
    ``config.steps_per_epoch`` batches); ``step_fn`` does the updates. Both models get Adam optimisers with
    ``lr``, ``(beta1, beta2)``. Under ``config.out_dir`` it saves: an 8x8 grid of a fixed noise batch after
    each epoch in ``sample_epochs`` and after the last (``samples/epoch-NNNN.png`` and ``samples.gif``),
    a checkpoint every ``checkpoint_every`` epochs (``checkpoint.pt``, resumable exactly), and the plots
    ``losses.png`` (per-step D and G losses), ``scores.png`` (mean D(x) and D(G(z))), ``epoch_losses.png``
    and, with ``test_images``, ``swd.png`` (sliced Wasserstein distance at each checkpoint; ``swd_kwargs``
    go to :class:`SWDTracker`).

    The history holds, for each key ``step_fn`` returns, ``(step, value)`` per step and under
    ``"epoch_<key>"`` ``(epoch, mean)`` per epoch, plus ``"swd"``. With ``resume=True`` a run whose
    checkpoint exists continues from it (and returns at once if it is complete). In fast mode the run is
    shortened (:func:`helpers.core.runtime.fast_config`), whatever ``config`` asks for.
    """
    config = fast_config(config)
    if train_images.dim() != 4 or len(train_images) < 2:
        raise ValueError(f"train_images must be a batch (N >= 2, C, H, W), got shape {tuple(train_images.shape)}")
    out_dir = Path(config.out_dir)
    (out_dir / "samples").mkdir(parents=True, exist_ok=True)
    device = pick_device(config.device)
    seed_everything(config.seed)
    G, D = generator.to(device), discriminator.to(device)
    g_opt, d_opt = (torch.optim.Adam(m.parameters(), lr=config.lr, betas=(config.beta1, config.beta2)) for m in (G, D))

    data = train_images.to(device)
    shuffle_rng = torch.Generator().manual_seed(config.seed)  # on the CPU: the same batches on every device
    noise_rng = torch.Generator(device=device).manual_seed(config.seed + 1)
    fixed_noise = torch.randn(NUM_FIXED_SAMPLES, config.z_dim, device=device,
                              generator=torch.Generator(device=device).manual_seed(1234))
    swd = SWDTracker(test_images.to(device), **(swd_kwargs or {})) if test_images is not None else None

    history: dict[str, list[tuple[int, float]]] = {"swd": []}
    step = 0  # batches done
    run = Run(config, config.epochs, counter="epoch", resumable=RESUMABLE_FIELDS, desc=f"GAN {out_dir.name}",
              unit="epoch", device=device)
    state = run.resume(map_location=device) if resume else None
    if state is not None:
        try:
            G.load_state_dict(state["G"])
            D.load_state_dict(state["D"])
        except RuntimeError as exc:  # the models changed since the checkpoint was written
            raise ValueError(f"the checkpoint in {out_dir} holds other models than the ones given "
                             f"({str(exc).splitlines()[0]} ...): use another out_dir, or resume=False to start "
                             "over") from exc
        g_opt.load_state_dict(state["g_opt"])
        d_opt.load_state_dict(state["d_opt"])
        history, step = state["history"], state["step"]
        restore_rng_state(state["rng"], shuffle_rng, noise_rng)

    def save_samples(epoch: int) -> None:
        save_grid(generate_in_eval_mode(G, fixed_noise), out_dir / "samples" / f"epoch-{epoch:04d}.png", nrow=8)

    def checkpoint(epoch: int) -> None:
        if swd is not None:
            noise = torch.randn(swd.num_real, config.z_dim, device=device, generator=noise_rng)
            fakes = generate_in_eval_mode(G, noise)
            history["swd"].append((epoch, swd(fakes)["swd_avg"]))
        run.save(epoch, step=step, G=G.state_dict(), D=D.state_dict(), g_opt=g_opt.state_dict(),
                 d_opt=d_opt.state_dict(), history=history, rng=rng_state(shuffle_rng, noise_rng))

    began = time.perf_counter()
    G.train()
    D.train()
    def update(index: torch.Tensor) -> tuple[int, dict[str, torch.Tensor]]:
        """One call of ``step_fn`` on the images at ``index`` and fresh noise; its values stay on the device."""
        nonlocal step
        step += 1
        got = step_fn(G, D, g_opt, d_opt, data[index.to(device)],
                      torch.randn(len(index), config.z_dim, device=device, generator=noise_rng), step)
        return step, {k: v.detach() for k, v in got.items()}

    for epoch in run.steps():
        pending = [update(index)
                   for index in epoch_batches(len(data), config.batch_size, shuffle_rng, config.steps_per_epoch)]
        for s, values in pending:
            for key, value in values.items():
                history.setdefault(key, []).append((s, float(value)))
        means = {key: sum(float(v[key]) for _, v in pending) / len(pending) for key in pending[0][1]}
        for key, mean in means.items():
            history.setdefault(f"epoch_{key}", []).append((epoch, mean))
        run.show(**{k: round(v, 3) for k, v in means.items()})
        if run.due(epoch, config.log_every):
            tqdm.write(f"epoch {epoch:4d}/{config.epochs}: " + "  ".join(f"{k} {v:.4f}" for k, v in means.items()))
        if epoch in config.sample_epochs or epoch == config.epochs:
            save_samples(epoch)
        if run.due(epoch, config.checkpoint_every):
            checkpoint(epoch)

    sample_paths = sorted(p for p in (out_dir / "samples").glob("epoch-*.png")
                          if int(p.stem.split("-")[-1]) <= config.epochs)
    plot_curves({k: history[k] for k in ("d_loss", "g_loss") if k in history}, out_dir / "losses.png",
                title="Discriminator and generator losses (per step)", xlabel="step", ylabel="BCE loss")
    plot_curves({k: history[k] for k in ("epoch_d_loss", "epoch_g_loss") if k in history},
                out_dir / "epoch_losses.png", title="Mean losses per epoch", xlabel="epoch", ylabel="BCE loss")
    if "d_x" in history or "d_g_z" in history:
        plot_curves({label: history[k] for k, label in (("d_x", "D(x)"), ("d_g_z", "D(G(z))")) if k in history},
                    out_dir / "scores.png", title="Mean discriminator output (per step)", xlabel="step",
                    ylabel="probability of 'real'")
    if history["swd"]:
        plot_curves({"SWD to held-out images": history["swd"]}, out_dir / "swd.png", xlabel="epoch",
                    title="Sliced Wasserstein distance (lower is better)", ylabel="SWD x 1e3")
    if sample_paths:
        save_gif(sample_paths, out_dir / "samples.gif")
    return TrainResult(G, D, history, out_dir, sample_paths, time.perf_counter() - began)


@torch.no_grad()
def generate_in_eval_mode(generator: nn.Module, noise: torch.Tensor) -> torch.Tensor:
    """``generator(noise)`` in eval mode (BatchNorm's running statistics, no dropout), then back to train mode."""
    generator.eval()
    try:
        return generator(noise)
    finally:
        generator.train()


@torch.no_grad()
def generate(generator: nn.Module, num_images: int, z_dim: int, seed: int = 0, batch_size: int = 500) -> torch.Tensor:
    """``num_images`` samples of ``generator`` (in eval mode) from seeded Gaussian noise, on the CPU."""
    device = next(generator.parameters()).device
    noise = torch.randn(num_images, z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    was_training = generator.training
    generator.eval()
    images = torch.cat([generator(chunk).float().cpu() for chunk in noise.split(batch_size)])
    generator.train(was_training)
    return images
