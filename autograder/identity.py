"""Whose notebook is this? Student identities from the layout an LMS (or nbgrader) gives a folder of submissions.

``collect(folder, ...)`` finds every notebook under the submissions folder (zips are unpacked, recursively, and
count as a folder of the same name) and tells, for each, the student and the notebook (assignment). Rules, first
match wins:

1. ``[submissions] pattern`` in ``kit.toml``: a regular expression with named groups, as nbgrader's
   ``zip_collect`` file-name plugin takes (``student_id`` required; ``timestamp``, ``first_name``,
   ``last_name``, ``email`` optional), searched in the file's path relative to the submissions folder.
2. nbgrader's layout: ``[submitted/]<student>/<assignment>/<file>.ipynb`` (the folder above the file is a notebook
   name of ``kit.toml``; ``timestamp.txt`` beside the file is read), and the exchange's inbound
   ``<student>+<assignment>+<timestamp>[+<random>]/<file>.ipynb``.
3. Moodle's bulk download: a folder ``<Full Name>_<participant id>_assignsubmission_file_`` per student. Moodle's
   participant id is per assignment (``assign_user_mapping``), so the id is made from the full name; two people of
   one name in one download keep apart by their participant ids (and are reported: a roster settles it).
4. Canvas's bulk download: ``<sortable name>_[LATE_]<user id>_<submission id>_<original name>``: the id is the
   Canvas user id (the same for all of a student's notebooks); the larger submission id is the later file.
5. A folder per student: the first folder under the submissions folder (or under a folder that holds several
   students' folders or files) that is not a notebook's name nor ``submitted``/``submissions``.
6. The file's own name (``Copy of alice_dcgan (1).ipynb`` -> ``alice``).

A file no rule can name is an error (listed, not graded). Ids that differ only in case are one student; two files
of one student for one notebook: the latest is graded (by the layout's timestamp, else Canvas's submission id,
else the file's modification time) and the other is reported.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

CONTAINERS = {"submitted", "submissions", "submission", "autograded", "inbound", "export", "downloads"}
MOODLE_RE = re.compile(r"^(?P<name>.+)_(?P<pid>\d+)_assign(?:submission|feedback)_[A-Za-z]+_?$")
CANVAS_RE = re.compile(r"^(?P<name>[^_]+?)_(?:(?P<late>late)_)?(?P<uid>\d+)_(?P<seq>\d+)_(?P<original>.+)$", re.I)
INBOUND_RE = re.compile(r"^(?P<student>[^+]+)\+(?P<assignment>[^+]+)\+(?P<timestamp>[^+]+)(?:\+[^+]*)?$")
MAX_ZIP_DEPTH = 3


@dataclass
class FoundFile:
    """A notebook in the submissions folder (or unpacked from a zip in it)."""

    path: Path                  # where it is on disk
    parts: tuple[str, ...]      # its path relative to the submissions folder, a zip counting as a folder (its stem)
    origin: str                 # how messages name it: ``sub/dir/a.zip:inner/x.ipynb``
    mtime: float = 0.0
    timestamp_text: str | None = None   # an nbgrader timestamp.txt beside it


@dataclass
class Identity:
    """Who a file belongs to, as its layout tells."""

    student: str                # the id in the gradebook (before a roster maps it)
    layout: str                 # pattern, nbgrader, moodle, canvas, folder, file name
    name: str | None = None     # a display name the layout gives (Moodle's full name, Canvas's sortable name)
    email: str | None = None
    timestamp: datetime | None = None
    seq: int | None = None      # Canvas's submission id: larger is later
    late: bool = False
    group: str = ""             # Moodle: the download folder the id is unique in


@dataclass
class Entry:
    file: FoundFile
    identity: Identity
    assignment: str


@dataclass
class Collected:
    """What ``collect`` found: the files to grade and everything to report."""

    submissions: list[tuple[str, str, Path]] = field(default_factory=list)  # (student, assignment, notebook)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)      # (student, assignment) -> origin
    errors: dict[str, str] = field(default_factory=dict)                   # file (origin) -> why it is not graded
    skipped: list[str] = field(default_factory=list)                       # not a notebook of this course
    superseded: list[str] = field(default_factory=list)                    # older files of one student/notebook
    warnings: list[str] = field(default_factory=list)
    not_on_roster: list[str] = field(default_factory=list)                 # filled by a roster's resolve
    students: dict[str, dict] = field(default_factory=dict)                # id -> {"name", "email", "layout", ...}


def safe_id(text: str) -> str:
    """A gradebook- and path-safe id (letters of any script, digits, ``_.@-``)."""
    return re.sub(r"[^\w.@-]+", "_", text.strip(), flags=re.U).strip("_.")


def flat_student_id(file_name: str, assignments: tuple[str, ...]) -> str | None:
    """The student a file name names (``Copy of alice_dcgan (1).ipynb`` -> ``alice``), or None when it names none."""
    stem = re.sub(r"\.(ipynb|zip)$", "", file_name, flags=re.I)
    stem = re.sub(r"^copy of\s+", "", stem, flags=re.I)
    stem = re.sub(r"\s*\(\d+\)$", "", stem)
    for assignment in sorted(assignments, key=len, reverse=True):
        stem = re.sub(re.escape(assignment), "", stem, flags=re.I)
    return re.sub(r"[^A-Za-z0-9]+", "_", stem).strip("_") or None


def parse_timestamp(text: str | None) -> datetime | None:
    """A timestamp as nbgrader writes it (``2026-11-30 12:00:00.000000 UTC``) or ISO-like; None when unreadable."""
    if not text or not text.strip():
        return None
    from nbgrader.utils import parse_utc

    text = text.strip()
    candidates = [text]
    dashed = re.fullmatch(r"(\d{4}-\d\d-\d\d)[-_ T](\d\d)[-_:](\d\d)(?:[-_:](\d\d))?", text)
    if dashed:  # 2026-11-30-15-00-00, as in nbgrader's zip_collect example
        candidates.insert(0, f"{dashed[1]} {dashed[2]}:{dashed[3]}:{dashed[4] or '00'}")
    for candidate in candidates:
        try:
            return parse_utc(candidate)
        except (ValueError, OverflowError, TypeError):
            continue
    return None


# --------------------------------------------------------------------------------------------------- finding files

def _safe_member(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.name:
        return None
    if any(p == "__MACOSX" or p == ".ipynb_checkpoints" or p.startswith("._") for p in path.parts):
        return None
    return path


def find_files(folder: Path, scratch: Path) -> tuple[list[FoundFile], dict[str, str]]:
    """Every notebook under ``folder``, zips unpacked into ``scratch``; and the unreadable zips (origin -> why)."""
    found: list[FoundFile] = []
    errors: dict[str, str] = {}

    def walk(directory: Path, parts: tuple[str, ...], origin: str, depth: int) -> None:
        for path in sorted(directory.iterdir()):
            if path.name in (".ipynb_checkpoints", "__MACOSX") or path.name.startswith("._"):
                continue
            here = f"{origin}{path.name}"
            if path.is_dir():
                walk(path, parts + (path.name,), here + "/", depth)
            elif path.suffix.lower() == ".ipynb":
                stamp = path.parent / "timestamp.txt"
                found.append(FoundFile(path, parts + (path.name,), here, path.stat().st_mtime,
                                       stamp.read_text(errors="replace") if stamp.is_file() else None))
            elif path.suffix.lower() == ".zip":
                if depth >= MAX_ZIP_DEPTH:
                    errors[here] = f"zip nested more than {MAX_ZIP_DEPTH} deep: not unpacked"
                    continue
                target = scratch / f"z{len(list(scratch.glob('z*')))}"
                try:
                    _unpack(path, target)
                except (zipfile.BadZipFile, OSError, ValueError) as exc:
                    errors[here] = f"not a readable zip file ({type(exc).__name__})"
                    shutil.rmtree(target, ignore_errors=True)
                    continue
                walk(target, parts + (path.stem,), here + ":", depth + 1)

    scratch.mkdir(parents=True, exist_ok=True)
    if folder.is_file() and folder.suffix.lower() == ".zip":  # a bulk download handed over as is
        root = scratch / "root"
        _unpack(folder, root)
        walk(root, (), f"{folder.name}:", 1)
    else:
        walk(folder, (), "", 0)
    return found, errors


def _unpack(archive_path: Path, target: Path) -> None:
    """The notebooks, zips and nbgrader timestamps of a zip, with their folders, and their dates as mtimes."""
    import os
    import time

    with zipfile.ZipFile(archive_path) as archive:
        for info in archive.infolist():
            member = _safe_member(info.filename)
            if member is None or info.is_dir() or member.suffix.lower() not in (".ipynb", ".zip", ".txt"):
                continue
            if member.suffix.lower() == ".txt" and member.name != "timestamp.txt":
                continue
            out = target.joinpath(*member.parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.read(info))
            try:
                stamp = time.mktime((*info.date_time, 0, 0, -1))
                os.utime(out, (stamp, stamp))
            except (OverflowError, ValueError):
                pass
    target.mkdir(parents=True, exist_ok=True)


# ------------------------------------------------------------------------------------------------ telling students

class Identifier:
    """Applies the rules of the module docstring to the files of one submissions folder."""

    def __init__(self, files: list[FoundFile], assignments: tuple[str, ...], which: dict[int, str | None],
                 pattern: str | None = None) -> None:
        self.files, self.assignments, self.which = files, assignments, which
        self.pattern = re.compile(pattern) if pattern else None
        self.lower_assignments = {a.lower() for a in assignments}
        self.collections = self._collections()

    def _is_container(self, name: str) -> bool:
        low = name.lower()
        return low in CONTAINERS or low in self.lower_assignments or flat_student_id(name, self.assignments) is None

    def _collections(self) -> set[tuple[str, ...]]:
        """Folders that hold several students: two child folders with the same notebook, or files of two names."""
        children: dict[tuple[str, ...], dict[str, set[str]]] = {}
        for index, file in enumerate(self.files):
            assignment = self.which.get(index)
            if assignment is None:
                continue
            folders = file.parts[:-1]
            for depth in range(len(folders) + 1):
                prefix = folders[:depth]
                if depth < len(folders):
                    entry = "dir:" + folders[depth]
                else:
                    named = flat_student_id(file.parts[-1], self.assignments)
                    # A file named for its student is an entry of its own, unless it names the folder's student.
                    if named is None or (prefix and prefix[-1].lower() in named.lower()):
                        continue
                    entry = "file:" + named.lower()
                children.setdefault(prefix, {}).setdefault(assignment, set()).add(entry)
        return {prefix for prefix, per in children.items() if any(len(entries) > 1 for entries in per.values())}

    def identify(self, index: int) -> Identity | None:
        file = self.files[index]
        parts, folders = file.parts, file.parts[:-1]
        if self.pattern is not None:
            match = self.pattern.search("/".join(parts))
            if match and match.groupdict().get("student_id"):
                groups = match.groupdict()
                name = " ".join(g for g in (groups.get("first_name"), groups.get("last_name")) if g) or None
                return Identity(safe_id(groups["student_id"]), "pattern", name=name, email=groups.get("email"),
                                timestamp=parse_timestamp(groups.get("timestamp")))
        # nbgrader: <student>/<assignment>/<file>.ipynb, or the exchange's inbound <student>+<assignment>+<time>
        if len(folders) >= 1:
            inbound = INBOUND_RE.match(folders[-1])
            if inbound and inbound["assignment"].lower() in self.lower_assignments:
                return Identity(safe_id(inbound["student"]), "nbgrader",
                                timestamp=parse_timestamp(file.timestamp_text or inbound["timestamp"]))
        if len(folders) >= 2 and folders[-1].lower() in self.lower_assignments and \
                folders[-2].lower() not in CONTAINERS | self.lower_assignments:
            return Identity(safe_id(folders[-2]), "nbgrader", timestamp=parse_timestamp(file.timestamp_text))
        for depth, folder in enumerate(folders):
            moodle = MOODLE_RE.match(folder)
            if moodle:
                name = moodle["name"].strip()
                return Identity(safe_id(name), "moodle", name=name, seq=int(moodle["pid"]),
                                group="/".join(folders[:depth]))
        for part in reversed(parts):
            canvas = CANVAS_RE.match(part)
            if canvas:
                return Identity(canvas["uid"], "canvas", name=canvas["name"], seq=int(canvas["seq"]),
                                late=bool(canvas["late"]))
        for depth, folder in enumerate(folders):
            if self._is_container(folder) or folders[:depth + 1] in self.collections:
                continue
            return Identity(safe_id(flat_student_id(folder, self.assignments) or folder), "folder")
        named = flat_student_id(parts[-1], self.assignments)
        return Identity(named, "file name") if named else None


def _order(entry: Entry) -> tuple:
    ident = entry.identity
    return (ident.timestamp or datetime.min, ident.seq if ident.layout == "canvas" else -1, entry.file.mtime,
            entry.file.origin)


def collect(folder: Path, assignments: tuple[str, ...], scratch: Path, which_assignment: Callable[[Path], str | None],
            pattern: str | None = None, roster=None) -> Collected:
    """Every notebook under ``folder``: whose it is and which notebook (``which_assignment(path)``), see the module doc.

    ``roster`` (``autograder.roster.Roster``) maps the ids the layout gives to the roster's ids.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"submissions folder not found: {folder}")
    out = Collected()
    files, zip_errors = find_files(folder, scratch)
    out.errors.update(zip_errors)
    which: dict[int, str | None] = {}
    for index, file in enumerate(files):
        which[index] = which_assignment(file.path)
        if which[index] is None:
            out.skipped.append(f"{file.origin}: could not tell which assignment {file.path.name} is")
    identifier = Identifier(files, assignments, which, pattern)
    entries: list[Entry] = []
    for index, file in enumerate(files):
        if which[index] is None:
            continue
        identity = identifier.identify(index)
        if identity is None or not identity.student:
            out.errors[file.origin] = ("cannot tell whose file this is (no student in its name or folders): "
                                       "not graded; rename it or set [submissions] pattern in kit.toml")
            continue
        entries.append(Entry(file, identity, which[index]))
    _split_moodle_namesakes(entries, out)
    if roster is not None:
        entries = roster.resolve(entries, out)
    _unify_case(entries)
    by_key: dict[tuple[str, str], list[Entry]] = {}
    for entry in entries:
        by_key.setdefault((entry.identity.student, entry.assignment), []).append(entry)
    for (student, assignment), group in sorted(by_key.items()):
        group.sort(key=_order)
        latest = group[-1]
        for older in group[:-1]:
            out.superseded.append(f"{student}/{assignment}: {older.file.origin} not graded: "
                                  f"{latest.file.origin} is later ({_why_later(older, latest)})")
        out.submissions.append((student, assignment, latest.file.path))
        out.origins[(student, assignment)] = latest.file.origin
        info = out.students.setdefault(student, {"layout": latest.identity.layout})
        for entry in group:
            if entry.identity.name and not info.get("name"):
                info["name"] = entry.identity.name
            if entry.identity.email and not info.get("email"):
                info["email"] = entry.identity.email
        if latest.identity.late:
            info.setdefault("late", []).append(assignment)
    return out


def _why_later(older: Entry, latest: Entry) -> str:
    old, new = older.identity.timestamp, latest.identity.timestamp
    if old and new and old != new:
        return f"timestamp {new:%Y-%m-%d %H:%M:%S} after {old:%Y-%m-%d %H:%M:%S}"
    if latest.identity.layout == "canvas" and older.identity.seq != latest.identity.seq:
        return f"Canvas submission id {latest.identity.seq} after {older.identity.seq}"
    if older.file.mtime != latest.file.mtime:
        return "modified later"
    return "same date: the last by name"


def _split_moodle_namesakes(entries: list[Entry], out: Collected) -> None:
    """Two Moodle participants of one full name in one download are two people: their ids carry their numbers."""
    numbers: dict[tuple[str, str], set[int]] = {}
    for entry in entries:
        if entry.identity.layout == "moodle":
            numbers.setdefault((entry.identity.group, entry.identity.student.lower()), set()).add(entry.identity.seq)
    for entry in entries:
        ident = entry.identity
        if ident.layout == "moodle" and len(numbers[(ident.group, ident.student.lower())]) > 1:
            ident.student = f"{ident.student}_{ident.seq}"
            message = (f"two Moodle participants named {ident.name!r} in one download: ids carry Moodle's participant "
                       f"number, which differs between assignments (a roster with emails tells them apart)")
            if message not in out.warnings:
                out.warnings.append(message)


def _unify_case(entries: list[Entry]) -> None:
    """Ids that differ only in case (``Alice``, ``alice``) are one student: the most common spelling wins."""
    spellings: dict[str, dict[str, int]] = {}
    for entry in entries:
        counts = spellings.setdefault(entry.identity.student.casefold(), {})
        counts[entry.identity.student] = counts.get(entry.identity.student, 0) + 1
    for entry in entries:
        counts = spellings[entry.identity.student.casefold()]
        entry.identity.student = max(sorted(counts), key=lambda s: counts[s])
