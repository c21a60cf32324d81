"""The students' run: how long Run all takes for every notebook, not in fast mode, on this machine.

    python -m bench.student_time [--notebooks dcgan dqn ...] [--slice 20]

Executes each source notebook (the reference solutions, hidden tests left out) top to bottom as a student's Run all
would, except that every training run stops after a short timed slice (``KIT_TIME_SLICE``: a warm-up step, then
``--slice`` timed steps; one epoch for epoch-based runs, see ``bench.timing.TimingSlice``). The estimate of a
notebook is its measured wall time, less the slices, plus each run's steps to do times its measured seconds per
step. Periodic work inside a run (sample grids, SWD checkpoints, evaluations) is counted only as far as the slice
holds some, and a DQN run that stops early once solved is counted at its full length: the figures are upper-bound-
ish estimates for this machine, with torch's threads as set here (``OMP_NUM_THREADS``).

Prints a table and, as the last line, one JSON object ``{"cpu_minutes": {notebook: minutes}, ...}`` (``gpu_minutes``
where CUDA is available); saved in bench/results/student_time.json. Goal: every notebook <= 60 minutes on a
2-core CPU, <= 20 minutes on a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from autograder.config import load_config
from autograder.execute import execute_notebook

ROOT = Path(__file__).resolve().parent.parent

GOAL_CPU_MINUTES, GOAL_GPU_MINUTES = 60.0, 20.0
# Run whole, not sliced: DQN's runs stop once solved, and a step costs nothing until learning starts, so a slice of
# the first steps cannot estimate them (a few minutes in all).
UNSLICED = ("dqn",)


def as_students_run_it(source: Path, target: Path) -> Path:
    """The source notebook with the reference answers but no hidden tests: what a student's Run all executes
    (the hidden tests, e.g. DQN's learning check, run only when grading)."""
    import re

    import nbformat

    nb = nbformat.read(source, 4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = re.sub(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", "", cell.source,
                                 flags=re.S)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def estimate(source: Path, slice_steps: int, scratch: Path, sliced: bool = True) -> dict:
    """Run the notebook (reference answers, visible tests) with sliced training runs; its measured and estimated
    times."""
    notebook = as_students_run_it(source, scratch / "notebooks" / source.name)
    log = scratch / f"{notebook.stem}-timing.jsonl"
    # bench/kernel_startup/sitecustomize.py installs the timing slices (bench/timing.py) in the kernel.
    env = {"KIT_FAST": "0", "PYTHONPATH": os.pathsep.join([str(ROOT / "bench" / "kernel_startup"), str(ROOT)]),
           "MPLBACKEND": "Agg"}
    if sliced:
        env |= {"KIT_TIME_SLICE": str(slice_steps), "KIT_TIME_LOG": str(log)}
    began = time.perf_counter()
    execute_notebook(notebook, scratch / notebook.stem, env=env, cell_timeout=1800)
    wall = time.perf_counter() - began
    runs = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    sliced = sum(r["sliced_seconds"] for r in runs)
    training = sum(r["todo"] * r["seconds_per_step"] for r in runs)
    return {"runs": runs, "wall_seconds": wall, "other_seconds": max(0.0, wall - sliced),
            "training_seconds": training, "minutes": (max(0.0, wall - sliced) + training) / 60}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="*", default=None)
    parser.add_argument("--slice", type=int, default=20, help="timed steps per training run (after a warm-up)")
    args = parser.parse_args()
    config = load_config()
    names = args.notebooks or list(config.assignments)
    device = "gpu" if torch.cuda.is_available() else "cpu"
    results = {}
    with tempfile.TemporaryDirectory(prefix="kit-student-time-") as scratch:
        for name in names:
            results[name] = estimate(config.source_notebook(name), args.slice, Path(scratch),
                                     sliced=name not in UNSLICED)
            r = results[name]
            print(f"{name}: {len(r['runs'])} runs, {r['minutes']:.1f} min estimated "
                  f"(measured {r['wall_seconds']:.0f} s with sliced training)", file=sys.stderr, flush=True)
    goal = GOAL_GPU_MINUTES if device == "gpu" else GOAL_CPU_MINUTES
    print(f"{'notebook':<22}{'runs':>5}{'training min':>14}{'other min':>11}{'total min':>11}  goal {goal:.0f}")
    for name, r in results.items():
        mark = "" if r["minutes"] <= goal else "  over"
        print(f"{name:<22}{len(r['runs']):>5}{r['training_seconds'] / 60:>14.1f}{r['other_seconds'] / 60:>11.1f}"
              f"{r['minutes']:>11.1f}{mark}")
    for name, r in results.items():
        for run in r["runs"]:
            print(f"  {name}: {run['desc']}: {run['todo']:,} {run['counter']}s x {run['seconds_per_step']:.3f} s")
    minutes = {name: round(r["minutes"], 1) for name, r in results.items()}
    summary = {f"{device}_minutes": minutes, "goal_minutes": goal,
               "over_goal": [n for n, m in minutes.items() if m > goal], "slice_steps": args.slice,
               "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
               "runs": {name: [{k: run[k] for k in ("desc", "counter", "todo")} |
                               {"seconds_per_step": round(run["seconds_per_step"], 4)} for run in r["runs"]]
                        for name, r in results.items()}}
    out = ROOT / "bench" / "results" / "student_time.json"
    out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
