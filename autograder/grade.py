"""``python -m autograder grade <folder>``: autograde a folder of submissions with nbgrader, one student at a time."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import sqlite3
import subprocess
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning

from autograder.config import KIT_ROOT, KitConfig
from autograder.course import DEFAULT_COURSE_DIR, cap_notebook_file, generate_assignments, nbgrader_env, run_nbgrader
from autograder.flags import scan_notebook
from autograder.identity import Collected, flat_student_id
from autograder.identity import collect as collect_identities
from autograder.repair import SubmissionError, match_cells, read_notebook_json, repair_file
from autograder.roster import Roster
from autograder.roster import report as identity_report
from autograder.sandbox import kill_recorded, probe, sweep_cgroups, write_kernel_spec
from autograder.similarity import similar_submissions
from autograder.verify import apply_verdicts, build_plan, run_verification

# Parts of the kit that hold solutions or grading internals (the kernel still sees helpers/ and data/).
INSTRUCTOR_ONLY = ("notebooks", "autograder", "tests", "bench", "build", "dist", ".git")


@dataclass
class Submission:
    """One student's notebook for one assignment, as found in the submissions folder."""

    student: str
    assignment: str
    path: Path


def student_id(file_name: str, assignments: tuple[str, ...]) -> str:
    """A student id from a file name alone (``Copy of alice_dcgan (1).ipynb`` -> ``alice``), ``student`` if none.

    Grading tells students by ``autograder.identity`` (the layout, then this rule), where a file that names no
    student is an error rather than ``student``.
    """
    return flat_student_id(file_name, assignments) or "student"


def identify_assignment(path: Path, config: KitConfig, releases: dict[str, nbformat.NotebookNode]) -> str | None:
    """The assignment a notebook belongs to: by the release cells it holds, else by its file name."""
    try:
        submitted = read_notebook_json(path)
    except SubmissionError:
        submitted = None
    if submitted is not None:
        # Cells every notebook shares (the setup cell) do not tell notebooks apart.
        seen = [gid for nb in releases.values() for gid in {c.metadata.get("nbgrader", {}).get("grade_id")
                                                             for c in nb.cells}]
        common = {gid for gid in seen if seen.count(gid) > 1} | {None, "setup", "imports"}
        best, best_score = None, 0
        for assignment, release in releases.items():
            matched = match_cells(submitted, release).by_grade_id
            score = len(set(matched) - common)
            if score > best_score:
                best, best_score = assignment, score
        if best is not None:
            return best
    named = [a for a in config.assignments if a.lower() in path.name.lower()]
    return max(named, key=len) if named else None


def release_notebooks(config: KitConfig, root: Path) -> dict[str, nbformat.NotebookNode]:
    """The release notebook of every assignment, as generated in the course directory."""
    return {a: nbformat.read(root / "release" / a / f"{a}.ipynb", as_version=4) for a in config.assignments}


def collect_submissions(folder: Path, config: KitConfig, scratch: Path, releases: dict[str, nbformat.NotebookNode],
                        roster: Roster | None = None) -> tuple[list[Submission], list[str], Collected]:
    """Every notebook in ``folder`` (zips are unpacked into ``scratch``), matched to a student and an assignment.

    Students are told by ``autograder.identity`` (and mapped to ``roster``'s ids); returns the submissions to grade
    (the latest of each student and notebook), the files of no notebook, and the whole finding (errors included).
    """
    collected = collect_identities(folder, config.assignments, scratch,
                                   lambda path: identify_assignment(path, config, releases),
                                   pattern=config.submission_pattern, roster=roster)
    found = [Submission(student, assignment, path) for student, assignment, path in collected.submissions]
    return found, collected.skipped, collected


@dataclass
class Outcome:
    """What grading one submission found besides its scores."""

    error: str | None = None
    timed_out: bool = False
    flags: list[str] = field(default_factory=list)
    lowered: list[str] = field(default_factory=list)


def autograde_one(sub: Submission, config: KitConfig, root: Path, release: Path, source: Path,
                  env: dict[str, str] | None = None, log=print) -> Outcome:
    """Repair one submission against its ``release`` notebook, autograde it with nbgrader in ``root``, then verify.

    The verification run (:mod:`autograder.verify`) re-runs the test cells of ``source`` against the student's
    definitions in a fresh sandbox, at the same time as nbgrader; a test it does not pass scores 0 whatever the
    kernel said. Every sandbox the
    submission started is killed before this returns.
    """
    outcome = Outcome()
    target = root / "submitted" / sub.student / sub.assignment / f"{sub.assignment}.ipynb"
    if target.parent.exists():
        shutil.rmtree(target.parent)
    try:
        for line in repair_file(sub.path, release, target):
            log(f"  {sub.student}/{sub.assignment}: repaired: {line}")
    except SubmissionError as exc:
        outcome.error = str(exc)
        return outcome
    release_nb = nbformat.read(release, 4)
    outcome.flags = scan_notebook(nbformat.read(target, 4), release_nb)
    pids = Path((env or {}).get("KIT_SANDBOX_PIDS", root / "pids"))
    plan = build_plan(target, release, source)
    tests = {cell["name"] for cell in plan if cell["kind"] == "test"}
    # The verification run needs only the repaired file: it runs beside nbgrader (the two are mostly single-threaded
    # start-up and imports), in a sandbox of its own, recorded apart so each can be killed on its own.
    verifying, verify_pids, beside = None, pids.parent / f"{pids.name}-verify", ThreadPoolExecutor(max_workers=1)
    if tests:
        scratch = root / "verify" / sub.student / sub.assignment
        if scratch.exists():
            shutil.rmtree(scratch)
        verify_pids.mkdir(parents=True, exist_ok=True)
        verify_env = {**nbgrader_env(), **(env or {}), "NBGRADER_EXECUTION": "autograde", "MPLBACKEND": "Agg",
                      "KIT_SANDBOX_PIDS": str(verify_pids)}
        verifying = beside.submit(
            run_verification, plan, scratch, verify_env, timeout=config.notebook_timeout_s,
            cell_timeout=config.cell_timeout_s, pids_dir=verify_pids)
    try:
        try:
            proc = run_nbgrader(["autograde", sub.assignment, "--student", sub.student, "--force"], root,
                                timeout=config.notebook_timeout_s, env=env)
        except subprocess.TimeoutExpired:
            outcome.error, outcome.timed_out = f"timed out after {config.notebook_timeout_s} s (notebook limit)", True
            return outcome
        finally:
            kill_recorded(pids)
        if proc.returncode != 0 or "[AutogradeApp | ERROR]" in proc.stdout + proc.stderr:
            lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "ERROR" in ln or "Error" in ln]
            outcome.error = (lines[-1] if lines else f"nbgrader exited with {proc.returncode}")[:300]
            return outcome
        # Output stored whatever wrote it (display(), a stream behind the kernel's cap): the feedback and the
        # formgrader read this file.
        graded = root / "autograded" / sub.student / sub.assignment / f"{sub.assignment}.ipynb"
        if graded.is_file() and cap_notebook_file(graded, config.max_output_chars, config.max_output_image_chars):
            outcome.flags.append(f"output over {config.max_output_chars} characters (or images over "
                                 f"{config.max_output_image_chars}) in a cell, cut")
        if verifying is None:
            return outcome
        verdicts = verifying.result()
    finally:
        if verifying is not None:
            kill_recorded(verify_pids)  # ends a verification still running when nbgrader failed
            verifying.result()
        beside.shutdown()
    outcome.flags += [f"verification: {flag}" for flag in verdicts.flags]
    outcome.lowered = apply_verdicts(root / "gradebook.db", sub.assignment, sub.student, tests, verdicts)
    for line in outcome.lowered:
        log(f"  {sub.student}/{sub.assignment}: lowered to 0 by the verification run: {line}")
    return outcome


def make_worker_course(root: Path, workdir: Path, index: int, cell_timeout_s: int | None = None) -> Path:
    """A private course directory for one grading worker, under ``workdir`` (outside the course directory).

    It holds the course config (with the cell limit of the grading's own configuration, ``cell_timeout_s``: the
    course's file keeps the one it was generated with), a copy of the gradebook and no source notebook
    (nbgrader's autograde needs only the gradebook), plus the sandboxed kernel spec (``autograder.sandbox``) and a
    folder for the kernel's Unix sockets: the kernel has no network.
    """
    work = workdir / f"worker{index}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copy2(root / "gradebook.db", work / "gradebook.db")
    for assignment in (p.name for p in (root / "source").iterdir() if p.is_dir()):
        (work / "source" / assignment).mkdir(parents=True)
    sockets = work / "ipc"
    sockets.mkdir()
    (work / "pids").mkdir()  # the sandboxes running for this worker, to kill them from outside
    (work / "nbgrader_config.py").write_text((root / "nbgrader_config.py").read_text() + "\n".join([
        "# the sandboxed kernel talks to nbgrader over Unix sockets (it has no network)",
        'c.KernelManager.transport = "ipc"',
        f"c.KernelManager.ip = {str(sockets / 'kernel')!r}",
        *([f"c.Execute.timeout = {int(cell_timeout_s)}"] if cell_timeout_s is not None else []),
        ""]))
    write_kernel_spec(work / "jupyter")
    return work


def limits_env(config: KitConfig) -> dict[str, str]:
    """The sandbox's limits from the course's settings (``autograder.sandbox`` reads them)."""
    return {"KIT_SANDBOX_MEMORY_BYTES": str(config.memory_limit_mb * 2**20),
            "KIT_SANDBOX_PROCESSES": str(config.process_limit),
            "KIT_SANDBOX_DISK_BYTES": str(config.disk_quota_mb * 2**20),
            "KIT_SANDBOX_MAX_OUTPUT": str(config.max_output_chars)}


def sandbox_env(work: Path, hide: list[Path], config: KitConfig) -> dict[str, str]:
    """Environment of one worker's nbgrader: its kernel spec, its limits, and what the sandboxed kernel must not
    see."""
    return {"JUPYTER_PATH": str(work / "jupyter"),
            "KIT_SANDBOX_HIDE": os.pathsep.join(str(p) for p in hide),
            "KIT_SANDBOX_BLANK": str(work / "gradebook.db"),
            "KIT_SANDBOX_PIDS": str(work / "pids"),
            **limits_env(config)}


def copy_submission(src: Gradebook, dst: Gradebook, assignment: str, student: str) -> None:
    """Replace one student's submission in gradebook ``dst`` by its copy from ``src`` (scores, comments, flags).

    Raises MissingEntry when ``src`` has none. Open gradebooks, so that a merge of many submissions (the shards'
    merge, ``autograder.shard``) opens each once.
    """
    done = src.find_submission(assignment, student)
    dst.update_or_create_student(student)
    try:
        dst.remove_submission(assignment, student)
    except MissingEntry:
        pass
    dst.db.expire_all()  # forget the removed rows before adding the new ones
    with warnings.catch_warnings():  # nbgrader's add_submission trips SQLAlchemy's autoflush warning
        warnings.simplefilter("ignore", SAWarning)
        made = dst.add_submission(assignment, student, timestamp=done.timestamp, extension=done.extension)
    # The new rows through the submission's own relationships (not a query per cell: merges of many submissions).
    targets = {nb.name: nb for nb in made.notebooks}
    for notebook in done.notebooks:
        target = targets[notebook.name]
        target.flagged = notebook.flagged
        target.late_submission_penalty = notebook.late_submission_penalty
        grades, comments = {g.name: g for g in target.grades}, {c.name: c for c in target.comments}
        for grade in notebook.grades:
            into = grades[grade.name]
            into.auto_score, into.manual_score = grade.auto_score, grade.manual_score
            into.extra_credit, into.needs_manual_grade = grade.extra_credit, grade.needs_manual_grade
        for comment in notebook.comments:
            into = comments[comment.name]
            into.auto_comment, into.manual_comment = comment.auto_comment, comment.manual_comment
    dst.db.commit()


def merge_submission(worker_root: Path, root: Path, assignment: str, student: str) -> list[str]:
    """Copy one student's autograded results from a worker's gradebook and folders into the course's.

    Only the calling (main) process writes the course gradebook, one submission at a time. Of the worker's
    folders only folders and regular files of one link are copied (``autograder.shard.copy_regular``: no
    symbolic or hard link, FIFO or device is followed or copied); returns what was left out.
    """
    with Gradebook(f"sqlite:///{worker_root / 'gradebook.db'}") as src, \
            Gradebook(f"sqlite:///{root / 'gradebook.db'}") as dst:
        copy_submission(src, dst, assignment, student)
    from autograder.shard import copy_regular  # (shard imports this module)

    left: list[str] = []
    for kind in ("submitted", "autograded"):
        made = worker_root / kind / student / assignment
        target = root / kind / student / assignment
        if target.is_symlink():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)  # (rmtree never follows a link inside)
        if made.is_symlink():
            left.append(str(made))
        elif made.is_dir():
            left += copy_regular(made, target)
            shutil.rmtree(made)
    return left


def forget_submission(root: Path, assignment: str, student: str) -> None:
    """Remove a student's earlier submission from a (worker's) gradebook, so no stale result is merged."""
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass


def record_zero(root: Path, assignment: str, student: str) -> None:
    """Record a submission that could not be graded at all, with 0 on every graded cell."""
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        gb.update_or_create_student(student)
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass
        gb.db.expire_all()
        submission = gb.add_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score, grade.needs_manual_grade = 0.0, False
        gb.db.commit()


def gradebook_sound(db: Path) -> bool:
    """Whether ``db`` is an SQLite database that passes its integrity check and holds nbgrader's grades."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
            ok = con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            return ok and con.execute("SELECT name FROM sqlite_master WHERE name = 'grade'").fetchone() is not None
    except sqlite3.Error:
        return False


@contextlib.contextmanager
def gradebook_kept(root: Path, log=print, keep: int = 5):
    """Back the course gradebook up before a batch (an SQLite backup, ``gradebook.db.bak-<UTC time>``, the last
    ``keep`` kept); should the batch end with the gradebook unreadable, however it ended, the backup is put back,
    so a batch never loses a grade recorded before it."""
    db = root / "gradebook.db"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    backup = root / f"gradebook.db.bak-{stamp}"
    with contextlib.closing(sqlite3.connect(db)) as src, contextlib.closing(sqlite3.connect(backup)) as dst:
        src.backup(dst)
    for old in sorted(root.glob("gradebook.db.bak-*"))[:-keep]:
        old.unlink(missing_ok=True)
    try:
        yield backup
    finally:
        if not gradebook_sound(db):
            log(f"ERROR: the course gradebook was damaged during the batch: {backup.name} put back")
            fresh = root / ".gradebook.db.restoring"
            shutil.copyfile(backup, fresh)
            os.replace(fresh, db)


def default_workers() -> int:
    """Parallel grading workers: one per CPU core (grading is mostly kernel start-up and imports, one core each)."""
    return max(1, os.cpu_count() or 1)


def read_scores(config: KitConfig, root: Path) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Scores of every student and assignment in the gradebook, and the maximum score of each assignment."""
    from nbgrader.api import Assignment, Student, SubmittedAssignment

    scores: dict[str, dict[str, float]] = {}
    max_scores: dict[str, float] = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for assignment in config.assignments:
            try:
                max_scores[assignment] = gb.find_assignment(assignment).max_score
            except MissingEntry:
                continue
            # One query per assignment (not one per student): nbgrader's own score expression, in the order of
            # ``gb.students``.
            rows = (gb.db.query(Student.id, SubmittedAssignment.score)
                    .join(SubmittedAssignment, SubmittedAssignment.student_id == Student.id)
                    .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
                    .filter(Assignment.name == assignment)
                    .order_by(Student.last_name, Student.first_name))
            for student, score in rows:
                scores.setdefault(student, {})[assignment] = score
    return scores, max_scores


def grade_folder(folder: Path, config: KitConfig, root: Path = DEFAULT_COURSE_DIR, log=print,
                 workers: int | None = None, roster: Roster | None = None,
                 shard: tuple[int, int] | None = None, hide_also: tuple[Path, ...] = ()) -> dict:
    """Grade every submission in ``folder``; returns ``{"scores": {student: {assignment: score}}, ...}``.

    ``shard=(i, n)`` grades only the students of the i-th of n parts (``autograder.shard.shard_students``), the
    identities being resolved for the whole folder first, so that every machine splits the batch alike.
    ``hide_also``: more folders student code must not see (a shard's course, when ``root`` is its copy).

    Each submission is graded on its own by nbgrader in one of ``workers`` private course directories
    (``root/workers/``), in parallel; each result is then merged into the course gradebook by this process
    alone, so SQLite never sees two writers. One bad submission never stops the batch.
    """
    if not (root / "gradebook.db").exists() or not all((root / "release" / a).exists() for a in config.assignments):
        generate_assignments(config, root)
    workers = workers or default_workers()
    sandbox_status = probe(env=limits_env(config))
    sweep_cgroups()  # sandboxes' cgroups a killed grader left behind
    if not sandbox_status.startswith("isolated"):
        log(f"WARNING: the grading sandbox is {sandbox_status}: student code can reach this machine's files, "
            "processes and network. Grade hostile submissions inside a throw-away container or VM.")
    # Two processes per submission at a time (nbgrader's kernel and the verification run): a core each, no more
    # threads than cores (oversubscribed OpenMP threads spin and slow everything).
    threads_each = str(max(1, (os.cpu_count() or 1) // (2 * workers)))
    kernel_env = {"OMP_NUM_THREADS": threads_each, "MKL_NUM_THREADS": threads_each}
    with gradebook_kept(root, log), tempfile.TemporaryDirectory(prefix="kit-grading-") as scratch:
        releases = release_notebooks(config, root)
        unpacked, workdir = Path(scratch) / "unpacked", Path(scratch) / "workers"
        submissions, problems, collected = collect_submissions(Path(folder), config, unpacked, releases, roster)
        if shard is not None:
            from autograder.shard import shard_students

            mine = shard_students({s.student for s in submissions}, *shard)
            submissions = [s for s in submissions if s.student in mine]
        # Never visible to student code: the course (sources, gradebook, others' work), the submissions, the kit's
        # instructor side and its history.
        hide = [root, Path(folder).resolve(), unpacked, *hide_also] + [KIT_ROOT / p for p in INSTRUCTOR_ONLY]
        errors: dict[tuple[str, str], str] = {}
        free: queue.SimpleQueue[Path] = queue.SimpleQueue()
        for index in range(min(workers, max(1, len(submissions)))):
            free.put(make_worker_course(root, workdir, index, config.cell_timeout_s))

        flags: dict[str, list[str]] = {}
        lowered: dict[str, list[str]] = {}

        def grade(sub: Submission) -> tuple[Path, Outcome, float]:
            work = free.get()
            began = time.monotonic()
            try:
                forget_submission(work, sub.assignment, sub.student)
                release = root / "release" / sub.assignment / f"{sub.assignment}.ipynb"
                source = root / "source" / sub.assignment / f"{sub.assignment}.ipynb"
                env = kernel_env | sandbox_env(work, hide, config)
                return work, autograde_one(sub, config, work, release, source, env=env, log=log), \
                    time.monotonic() - began
            except Exception as exc:  # noqa: BLE001 (a failure of one submission must not stop the batch)
                return work, Outcome(error=f"{type(exc).__name__}: {exc}"), time.monotonic() - began
            finally:
                free.put(work)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            jobs = {pool.submit(grade, sub): sub for sub in submissions}
            for job in as_completed(jobs):
                sub = jobs[job]
                work, outcome, seconds = job.result()
                error, key = outcome.error, f"{sub.student}/{sub.assignment}"
                log(f"graded {sub.student} / {sub.assignment} ({sub.path.name}) in {seconds:.0f} s"
                    + (f": {error}" if error else ""))
                if error:
                    errors[(sub.student, sub.assignment)] = error
                if outcome.flags:
                    flags[key] = outcome.flags
                    log(f"  {key}: flagged for a person to look at: {'; '.join(outcome.flags)}")
                if outcome.lowered:
                    lowered[key] = outcome.lowered
                if outcome.timed_out:  # a submission over its time limit scores 0, whatever its kernel wrote
                    forget_submission(work, sub.assignment, sub.student)
                    record_zero(root, sub.assignment, sub.student)
                    continue
                try:
                    for path in merge_submission(work, root, sub.assignment, sub.student):
                        log(f"  {key}: not copied (not a regular file of one link): {path}")
                except MissingEntry:
                    errors.setdefault((sub.student, sub.assignment), "nbgrader recorded no submission")
                    record_zero(root, sub.assignment, sub.student)
    for problem in problems:
        log(f"skipped: {problem}")
    scores, max_scores = read_scores(config, root)
    graded = {s.student for s in submissions}
    scores = {student: dict(per) for student, per in scores.items() if student in graded}
    for student, assignment in errors:
        scores.setdefault(student, {}).setdefault(assignment, 0.0)
    result = {"scores": scores, "max_scores": max_scores,
              "errors": {f"{s}/{a}": e for (s, a), e in errors.items()}, "skipped": problems,
              "sandbox": sandbox_status, "flags": flags, "lowered_by_verification": lowered}
    # Identities (unidentified files, superseded files, roster), then near-identical solutions, for a person to read.
    result.update(identity_report(result, collected, roster, root))
    result["similar"] = similar_submissions(root, {(s.student, s.assignment) for s in submissions}, config)
    return result


def format_table(result: dict) -> str:
    """A readable table of the scores."""
    assignments = list(result["max_scores"])
    header = ["student", *[f"{a} (/{result['max_scores'][a]:g})" for a in assignments]]
    rows = [[student, *[f"{per[a]:g}" if a in per else "-" for a in assignments]]
            for student, per in sorted(result["scores"].items())]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    table = "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [header, *rows])
    notes = []
    if not str(result.get("sandbox", "isolated")).startswith("isolated"):
        notes.append(f"WARNING: grading sandbox {result['sandbox']}")
    for key, found in sorted(result.get("flags", {}).items()):
        notes.append(f"to look at: {key}: {'; '.join(found[:5])}" + (f" (+{len(found) - 5} more)" if len(found) > 5
                                                                      else ""))
    for key, cells in sorted(result.get("lowered_by_verification", {}).items()):
        notes.append(f"lowered by the verification run: {key}: {', '.join(cells)}")
    return "\n".join([table, *notes])
