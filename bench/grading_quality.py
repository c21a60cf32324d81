"""How well the hidden tests grade: realistic bugs (mutants) caught, correct variants kept at full marks.

    python -m bench.grading_quality [--notebooks NAME ...] [--workers N] [--cell-timeout S] [--no-hostile]
                                    [--in-process]

Builds the course once, then grades, with the real nbgrader and the grading sandbox, one batch per notebook
(default: every one kit.toml lists): the reference, every correct variant and every mutant of
``tests/corpus/<notebook>.py``. A mutant is killed when it
loses any point; it is *right* when it loses its own test's points and none of an unrelated test. A false failure
is a correct variant (or the reference) that loses a point. The hostile submissions of ``tests/hostile.py`` (when
that file exists) are graded too. Both are read as data by :mod:`autograder.quality` (the corpus engine), never
imported from the ``tests`` package. Prints a table and, as its last line, one JSON object
``{"kill_rate": {notebook: rate, "all": rate}, "mutants": N, "killed": K, "false_failures": F, "hostile": ...}``,
also saved as ``bench/results/grading_quality.json``.

``--in-process`` is the quick look while writing tests (minutes, mostly the DQN learning checks; no nbgrader,
no sandbox): each case's answers and the source notebook's test cells (hidden parts included) run in a fresh
namespace of this process; a test cell that raises loses its points. The real grader decides; this only predicts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

from autograder.config import load_config
from autograder.course import generate_assignments
from autograder.quality import check, corpus_of, grade_corpus, hostile_cases, predict_scores

ROOT = Path(__file__).resolve().parent.parent

TARGET_KILL_RATE = 0.95


def hostile(course: Path, workdir: Path) -> dict | None:
    """The hostile submissions (tests/hostile.py), if present; None when they cannot be measured."""
    try:
        hostile_results = hostile_cases().hostile_results
    except Exception as exc:  # noqa: BLE001 - the module is optional and still changing
        print(f"hostile: not measured ({type(exc).__name__}: {exc})")
        return None
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        return hostile_results(course, workdir, every=True)  # every case, not make test's share
    except Exception as exc:  # noqa: BLE001
        print(f"hostile: not measured ({type(exc).__name__}: {exc})")
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="*", default=None, help="default: kit.toml's assignments")
    parser.add_argument("--workers", type=int, default=None, help="default: one per CPU core")
    parser.add_argument("--no-hostile", action="store_true", help="skip tests/hostile.py")
    parser.add_argument("--cell-timeout", type=int, default=None,
                        help="seconds per cell (default: kit.toml's); the graded cells come before the long ones")
    parser.add_argument("--in-process", action="store_true", help="predict the scores in this process (quick)")
    parser.add_argument("--out", default=None, help="default: bench/results/grading_quality[_in_process].json")
    args = parser.parse_args()
    suffix = "_in_process" if args.in_process else ""
    args.out = args.out or str(ROOT / "bench" / "results" / f"grading_quality{suffix}.json")
    config = load_config()
    args.notebooks = list(config.assignments) if args.notebooks is None else args.notebooks
    config = dataclasses.replace(config, assignments=tuple(args.notebooks))
    if args.cell_timeout:
        config = dataclasses.replace(config, cell_timeout_s=args.cell_timeout)
    rows, per_notebook = [], {}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kit-grading-quality-") as tmp:
        tmp = Path(tmp)
        course = tmp / "course"
        if not args.in_process:
            generate_assignments(config, course)
        for name in args.notebooks:
            corpus = corpus_of(name)
            if args.in_process:
                started = time.perf_counter()
                scores = predict_scores(name, corpus, config)
                graded = {"check": check(scores, corpus.AUTO_TESTS, corpus.MUTANTS, corpus.VARIANTS),
                          "seconds": time.perf_counter() - started, "submissions": len(scores)}
            else:
                folder = tmp / "submissions" / name
                folder.mkdir(parents=True)
                one = dataclasses.replace(config, assignments=(name,))
                graded = grade_corpus(name, one, course, folder, corpus, workers=args.workers)  # every case
            checked = graded["check"]
            per_notebook[name] = {
                "mutants": checked["mutants"], "killed": len(checked["killed"]),
                "kill_rate": round(len(checked["killed"]) / max(checked["mutants"], 1), 4),
                "wrong": sorted(checked["wrong"]), "survivors": sorted(set(corpus.MUTANTS) - set(checked["killed"])),
                "variants": checked["variants"], "false_failures": sorted(checked["false_failures"]),
                "seconds": round(graded["seconds"], 1), "submissions": graded["submissions"]}
            print(f"{name}: graded {graded['submissions']} submissions in {graded['seconds']:.0f} s: "
                  f"{json.dumps(per_notebook[name])}", flush=True)
            partial = Path(args.out).with_suffix(".partial.json")
            partial.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(per_notebook, indent=1) + "\n")
        held = None if args.no_hostile or args.in_process else hostile(course, tmp / "hostile")
    total_mutants = sum(r["mutants"] for r in per_notebook.values())
    total_killed = sum(r["killed"] for r in per_notebook.values())
    false_failures = sum(len(r["false_failures"]) for r in per_notebook.values())
    header = f"{'notebook':<10} {'mutants':>7} {'killed':>6} {'kill rate':>9} {'right':>5} {'variants':>8} " \
             f"{'false fail':>10} {'batch s':>7}"
    print(header)
    for name, r in per_notebook.items():
        rows.append(f"{name:<10} {r['mutants']:>7} {r['killed']:>6} {100 * r['kill_rate']:>8.1f}% "
                    f"{r['mutants'] - len(r['wrong']):>5} {r['variants']:>8} {len(r['false_failures']):>10} "
                    f"{r['seconds']:>7.0f}")
        print(rows[-1])
        for what in ("survivors", "wrong", "false_failures"):
            if r[what]:
                print(f"  {what}: {', '.join(r[what])}")
    rate_all = round(total_killed / max(total_mutants, 1), 4)
    print(f"{'all':<10} {total_mutants:>7} {total_killed:>6} {100 * rate_all:>8.1f}%   (target >= "
          f"{100 * TARGET_KILL_RATE:.0f}%, no false failures)")
    if held is not None:
        print(f"hostile: {json.dumps(held)[:300]}")
    summary = {
        "kill_rate": {**{n: r["kill_rate"] for n, r in per_notebook.items()}, "all": rate_all},
        "mutants": total_mutants, "killed": total_killed, "false_failures": false_failures,
        "wrong": sum(len(r["wrong"]) for r in per_notebook.values()),
        "hostile": held, "grader": "in-process prediction" if args.in_process else "nbgrader (real grader)",
        "notebooks": per_notebook, "seconds": round(time.perf_counter() - began, 1),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1) + "\n")
    out.with_suffix(".partial.json").unlink(missing_ok=True)
    print(json.dumps(summary, default=str))
    return 0 if rate_all >= TARGET_KILL_RATE and not false_failures else 1


if __name__ == "__main__":
    sys.exit(main())
