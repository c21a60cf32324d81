"""Timing slices for ``bench/student_time.py``: every training run of a notebook stops after a short, timed slice.

The student library knows nothing of this: :func:`install` wraps :meth:`helpers.core.run.Run.steps` and
:meth:`~helpers.core.run.Run.due` from outside, in the notebook's kernel (``bench/kernel_startup/sitecustomize.py``
calls it there when ``KIT_TIME_SLICE`` is set).
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path

from helpers.core.run import Run
from helpers.core.runtime import fast_mode


class TimingSlice:
    """Run only the first steps of every run and note how long a step takes.

    Set ``KIT_TIME_SLICE`` (steps timed after the first, warm-up, one) and ``KIT_TIME_LOG`` (a JSON-lines file):
    each run then stops after its slice and appends ``{"desc", "counter", "todo", "seconds_per_step"}``, from
    which the bench estimates the full run. The slice ends with one more step, which does the run's periodic work
    (samples, checkpoint) so that the notebook's later cells find what they show; it is not timed. Epoch-based runs
    time one epoch, warm-up and periodic work included. Never in fast mode.
    """

    def __init__(self, steps: int, log: Path) -> None:
        self.steps, self.log = steps, log
        self.clock = time.perf_counter
        self.marks: list[float] = [self.clock()]

    @classmethod
    def from_env(cls, counter: str) -> TimingSlice | None:
        steps, log = os.environ.get("KIT_TIME_SLICE"), os.environ.get("KIT_TIME_LOG")
        if not steps or not log or fast_mode():
            return None
        return cls(1 if counter == "epoch" else max(1, int(steps)), Path(log))

    def planned(self, run: Run) -> int:
        """Steps the slice runs: a warm-up step, the timed ones, and one that does the periodic work."""
        return min(self.steps + (2 if self.steps > 1 else 0), run.length - run.start)

    def tick(self, run: Run, step: int) -> bool:
        """Note the end of ``step``; True when the slice is done (and written to the log)."""
        self.marks.append(self.clock())
        done = len(self.marks) - 1
        if done < self.planned(run):
            return False
        if done >= 3 and self.steps > 1:  # the warm-up step and the last (periodic work) step left out
            per_step = (self.marks[-2] - self.marks[1]) / (done - 2)
        else:
            per_step = (self.marks[-1] - self.marks[0]) / done
        record = {"desc": run.desc, "counter": run.counter, "todo": run.length - run.start,
                  "seconds_per_step": per_step, "sliced_seconds": self.marks[-1] - self.marks[0]}
        with self.log.open("a") as out:
            out.write(json.dumps(record) + "\n")
        return True


def install() -> None:
    """Make every :class:`~helpers.core.run.Run` of this process run a timing slice (when ``KIT_TIME_SLICE`` and
    ``KIT_TIME_LOG`` are set and not in fast mode): its steps stop after the slice, whose last step does the run's
    periodic work (samples, checkpoint) so that the notebook's later cells find what they show."""
    plain_steps, plain_due = Run.steps, Run.due

    @functools.wraps(plain_steps)
    def steps(self: Run):
        timing = TimingSlice.from_env(self.counter)
        self.stop_at = None if timing is None else self.start + timing.planned(self)
        for step in plain_steps(self):
            yield step
            if timing is not None and timing.tick(self, step):
                return

    @functools.wraps(plain_due)
    def due(self: Run, step: int, every: int) -> bool:
        return plain_due(self, step, every) or step == getattr(self, "stop_at", None)

    Run.steps, Run.due = steps, due
