"""The class roster (``grade --roster roster.csv``): who should hand in, with their names and emails.

A CSV with a header row; the columns ``id``, ``name`` and ``email`` are recognised whatever their case (also
``student id``/``username``/``login``, ``full name``/``student``, ``first name`` + ``last name``/``surname``,
``email address``); every other column is kept (``build/course/roster.csv``) and the LMS exports use the ones they
know (Canvas's ``SIS User ID``, ``SIS Login ID``, ``Section``; Moodle's ``ID number``).

A submission is matched to a roster student by, in this order: its id (the roster's id or email, any case), the
email the layout gives, the local part of a roster email, then its name (Moodle's full name, Canvas's sortable
name ``smithalice``: first-last or last-first, letters only). A step that matches several roster students decides
nothing (never two people in one id); an unmatched submission is graded under its own id and reported.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

ID_COLUMNS = ("id", "student id", "student_id", "username", "user id", "login", "login id")
NAME_COLUMNS = ("name", "full name", "full_name", "student", "student name")
FIRST_COLUMNS = ("first name", "first_name", "firstname", "given name")
LAST_COLUMNS = ("last name", "last_name", "lastname", "surname", "family name")
EMAIL_COLUMNS = ("email", "email address", "e-mail", "mail")


def _norm(text: str | None) -> str:
    return re.sub(r"[\W_]+", "", (text or "").casefold())


def split_name(name: str) -> tuple[str, str]:
    """(first, last) of ``Alice Smith`` or ``Smith, Alice``."""
    name = " ".join(name.split())
    if "," in name:
        last, first = (p.strip() for p in name.split(",", 1))
        return first, last
    words = name.rsplit(" ", 1)
    return (words[0], words[1]) if len(words) == 2 else (name, "")


@dataclass
class RosterStudent:
    id: str
    name: str = ""
    email: str = ""
    extra: dict[str, str] = field(default_factory=dict)   # every column of the roster's row, as given

    @property
    def first_last(self) -> tuple[str, str]:
        return split_name(self.name) if self.name else ("", "")


class Roster:
    """The students of the course, in the roster's order."""

    def __init__(self, students: list[RosterStudent], columns: list[str]) -> None:
        self.students = {s.id: s for s in students}
        self.columns = columns

    @classmethod
    def load(cls, path: str | Path) -> Roster:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"roster not found: {path}")
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = list(reader.fieldnames or [])
            lower = {c.strip().lower(): c for c in columns}

            def pick(names: tuple[str, ...]) -> str | None:
                return next((lower[n] for n in names if n in lower), None)

            id_col, name_col, email_col = pick(ID_COLUMNS), pick(NAME_COLUMNS), pick(EMAIL_COLUMNS)
            first_col, last_col = pick(FIRST_COLUMNS), pick(LAST_COLUMNS)
            if id_col is None:
                raise ValueError(f"{path}: no id column (one of {', '.join(ID_COLUMNS)}); columns: {columns}")
            students, seen = [], set()
            from autograder.identity import safe_id

            for line, row in enumerate(reader, start=2):
                raw = (row.get(id_col) or "").strip()
                if not raw:
                    continue
                sid = safe_id(raw)
                if sid.casefold() in seen:
                    raise ValueError(f"{path}:{line}: the id {raw!r} appears twice")
                seen.add(sid.casefold())
                name = (row.get(name_col) or "").strip() if name_col else ""
                if not name and (first_col or last_col):
                    name = " ".join(p for p in ((row.get(first_col) or "").strip() if first_col else "",
                                                (row.get(last_col) or "").strip() if last_col else "") if p)
                students.append(RosterStudent(sid, name, (row.get(email_col) or "").strip() if email_col else "",
                                              {k: (v or "") for k, v in row.items() if k is not None}))
        return cls(students, columns)

    # ------------------------------------------------------------------------------------------------ matching

    def match(self, student: str, name: str | None = None, email: str | None = None) -> tuple[str | None, str]:
        """The roster id of a submission's identity, and a note when a step was ambiguous."""
        steps = [
            ("id", lambda s: _norm(s.id) == _norm(student) or (s.email and s.email.casefold() == student.casefold())),
            ("email", lambda s: bool(email) and s.email.casefold() == (email or "").casefold()),
            ("email name", lambda s: bool(s.email) and _norm(s.email.split("@")[0]) == _norm(student)),
            ("name", lambda s: bool(s.name) and bool(name or student) and _norm(name or student) in
             {_norm(" ".join(s.first_last)), _norm(" ".join(reversed(s.first_last)))}),
        ]
        for label, test in steps:
            hits = [s.id for s in self.students.values() if test(s)]
            if len(hits) == 1:
                return hits[0], ""
            if len(hits) > 1:
                return None, f"matches several roster students by {label}: {', '.join(hits)}"
        return None, ""

    def resolve(self, entries: list, out) -> list:
        """Map every entry's identity to its roster id; those not on the roster are reported in ``out``."""
        for entry in entries:
            ident = entry.identity
            rid, note = self.match(ident.student, ident.name, ident.email)
            if rid is None:
                message = f"{ident.student} ({entry.file.origin}): not on the roster" + (f"; {note}" if note else "")
                out.not_on_roster.append(message)
            else:
                ident.student = rid
        return entries

    # ------------------------------------------------------------------------------------------------ keeping it

    def save(self, path: Path) -> Path:
        """Write the roster (every column) into the course directory, for the exports."""
        path.parent.mkdir(parents=True, exist_ok=True)
        columns = self.columns or ["id", "name", "email"]
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for student in self.students.values():
                writer.writerow(student.extra or {"id": student.id, "name": student.name, "email": student.email})
        return path


def course_roster(root: Path) -> Roster | None:
    """The roster kept in the course directory by the last ``grade --roster``, if any."""
    path = root / "roster.csv"
    return Roster.load(path) if path.is_file() else None


def record_students(root: Path, students: dict[str, dict], roster: Roster | None) -> None:
    """Create (or name) every graded student and every roster student in the course gradebook."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        for sid, info in students.items():
            fields = {}
            if info.get("name"):
                fields["first_name"], fields["last_name"] = split_name(info["name"])
            if info.get("email"):
                fields["email"] = info["email"]
            gb.update_or_create_student(sid, **fields)
        for student in (roster.students.values() if roster else ()):
            first, last = student.first_last
            fields = {"first_name": first or None, "last_name": last or None, "email": student.email or None}
            gb.update_or_create_student(student.id, **{k: v for k, v in fields.items() if v})


def report(result: dict, collected, roster: Roster | None, root: Path) -> dict:
    """What ``grade`` adds to its result about identities: errors for unidentified files, superseded files,
    students off the roster, roster students with no submission (scored 0, listed as ``missing``) and files whose
    zip's inside names someone other than its uploader (``identity_conflicts``, for a person)."""
    record_students(root, collected.students, roster)
    if roster is not None:
        roster.save(root / "roster.csv")
    scores = result["scores"]
    errors = dict(result.get("errors", {}))
    for origin, why in collected.errors.items():
        errors[origin] = why
    missing: list[str] = []
    if roster is not None:
        graded_assignments = sorted({a for _, a, _ in collected.submissions})
        for sid in roster.students:
            for assignment in graded_assignments:
                if assignment not in scores.get(sid, {}):
                    scores.setdefault(sid, {})[assignment] = 0.0
                    missing.append(f"{sid}/{assignment}")
    students = {sid: dict(info) for sid, info in collected.students.items()}
    for sid, student in (roster.students.items() if roster else ()):
        students.setdefault(sid, {})["name"] = student.name or students.get(sid, {}).get("name")
        students[sid]["on_roster"] = True
    return {"errors": errors, "superseded": collected.superseded, "not_on_roster": collected.not_on_roster,
            "missing": missing, "identity_warnings": collected.warnings,
            "identity_conflicts": collected.conflicts, "students": students,
            "files": {f"{s}/{a}": origin for (s, a), origin in collected.origins.items()}}
