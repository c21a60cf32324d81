"""A course of 1,000 students on M machines of 2 cores, by simulation from times measured here.

    python -m bench.course_scale [--students 1000] [--stage all|grading|merge|report]

Measured, on this machine: (1) the release (``generate_assignments``, once per course); (2) the grading of the
reference solution of each of the seven notebooks, once each, with the real nbgrader and sandbox, one worker (it
uses both cores: nbgrader's kernel and the verification run); (3) the identity collection per submitted file
(every shard resolves the whole batch's identities); (4) the merge (``autograder.shard.merge_shards``: gradebooks,
notebooks, similarity) of 32 synthetic shards holding ``--students`` students x 7 notebooks (bench/synthetic_shards.py:
real course gradebook, release notebooks as the submitted and autograded files).

Model, for M machines each grading one shard: wall = release + identities of the whole batch + ceil(students / M)
x (sum of the seven notebooks' grading times) + merge. Not modelled: queueing on the cluster, the file system,
``feedback`` and ``export`` after the merge. Stages ``grading`` and ``merge`` save their figures in
bench/results/course_scale_<stage>.json, so each can be re-measured alone; the table is made from both. Last line:
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from autograder.config import KIT_ROOT, load_config
from autograder.course import generate_assignments
from autograder.grade import collect_submissions, grade_folder, release_notebooks
from autograder.shard import finish_shard, merge_shards, prepare_shard, read_manifest, shard_students
from autograder.solutions import filled_release
from bench.synthetic_shards import graded_shard

RESULTS = KIT_ROOT / "bench" / "results"
MACHINES = (1, 8, 32, 128)
MERGE_SHARDS = 32
MAX_MERGE_SHARE = 0.05
IDENTITY_SAMPLE = 5  # students whose seven files time the identity collection


def stage_grading(config, tmp: Path) -> dict:
    """The release, each notebook's grading time (reference solution, once) and the identity time per file."""
    course = tmp / "course"
    began = time.perf_counter()
    generate_assignments(config, course)
    release_s = time.perf_counter() - began
    per_notebook: dict[str, dict] = {}
    for name in config.assignments:
        folder = tmp / f"submissions-{name}"
        folder.mkdir()
        release = course / "release" / name / f"{name}.ipynb"
        nbformat.write(filled_release(release, config.source_notebook(name)), folder / f"ref_{name}.ipynb")
        began = time.perf_counter()
        result = grade_folder(folder, config, course, log=lambda m: None, workers=1)
        seconds = time.perf_counter() - began
        score, top = result["scores"].get("ref", {}).get(name), result["max_scores"].get(name)
        per_notebook[name] = {"seconds": round(seconds, 1), "score": score, "max_score": top,
                              "errors": result["errors"]}
        print(f"graded {name}: {seconds:.1f} s, {score}/{top}", file=sys.stderr)
    folder = tmp / "identities"
    folder.mkdir()
    for name in config.assignments:
        text = (tmp / f"submissions-{name}" / f"ref_{name}.ipynb").read_text()
        for i in range(IDENTITY_SAMPLE):
            (folder / f"student{i:03d}_{name}.ipynb").write_text(text)
    releases = release_notebooks(config, course)
    began = time.perf_counter()
    found, _, _ = collect_submissions(folder, config, tmp / "unpacked", releases)
    identity_s = (time.perf_counter() - began) / len(found)
    return {"release_s": round(release_s, 1), "notebooks": per_notebook, "identity_s_per_file": round(identity_s, 4),
            "cpu_cores": os.cpu_count()}


def replicate_shard(template: Path, course: Path, shard_dir: Path, index: int, students: list[str],
                    batch: dict[str, list[str]]) -> None:
    """Shard ``index`` of ``MERGE_SHARDS`` made from ``template`` (a graded shard of stand-ins): its stand-ins
    renamed to ``students`` in the gradebook and the folders (building 7,000 submissions with nbgrader's API would
    cost more than the merge measured)."""
    prepare_shard(course, shard_dir, index, MERGE_SHARDS)
    stand_ins = sorted({key.split("/")[0] for key in read_manifest(template)["graded"]})
    shutil.copy2(template / "gradebook.db", shard_dir / "gradebook.db")
    with sqlite3.connect(shard_dir / "gradebook.db") as db:
        for old, new in zip(stand_ins, students):
            db.execute("UPDATE student SET id = ?, first_name = ? WHERE id = ?", (new, new, old))
            db.execute("UPDATE submitted_assignment SET student_id = ? WHERE student_id = ?", (new, old))
            for kind in ("submitted", "autograded"):
                shutil.copytree(template / kind / old, shard_dir / kind / new)
    files = {f"{s}/{a}": f"{s}_{a}.ipynb" for s, assignments in batch.items() for a in assignments}
    finish_shard(shard_dir, {"scores": {}, "errors": {}, "flags": {}, "files": files, "sandbox": "synthetic",
                             "students": {}})


def stage_merge(config, tmp: Path, students: int) -> dict:
    """The merge of ``MERGE_SHARDS`` synthetic shards of ``students`` students x every notebook."""
    course = tmp / "course"
    if not (course / "gradebook.db").exists():
        generate_assignments(config, course)
    batch = {f"student{i:05d}": list(config.assignments) for i in range(students)}
    began = time.perf_counter()
    parts = [sorted(shard_students(set(batch), i, MERGE_SHARDS)) for i in range(1, MERGE_SHARDS + 1)]
    size = max(len(p) for p in parts)
    template = tmp / "template"
    graded_shard(course, template, 1, 1, {f"standin{i:03d}": list(config.assignments) for i in range(size)})
    dirs = [tmp / "shards" / f"{i}-of-{MERGE_SHARDS}" for i in range(1, MERGE_SHARDS + 1)]
    for index, (shard_dir, mine) in enumerate(zip(dirs, parts), start=1):
        replicate_shard(template, course, shard_dir, index, mine, batch)
    print(f"made {MERGE_SHARDS} synthetic shards in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    load = os.getloadavg()[0]
    began, cpu = time.perf_counter(), time.process_time()
    result = merge_shards(config, course, dirs, log=lambda m: None)
    merge_s, merge_cpu_s = time.perf_counter() - began, time.process_time() - cpu
    submissions = sum(result["merged"].values())
    assert submissions == students * len(config.assignments) and not result["not_merged"], "merge incomplete"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert len(gb.students) >= students and all(
            len(gb.assignment_submissions(a)) == students for a in config.assignments), "gradebook incomplete"
    return {"students": students, "shards": MERGE_SHARDS, "submissions": submissions, "merge_s": round(merge_s, 1),
            "merge_cpu_s": round(merge_cpu_s, 1), "load_average_before": round(load, 1),
            "ms_per_submission": round(1000 * merge_s / submissions, 1)}


def model(grading: dict, merge: dict, students: int) -> dict:
    """Wall hours of the course on each M of ``MACHINES`` (merge scaled linearly to ``students``)."""
    per_student = sum(n["seconds"] for n in grading["notebooks"].values())
    merge_s = merge["merge_s"] * students / merge["students"]
    identities = grading["identity_s_per_file"] * students * len(grading["notebooks"])
    rows = {}
    for m in MACHINES:
        grading_s = math.ceil(students / m) * per_student
        total = grading["release_s"] + identities + grading_s + merge_s
        rows[str(m)] = {"grading_s": grading_s, "total_s": total, "merge_share": merge_s / total}
    return {"per_student_s": per_student, "merge_s": merge_s, "identities_s": identities, "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--stage", choices=("all", "grading", "merge", "report"), default="all",
                        help="report: the table from the figures saved by the last grading and merge stages")
    args = parser.parse_args()
    config = load_config()
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="course-scale-") as tmp:
        if args.stage in ("all", "grading"):
            grading = stage_grading(config, Path(tmp))
            (RESULTS / "course_scale_grading.json").write_text(json.dumps(grading, indent=1))
        if args.stage in ("all", "merge"):
            merge = stage_merge(config, Path(tmp), args.students)
            (RESULTS / "course_scale_merge.json").write_text(json.dumps(merge, indent=1))
    grading = json.loads((RESULTS / "course_scale_grading.json").read_text())
    merge = json.loads((RESULTS / "course_scale_merge.json").read_text())
    figures = model(grading, merge, args.students)
    print(f"measured on {grading['cpu_cores']} cores: release {grading['release_s']:.0f} s; grading the reference, "
          "one worker:")
    for name, n in grading["notebooks"].items():
        print(f"  {name:<22} {n['seconds']:7.1f} s  ({n['score']}/{n['max_score']})"
              + (f"  ERRORS: {n['errors']}" if n["errors"] else ""))
    print(f"  one student, all seven: {figures['per_student_s']:.0f} s")
    print(f"identities: {grading['identity_s_per_file'] * 1000:.1f} ms per file, the whole batch on every machine: "
          f"{figures['identities_s']:.0f} s")
    print(f"merge of {merge['shards']} shards, {merge['students']} students, {merge['submissions']} submissions: "
          f"{merge['merge_s']:.0f} s wall, {merge.get('merge_cpu_s', float('nan')):.0f} s CPU "
          f"({merge['ms_per_submission']:.1f} ms per submission, load {merge.get('load_average_before', 0):.1f})")
    print(f"\n{args.students} students   machines (2 cores)   grading h   total h   merge share")
    for m, row in figures["rows"].items():
        print(f"{'':16}{m:>10}{row['grading_s'] / 3600:16.2f}{row['total_s'] / 3600:10.2f}"
              f"{100 * row['merge_share']:12.2f} %")
    share = figures["rows"]["32"]["merge_share"]
    print(json.dumps({"students": args.students,
                      "wall_hours": {m: round(r["total_s"] / 3600, 2) for m, r in figures["rows"].items()},
                      "merge_share_at_32": round(share, 4), "merge_share_ok": share < MAX_MERGE_SHARE,
                      "grading_errors": sum(len(n["errors"]) for n in grading["notebooks"].values()),
                      "per_student_s": round(figures["per_student_s"], 1), "merge_s": round(figures["merge_s"], 1),
                      "release_s": grading["release_s"], "identities_s": round(figures["identities_s"], 1),
                      "notebook_s": {k: v["seconds"] for k, v in grading["notebooks"].items()},
                      "merge_ms_per_submission": merge["ms_per_submission"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
