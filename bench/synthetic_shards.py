"""Synthetic courses and graded shards for the shard tests and ``bench/course_scale.py`` (no notebook is run).

A shard made here is what ``grade --shard`` leaves when it finishes: a course copy made by
``autograder.shard.prepare_shard``, its students' submissions in its gradebook (scores chosen by a seeded rule),
their submitted and autograded notebooks, and a manifest finished by ``finish_shard``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from autograder.course import nbgrader_env
from autograder.shard import finish_shard, prepare_shard, read_manifest, shard_students


def tiny_course(root: Path, assignments: tuple[str, ...] = ("dcgan", "dqn"), cells: int = 3) -> Path:
    """A course directory with a release and a gradebook of ``cells`` one-point test cells per assignment."""
    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text("c = get_config()  # noqa: F821\nc.CourseDirectory.course_id = 'tiny'\n")
    # A new gradebook asks nbgrader's alembic for its schema version: the venv's bin/ on PATH.
    os.environ["PATH"] = nbgrader_env()["PATH"]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for assignment in assignments:
            gb.add_assignment(assignment)
            gb.add_notebook(assignment, assignment)
            nb = nbformat.v4.new_notebook()
            for i in range(cells):
                gb.add_grade_cell(f"test_{i}", assignment, assignment, max_score=1.0, cell_type="code")
                nb.cells.append(nbformat.v4.new_code_cell(f"assert answer_{i}()", metadata={"nbgrader": {
                    "grade": True, "solution": False, "grade_id": f"test_{i}", "points": 1, "schema_version": 3}}))
            for kind in ("source", "release"):
                (root / kind / assignment).mkdir(parents=True)
                nbformat.write(nb, root / kind / assignment / f"{assignment}.ipynb")
    return root


def cell_score(student: str, assignment: str, cell: str) -> float:
    """The seeded score of one cell (0 or the cell's point), the same wherever it is computed."""
    return float(hashlib.sha256(f"{student}/{assignment}/{cell}".encode()).digest()[0] % 3 != 0)


def graded_shard(course: Path, shard_dir: Path, index: int, count: int, batch: dict[str, list[str]],
                 finish: bool = True) -> dict:
    """Part ``index`` of ``count`` of ``batch`` ({student: [assignment]}) graded into ``shard_dir``; its manifest
    (unfinished, as a killed shard leaves it, when ``finish`` is False: half its students graded)."""
    prepare_shard(course, shard_dir, index, count)
    mine = sorted(shard_students(set(batch), index, count))
    if not finish:
        mine = mine[: len(mine) // 2]
    scores: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{shard_dir / 'gradebook.db'}") as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        gb.db.connection().exec_driver_sql("PRAGMA synchronous=OFF")  # a throw-away copy: no sync per commit
        for student in mine:
            gb.update_or_create_student(student, first_name=student.title(), last_name="Example",
                                        email=f"{student}@example.org")
            for assignment in batch[student]:
                submission = gb.add_submission(assignment, student)
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        grade.auto_score = cell_score(student, assignment, grade.name) * grade.max_score
                        grade.needs_manual_grade = False
                gb.db.commit()
                scores.setdefault(student, {})[assignment] = gb.find_submission(assignment, student).score
                release = course / "release" / assignment / f"{assignment}.ipynb"
                for kind in ("submitted", "autograded"):
                    target = shard_dir / kind / student / assignment
                    target.mkdir(parents=True)
                    shutil.copyfile(release, target / f"{assignment}.ipynb")
    if not finish:
        return read_manifest(shard_dir)
    files = {f"{s}/{a}": f"{s}_{a}.ipynb" for s, assignments in batch.items() for a in assignments}
    result = {"scores": scores, "max_scores": {}, "errors": {}, "skipped": [], "sandbox": "isolated (synthetic)",
              "flags": {f"{s}/{a}": ["a synthetic flag"] for s in mine for a in batch[s] if s.endswith("7")},
              "lowered_by_verification": {}, "superseded": [], "not_on_roster": [], "missing": [],
              "identity_warnings": [], "students": {s: {"layout": "file name"} for s in batch}, "files": files,
              "similar": []}
    return finish_shard(shard_dir, result)
