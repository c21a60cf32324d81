"""Grades back to the LMS: CSV files that Canvas's and Moodle's gradebook imports accept, from the course gradebook.

``python -m autograder export --to grades.csv`` writes, beside nbgrader's own ``grades.csv`` (one row per student
and notebook), ``grades-canvas.csv`` and ``grades-moodle.csv``: one row per student, one column per notebook that
has at least one submission in the gradebook (a notebook nobody handed in is left out, so an import cannot zero a
grade the LMS already holds), scores including the written answers graded in the formgrader, 0 for a student with
no submission.

Canvas (Gradebook > Import, "Import a CSV file"), following Canvas's guide to the gradebook import: the columns
``Student, ID, SIS User ID, SIS Login ID, Section`` identify the student (Canvas matches ``ID``, its user id, or the
SIS ids), then one column per assignment headed ``<name> (<Canvas assignment id>)`` when ``kit.toml`` gives the id
(``[export] canvas_assignment_ids``; Canvas then updates that assignment), else ``<name>``, which Canvas offers to
create as a new assignment; the second row is ``Points Possible``. The total goes in ``Final Points``, one of the
gradebook's computed columns that the import reads but never writes. ``ID`` is the kit's student id (a Canvas user
id when the submissions came from Canvas's bulk download, or when the roster's ids are Canvas's); the SIS columns
and ``Section`` come from the roster's columns of those names.

Moodle (Grades > Import > CSV file), following Moodle's "Import grades" documentation: one row per user, a column
that identifies the user (map ``Email address`` to the user's email, ``ID number`` to the ID number, or
``Username`` to the username in "Identify user by") and one column per grade item (mapped to an existing item or
to "new grade item"); ``Total`` is the kit's total, to map or to ignore. ``ID number`` comes from the roster's
``ID number``/``idnumber`` column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.config import KitConfig
from autograder.roster import Roster, course_roster, split_name


@dataclass
class Row:
    id: str
    first: str
    last: str
    email: str
    extra: dict[str, str]
    scores: dict[str, float]   # every exported notebook (0 when missing)
    missing: list[str]


def _extra(extra: dict[str, str], *names: str) -> str:
    lower = {k.strip().lower(): v for k, v in extra.items()}
    return next((lower[n] for n in names if lower.get(n)), "")


def gradebook_rows(config: KitConfig, root: Path, roster: Roster | None = None,
                   ) -> tuple[list[str], dict[str, float], list[Row]]:
    """The notebooks to export (those with a submission), their maximum scores, and one row per student:
    the roster's students first (roster order), then any other graded student."""
    roster = roster if roster is not None else course_roster(root)
    rows: list[Row] = []
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        notebooks, max_scores = [], {}
        for assignment in config.assignments:
            try:
                found = gb.find_assignment(assignment)
            except MissingEntry:
                continue
            if found.submissions:
                notebooks.append(assignment)
                max_scores[assignment] = float(found.max_score)
        students = {s.id: s for s in gb.students}
        order = [sid for sid in (roster.students if roster else {}) if sid in students]
        order += sorted(sid for sid in students if sid not in order)
        for sid in order:
            student = students[sid]
            scores, missing = {}, []
            for assignment in notebooks:
                try:
                    scores[assignment] = float(gb.find_submission(assignment, sid).score)
                except MissingEntry:
                    scores[assignment], missing = 0.0, missing + [assignment]
            if len(missing) == len(notebooks) and not (roster and sid in roster.students):
                continue  # a student of another batch's notebooks only
            on_roster = roster.students.get(sid) if roster else None
            first, last = student.first_name or "", student.last_name or ""
            if on_roster and on_roster.name and not (first or last):
                first, last = split_name(on_roster.name)
            rows.append(Row(sid, first, last, student.email or (on_roster.email if on_roster else "") or "",
                            dict(on_roster.extra) if on_roster else {}, scores, missing))
    return notebooks, max_scores, rows


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def write_canvas(path: Path, config: KitConfig, notebooks: list[str], max_scores: dict[str, float],
                 rows: list[Row]) -> Path:
    ids = dict(config.canvas_assignment_ids)
    headers = [f"{nb} ({ids[nb]})" if nb in ids else nb for nb in notebooks]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *headers, "Final Points"])
        writer.writerow(["Points Possible", "", "", "", "", *[_fmt(max_scores[nb]) for nb in notebooks],
                         _fmt(sum(max_scores.values()))])
        for row in rows:
            name = f"{row.last}, {row.first}" if row.last and row.first else (row.first or row.last or row.id)
            writer.writerow([name, row.id, _extra(row.extra, "sis user id", "sis_user_id"),
                             _extra(row.extra, "sis login id", "sis_login_id"), _extra(row.extra, "section"),
                             *[_fmt(row.scores[nb]) for nb in notebooks], _fmt(sum(row.scores.values()))])
    return path


def write_moodle(path: Path, notebooks: list[str], rows: list[Row]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["First name", "Last name", "Username", "ID number", "Email address", *notebooks, "Total"])
        for row in rows:
            writer.writerow([row.first, row.last, row.id, _extra(row.extra, "id number", "idnumber", "id_number"),
                             row.email, *[_fmt(row.scores[nb]) for nb in notebooks], _fmt(sum(row.scores.values()))])
    return path


def export_lms(config: KitConfig, root: Path, plain: Path) -> dict[str, Path]:
    """Write ``<plain stem>-canvas.csv`` and ``<plain stem>-moodle.csv`` beside ``plain``; returns their paths."""
    notebooks, max_scores, rows = gradebook_rows(config, root)
    canvas = write_canvas(plain.with_name(f"{plain.stem}-canvas.csv"), config, notebooks, max_scores, rows)
    moodle = write_moodle(plain.with_name(f"{plain.stem}-moodle.csv"), notebooks, rows)
    return {"canvas": canvas, "moodle": moodle}
