"""Autograding time at course scale: N students, each handing in the reference solution of every graded notebook.

    python -m bench.autograde_time [--students 4] [--workers 2] [--notebooks dcgan stylegan2 dqn]

Grades the batch once with one worker and once with ``--workers`` parallel workers (each in its own course
copy, results merged into one gradebook), with the real nbgrader and the grading sandbox. Prints seconds per
student (all notebooks) and the speedup; last line one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.config import load_config
from autograder.course import generate_assignments
from autograder.grade import grade_folder
from autograder.solutions import filled_release

ROOT = Path(__file__).resolve().parent.parent

GRADED = ("dcgan", "stylegan2", "dqn")  # the three graded assignments (labs are optional)
TARGET_S_PER_STUDENT = 90.0


def run(folder: Path, course: Path, config, workers: int) -> tuple[float, dict]:
    began = time.perf_counter()
    result = grade_folder(folder, config, course, log=lambda m: None, workers=workers)
    return time.perf_counter() - began, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--notebooks", nargs="*", default=None, help="default: the graded ones kit.toml lists")
    args = parser.parse_args()
    config = load_config()
    notebooks = args.notebooks or [a for a in GRADED if a in config.assignments]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        course = tmp / "course"
        generate_assignments(config, course)
        folder = tmp / "submissions"
        folder.mkdir()
        for name in notebooks:
            filled = filled_release(course / "release" / name / f"{name}.ipynb", config.source_notebook(name))
            for i in range(args.students):
                nbformat.write(filled, folder / f"student{i:03d}_{name}.ipynb")
        timings = {}
        for workers in sorted({1, args.workers}):
            seconds, result = run(folder, course, config, workers)
            full = sum(all(per.get(n) == result["max_scores"][n] - manual_points(config, n) for n in notebooks)
                       for per in result["scores"].values())
            timings[workers] = {"seconds": seconds, "s_per_student": seconds / args.students,
                                "full_marks": full, "errors": len(result["errors"])}
            for student, per in sorted(result["scores"].items()):  # the reference must keep every point: say why not
                short = {n: per.get(n) for n in notebooks
                         if per.get(n) != result["max_scores"][n] - manual_points(config, n)}
                if short:
                    why = {k: v for k, v in result.items() if k in ("errors", "flags", "lowered_by_verification")
                           and any(key.startswith(f"{student}/") for key in v)}
                    print(f"{workers} worker(s): {student} not at full marks: {short} {why}")
    one = timings[1]["s_per_student"]
    print(f"{args.students} students x {len(notebooks)} notebooks ({', '.join(notebooks)}), "
          f"{os.cpu_count()} CPU cores")
    print(f"{'workers':<9}{'total s':>9}{'s/student':>11}{'speedup':>9}{'full marks':>12}{'errors':>8}")
    for workers, t in timings.items():
        print(f"{workers:<9}{t['seconds']:>9.1f}{t['s_per_student']:>11.1f}{one / t['s_per_student']:>9.2f}"
              f"{t['full_marks']:>9}/{args.students:<2}{t['errors']:>8}")
    best = min(t["s_per_student"] for t in timings.values())
    print(f"target: at most {TARGET_S_PER_STUDENT:.0f} s per student for all graded notebooks: "
          f"{'met' if best <= TARGET_S_PER_STUDENT else 'NOT met'} ({best:.1f} s)")
    print(json.dumps({"students": args.students, "notebooks": notebooks, "cpu_cores": os.cpu_count(),
                      "timings": {str(k): v for k, v in timings.items()}, "s_per_student": best,
                      "speedup": one / timings[max(timings)]["s_per_student"],
                      "target_s_per_student": TARGET_S_PER_STUDENT}))
    return 0


def manual_points(config, assignment: str) -> float:
    """Points of the manually graded cells of an assignment (the reference cannot earn them automatically)."""
    nb = nbformat.read(config.source_notebook(assignment), 4)
    return sum(c.metadata["nbgrader"].get("points", 0) for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution"))


if __name__ == "__main__":
    raise SystemExit(main())
