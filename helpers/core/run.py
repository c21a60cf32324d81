"""The bookkeeping every training loop repeats, and what an image GAN run leaves behind.

:class:`Run` keeps a loop's algorithm free of its chores: it resumes from the run's checkpoint (refusing one made
with another configuration), counts the steps still to do behind a progress bar, says when periodic work is due,
and writes the checkpoint. The loop itself stays written out top to bottom::

    run = Run(config, length=config.steps, counter="iteration", resumable=RESUMABLE_FIELDS, desc="DCGAN")
    state = run.resume(map_location=device) if resume else None
    if state is not None:
        ...  # load the models, optimizers, history and random states from ``state``
    for iteration in run.steps():
        ...  # one training iteration
        if run.due(iteration, config.checkpoint_every):
            run.save(iteration, G=G.state_dict(), ...)

The vocabulary of every configuration: a run's length is ``steps`` (``epochs`` for the epoch-based image labs),
an interval is ``<what>_every`` (``sample_every``, ``checkpoint_every``, ``log_every``); periodic work is also
due at the run's last step. Fast mode is one policy for all loops: :func:`helpers.core.runtime.fast_config`.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from helpers.core.checkpoint import check_resumable, load_checkpoint, save_checkpoint

CHECKPOINT_NAME = "checkpoint.pt"


def renamed_fields(**old_names: str) -> Callable[[type], type]:
    """Class decorator for a configuration dataclass whose fields were renamed to the kit's vocabulary: the old
    names (``old="new"``) are still accepted by the constructor and by ``replace`` and read as attributes, so that
    notebooks written before the rename (a student's ``hyperparameters`` dict) keep working, and old checkpoints
    still resume."""
    def translate(kwargs: dict[str, Any]) -> dict[str, Any]:
        for old, new in old_names.items():
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{old!r} is the old name of {new!r}: give only {new!r}")
                kwargs[new] = kwargs.pop(old)
        return kwargs

    def decorate(cls: type) -> type:
        init, replace = cls.__init__, cls.replace

        @functools.wraps(init)
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **translate(kwargs))

        @functools.wraps(replace)
        def replace_(self, **changes: Any) -> Any:
            return replace(self, **translate(changes))

        cls.__init__, cls.replace = __init__, replace_
        for old, new in old_names.items():  # read-only: config.total_steps is config.steps
            setattr(cls, old, property(lambda self, new=new: getattr(self, new), doc=f"The old name of {new}."))
        cls.RENAMED_FIELDS = dict(old_names)
        return cls
    return decorate


class Run:
    """Resume, progress, periodic work and checkpoints of one training run (see the module docstring).

    Args:
        config: the run's configuration (a dataclass with ``out_dir`` and ``progress`` fields).
        length: the number of steps of the whole run (``config.steps``, or ``config.epochs``).
        counter: the checkpoint's key for the steps done ("step", "iteration", "epoch").
        resumable: configuration fields that may differ between a run and its continuation (a longer run
            continues a shorter one).
        desc, unit: the progress bar's label and unit.
    """

    def __init__(self, config: Any, length: int, counter: str = "step", resumable: tuple[str, ...] = (),
                 desc: str = "", unit: str = "it", device: torch.device | str | None = None) -> None:
        self.config = config
        self.device = torch.device(device) if device is not None else None
        self.out_dir = Path(config.out_dir)
        self.path = self.out_dir / CHECKPOINT_NAME
        self.length = length
        self.counter = counter
        self.resumable = tuple(resumable)
        self.desc = desc
        self.unit = unit
        self.start = 0  # steps done before this call (from the checkpoint)
        self.bar: Any = None

    def resume(self, map_location: torch.device | str | None = "cpu") -> dict[str, Any] | None:
        """The checkpoint's state to continue from, or None (no checkpoint: start from scratch).

        Refuses (``ValueError``) a checkpoint made with another configuration, naming the fields that differ.
        """
        if not self.path.exists():
            return None
        state = load_checkpoint(self.path, map_location=map_location)
        check_resumable(state, self.config, self.out_dir, ignore=self.resumable)
        self.start = state[self.counter]
        return state

    def steps(self) -> Iterator[int]:
        """The steps still to do, ``start + 1`` to ``length``, behind a progress bar (``config.progress``).

        With the progress bar on, it first says what the run will do and, once a few steps are timed, about
        how long the rest will take on this machine (:func:`estimate_line`).
        """
        todo = self.length - self.start
        self.bar = tqdm(range(self.start + 1, self.length + 1), initial=self.start, total=self.length,
                        desc=self.desc, unit=self.unit, disable=not self.config.progress)
        if self.config.progress and todo > 0:
            resumed = f", resuming after {self.start:,}" if self.start else ""
            tqdm.write(f"{self.desc}: {self.length:,} {self.counter}s{resumed}; timing the first ones ...")
        timer = StepTimer(todo)
        try:
            for step in self.bar:
                yield step
                seconds = timer.tick()
                if seconds is not None and self.config.progress:
                    tqdm.write(estimate_line(self.desc, todo - timer.done, self.counter, seconds, self.device))
        finally:
            self.bar.close()

    def due(self, step: int, every: int) -> bool:
        """Whether periodic work done every ``every`` steps is due at ``step`` (always at the last step)."""
        return step % every == 0 or step == self.length

    def show(self, **values: Any) -> None:
        """Show ``values`` (latest losses, ...) beside the progress bar."""
        if self.bar is not None:
            self.bar.set_postfix(values)

    def save(self, done: int, /, **state: Any) -> Path:
        """Write the checkpoint: the configuration, the steps ``done`` (under ``counter``) and ``state``."""
        return save_checkpoint({"config": dataclasses.asdict(self.config), self.counter: done, **state}, self.path)


class StepTimer:
    """Times the first steps of a run (the very first one, which warms up, apart) to estimate the rest.

    :meth:`tick` after each step returns the seconds per step once, after ``MIN_STEPS`` steps or
    ``MIN_SECONDS`` seconds of timing, whichever comes last (and before the run ends), else None.
    """

    MIN_STEPS, MIN_SECONDS = 3, 2.0

    def __init__(self, todo: int, clock: Callable[[], float] = time.perf_counter) -> None:
        self.todo, self.clock, self.done = todo, clock, 0
        self.started: float | None = None
        self.reported = False

    def tick(self) -> float | None:
        self.done += 1
        now = self.clock()
        if self.done == 1:
            self.started = now
            return None
        timed = self.done - 1
        if self.reported or self.done >= self.todo or timed < self.MIN_STEPS or now - self.started < self.MIN_SECONDS:
            return None
        self.reported = True
        return (now - self.started) / timed


def machine_name(device: torch.device | None) -> str:
    """"this CPU", "this GPU (NVIDIA H200)", ... for the estimate."""
    if device is not None and device.type == "cuda" and torch.cuda.is_available():
        return f"this GPU ({torch.cuda.get_device_name(device)})"
    if device is not None and device.type == "mps":
        return "this Mac's GPU"
    return f"this CPU ({torch.get_num_threads()} threads)" if device is not None else "this machine"


def estimate_line(desc: str, remaining: int, counter: str, seconds_per_step: float,
                  device: torch.device | None = None) -> str:
    """"DCGAN vanilla: 3,996 iterations to go, about 18 min on this CPU (0.27 s each)"."""
    total = remaining * seconds_per_step
    when = f"{total / 3600:.1f} h" if total >= 5400 else f"{total / 60:.0f} min" if total >= 90 else f"{total:.0f} s"
    return (f"{desc}: {remaining:,} {counter}s to go, about {when} on {machine_name(device)} "
            f"({seconds_per_step:.3g} s each, periodic samples and checkpoints not counted)")


@dataclass
class TrainResult:
    """What a run leaves behind: the models, the history, and the files it wrote."""

    generator: nn.Module  # the one to sample from: the moving average of G when ema_decay > 0
    discriminator: nn.Module
    history: dict[str, list[tuple[int, float]]]
    out_dir: Path
    sample_paths: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    def samples_at(self, iteration: int) -> Path:
        """The saved sample grid closest to ``iteration``."""
        if not self.sample_paths:
            raise ValueError("this run saved no samples")
        return min(self.sample_paths, key=lambda p: abs(int(p.stem.split("-")[-1]) - iteration))
