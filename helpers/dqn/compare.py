"""A small comparison of DQN runs: train each setting with the student's code, and tabulate steps to solve.

The notebook's written answer asks for a comparison of runs (the starting values and the student's own settings).
:func:`compare_runs` trains one run per setting with :func:`helpers.dqn.training.train_dqn` (same seed, same
evaluation protocol, fast mode respected, each run resumable in its own folder) and returns a :class:`RunTable`:
one row per run with the steps to solve (or "not solved"), the best and the last greedy evaluation, the steps
trained and the wall time. The table prints as text, shows as a table in Jupyter, and saves as CSV, Markdown and a
LaTeX ``tabular`` (for the writeup), with a figure of every run's greedy evaluations.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.core.runtime import is_grading
from helpers.dqn.training import GetAction, TrainingStep, notebook_config, train_dqn

Schedule = Callable[[int], float]
# A key of a setting that is not a DQNConfig field: that run's own exploration schedule (step -> epsilon).
SCHEDULE_KEY = "epsilon_schedule_fn"


@dataclass
class RunRow:
    """One run of a comparison: what was changed, and how it went."""

    name: str
    settings: dict[str, Any]
    solved_at: int | None  # training steps at the first confirmed evaluation, or None
    best_return: float | None  # best mean return of the greedy evaluations (None: never evaluated)
    last_return: float | None
    steps: int
    seconds: float
    evaluations: list[tuple[int, float]] = field(default_factory=list)  # (step, greedy mean return)

    def cells(self) -> list[str]:
        """The row as text: name, solved at, best return, last return, steps, seconds."""
        solved = f"{self.solved_at:,}" if self.solved_at is not None else f"not in {self.steps:,}"
        best = "-" if self.best_return is None else f"{self.best_return:.1f}"
        last = "-" if self.last_return is None else f"{self.last_return:.1f}"
        return [self.name, solved, best, last, f"{self.steps:,}", f"{self.seconds:.0f}"]


HEADERS = ["run", "solved at (steps)", "best greedy return", "last greedy return", "steps trained", "seconds"]


def _latex_escape(text: str) -> str:
    specials = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "#": r"\#", "%": r"\%", "&": r"\&",
                "_": r"\_", "^": r"\^{}", "~": r"\~{}", "$": r"\$"}
    return "".join(specials.get(c, c) if c.isascii() else "" for c in text)


@dataclass
class RunTable:
    """The rows of a comparison, in the order the settings were given."""

    rows: list[RunRow]
    threshold: float = 475.0
    plot_path: Path | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> RunRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def text(self) -> str:
        """The table as aligned plain text."""
        table = [HEADERS] + [row.cells() for row in self.rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
        lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
                 for line in table]
        return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])

    __str__ = text

    def markdown(self) -> str:
        """The table in Markdown."""
        lines = ["| " + " | ".join(HEADERS) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(HEADERS) - 1)) + " |"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row.cells()) + " |" for row in self.rows]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:  # how Jupyter shows it
        return self.markdown()

    def latex(self) -> str:
        """The table as a LaTeX ``tabular`` (plain LaTeX: no package needed)."""
        lines = [r"\begin{tabular}{l" + "r" * (len(HEADERS) - 1) + "}", r"\hline",
                 " & ".join(HEADERS) + r" \\", r"\hline"]
        lines += [" & ".join(_latex_escape(c) for c in row.cells()) + r" \\" for row in self.rows]
        return "\n".join([*lines, r"\hline", r"\end{tabular}"])

    def save(self, prefix: str | Path) -> list[Path]:
        """Write ``<prefix>.csv``, ``<prefix>.md`` and ``<prefix>.tex`` (the writeup reads the last); their paths."""
        prefix = Path(prefix)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        paths = [prefix.with_suffix(".csv"), prefix.with_suffix(".md"), prefix.with_suffix(".tex")]
        with paths[0].open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["run", "solved_at", "best_return", "last_return", "steps", "seconds", "settings"])
            for row in self.rows:
                writer.writerow([row.name, "" if row.solved_at is None else row.solved_at,
                                 "" if row.best_return is None else f"{row.best_return:.2f}",
                                 "" if row.last_return is None else f"{row.last_return:.2f}", row.steps,
                                 f"{row.seconds:.1f}", repr(row.settings)])
        paths[1].write_text(self.markdown() + "\n", encoding="utf-8")
        paths[2].write_text(f"% Made by helpers.dqn.compare.compare_runs ({len(self.rows)} runs).\n"
                            + self.latex() + "\n", encoding="ascii")
        return paths

    def plot(self, path: str | Path) -> Path:
        """One figure: every run's greedy evaluation returns over training, and the solving threshold."""
        from matplotlib.figure import Figure

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig = Figure(figsize=(8, 4.5), dpi=100)
        ax = fig.subplots()
        for row in self.rows:
            if row.evaluations:
                label = f"{row.name} (solved at {row.solved_at:,})" if row.solved_at is not None else \
                    f"{row.name} (not solved)"
                ax.plot(*zip(*row.evaluations), marker="o", label=label)
        ax.axhline(self.threshold, color="gray", linestyle="--", label=f"solved ({self.threshold:g})")
        ax.set(title="Greedy evaluations of the compared runs", xlabel="environment step", ylabel="mean return")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize="small")
        fig.tight_layout()
        fig.savefig(path)
        self.plot_path = path
        return path


def _folder_name(name: str, settings: Mapping[str, Any]) -> str:
    """A run's folder: its name (letters, digits, '-', '_') and a digest of its settings, so that changed settings
    start a new run instead of resuming the old one."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "run"
    plain = sorted((k, repr(v)) for k, v in settings.items() if not callable(v))
    return f"{slug}-{hashlib.sha1(repr(plain).encode()).hexdigest()[:8]}"


def compare_runs(settings: Mapping[str, Mapping[str, Any]], get_action: GetAction, training_step: TrainingStep,
                 epsilon_schedule: Schedule | None = None, out_dir: str | Path = "outputs/dqn/compare",
                 **common: Any) -> RunTable:
    """Train one DQN run per setting and tabulate them.

    ``settings`` maps a run's name to DQNConfig fields (a dict like the notebook's ``hyperparameters``; the key
    ``"epsilon_schedule_fn"`` may give that run its own schedule, ``step -> epsilon``). Every run uses
    ``get_action`` and ``training_step``, ``epsilon_schedule`` (default: the configuration's own), the fields in
    ``common`` (e.g. ``seed=0``), and its own folder ``<out_dir>/<name>-<digest of its settings>``, so a finished
    run is not trained again when the cell is re-run, and a changed setting starts afresh. Fast mode shortens
    every run, as it does every training loop. Names must differ as folder names. While nbgrader grades the
    notebook nothing is trained (no test reads the comparison): the table then lists the settings without results.
    """
    if not settings:
        raise ValueError("compare_runs needs at least one setting")
    folders = [_folder_name(name, {**changes, **common}) for name, changes in settings.items()]
    if len({folder.rsplit("-", 1)[0] for folder in folders}) != len(folders):
        raise ValueError(f"two runs would share a folder: give them names that differ ({list(settings)})")
    rows, threshold = [], 475.0
    if is_grading():
        print("(compare_runs trains nothing while the notebook is graded)")
    for (name, changes), folder in zip(settings.items(), folders):
        changes = dict(changes)
        schedule = changes.pop(SCHEDULE_KEY, epsilon_schedule)
        if is_grading():
            rows.append(RunRow(name, changes, None, None, None, 0, 0.0))
            continue
        config = notebook_config(**{**changes, **common}).replace(out_dir=str(Path(out_dir) / folder))
        threshold = config.solve_threshold
        print(f"run {name!r}")
        result = train_dqn(config, get_action, training_step, epsilon_schedule=schedule)
        evaluations = [(int(e["step"]), float(e["mean"])) for e in result.history["eval"]]
        means = [mean for _, mean in evaluations]
        rows.append(RunRow(name, changes, result.solved_at, max(means) if means else None,
                           means[-1] if means else None, result.steps, result.seconds, evaluations))
    return RunTable(rows, threshold)
