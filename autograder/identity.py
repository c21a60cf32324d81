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

**Discovery never follows a link.** A symbolic link (to a file or a folder), a hard-linked file (one with more
than one name: it may be any file of this machine, e.g. a course's source notebook), anything that is not a
regular file or folder (a fifo, a device), and a zip member that is a link or a special file are not read: each is
listed in ``skipped`` with the reason. An instructor's unzip restores links; following one graded whatever it
pointed at.

**A zip belongs to whoever uploaded it.** The student of a file unpacked from a zip is told by the zip's own place
in the layout (the rules above applied to the zip as if it were the file: the Moodle folder, Canvas file name,
nbgrader folder, student folder or pattern that holds it; else its name); the zip's date and ``timestamp.txt``
beside it, not the ones inside it, order it among that student's files. Inside a zip, paths only tell the notebook
(and, between two files of one upload, which is later), never the student: an inner layout that names someone else
(a Moodle folder, a Canvas name, an nbgrader folder or the pattern naming another person; a folder or file name
equal to another student's id in the batch) is listed in ``conflicts`` for a person, and the file stays the
uploader's. The one exception is a bulk download, read by its inner layout as if unpacked in place: the folder
given to ``collect`` being itself a zip, or a zip directly in the submissions folder that no strong rule (Canvas's
name, the pattern) gives to a student and that either names nobody or holds the files of two or more students by
its inner layout. A file attributed by such a zip's inside never supersedes a file attributed from outside any zip
(the other is listed in ``conflicts``), and each such zip is listed in ``warnings``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import stat
import time
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
STRONG_LAYOUTS = ("pattern", "nbgrader", "moodle", "canvas")  # layouts that name a person, not just a folder


@dataclass
class FoundFile:
    """A notebook in the submissions folder (or unpacked from a zip in it)."""

    path: Path                  # where it is on disk
    parts: tuple[str, ...]      # its path relative to the submissions folder, a zip counting as a folder (its stem)
    origin: str                 # how messages name it: ``sub/dir/a.zip:inner/x.ipynb``
    mtime: float = 0.0
    timestamp_text: str | None = None   # an nbgrader timestamp.txt beside it
    # The zips on its path, outermost first: (index in ``parts`` of the zip's stem, the zip's file name, its origin,
    # the zip's own mtime, the timestamp.txt beside the zip). Empty for a file that is not in a zip.
    archives: tuple[tuple[int, str, str, float, str | None], ...] = ()


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
    from_inside: str | None = None  # the bulk zip (origin) whose inner layout named the student, if any


@dataclass
class Collected:
    """What ``collect`` found: the files to grade and everything to report."""

    submissions: list[tuple[str, str, Path]] = field(default_factory=list)  # (student, assignment, notebook)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)      # (student, assignment) -> origin
    errors: dict[str, str] = field(default_factory=dict)                   # file (origin) -> why it is not graded
    skipped: list[str] = field(default_factory=list)                       # not a notebook of this course, links
    superseded: list[str] = field(default_factory=list)                    # older files of one student/notebook
    warnings: list[str] = field(default_factory=list)
    not_on_roster: list[str] = field(default_factory=list)                 # filled by a roster's resolve
    students: dict[str, dict] = field(default_factory=dict)                # id -> {"name", "email", "layout", ...}
    conflicts: list[str] = field(default_factory=list)                     # a zip's inside names another person


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

MAX_MEMBER_BYTES = 512 * 2**20  # a zip member larger than this is no notebook (and no zip bomb is inflated)


def _safe_member(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.name:
        return None
    if any(p == "__MACOSX" or p == ".ipynb_checkpoints" or p.startswith("._") for p in path.parts):
        return None
    return path


def _not_read(path: Path, info: os.stat_result) -> str | None:
    """Why discovery must not read ``path`` (its ``lstat`` is ``info``), or None for a plain file or folder."""
    if stat.S_ISLNK(info.st_mode):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"a symbolic link (to {target}): links are never followed"
    if stat.S_ISDIR(info.st_mode):
        return None
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a fifo, socket or device): not read"
    if info.st_nlink > 1:
        # Another name of the same file may be anywhere on this file system (a course's source notebook).
        return f"a hard link ({info.st_nlink} names for one file): not read; copy it if it is a submission"
    return None


def find_files(folder: Path, scratch: Path) -> tuple[list[FoundFile], dict[str, str], list[str]]:
    """Every notebook under ``folder``, zips unpacked into ``scratch``; the unreadable zips (origin -> why); and
    what was not read (links, special files: ``origin: why``)."""
    found: list[FoundFile] = []
    errors: dict[str, str] = {}
    skipped: list[str] = []

    def walk(directory: Path, parts: tuple[str, ...], origin: str, depth: int, archives: tuple) -> None:
        for path in sorted(directory.iterdir()):
            if path.name in (".ipynb_checkpoints", "__MACOSX") or path.name.startswith("._"):
                continue
            here = f"{origin}{path.name}"
            try:
                info = path.lstat()
            except OSError as exc:
                skipped.append(f"{here}: unreadable ({type(exc).__name__})")
                continue
            suffix = path.suffix.lower()
            why = _not_read(path, info)
            if why is not None:
                if stat.S_ISLNK(info.st_mode) or suffix in (".ipynb", ".zip"):
                    skipped.append(f"{here}: {why}")
                continue
            if stat.S_ISDIR(info.st_mode):
                walk(path, parts + (path.name,), here + "/", depth, archives)
            elif suffix == ".ipynb":
                found.append(FoundFile(path, parts + (path.name,), here, info.st_mtime, _stamp(path.parent),
                                       archives))
            elif suffix == ".zip":
                if depth >= MAX_ZIP_DEPTH:
                    errors[here] = f"zip nested more than {MAX_ZIP_DEPTH} deep: not unpacked"
                    continue
                target = scratch / f"z{len(list(scratch.glob('z*')))}"
                try:
                    _unpack(path, target, here + ":", skipped)
                except (zipfile.BadZipFile, OSError, ValueError) as exc:
                    errors[here] = f"not a readable zip file ({type(exc).__name__})"
                    shutil.rmtree(target, ignore_errors=True)
                    continue
                mark = (len(parts), path.name, here, info.st_mtime, _stamp(path.parent))
                walk(target, parts + (path.stem,), here + ":", depth + 1, archives + (mark,))

    scratch.mkdir(parents=True, exist_ok=True)
    if folder.is_file() and folder.suffix.lower() == ".zip":  # a bulk download handed over as is
        root = scratch / "root"
        _unpack(folder, root, f"{folder.name}:", skipped)
        walk(root, (), f"{folder.name}:", 1, ())
    else:
        walk(folder, (), "", 0, ())
    return found, errors, skipped


def _stamp(directory: Path) -> str | None:
    """nbgrader's ``timestamp.txt`` in ``directory``, when it is a plain file (never through a link)."""
    stamp = directory / "timestamp.txt"
    try:
        info = stamp.lstat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1 or info.st_size > 1000:
        return None
    return stamp.read_text(errors="replace")


def _unpack(archive_path: Path, target: Path, origin: str = "", skipped: list[str] | None = None) -> None:
    """The notebooks, zips and nbgrader timestamps of a zip, with their folders, and their dates as mtimes.

    A member that is a link or a special file (its Unix mode says so) is listed in ``skipped``, not written: only
    plain files come out of a zip, never a link.
    """
    with zipfile.ZipFile(archive_path) as archive:
        for info in archive.infolist():
            member = _safe_member(info.filename)
            if member is None or info.is_dir() or member.suffix.lower() not in (".ipynb", ".zip", ".txt"):
                continue
            if member.suffix.lower() == ".txt" and member.name != "timestamp.txt":
                continue
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind and kind != stat.S_IFREG:  # 0: no Unix mode (made on Windows), a plain file
                if skipped is not None:
                    what = "a symbolic link" if kind == stat.S_IFLNK else "not a regular file"
                    skipped.append(f"{origin}{info.filename}: {what} inside a zip: not unpacked")
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                if skipped is not None:
                    skipped.append(f"{origin}{info.filename}: {info.file_size} bytes: too large to be a notebook")
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
    # A file named only by a bulk zip's inside never supersedes one attributed from outside every zip.
    return (entry.from_inside is None, ident.timestamp or datetime.min, ident.seq if ident.layout == "canvas" else -1,
            entry.file.mtime, entry.file.path.stat().st_mtime if entry.file.archives else 0.0, entry.file.origin)


def _names(identity: Identity) -> set[str]:
    """The spellings of a person an identity gives (id, name, first-last and last-first), letters and digits only."""
    from autograder.roster import _norm, split_name

    names = set()
    for text in (identity.student, identity.name or ""):
        words = [w for w in re.split(r"[\W_]+", text) if w]
        first, last = split_name(" ".join(words))
        names |= {_norm(text), _norm(first + last), _norm(last + first)}
    return names - {""}


class _Views:
    """Each file as the layout sees it: a file inside an upload zip is seen as the zip (its uploader's place)."""

    def __init__(self, files: list[FoundFile], which: dict[int, str | None], assignments: tuple[str, ...],
                 pattern: str | None) -> None:
        self.files, self.which, self.assignments, self.pattern = files, which, assignments, pattern
        self.bulk = self._bulk_archives()
        self.upload: dict[int, tuple | None] = {}
        self.inside: dict[int, str | None] = {}
        views = []
        for index, file in enumerate(files):
            upload = next((a for a in file.archives if a[2] not in self.bulk), None)
            bulk = [a for a in file.archives if a[2] in self.bulk and (upload is None or a[0] < upload[0])]
            self.upload[index] = upload
            self.inside[index] = bulk[0][2] if bulk else None
            if upload is None:
                views.append(file)
            else:  # the uploader's place: the zip, with its own date and the timestamp beside it
                views.append(dataclasses.replace(file, parts=file.parts[:upload[0]] + (upload[1],),
                                                 mtime=upload[3], timestamp_text=upload[4]))
        self.views = views

    def _inner(self, indices: list[int], start: int) -> dict[int, Identity | None]:
        """The identities the inner layout (the parts after ``start``) of some files gives, files of one zip."""
        files = [dataclasses.replace(self.files[i], parts=self.files[i].parts[start:]) for i in indices]
        identifier = Identifier(files, self.assignments, {k: self.which[i] for k, i in enumerate(indices)},
                                self.pattern)
        return {i: identifier.identify(k) for k, i in enumerate(indices)}

    def _bulk_archives(self) -> set[str]:
        """Origins of the zips read as bulk downloads (see the module docstring)."""
        top: dict[tuple, list[int]] = {}
        for index, file in enumerate(self.files):
            if file.archives and file.archives[0][0] == 0 and self.which.get(index) is not None:
                top.setdefault(file.archives[0], []).append(index)
        bulk = set()
        pattern = re.compile(self.pattern) if self.pattern else None
        for archive, indices in top.items():
            name = archive[1]
            match = pattern.search(name) if pattern else None
            if CANVAS_RE.match(Path(name).stem) or (match and match.groupdict().get("student_id")):
                continue  # named for a student by a rule that names people: an upload
            named = flat_student_id(name, self.assignments)
            students = {ident.student.casefold() for ident in self._inner(indices, 1).values() if ident}
            if named is None or named.lower() in CONTAINERS or len(students) >= 2:
                bulk.add(archive[2])
        return bulk

    def conflicts(self, where: dict[int, Entry], roster=None) -> list[str]:
        """Files inside an upload whose inner layout names someone other than the uploader (``where``: the
        entries by file index)."""
        others = {e.identity.student.casefold() for e in where.values()}
        by_upload: dict[tuple, list[int]] = {}
        for index in where:
            if self.upload.get(index) is not None:
                by_upload.setdefault(self.upload[index], []).append(index)
        found = []
        for upload, indices in by_upload.items():
            for index, inner in self._inner(indices, upload[0] + 1).items():
                entry = where[index]
                owner = entry.identity
                if inner is None or not inner.student:
                    continue
                if roster is not None:
                    theirs, ours = roster.match(inner.student, inner.name, inner.email)[0], \
                        roster.match(owner.student, owner.name, owner.email)[0]
                    if theirs and ours:
                        if theirs != ours:
                            found.append(_conflict(entry, upload, inner, theirs))
                        continue
                if _names(inner) & _names(owner):
                    continue
                if inner.layout in STRONG_LAYOUTS or inner.student.casefold() in others:
                    found.append(_conflict(entry, upload, inner, inner.student))
        return found


def _conflict(entry: Entry, upload: tuple, inner: Identity, named: str) -> str:
    return (f"{entry.file.origin}: inside {upload[2]}, uploaded by {entry.identity.student}, its layout "
            f"({inner.layout}) names {named}: graded as {entry.identity.student}'s, never as {named}'s; "
            "a person should check")


def collect(folder: Path, assignments: tuple[str, ...], scratch: Path, which_assignment: Callable[[Path], str | None],
            pattern: str | None = None, roster=None) -> Collected:
    """Every notebook under ``folder``: whose it is and which notebook (``which_assignment(path)``), see the module doc.

    ``roster`` (``autograder.roster.Roster``) maps the ids the layout gives to the roster's ids.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"submissions folder not found: {folder}")
    out = Collected()
    files, zip_errors, not_read = find_files(folder, scratch)
    out.errors.update(zip_errors)
    out.skipped.extend(not_read)
    which: dict[int, str | None] = {}
    for index, file in enumerate(files):
        which[index] = which_assignment(file.path)
        if which[index] is None:
            out.skipped.append(f"{file.origin}: could not tell which assignment {file.path.name} is")
    views = _Views(files, which, assignments, pattern)
    for origin in sorted(views.bulk):
        out.warnings.append(f"{origin} read as a bulk download (it names no student, or holds several students' "
                            "files): its files are attributed by its inner layout and never replace a file from "
                            "outside it")
    identifier = Identifier(views.views, assignments, which, pattern)
    where: dict[int, Entry] = {}
    for index, file in enumerate(files):
        if which[index] is None:
            continue
        identity = identifier.identify(index)
        if identity is None or not identity.student:
            place = f"the zip {views.upload[index][2]}" if views.upload[index] else "its name or folders"
            out.errors[file.origin] = (f"cannot tell whose file this is (no student in {place}): "
                                       "not graded; rename it or set [submissions] pattern in kit.toml")
            continue
        where[index] = Entry(dataclasses.replace(file, mtime=views.views[index].mtime), identity, which[index],
                             views.inside[index])
    entries = list(where.values())
    _split_moodle_namesakes(entries, out)
    out.conflicts.extend(views.conflicts(where, roster))
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
            if older.from_inside is not None and latest.from_inside is None:
                out.conflicts.append(f"{student}/{assignment}: {older.file.origin} is named {student}'s only by the "
                                     f"inside of {older.from_inside}: not graded, {latest.file.origin} is theirs")
                continue
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
