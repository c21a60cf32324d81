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
                 desc: str = "", unit: str = "it") -> None:
        self.config = config
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
        """The steps still to do, ``start + 1`` to ``length``, behind a progress bar (``config.progress``)."""
        self.bar = tqdm(range(self.start + 1, self.length + 1), initial=self.start, total=self.length,
                        desc=self.desc, unit=self.unit, disable=not self.config.progress)
        try:
            yield from self.bar
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
