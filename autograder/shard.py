"""Grading a batch in parts on several machines (``grade --shard I/N``) and merging the parts (``merge``).

A *shard* is the I-th of N parts of a folder of submissions, split by student (:func:`shard_students`): every
machine resolves the identities of the whole folder (``autograder.identity``) and keeps the students of its part,
so all of a student's notebooks land in one part and every machine splits alike. A shard grades with the kit's own
``grade_folder`` into its own course copy (:func:`prepare_shard`), never into the course, and writes a manifest
(``shard.json``): the release's checksums, the batch it was cut from, the students it graded, and ``"state":
"done"`` only once its whole part is graded. A shard killed mid-batch therefore leaves a manifest that says
``grading`` and the course gradebook untouched.

:func:`merge_shards` refuses shards made from another release (checksums) or cut from another batch, and a student
graded in two shards, before it writes anything; then it merges each finished shard's gradebook rows into the course
(:func:`copy_gradebook_rows`: a few SQL statements per shard, the rows ``autograder.grade.copy_submission``, the merge
the local workers use, would write) and its notebooks, copying regular files only.
It reports the students of the shards that are missing or unfinished. Merging the same shards again gives the
same gradebook (each submission is replaced, not added), so a failed shard is re-run and the merge repeated.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import uuid
import warnings
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.exc import SAWarning

from autograder.config import KitConfig

MANIFEST = "shard.json"
REPORT = "merge-report.json"  # the merged result, in the course directory
COURSE_FILES = ("nbgrader_config.py", "gradebook.db")  # what a shard's course copy takes besides source/, release/
EXIT_INCOMPLETE = 3  # ``merge``'s exit status when some students of the batch are not merged yet


class ShardError(ValueError):
    """A shard that must not be merged: another release, another batch, a student graded twice."""


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` -> ``(2, 8)``: the part (from 1) and the number of parts."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes I/N (e.g. 2/8), not {text!r}") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard {text}: I must be between 1 and N")
    return index, count


def shard_of(students: set[str] | list[str], count: int) -> dict[str, int]:
    """Each student's part (1..count): the students sorted by id, dealt out in turn (parts differ by one at most).

    Depends only on the set of ids, which every machine resolves alike from the same folder.
    """
    ordered = sorted(set(students), key=lambda s: (s.casefold(), s))
    return {student: position % count + 1 for position, student in enumerate(ordered)}


def shard_students(students: set[str] | list[str], index: int, count: int) -> set[str]:
    """The students of part ``index`` of ``count``."""
    return {s for s, part in shard_of(students, count).items() if part == index}


def release_checksums(course: Path) -> dict[str, str]:
    """SHA-256 of what defines a release: the nbgrader config and every source and release notebook."""
    files = [course / "nbgrader_config.py", *sorted((course / "source").glob("*/*.ipynb")),
             *sorted((course / "release").glob("*/*.ipynb"))]
    return {f.relative_to(course).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest() for f in files
            if f.is_file()}


def copy_regular_file(source: Path, target: Path) -> bool:
    """Copy one regular file of one link (no symbolic or hard link, FIFO, device); False, copying nothing, else.

    The file is opened without following links and checked again once open, so it cannot be swapped in between.
    """
    info = os.lstat(source)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        return False
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # O_NONBLOCK: a FIFO swapped in cannot block
    with os.fdopen(fd, "rb") as src:
        opened = os.fstat(src.fileno())
        if not stat.S_ISREG(opened.st_mode) or opened.st_nlink != 1 or opened.st_ino != info.st_ino:
            return False
        if target.is_symlink() or target.exists():
            target.unlink()
        with open(target, "xb") as dst:
            shutil.copyfileobj(src, dst)
    os.utime(target, (info.st_atime, info.st_mtime))
    return True


def copy_regular(source: Path, target: Path) -> list[str]:
    """Copy the tree ``source`` to ``target``: folders and regular files of one link only; returns what it left.

    Symbolic links, hard links, FIFOs, devices and sockets are left out (a submission's files are hostile: a link
    could make the copy read or overwrite something else). Each file is opened without following links and checked
    again once open, so it cannot be swapped for a link in between.
    """
    left: list[str] = []
    info = os.lstat(source)
    if not stat.S_ISDIR(info.st_mode):
        raise ValueError(f"not a folder: {source}")
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        here, there = Path(entry.path), target / entry.name
        info = os.lstat(here)
        if stat.S_ISDIR(info.st_mode):
            left += copy_regular(here, there)
            continue
        if not copy_regular_file(here, there):
            left.append(str(here))
    return left


def _check_apart(course: Path, shard_dir: Path) -> None:
    course, shard_dir = course.resolve(), shard_dir.resolve()
    if shard_dir == course or shard_dir in course.parents:
        raise ShardError(f"a shard's folder cannot hold the course: {shard_dir}")


def read_manifest(shard_dir: Path) -> dict:
    """The manifest of a shard's folder; ShardError when it has none."""
    try:
        return json.loads((shard_dir / MANIFEST).read_text())
    except FileNotFoundError:
        raise ShardError(f"{shard_dir}: not a shard (no {MANIFEST}; was it started?)") from None


def _write_manifest(shard_dir: Path, manifest: dict) -> None:
    partial = shard_dir / f".{MANIFEST}.part"
    partial.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(partial, shard_dir / MANIFEST)  # never a half-written manifest


def prepare_shard(course: Path, shard_dir: Path, index: int, count: int) -> Path:
    """A fresh course copy for part ``index`` of ``count`` (its manifest says ``grading``); an old one is replaced.

    It takes the course's config, gradebook (the assignments' cells), source and release notebooks: grading needs
    nothing else, and writes only there.
    """
    if not (course / "gradebook.db").is_file() or not (course / "release").is_dir():
        raise ShardError(f"{course} has no release: run `python -m autograder --course-dir {course} release` first")
    _check_apart(course, shard_dir)
    if shard_dir.exists():
        shutil.rmtree(shard_dir)
    shard_dir.mkdir(parents=True)
    _write_manifest(shard_dir, {"shard": [index, count], "state": "grading", "release": release_checksums(course)})
    for name in COURSE_FILES:
        shutil.copy2(course / name, shard_dir / name)
    for folder in ("source", "release"):
        copy_regular(course / folder, shard_dir / folder)
    return shard_dir


def finish_shard(shard_dir: Path, result: dict) -> dict:
    """Mark a shard's folder as wholly graded: the manifest records the batch, the graded pairs and ``result``."""
    manifest = read_manifest(shard_dir)
    index, count = manifest["shard"]
    batch = sorted(result.get("files", {}))  # every "student/assignment" of the whole folder
    parts = shard_of({key.split("/")[0] for key in batch}, count)
    graded = [key for key in batch if parts[key.split("/")[0]] == index]
    manifest.update(state="done", batch=batch, graded=graded, result=result)
    _write_manifest(shard_dir, manifest)
    return manifest


def grade_shard(folder: Path, config: KitConfig, course: Path, shard_dir: Path, index: int, count: int,
                log=print, workers: int | None = None, roster=None) -> dict:
    """Grade part ``index`` of ``count`` of ``folder`` into ``shard_dir`` (a copy of ``course``); its result."""
    from autograder.grade import grade_folder

    prepare_shard(course, shard_dir, index, count)
    result = grade_folder(folder, config, shard_dir, log=log, workers=workers, roster=roster,
                          shard=(index, count), hide_also=(course.resolve(),))
    return finish_shard(shard_dir, result)["result"]


def copy_students(src, dst) -> None:
    """The names and emails gradebook ``src`` knows (a shard's identities and roster) into gradebook ``dst``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        for student in src.students:
            fields = {k: getattr(student, k) for k in ("first_name", "last_name", "email", "lms_user_id")
                      if getattr(student, k, None)}
            dst.update_or_create_student(student.id, **fields)


def check_shards(course: Path, shard_dirs: list[Path]) -> tuple[list[tuple[Path, dict]], list[Path]]:
    """The finished shards (folder, manifest) and the unfinished ones; ShardError when they must not be merged."""
    expected = release_checksums(course)
    done: list[tuple[Path, dict]] = []
    unfinished: list[Path] = []
    for shard_dir in shard_dirs:
        _check_apart(course, shard_dir)
        manifest = read_manifest(shard_dir)
        if manifest.get("release") != expected or release_checksums(shard_dir) != expected:
            changed = sorted(k for k in set(expected) | set(manifest.get("release", {}))
                             if expected.get(k) != manifest.get("release", {}).get(k))
            raise ShardError(f"{shard_dir}: made from another release than {course} (differs: "
                             f"{', '.join(changed) or 'its own copy of the release'}); grade it again")
        (done if manifest.get("state") == "done" else unfinished).append((shard_dir, manifest))
    if done:
        first_dir, first = done[0]
        for shard_dir, manifest in done[1:]:
            if manifest["shard"][1] != first["shard"][1] or manifest["batch"] != first["batch"]:
                raise ShardError(f"{shard_dir} and {first_dir} were cut from different batches (other submissions "
                                 "or another number of parts)")
    owner: dict[str, Path] = {}
    for shard_dir, manifest in done:
        for student in sorted({key.split("/")[0] for key in manifest["graded"]}):
            if student in owner:
                raise ShardError(f"student {student} was graded in two shards: {owner[student]} and {shard_dir}")
            owner[student] = shard_dir
    return done, [shard_dir for shard_dir, _ in unfinished]


def _new_uuid() -> str:
    return uuid.uuid4().hex  # nbgrader's own ids (nbgrader.api.new_uuid)


# Each step of :func:`copy_gradebook_rows`, on the course gradebook (``main``) with a shard's attached as ``src``.
# What nbgrader's ``add_submission`` builds for a submission (a submitted notebook per notebook of the course's
# assignment, a grade per grade or task cell, a comment per solution or task cell), filled with the shard's values
# matched by name, as ``autograder.grade.copy_submission`` fills them; a value the shard lacks keeps nbgrader's
# default (flagged False, needs_manual_grade True, the rest NULL).
_MERGE_SQL = (
    """CREATE TEMP TABLE pick AS
       SELECT ss.id AS src_id, new_uuid() AS new_id, ss.student_id, da.id AS assignment_id, ss.timestamp,
              ss.extension
       FROM wanted w JOIN src.assignment sa ON sa.name = w.assignment
       JOIN src.submitted_assignment ss ON ss.assignment_id = sa.id AND ss.student_id = w.student
       JOIN main.assignment da ON da.name = w.assignment""",
    "INSERT OR IGNORE INTO main.student (id) SELECT DISTINCT student_id FROM pick",
    """CREATE TEMP TABLE gone AS SELECT d.id FROM main.submitted_assignment d
       JOIN pick p ON p.student_id = d.student_id AND p.assignment_id = d.assignment_id""",
    """CREATE TEMP TABLE gone_nb AS SELECT id FROM main.submitted_notebook
       WHERE assignment_id IN (SELECT id FROM gone)""",
    "DELETE FROM main.grade WHERE notebook_id IN (SELECT id FROM gone_nb)",
    "DELETE FROM main.comment WHERE notebook_id IN (SELECT id FROM gone_nb)",
    "DELETE FROM main.submitted_notebook WHERE id IN (SELECT id FROM gone_nb)",
    "DELETE FROM main.submitted_assignment WHERE id IN (SELECT id FROM gone)",
    """INSERT INTO main.submitted_assignment (id, assignment_id, student_id, timestamp, extension)
       SELECT new_id, assignment_id, student_id, timestamp, extension FROM pick""",
    """CREATE TEMP TABLE pick_nb AS
       SELECT p.new_id AS assignment_id, new_uuid() AS new_id, dn.id AS notebook_id, dn.name,
              (SELECT sn.id FROM src.submitted_notebook sn JOIN src.notebook snb ON snb.id = sn.notebook_id
               WHERE sn.assignment_id = p.src_id AND snb.name = dn.name) AS src_id
       FROM pick p JOIN main.notebook dn ON dn.assignment_id = p.assignment_id""",
    """INSERT INTO main.submitted_notebook (id, assignment_id, notebook_id, flagged, late_submission_penalty)
       SELECT n.new_id, n.assignment_id, n.notebook_id, COALESCE(sn.flagged, 0), sn.late_submission_penalty
       FROM pick_nb n LEFT JOIN src.submitted_notebook sn ON sn.id = n.src_id""",
    """INSERT INTO main.grade (id, notebook_id, cell_id, auto_score, manual_score, extra_credit, needs_manual_grade)
       SELECT new_uuid(), n.new_id, c.id, g.auto_score, g.manual_score, g.extra_credit,
              COALESCE(g.needs_manual_grade, 1)
       FROM pick_nb n JOIN main.base_cell c ON c.notebook_id = n.notebook_id
       LEFT JOIN (src.grade g JOIN src.base_cell sc ON sc.id = g.cell_id)
              ON g.notebook_id = n.src_id AND sc.name = c.name
       WHERE c.id IN (SELECT id FROM main.grade_cells UNION SELECT id FROM main.task_cells)""",
    """INSERT INTO main.comment (id, notebook_id, cell_id, auto_comment, manual_comment)
       SELECT new_uuid(), n.new_id, c.id, k.auto_comment, k.manual_comment
       FROM pick_nb n JOIN main.base_cell c ON c.notebook_id = n.notebook_id
       LEFT JOIN (src.comment k JOIN src.base_cell sc ON sc.id = k.cell_id)
              ON k.notebook_id = n.src_id AND sc.name = c.name
       WHERE c.id IN (SELECT id FROM main.solution_cells UNION SELECT id FROM main.task_cells)""",
    # The shard's names and emails (its identities and roster), as ``copy_students``: a student it knows is added,
    # a field it holds (not empty) replaces the course's.
    "INSERT OR IGNORE INTO main.student (id) SELECT id FROM src.student",
    """UPDATE main.student SET
         first_name = COALESCE((SELECT NULLIF(s.first_name, '') FROM src.student s WHERE s.id = student.id),
                               first_name),
         last_name = COALESCE((SELECT NULLIF(s.last_name, '') FROM src.student s WHERE s.id = student.id),
                              last_name),
         email = COALESCE((SELECT NULLIF(s.email, '') FROM src.student s WHERE s.id = student.id), email),
         lms_user_id = COALESCE((SELECT NULLIF(s.lms_user_id, '') FROM src.student s WHERE s.id = student.id),
                                lms_user_id)
       WHERE id IN (SELECT id FROM src.student)""",
)


def copy_gradebook_rows(dst: sqlite3.Connection, src_db: Path, keys: list[str]) -> set[str]:
    """Replace the submissions ``keys`` ("student/assignment") in the open course gradebook ``dst`` by their rows in
    gradebook ``src_db``, and take its students' names; the keys copied (those ``src_db`` holds).

    The same rows as ``autograder.grade.copy_submission`` for each key then :func:`copy_students` (new ids aside;
    tests/test_shard.py compares the two), in a few statements instead of nbgrader's ORM calls per cell. Runs in
    one transaction of its own (``dst`` opened with ``isolation_level=None``, ``uri=True``).
    """
    dst.create_function("new_uuid", 0, _new_uuid)  # not deterministic: one per row
    dst.execute("ATTACH DATABASE ? AS src", (f"file:{quote(str(src_db))}?mode=ro",))  # read only
    try:
        dst.execute("CREATE TEMP TABLE wanted (student TEXT, assignment TEXT, PRIMARY KEY (student, assignment))")
        dst.executemany("INSERT OR IGNORE INTO wanted VALUES (?, ?)", (key.split("/", 1) for key in keys))
        dst.execute("BEGIN")
        for statement in _MERGE_SQL:
            dst.execute(statement)
        dst.execute("COMMIT")
        copied = {f"{student}/{name}" for student, name in dst.execute(
            "SELECT p.student_id, a.name FROM pick p JOIN main.assignment a ON a.id = p.assignment_id")}
    except BaseException:
        if dst.in_transaction:
            dst.execute("ROLLBACK")
        raise
    finally:
        for table in ("wanted", "pick", "gone", "gone_nb", "pick_nb"):
            dst.execute(f"DROP TABLE IF EXISTS temp.{table}")
    dst.execute("DETACH DATABASE src")
    return copied


def merge_shards(config: KitConfig, course: Path, shard_dirs: list[Path], log=print) -> dict:
    """Merge the finished shards into ``course``; the merged result, as ``grade`` gives it, plus what is missing.

    Adds to ``grade``'s keys: ``merged`` (shard folder -> submissions merged), ``unfinished`` (shard folders left
    out), ``not_merged`` (the "student/assignment" of the batch no finished shard holds), ``left_out`` (files
    that were not regular files and were not copied).
    """
    from autograder.grade import read_scores
    from autograder.similarity import similar_submissions

    done, unfinished = check_shards(course, [Path(d) for d in shard_dirs])
    merged: dict[str, int] = {}
    left: list[str] = []
    result: dict = {"scores": {}, "errors": {}, "skipped": [], "flags": {}, "lowered_by_verification": {},
                    "superseded": [], "not_on_roster": [], "missing": [], "identity_warnings": [], "students": {},
                    "files": {}}
    sandboxes: list[str] = []
    listed: dict[str, set[str]] = {}  # the items of each list of the result, as JSON
    # The merge writes a copy of the course gradebook and puts it in place at the end (one rename): a merge killed
    # midway leaves the gradebook as it was, and the copy needs no sync to disk at each shard's commit.
    merging = course / ".gradebook.db.merging"
    shutil.copy2(course / "gradebook.db", merging)
    try:
        with contextlib.closing(sqlite3.connect(f"file:{quote(str(merging))}", uri=True,
                                                    isolation_level=None)) as dst:
            dst.execute("PRAGMA synchronous=OFF")
            dst.execute("PRAGMA journal_mode=MEMORY")
            for shard_dir, manifest in done:
                graded = manifest["graded"]
                # A key nbgrader recorded nothing for is not copied: grade_folder reported why.
                copied = copy_gradebook_rows(dst, shard_dir / "gradebook.db", graded)
                for key in graded:
                    if key not in copied:
                        continue
                    student, assignment = key.split("/")
                    for kind in ("submitted", "autograded"):
                        made, target = shard_dir / kind / student / assignment, course / kind / student / assignment
                        if target.is_symlink() or target.is_file():
                            target.unlink()
                        elif target.exists():
                            shutil.rmtree(target)
                        if made.is_dir() and not made.is_symlink():
                            left += copy_regular(made, target)
                if (shard_dir / "roster.csv").is_file():
                    copy_regular_file(shard_dir / "roster.csv", course / "roster.csv")
                merged[str(shard_dir)] = len(graded)
                log(f"merged {shard_dir}: part {manifest['shard'][0]} of {manifest['shard'][1]}, "
                    f"{len(graded)} submissions")
                part = manifest["result"]
                # Each student's scores as the course gradebook holds them (below); 0 where grading failed, as grade.
                result["scores"].update({key.split("/")[0]: {} for key in graded})
                for key in part.get("errors", {}):
                    if key in graded:
                        result["scores"][key.split("/")[0]][key.split("/")[1]] = 0.0
                # Every other key of grade's result, whatever grade adds: dicts by key, lists without repeats (each
                # shard reports the whole batch's unidentified, superseded, ... files alike).
                for key, value in part.items():
                    if key in ("scores", "max_scores", "similar", "sandbox"):
                        continue
                    if isinstance(value, dict):
                        result.setdefault(key, {}).update(value)
                    elif isinstance(value, list):
                        seen = listed.setdefault(key, {json.dumps(x, sort_keys=True)
                                                       for x in result.setdefault(key, [])})
                        for item in value:
                            if json.dumps(item, sort_keys=True) not in seen:
                                seen.add(json.dumps(item, sort_keys=True))
                                result[key].append(item)
                sandboxes += [part["sandbox"]] if part.get("sandbox") and part["sandbox"] not in sandboxes else []
    except BaseException:
        merging.unlink(missing_ok=True)  # a failed merge leaves no half-merged copy (the course is untouched)
        raise
    with open(merging, "rb+") as written:
        os.fsync(written.fileno())
    os.replace(merging, course / "gradebook.db")
    # Every "student/assignment" of the batch that no finished shard merged: the unfinished and absent shards'.
    batch = done[0][1]["batch"] if done else []
    graded_keys = {key for _, manifest in done for key in manifest["graded"]}
    not_merged = [key for key in batch if key not in graded_keys]
    waiting = {key.split("/")[0] for key in not_merged}
    # On the roster, no submission: a student no shard graded (the whole batch's view), not one still to merge.
    result["missing"] = sorted(m for m in result["missing"] if m.split("/")[0] not in waiting
                               and m.split("/")[1] not in result["scores"].get(m.split("/")[0], {}))
    for entry in result["missing"]:
        student, assignment = entry.split("/")
        result["scores"].setdefault(student, {})[assignment] = 0.0
    now, result["max_scores"] = read_scores(config, course)
    for student, per in result["scores"].items():
        per.update(now.get(student, {}))
    result["sandbox"] = "; ".join(sandboxes) or "none graded"
    result["similar"] = similar_submissions(course, {tuple(k.split("/")) for k in graded_keys}, config)
    result.update(merged=merged, unfinished=[str(d) for d in unfinished], not_merged=not_merged, left_out=left)
    if done:
        count = done[0][1]["shard"][1]
        given = {m["shard"][0] for _, m in done} | {read_manifest(d)["shard"][0] for d in unfinished}
        absent = sorted(set(range(1, count + 1)) - given)
        result["absent_parts"] = [f"{i}/{count}" for i in absent]
    (course / REPORT).write_text(json.dumps(result, indent=1, sort_keys=True))
    return result


