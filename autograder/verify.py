"""The verification run: each test cell's verdict, from a process the student's top-level code never ran in.

nbgrader runs the whole submission in one IPython kernel, and everything in that kernel (the guards, the test
cells, IPython's input transformers, ``run_cell``, its event callbacks) is reachable from the student's code.
So after nbgrader, every submission is run once more, in a fresh sandboxed process (:mod:`autograder.sandbox`)
that is plain Python, not IPython:

- the provided cells come from the release and the test cells (hidden tests included) from the course's source
  notebook; the student contributes only the *definitions* of their answer cells and of cells they added
  (imports, functions, classes, assignments to names): statements that do something at top level (patch a
  module, register a hook, start a thread) are not run at all;
- before every cell the functions of ``builtins``, ``math``, ``numpy``, ``torch`` that anything replaced are
  put back, and a test cell during which one was replaced, or a thread was started, fails;
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

from autograder.flags import LIBRARY_NAMES
from autograder.repair import _normalise
from autograder.sandbox import kill_recorded

KEPT_STATEMENTS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

RUNNER = r'''
def _kit_verify():
    import builtins, json, math, os, signal, sys, threading
    plan = json.loads(sys.stdin.buffer.read().decode())
    nonce, cells, cell_timeout = plan["nonce"], plan["cells"], plan["cell_timeout"]
    report_fd = os.dup(1)
    quiet = os.open("verify-output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    os.close(quiet)
    del plan

    def report(*words):
        try:
            os.write(report_fd, (" ".join((nonce,) + tuple(str(w).replace(" ", "_") for w in words)) + "\n").encode())
        except OSError:
            pass

    blocked_anywhere = {"sys.settrace", "sys.setprofile", "sys._current_frames", "gc.get_objects",
                        "gc.get_referrers", "gc.get_referents", "os.fork", "os.forkpty", "os.kill", "os.killpg",
                        "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
                        "signal.pthread_kill", "sys.addaudithook"}
    frame_attributes = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"}
    introspection = ("inspect.py", "traceback.py")
    busy = [False]
    flagged = set()

    def stack_has_student(start):
        frame = start
        while frame is not None:
            if frame.f_code.co_filename.startswith("<student"):
                return True
            frame = frame.f_back
        return False

    def nearest_is_student(start):
        frame = start
        while frame is not None and frame.f_code.co_filename.endswith(introspection):
            frame = frame.f_back
        return frame is not None and frame.f_code.co_filename.startswith("<student")

    def refuse(what):
        if what not in flagged:
            flagged.add(what)
            report("flag", what)
        raise RuntimeError(f"{what} is not allowed while grading")

    def hook(event, args):
        if busy[0]:
            return
        watched = (event in blocked_anywhere or event.startswith("ctypes.") or event == "sys._getframe"
                   or (event == "object.__getattr__" and len(args) > 1 and args[1] in frame_attributes)
                   or event == "open")
        if not watched:
            return
        busy[0] = True
        try:
            caller = sys._getframe(1)
            if event == "open":
                path = str(args[0]) if args and isinstance(args[0], (str, bytes)) else ""
                sensitive = path.startswith(("/proc/", "/dev/fd")) and any(
                    part in path for part in ("/mem", "/fd", "/environ", "/maps", "/task"))
                if sensitive and stack_has_student(caller):
                    refuse(f"open:{path}")
                return
            if event in ("sys._getframe", "object.__getattr__"):
                if nearest_is_student(caller):
                    refuse(event if event == "sys._getframe" else f"frame access ({args[1]})")
                return
            if stack_has_student(caller):
                refuse(event)
        finally:
            busy[0] = False

    sys.addaudithook(hook)
    try:
        import tqdm
        tqdm.tqdm.monitor_interval = 0  # no monitor thread: a new thread during a test is the student's
    except ImportError:
        pass
    guarded = [builtins, math, os]
    for name in ("numpy", "torch", "torch.nn", "torch.nn.functional", "torch.testing", "numpy.testing", "signal"):
        try:
            __import__(name)
            guarded.append(sys.modules[name])
        except ImportError:
            pass
    if "torch" in sys.modules:
        guarded.append(sys.modules["torch"].Tensor)
    if "numpy" in sys.modules:
        guarded.append(sys.modules["numpy"].ndarray)
    snapshot = [(m, dict(vars(m))) for m in guarded]

    def restore():
        changed = []
        for module, saved in snapshot:
            current = module.__dict__
            for name, value in saved.items():
                if current.get(name, value) is not value:
                    changed.append(f"{getattr(module, '__name__', '?')}.{name}")
                    try:
                        setattr(module, name, value)
                    except (AttributeError, TypeError):
                        pass
        return changed

    class CellTimeout(BaseException):
        pass

    def on_alarm(number, frame):
        raise CellTimeout()

    def get_ipython():
        return None

    namespace = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": get_ipython}
    threads = None
    for cell in cells:
        kind, name, source = cell["kind"], cell["name"], cell["source"]
        if kind == "student" and threads is None:
            threads = set(threading.enumerate())
        restore()
        sys.settrace(None)
        sys.setprofile(None)
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, cell_timeout)
        error = None
        try:
            exec(compile(source, f"<{kind}:{name}>", "exec"), namespace)
        except BaseException as exc:
            error = type(exc).__name__
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if kind != "test":
            continue
        patched = restore()
        started = [t for t in threading.enumerate() if threads is not None and t not in threads and t.is_alive()]
        for what in patched:
            if what not in flagged:
                flagged.add(what)
                report("flag", f"replaced:{what}")
        if started:
            report("flag", "started_a_thread")
        verdict = "pass" if error is None and not patched and not started else "fail"
        report("test", name, verdict, error or ("patched" if patched else "thread" if started else "-"))
    report("done")
    os._exit(0)


_kit_verify()
'''


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


def build_plan(submitted: Path, release: Path, source: Path) -> list[dict]:
    """The cells of the verification run, in release order, up to the last test cell.

    ``submitted`` is the repaired submission (its graded cells carry nbgrader metadata), ``release`` gives the
    provided cells and ``source`` the test cells with their hidden tests.
    """
    release_nb, source_nb = nbformat.read(release, 4), nbformat.read(source, 4)
    submitted_nb = nbformat.read(submitted, 4)
    tests = {_meta(c)["grade_id"]: c.source for c in source_nb.cells
             if _meta(c).get("grade") and not _meta(c).get("solution") and c.cell_type == "code"}
    provided = {_normalise(c.source) for c in release_nb.cells if c.cell_type == "code"}
    answers: dict[str, str] = {}
    added: dict[str | None, list[str]] = {}
    anchor = None
    for cell in submitted_nb.cells:
        if cell.cell_type != "code":
            continue
        grade_id = _meta(cell).get("grade_id")
        if grade_id:
            anchor = grade_id
            if _meta(cell).get("solution"):
                answers[grade_id] = cell.source
        elif _normalise(cell.source) not in provided:
            added.setdefault(anchor, []).append(cell.source)
    plan: list[dict] = []

    def student(name: str, text: str) -> None:
        plan.append({"kind": "student", "name": name, "source": definitions_only(_python(text))})

    for index, text in enumerate(added.get(None, [])):
        student(f"added-{index}", text)
    for cell in release_nb.cells:
        if cell.cell_type != "code":
            continue
        meta, grade_id = _meta(cell), _meta(cell).get("grade_id")
        if meta.get("solution"):
            student(grade_id, answers.get(grade_id, ""))
        elif meta.get("grade"):
            plan.append({"kind": "test", "name": grade_id, "source": _python(tests[grade_id])})
        else:
            plan.append({"kind": "provided", "name": cell.get("id", "cell"), "source": _python(cell.source)})
        for index, text in enumerate(added.get(grade_id, []) if grade_id else []):
            student(f"{grade_id}-added-{index}", text)
    last_test = max((i for i, c in enumerate(plan) if c["kind"] == "test"), default=-1)
    return plan[:last_test + 1]


def run_verification(plan: list[dict], workdir: Path, env: dict[str, str], timeout: float,
                     cell_timeout: float, pids_dir: Path) -> Verdicts:
    """Run ``plan`` in a fresh sandbox with ``workdir`` as its only writable folder; never waits past ``timeout``."""
    workdir.mkdir(parents=True, exist_ok=True)
    nonce = secrets.token_hex(16)
    payload = json.dumps({"nonce": nonce, "cells": plan, "cell_timeout": cell_timeout}).encode()
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
