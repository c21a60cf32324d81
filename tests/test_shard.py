"""Sharded grading (``autograder.shard``): the split, the manifest's checks and the merge, on synthetic shards.

The shards here are what ``grade --shard`` leaves (bench/synthetic_shards.py: a course copy, a gradebook, notebooks,
a manifest) without running a notebook; tests/test_slurm.py grades real submissions on a real Slurm.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from autograder.__main__ import main as autograder_main
from autograder.config import load_config
from autograder.grade import copy_submission, read_scores
from autograder.shard import (
    EXIT_INCOMPLETE,
    ShardError,
    copy_regular,
    copy_students,
    merge_shards,
    parse_shard,
    shard_of,
    shard_students,
)
from bench.synthetic_shards import cell_score, graded_shard, tiny_course

CONFIG = load_config()
ASSIGNMENTS = ("dcgan", "dqn")
# Ten students; most hand in both notebooks, some one (a student's files must all land in one part).
BATCH = {f"{name}{i}": list(ASSIGNMENTS[: 1 + i % 2]) for i, name in
         enumerate(["ann", "Bob", "carl", "dora", "eve", "fay", "gus", "hal", "ida", "joe"])}


def dump(course: Path) -> dict:
    """Everything of the course gradebook a merge writes: students (names, emails), submissions, cell scores."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        students = {s.id: (s.first_name, s.last_name, s.email) for s in gb.students}
        cells = {}
        for assignment in ASSIGNMENTS:
            for submission in gb.assignment_submissions(assignment):
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        cells[(submission.student.id, assignment, grade.name)] = (grade.auto_score,
                                                                                  grade.needs_manual_grade)
    return {"students": students, "cells": cells}


def expected_cells(students) -> dict:
    return {(s, a, f"test_{i}"): (cell_score(s, a, f"test_{i}"), False)
            for s in students for a in BATCH[s] for i in range(3)}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A tiny course, made once (a new gradebook costs nbgrader an alembic run)."""
    return tiny_course(tmp_path_factory.mktemp("template") / "course", ASSIGNMENTS)


@pytest.fixture()
def course(template, tmp_path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "course"))


def make_shards(course: Path, count: int = 3, unfinished: int | None = None) -> list[Path]:
    dirs = [course.parent / "shards" / f"{i}-of-{count}" for i in range(1, count + 1)]
    for index, shard_dir in enumerate(dirs, start=1):
        graded_shard(course, shard_dir, index, count, BATCH, finish=index != unfinished)
    return dirs


def test_parse_shard():
    assert parse_shard("2/8") == (2, 8)
    for bad in ("0/3", "4/3", "1", "a/b", "1/2/3"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_the_split_is_by_student_balanced_and_the_same_in_any_order():
    students = [f"s{i}" for i in range(23)] + ["Zed", "zed2", "ünï"]
    parts = shard_of(students, 4)
    assert parts == shard_of(list(reversed(students)), 4) == shard_of(set(students), 4)
    sizes = [list(parts.values()).count(i) for i in range(1, 5)]
    assert sorted(parts) == sorted(students) and max(sizes) - min(sizes) <= 1 and min(sizes) > 0
    assert set().union(*(shard_students(students, i, 4) for i in range(1, 5))) == set(students)
    assert sum(len(shard_students(students, i, 4)) for i in range(1, 5)) == len(students)  # disjoint
    # A student's files are one key: every "student/assignment" of a student goes to the student's part.
    assert shard_of(students, 1) == dict.fromkeys(students, 1)


def test_merged_shards_give_the_whole_batch_and_merging_again_changes_nothing(course, capsys):
    shards = make_shards(course)
    before = (course / "gradebook.db").read_bytes()
    assert before == (course / "gradebook.db").read_bytes()  # grading the shards wrote nothing into the course
    args = ["--course-dir", str(course), "merge", *map(str, shards)]
    assert autograder_main(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    assert any(line.startswith("merged: 15 submissions of 10 students from 3 shards") for line in out)
    assert result["not_merged"] == [] and result["unfinished"] == [] and result["absent_parts"] == []
    first = dump(course)
    assert first["cells"] == expected_cells(BATCH)
    assert first["students"]["Bob1"] == ("Bob1", "Example", "Bob1@example.org")
    assert result["scores"] == {s: {a: sum(cell_score(s, a, f"test_{i}") for i in range(3)) for a in BATCH[s]}
                                for s in BATCH}
    for student, assignments in BATCH.items():
        for assignment in assignments:
            assert (course / "autograded" / student / assignment / f"{assignment}.ipynb").is_file()
    assert result["flags"] == {f"hal7/{a}": ["a synthetic flag"] for a in BATCH["hal7"]}
    # Idempotent: the same shards merged again (or a shard re-graded alike) leave the same gradebook.
    assert autograder_main(args) == 0
    assert dump(course) == first
    assert not list(course.glob(".gradebook.db.merging*"))


def test_a_shard_of_another_release_is_refused_and_nothing_is_merged(course, capsys):
    shards = make_shards(course)
    release = course / "release" / "dqn" / "dqn.ipynb"
    release.write_text(release.read_text().replace("answer_0", "answer_zero"))  # released again, changed
    before = (course / "gradebook.db").read_bytes()
    with pytest.raises(ShardError, match="another release.*release/dqn/dqn.ipynb"):
        merge_shards(CONFIG, course, shards)
    assert autograder_main(["--course-dir", str(course), "merge", *map(str, shards)]) == 2
    assert "nothing merged" in capsys.readouterr().err
    assert (course / "gradebook.db").read_bytes() == before and not (course / "autograded").exists()


def test_a_shard_whose_own_release_copy_was_changed_is_refused(course):
    shards = make_shards(course)
    copy = shards[1] / "source" / "dcgan" / "dcgan.ipynb"
    copy.write_text(copy.read_text() + " ")
    with pytest.raises(ShardError, match="another release"):
        merge_shards(CONFIG, course, shards)


def test_a_student_in_two_shards_and_shards_of_two_splits_are_refused(course):
    shards = make_shards(course)
    twice = course.parent / "shards" / "copy-of-1"
    shutil.copytree(shards[0], twice)
    before = (course / "gradebook.db").read_bytes()
    with pytest.raises(ShardError, match="graded in two shards"):
        merge_shards(CONFIG, course, [*shards, twice])
    other = course.parent / "shards" / "1-of-2"
    graded_shard(course, other, 1, 2, BATCH)
    with pytest.raises(ShardError, match="different batches"):
        merge_shards(CONFIG, course, [shards[1], other])
    assert (course / "gradebook.db").read_bytes() == before


def test_a_killed_shard_is_not_merged_is_reported_and_its_rerun_completes_the_course(course, capsys):
    shards = make_shards(course, unfinished=2)
    killed = set(shard_students(set(BATCH), 2, 3))
    assert json.loads((shards[1] / "shard.json").read_text())["state"] == "grading"
    before = (course / "gradebook.db").read_bytes()
    args = ["--course-dir", str(course), "merge", *map(str, shards)]
    assert autograder_main(args) == EXIT_INCOMPLETE
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["unfinished"] == [str(shards[1])]
    assert sorted(result["not_merged"]) == sorted(f"{s}/{a}" for s in killed for a in BATCH[s])
    assert all(f"not merged yet: {key}" in out for key in result["not_merged"])
    # The killed shard's half-graded students are not in the course; the others are.
    assert dump(course)["cells"] == expected_cells(set(BATCH) - killed)
    assert (course / "gradebook.db").read_bytes() != before
    graded_shard(course, shards[1], 2, 3, BATCH)  # the shard graded again
    assert autograder_main(args) == 0
    assert dump(course)["cells"] == expected_cells(BATCH)


def test_a_missing_part_is_reported(course, capsys):
    shards = make_shards(course)
    assert autograder_main(["--course-dir", str(course), "merge", str(shards[0]), str(shards[2])]) == EXIT_INCOMPLETE
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["absent_parts"] == ["2/3"]
    assert {k.split("/")[0] for k in result["not_merged"]} == shard_students(set(BATCH), 2, 3)


def test_merge_copies_regular_files_only(tmp_path):
    source, secret = tmp_path / "made", tmp_path / "secret.txt"
    (source / "inner").mkdir(parents=True)
    secret.write_text("the course's answers")
    (source / "inner" / "graded.ipynb").write_text("{}")
    (source / "link.ipynb").symlink_to(secret)
    (source / "dirlink").symlink_to(tmp_path)
    os.link(secret, source / "hard.ipynb")
    os.mkfifo(source / "pipe")
    left = copy_regular(source, tmp_path / "copy")
    assert sorted(Path(p).name for p in left) == ["dirlink", "hard.ipynb", "link.ipynb", "pipe"]
    copied = sorted(p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*"))
    assert copied == ["inner", "inner/graded.ipynb"]


def test_a_shard_folder_cannot_hold_the_course(course, tmp_path):
    with pytest.raises(ShardError, match="cannot hold the course"):
        graded_shard(course, tmp_path, 1, 2, BATCH)
    assert (course / "gradebook.db").is_file()


def test_grade_shard_option_errors(course, tmp_path, capsys):
    assert autograder_main(["--course-dir", str(course), "grade", str(tmp_path), "--shard", "4/3"]) == 2
    assert "I must be between 1 and N" in capsys.readouterr().err


def gradebook_rows(db: Path) -> dict[str, list]:
    """Every row a merge writes, by names instead of nbgrader's random ids: students, submissions (timestamps,
    extensions), submitted notebooks (flags, penalties), grades and comments (every value), sorted."""
    queries = {
        "student": "SELECT id, first_name, last_name, email, lms_user_id FROM student",
        "submitted_assignment": """SELECT s.student_id, a.name, s.timestamp, s.extension FROM submitted_assignment s
                                   JOIN assignment a ON a.id = s.assignment_id""",
        "submitted_notebook": """SELECT s.student_id, a.name, n.name, sn.flagged, sn.late_submission_penalty
                                 FROM submitted_notebook sn JOIN submitted_assignment s ON s.id = sn.assignment_id
                                 JOIN assignment a ON a.id = s.assignment_id
                                 JOIN notebook n ON n.id = sn.notebook_id""",
        "grade": """SELECT s.student_id, a.name, n.name, c.name, g.auto_score, g.manual_score, g.extra_credit,
                           g.needs_manual_grade
                    FROM grade g JOIN submitted_notebook sn ON sn.id = g.notebook_id
                    JOIN base_cell c ON c.id = g.cell_id
                    JOIN submitted_assignment s ON s.id = sn.assignment_id JOIN assignment a ON a.id = s.assignment_id
                    JOIN notebook n ON n.id = sn.notebook_id""",
        "comment": """SELECT s.student_id, a.name, n.name, c.name, k.auto_comment, k.manual_comment
                      FROM comment k JOIN submitted_notebook sn ON sn.id = k.notebook_id
                      JOIN base_cell c ON c.id = k.cell_id JOIN submitted_assignment s ON s.id = sn.assignment_id
                      JOIN assignment a ON a.id = s.assignment_id JOIN notebook n ON n.id = sn.notebook_id""",
    }
    with contextlib.closing(sqlite3.connect(db)) as con:
        rows = {table: sorted(con.execute(sql).fetchall(), key=repr) for table, sql in queries.items()}
        # No row left behind by a replaced submission (the joins above would hide an orphan).
        rows["counts"] = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in
                          ("submitted_assignment", "submitted_notebook", "grade", "comment")]
    return rows


def test_the_sql_merge_writes_the_rows_of_nbgraders_per_submission_merge(course):
    """merge_shards (a few SQL statements per shard) against the per-submission ORM path (copy_submission, as
    merge_submission uses it, then copy_students): the same rows, on a course with solution and task cells, an
    earlier submission to replace, and shards holding comments, flags, manual scores, extra credit, timestamps."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for assignment in ASSIGNMENTS:
            gb.add_solution_cell("answer", assignment, assignment)
            gb.add_grade_cell("answer", assignment, assignment, max_score=2.0, cell_type="code")
        gb.add_task_cell("task", "dcgan", "dcgan", max_score=3.0, cell_type="markdown")
    shards = make_shards(course)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        # Merged before: ann0's dcgan (replaced by the shard's) and a student no shard knows (kept).
        gb.update_or_create_student("ann0", first_name="Old", email="")
        gb.update_or_create_student("zoe", first_name="Zoe")
        for student in ("ann0", "zoe"):
            gb.add_submission("dcgan", student, timestamp=datetime(2026, 1, 1, 9, 0))
    for index, shard_dir in enumerate(shards):
        with Gradebook(f"sqlite:///{shard_dir / 'gradebook.db'}") as gb:
            for n, submission in enumerate(s for a in ASSIGNMENTS for s in gb.assignment_submissions(a)):
                submission.timestamp = datetime(2026, 3, 1 + index, 12, n, 7, 123456)
                submission.extension = timedelta(days=2, hours=3) if n % 3 == 0 else None
                for notebook in submission.notebooks:
                    notebook.flagged = n % 2 == 0
                    notebook.late_submission_penalty = 0.5 if n % 4 == 1 else None
                    for grade in notebook.grades:
                        grade.manual_score = 1.5 if (grade.name, n % 3) == ("answer", 1) else None
                        grade.extra_credit = 0.25 if grade.name == "test_0" and n % 2 else None
                        grade.needs_manual_grade = grade.name in ("answer", "task") and n % 3 == 2
                    for comment in notebook.comments:
                        comment.auto_comment = f"auto {submission.student.id} {n}" if n % 2 else None
                        comment.manual_comment = f"manual ’{n}’" if n % 3 == 0 else None
            gb.db.commit()
    orm = Path(shutil.copytree(course, course.parent / "orm"))
    with Gradebook(f"sqlite:///{orm / 'gradebook.db'}") as dst, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        for shard_dir in shards:
            with Gradebook(f"sqlite:///{shard_dir / 'gradebook.db'}") as src:
                for key in json.loads((shard_dir / "shard.json").read_text())["graded"]:
                    student, assignment = key.split("/")
                    copy_submission(src, dst, assignment, student)
                copy_students(src, dst)
    merge_shards(CONFIG, course, shards, log=lambda m: None)
    fast, slow = gradebook_rows(course / "gradebook.db"), gradebook_rows(orm / "gradebook.db")
    assert fast == slow
    # The comparison compared something: every kind of value is there, the earlier submissions as they should be.
    assert fast["counts"][3] == 15 + 10 + 2  # a comment per solution or task cell of each submission (zoe kept)
    assert {row[5] for row in fast["grade"]} >= {None, 1.5} and {row[6] for row in fast["grade"]} >= {None, 0.25}
    assert ("zoe", "dcgan", "2026-01-01 09:00:00.000000", None) in fast["submitted_assignment"]
    assert not any(row[:2] == ("ann0", "dcgan") and row[2].startswith("2026-01")
                   for row in fast["submitted_assignment"])
    assert ("ann0", "Ann0", "Example", "ann0@example.org", None) in fast["student"]


def test_a_shard_whose_gradebook_cannot_be_read_stops_the_merge_and_changes_nothing(course):
    shards = make_shards(course)
    odd = shards[2].with_name("3 of 3?#%20")  # the folder's name is not read as part of an SQLite URI
    shards[2].rename(odd)
    before = (course / "gradebook.db").read_bytes()
    (shards[1] / "gradebook.db").write_bytes(b"not a gradebook" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        merge_shards(CONFIG, course, [shards[0], odd, shards[1]], log=lambda m: None)
    assert (course / "gradebook.db").read_bytes() == before and not list(course.glob(".gradebook.db.merging*"))
    result = merge_shards(CONFIG, course, [shards[0], odd], log=lambda m: None)
    assert sum(result["merged"].values()) == len(json.loads((shards[0] / "shard.json").read_text())["graded"]) + len(
        json.loads((odd / "shard.json").read_text())["graded"])
    assert dump(course)["cells"] == expected_cells(set(BATCH) - shard_students(set(BATCH), 2, 3))


def test_the_course_scale_bench_imports_nothing_from_tests():
    """Issue 25: bench scripts import the kit as a package, never a test module (the synthetic shards are in bench/).

    (bench/grading_quality.py still reads the corpus from tests/corpus: not this bench.)
    """
    import ast

    bench = Path(__file__).resolve().parents[1] / "bench"
    found = []
    for path in (bench / "course_scale.py", bench / "synthetic_shards.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.name}: {n}" for n in names if n == "tests" or n.startswith("tests.")]
    assert found == []


def test_read_scores_gives_nbgraders_score_of_each_submission(course):
    """read_scores (one query per assignment) against nbgrader's find_submission(...).score one by one, with manual
    scores, extra credit and a submission with no score at all."""
    shards = make_shards(course)
    with Gradebook(f"sqlite:///{shards[0] / 'gradebook.db'}") as gb:
        for n, submission in enumerate(s for a in ASSIGNMENTS for s in gb.assignment_submissions(a)):
            for grade in submission.notebooks[0].grades:
                grade.manual_score = 0.5 if grade.name == "test_1" and n % 2 else None
                grade.extra_credit = 0.25 if grade.name == "test_2" else None
                grade.auto_score = None if n == 0 else grade.auto_score
        gb.db.commit()
    merge_shards(CONFIG, course, shards, log=lambda m: None)
    scores, max_scores = read_scores(CONFIG, course)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        one_by_one = {s.id: {a: gb.find_submission(a, s.id).score for a in ASSIGNMENTS
                             if a in BATCH.get(s.id, [])} for s in gb.students}
        assert max_scores == {a: gb.find_assignment(a).max_score for a in ASSIGNMENTS} == {"dcgan": 3.0, "dqn": 3.0}
    assert scores == one_by_one and len(scores) == len(BATCH)
    assert {v for per in scores.values() for v in per.values()} - {float(k) for k in range(4)}  # fractions too
