"""The verification run: each test cell's verdict, from a process the student's top-level code never ran in.

nbgrader runs the whole submission in one IPython kernel, and everything in that kernel (the guards, the test
cells, IPython's input transformers, ``run_cell``, its event callbacks) is reachable from the student's code.
So after nbgrader, every submission is run once more, in a fresh sandboxed process (:mod:`autograder.sandbox`)
that is plain Python, not IPython:

- the provided cells come from the release and the test cells (hidden tests included) from the course's source
  notebook; the student contributes only the *definitions* of their answer cells and of cells they added
  (imports, functions, classes, assignments to names): statements that do something at top level (patch a
  module, register a hook, start a thread) are not run at all. An added cell runs after the release cell it
  follows in the submission, never before the first (setup) cell;
- the runner (:mod:`autograder.verify_runner`, passed as its file's text) keeps two namespaces: the tests and
  the provided cells see the real builtins, the real libraries and the provided names, and of the student's
  namespace only the names the source's answer cells define. A student binding that shadows a builtin, a
  provided function or a library, a rebound ``__builtins__``, a write to ``sys.modules`` or a changed attribute
  of any library object is undone, flagged, and fails every later test cell; so does anything not plain data
  (a tensor subclass, an object with its own ``__eq__``) that the student's code returns to the tests;
- an audit hook, installed before any student code and impossible to remove, refuses what student code has no
  honest use for while grading (frames of the grader, ``sys.settrace``, ``gc``'s object lists, ``ctypes``, fork,
  kill, subprocesses, ``/proc/*/mem``) and reports it as a flag;
- verdicts travel on a descriptor of their own, each tagged with a random nonce the student's code never sees
  (reaching it would need the frames or memory the hook refuses).

A test cell's final score is the lower of nbgrader's and this run's (:func:`apply_verdicts`): a trick that
fools the kernel gains nothing, and an honest answer passes both.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager
from nbgrader.api import Gradebook

from autograder import verify_runner
from autograder.flags import LIBRARY_NAMES
from autograder.guarded import GUARDED
from autograder.repair import _normalise
from autograder.sandbox import kill_recorded

KEPT_STATEMENTS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

# The runner's source: the sandbox hides autograder/ from the process it runs in, so it gets the text, not an import.
RUNNER = Path(verify_runner.__file__).read_text()


@dataclass
class Verdicts:
    """What the verification run found: each test cell's verdict, flags, and whether it finished."""

    passed: dict[str, bool] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    finished: bool = False

    def verdict(self, grade_id: str) -> bool:
        """Pass only with a verdict of its own (a test the run never reached fails)."""
        return self.passed.get(grade_id, False)


def definitions_only(source: str) -> str:
    """The statements of a student's cell that only define things: imports, functions, classes, assignments.

    Assignments are kept when their target is a name or part of one (``BATCH = 64``, ``settings["lr"] = 1e-3``,
    ``config.lr = 1e-3``), not when it is a library's attribute (``torch.allclose = ...``); expressions, loops and
    every other statement are dropped. A cell that does not parse is returned as it is, so it fails here as it did
    in the notebook.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source

    def root(target: ast.expr) -> str | None:
        while isinstance(target, (ast.Attribute, ast.Subscript)):
            target = target.value
        return target.id if isinstance(target, ast.Name) else None

    def assignable(target: ast.expr) -> bool:
        if isinstance(target, (ast.Tuple, ast.List)):
            return all(assignable(t) for t in target.elts)
        name = root(target)
        return name is not None and (isinstance(target, ast.Name) or name not in LIBRARY_NAMES)

    kept = [node for node in tree.body
            if isinstance(node, KEPT_STATEMENTS)
            or (isinstance(node, ast.Assign) and all(assignable(t) for t in node.targets))
            or (isinstance(node, (ast.AnnAssign, ast.AugAssign)) and assignable(node.target))]
    return ast.unparse(ast.Module(body=kept, type_ignores=[]))


def _python(source: str) -> str:
    """A cell's source as plain Python (IPython magics become calls, which plain Python then does not have)."""
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 (a cell IPython cannot read fails as written)
        return source


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def defined_names(source: str) -> set[str]:
    """The names a cell defines at top level: functions, classes and assignment targets (not imports)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                found |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return found


def imported_modules(source: str) -> tuple[set[str], set[str]]:
    """The modules a cell imports anywhere (also inside functions) and the names it binds them to."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), set()
    modules: set[str] = set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                modules.add(alias.name)
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
            modules |= {f"{node.module}.{a.name}" for a in node.names if a.name != "*"}
    return modules, names


def build_plan(submitted: Path, release: Path, source: Path) -> list[dict]:
    """The cells of the verification run, in release order, up to the last test cell.

    ``submitted`` is the repaired submission (its graded cells carry nbgrader metadata), ``release`` gives the
    provided cells and ``source`` the test cells with their hidden tests. A cell the student added (or a provided
    cell they edited) runs after the release cell it follows in the submission, never before the first (setup)
    cell. Every student cell carries ``exports``: the names the source's answer cells define, the only ones the
    tests get from the student.
    """
    release_nb, source_nb = nbformat.read(release, 4), nbformat.read(source, 4)
    submitted_nb = nbformat.read(submitted, 4)
    tests = {_meta(c)["grade_id"]: c.source for c in source_nb.cells
             if _meta(c).get("grade") and not _meta(c).get("solution") and c.cell_type == "code"}
    exports = sorted(set().union(*(defined_names(_python(c.source)) for c in source_nb.cells
                                   if c.cell_type == "code" and _meta(c).get("solution"))))
    release_cells = [c for c in release_nb.cells if c.cell_type == "code"]
    keys: list[str] = []
    by_source: dict[str, str] = {}
    for index, cell in enumerate(release_cells):
        key = _meta(cell).get("grade_id") or f"cell-{index}"
        keys.append(key)
        by_source.setdefault(_normalise(cell.source), key)
    answers: dict[str, str] = {}
    added: dict[str, list[str]] = {}
    anchor = keys[0] if keys else None  # nothing runs before the setup cell
    for cell in submitted_nb.cells:
        if cell.cell_type != "code":
            continue
        grade_id = _meta(cell).get("grade_id")
        if grade_id:
            anchor = grade_id if grade_id in keys else anchor
            if _meta(cell).get("solution"):
                answers[grade_id] = cell.source
        elif _normalise(cell.source) in by_source:
            anchor = by_source[_normalise(cell.source)]
        elif anchor is not None:
            added.setdefault(anchor, []).append(cell.source)
    plan: list[dict] = []

    def student(name: str, text: str, is_added: bool) -> None:
        plan.append({"kind": "student", "name": name, "source": definitions_only(_python(text)),
                     "exports": exports, "added": is_added})

    for key, cell in zip(keys, release_cells):
        meta, grade_id = _meta(cell), _meta(cell).get("grade_id")
        if meta.get("solution"):
            student(grade_id, answers.get(grade_id, ""), False)
        elif meta.get("grade"):
            plan.append({"kind": "test", "name": grade_id, "source": _python(tests[grade_id])})
        else:
            plan.append({"kind": "provided", "name": key, "source": _python(cell.source)})
        for index, text in enumerate(added.get(key, [])):
            student(f"{key}-added-{index}", text, True)
    last_test = max((i for i, c in enumerate(plan) if c["kind"] == "test"), default=-1)
    return plan[:last_test + 1]


def runner_input(plan: list[dict], nonce: str, cell_timeout: float) -> dict:
    """What :mod:`autograder.verify_runner` reads: the cells, the names the tests may take from the student,
    the libraries the tests use (imported before any student code; no student name may stand for one), and
    the guarded objects (:data:`autograder.guarded.GUARDED`)."""
    modules: set[str] = set()
    names: set[str] = set(LIBRARY_NAMES)
    for cell in plan:
        if cell["kind"] != "student":
            found, bound = imported_modules(cell["source"])
            modules |= found
            names |= bound
    exports = sorted({name for cell in plan if cell["kind"] == "student" for name in cell.get("exports", ())})
    return {"nonce": nonce, "cells": plan, "cell_timeout": cell_timeout, "exports": exports,
            "libraries": sorted(names), "preimport": sorted(set(GUARDED) | modules), "guarded": list(GUARDED)}


def run_verification(plan: list[dict], workdir: Path, env: dict[str, str], timeout: float,
                     cell_timeout: float, pids_dir: Path) -> Verdicts:
    """Run ``plan`` in a fresh sandbox with ``workdir`` as its only writable folder; never waits past ``timeout``."""
    workdir.mkdir(parents=True, exist_ok=True)
    nonce = secrets.token_hex(16)
    payload = json.dumps(runner_input(plan, nonce, cell_timeout)).encode()
    command = [sys.executable, "-m", "autograder.sandbox", "--exec", "--", sys.executable, "-c", RUNNER]
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.PIPE, stdout=write_end,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    os.close(write_end)
    lines: list[str] = []

    def collect() -> None:  # a daemon: a reader blocked on a pipe some survivor holds never holds up grading
        with os.fdopen(read_end, "rb") as stream:
            for raw in stream:
                lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        proc.stdin.write(payload)
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        kill_recorded(pids_dir)
        proc.kill()
        proc.wait()
    reader.join(timeout=max(0.5, min(5.0, deadline - time.monotonic())))
    return parse_report(lines, nonce)


def parse_report(lines: list[str], nonce: str) -> Verdicts:
    """Verdicts from the runner's lines; lines without the nonce are ignored, a repeated verdict keeps the worst."""
    found = Verdicts()
    for line in lines:
        words = line.split(" ")
        if len(words) < 2 or words[0] != nonce:
            continue
        if words[1] == "test" and len(words) >= 5:
            name, ok = words[2], words[3] == "pass"
            found.passed[name] = found.passed.get(name, True) and ok
            found.reasons[name] = words[4]
        elif words[1] == "flag" and len(words) >= 3:
            found.flags.append(" ".join(words[2:]))
        elif words[1] == "done":
            found.finished = True
    found.flags = list(dict.fromkeys(found.flags))
    if not found.finished:
        found.flags.append("the verification run did not finish (time limit, crash, or its report was cut)")
    return found


def apply_verdicts(gradebook: Path, assignment: str, student: str, tests: set[str], verdicts: Verdicts) -> list[str]:
    """Lower to 0 every test cell in ``tests`` that nbgrader scored but the verification run did not pass.

    Returns the test cells lowered, each with the reason.
    """
    lowered = []
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        for notebook in gb.find_submission(assignment, student).notebooks:
            for grade in notebook.grades:
                if grade.name in tests and (grade.auto_score or 0) > 0 and not verdicts.verdict(grade.name):
                    lowered.append(f"{grade.name} (verification: {verdicts.reasons.get(grade.name, 'no verdict')})")
                    grade.auto_score = 0.0
        gb.db.commit()
    return lowered
