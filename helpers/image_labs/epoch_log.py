"""The logging helper a student's own epoch loop calls: it records and saves what the labs' provided loop does.

The digit lab's students write the epoch loop themselves (shuffled batches, noise, the fixed noise batch for
samples) and report to an :class:`EpochLogger` (made with :meth:`EpochLogger.from_config`): :meth:`log_step` after
every step, :meth:`end_epoch` after every epoch (with the sample images when :meth:`wants_samples` says so), and
:meth:`finish` at the end, which returns the run's result. How the loop is written is the lab's TODO.

The files and the history have the names and layout of :func:`helpers.image_labs.training.train_image_gan`
(``losses.png``, ``scores.png``, ``epoch_losses.png``, ``samples/epoch-NNNN.png``, ``samples.gif``; history keys
``<key>`` per step and ``epoch_<key>`` per epoch), so the lab's later cells and the writeup read either.
The logger saves no checkpoint: a run that it logs is short, and starts over when its cell runs again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from helpers.core.plotting import plot_curves, save_gif, save_grid
from helpers.core.run import TrainResult

SAMPLE_GRID_ROWS = 8


class EpochLogger:
    """Per-step and per-epoch records of a GAN run, its sample grids and its plots (see the module docstring).

    ``out_dir``: where the files go (sample grids left there by an earlier run are removed); ``epochs``: how
    many epochs the run has (the last one always gets a sample grid); ``sample_epochs``: the other epochs after
    which a grid of samples is saved; ``log_every``: print the epoch's mean values every this many epochs
    (and after the last); ``progress``: show a progress bar over the epochs.
    """

    def __init__(self, out_dir: str | Path, epochs: int, sample_epochs: Iterable[int] = (), log_every: int = 1,
                 progress: bool = True) -> None:
        if epochs < 1 or log_every < 1:
            raise ValueError(f"EpochLogger needs epochs >= 1 and log_every >= 1, got {epochs} and {log_every}")
        self.out_dir = Path(out_dir)
        self.epochs = int(epochs)
        self.sample_epochs = tuple(sorted({int(e) for e in sample_epochs}))
        self.log_every = int(log_every)
        self.history: dict[str, list[tuple[int, float]]] = {}
        self.sample_paths: list[Path] = []
        self.steps_logged = 0
        self.epochs_ended: list[int] = []
        self._pending: list[tuple[int, dict[str, torch.Tensor]]] = []  # this epoch's values, still on the device
        (self.out_dir / "samples").mkdir(parents=True, exist_ok=True)
        for stale in (self.out_dir / "samples").glob("epoch-*.png"):
            stale.unlink()
        self._bar = tqdm(total=self.epochs, desc=f"GAN {self.out_dir.name}", unit="epoch", disable=not progress)
        self._began = time.perf_counter()

    @classmethod
    def from_config(cls, config: Any, **changes: Any) -> EpochLogger:
        """A logger for a run of ``config`` (an :class:`~helpers.image_labs.training.ImageGANConfig`: its
        ``out_dir``, ``epochs``, ``sample_epochs``, ``log_every`` and ``progress``)."""
        settings = {name: getattr(config, name)
                    for name in ("out_dir", "epochs", "sample_epochs", "log_every", "progress")}
        return cls(**{**settings, **changes})

    def log_step(self, step: int, values: Mapping[str, torch.Tensor | float]) -> None:
        """Record one training step's values (what the step function returned: ``d_loss``, ``g_loss``, ...).

        ``step`` counts the batches of the whole run from 1. Tensors must hold one number each; they are read
        only when the epoch ends, so logging does not wait for the GPU.
        """
        if not isinstance(values, Mapping) or not values:
            raise TypeError(f"log_step wants the step function's dict of scalars, got {type(values).__name__}")
        scalars = {}
        for key, value in values.items():
            tensor = value.detach() if isinstance(value, torch.Tensor) else torch.tensor(float(value))
            if tensor.numel() != 1:
                raise ValueError(f"log_step: {key!r} must be one number, got shape {tuple(tensor.shape)}")
            scalars[str(key)] = tensor.reshape(())
        self._pending.append((int(step), scalars))
        self.steps_logged += 1

    def wants_samples(self, epoch: int) -> bool:
        """Whether :meth:`end_epoch` wants a sample grid after ``epoch`` (a sample epoch, or the last)."""
        return epoch in self.sample_epochs or epoch == self.epochs

    def end_epoch(self, epoch: int, samples: torch.Tensor | None = None) -> dict[str, float]:
        """Close ``epoch`` (counted from 1): average its steps' values, print them when due, and save
        ``samples`` (N x C x H x W in [-1, 1], the generator's images of the fixed noise batch) as
        ``samples/epoch-NNNN.png`` when :meth:`wants_samples` says so. Returns the epoch's means.
        """
        if not self._pending:
            raise ValueError(f"epoch {epoch} ended without a logged step: call log_step after every step")
        if self.wants_samples(epoch) and samples is None:
            raise ValueError(f"epoch {epoch} wants a sample grid: pass end_epoch(epoch, samples) with the "
                             "generator's images of the fixed noise")
        for step, values in self._pending:
            for key, value in values.items():
                self.history.setdefault(key, []).append((step, float(value)))
        keys = list(self._pending[0][1])
        means = {key: sum(float(v[key]) for _, v in self._pending if key in v) /
                 sum(key in v for _, v in self._pending) for key in keys}
        for key, mean in means.items():
            self.history.setdefault(f"epoch_{key}", []).append((int(epoch), mean))
        self._pending = []
        self.epochs_ended.append(int(epoch))
        self._bar.update(1)
        self._bar.set_postfix({k: round(v, 3) for k, v in means.items()})
        if epoch % self.log_every == 0 or epoch == self.epochs:
            tqdm.write(f"epoch {epoch:4d}/{self.epochs}: " + "  ".join(f"{k} {v:.4f}" for k, v in means.items()))
        if samples is not None and self.wants_samples(epoch):
            path = save_grid(samples.detach(), self.out_dir / "samples" / f"epoch-{epoch:04d}.png",
                             nrow=SAMPLE_GRID_ROWS)
            self.sample_paths = sorted({*self.sample_paths, path})
        return means

    def finish(self, generator: nn.Module, discriminator: nn.Module) -> TrainResult:
        """Save the plots (``losses.png``, ``epoch_losses.png``, ``scores.png``) and ``samples.gif``, and return
        the run as the provided loop does (models, history, folder, sample grids, seconds since the start)."""
        if self._pending:
            raise ValueError("steps were logged after the last end_epoch: end every epoch with end_epoch")
        self._bar.close()
        history = self.history
        plot_curves({k: history[k] for k in ("d_loss", "g_loss") if k in history}, self.out_dir / "losses.png",
                    title="Discriminator and generator losses (per step)", xlabel="step", ylabel="BCE loss")
        plot_curves({k: history[k] for k in ("epoch_d_loss", "epoch_g_loss") if k in history},
                    self.out_dir / "epoch_losses.png", title="Mean losses per epoch", xlabel="epoch",
                    ylabel="BCE loss")
        if "d_x" in history or "d_g_z" in history:
            plot_curves({label: history[k] for k, label in (("d_x", "D(x)"), ("d_g_z", "D(G(z))")) if k in history},
                        self.out_dir / "scores.png", title="Mean discriminator output (per step)", xlabel="step",
                        ylabel="probability of 'real'")
        if self.sample_paths:
            save_gif(self.sample_paths, self.out_dir / "samples.gif")
        return TrainResult(generator, discriminator, {k: list(v) for k, v in history.items()}, self.out_dir,
                           list(self.sample_paths), time.perf_counter() - self._began)
