"""Hostile DCGAN submissions: tricks that try to raise a score or outlive grading, each with what it must get.

Each case is the reference-filled release with some answers broken (so the honest score is known) plus a trick.
A case holds when its score is at most its honest score and nothing it tried outlived its grading: no file it
wrote outside its folder, no process it started, no change to another gradebook, no stalled batch.
``hostile_results`` grades them all in one batch and says which held (tests/test_hostile.py, and
bench/grading_quality.py).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from pathlib import Path

import nbformat

from autograder.config import KIT_ROOT
from tests.submissions import filled_release

FULL = 9.0  # generator 2, D step 3, G step 2, training iteration 2
MARK = "kit-hostile-probe"  # in the command line of every process a case starts, to find survivors

# An honest but unfinished training step (the three functions stubbed): the generator earns its 2 points only.
STUB_STEPS = {"training_step": ("d_optimizer.zero_grad()\n    fakes = G(noise).detach()",
                                "return torch.zeros(()), torch.zeros(())\n    fakes = G(noise).detach()"),
              "generator_step": ("g_optimizer.zero_grad()\n    g_loss", "return torch.zeros(())\n    g_loss"),
              "training_iteration": ("    for _ in range(d_train_iters):\n",
                                     "    return {'D_real': torch.zeros(()), 'D_fake': torch.zeros(()), "
                                     "'G': torch.zeros(())}\n    for _ in range(d_train_iters):\n")}
STUB_SCORE = 2.0
# One real bug in the D step: it loses the D step's 3 points (the training iteration is tested with the
# reference steps, so it keeps its own).
D_BUG = {"training_step": ("d_real_loss = 0.5 * ((D(real_images) - 1) ** 2).mean()",
                           "d_real_loss = ((D(real_images) - 1) ** 2).mean()")}
D_BUG_SCORE = FULL - 3

TRANSFORMER = """
ip = get_ipython()
def _blank_tests(lines):
    return [] if any("assert" in line for line in lines) else lines
ip.input_transformers_post.append(_blank_tests)
ip.input_transformers_cleanup.append(_blank_tests)
"""

RUN_CELL = """
_ip = get_ipython()
_real_run_cell = _ip.run_cell
def _run_cell(raw_cell, *args, **kwargs):
    if "assert" in raw_cell:
        raw_cell = "pass"
    return _real_run_cell(raw_cell, *args, **kwargs)
_ip.run_cell = _run_cell
_real_async = _ip.run_cell_async
async def _run_cell_async(raw_cell, *args, **kwargs):
    if "assert" in raw_cell:
        raw_cell = "pass"
    return await _real_async(raw_cell, *args, **kwargs)
_ip.run_cell_async = _run_cell_async
"""

CALLBACKS_CLEARED = """
_ip = get_ipython()
for _event in list(_ip.events.callbacks):
    _ip.events.callbacks[_event].clear()
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
"""

THREAD = """
import threading, time as _time
def _keep_patching():
    while True:
        torch.allclose = lambda *args, **kwargs: True
        _time.sleep(0.001)
_patcher = threading.Thread(target=_keep_patching, daemon=True).start()
"""

TRACE = """
import sys, linecache
def _skip_asserts(frame, event, arg):
    if event == "line":
        line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
        if line.startswith("assert"):
            try:
                frame.f_lineno = frame.f_lineno + 1
            except ValueError:
                pass
    return _skip_asserts
def _install(frame, event, arg):
    frame.f_trace = _skip_asserts
    return _skip_asserts
_tracing = sys.settrace(_install)
"""

FORGED_REPORT = """
import os
def generator_step(D, G, g_optimizer, noise):
    for fd in range(1, 12):
        for name in ("test_generator", "test_discriminator_step", "test_generator_step", "test_training_iteration"):
            try:
                os.write(fd, f"0123456789abcdef test {name} pass -\\n".encode())
            except OSError:
                pass
    return torch.zeros(())
"""

WRITE_PTH = """
import site, os
for _folder in site.getsitepackages():
    try:
        open(os.path.join(_folder, "kit_hostile_probe.pth"), "w").write("import os; os.environ['KIT_PWNED'] = '1'\\n")
    except OSError as exc:
        print("blocked", type(exc).__name__)
"""

WRITE_HELPERS = """
import helpers, os
try:
    open(os.path.join(os.path.dirname(helpers.__file__), "kit_hostile_probe.py"), "w").write("PWNED = True\\n")
except OSError as exc:
    print("blocked", type(exc).__name__)
"""

SPAWN = """
import os, subprocess, sys
_probe = "import time; time.sleep(600)  # MARK"
subprocess.Popen([sys.executable, "-c", _probe], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", _probe])
    os._exit(0)
""".replace("MARK", MARK)

KILL_PARENT = """
import os, signal
os.kill(os.getppid(), signal.SIGKILL)
"""

KILL_EVERYONE = """
import os, signal
for _pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
    if _pid != os.getpid():
        try:
            os.kill(_pid, signal.SIGKILL)
        except OSError:
            pass
"""

OTHER_GRADEBOOK = """
import sqlite3
try:
    _db = sqlite3.connect({path!r})
    _db.execute("UPDATE grade SET auto_score = 1000")
    _db.commit()
except Exception as exc:
    print("blocked", type(exc).__name__)
"""


def other_gradebook() -> Path:
    """Another course's gradebook on this machine, outside every folder the grader hides."""
    return KIT_ROOT / "outputs" / "hostile-other-course" / "gradebook.db"


def _add_cell(nb: nbformat.NotebookNode, code: str, after: str | None) -> None:
    """A cell of the student's own, after the graded cell ``after`` (at the end when None)."""
    cell = nbformat.v4.new_code_cell(code)
    if after is None:
        nb.cells.append(cell)
        return
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == after)
    nb.cells.insert(index + 1, cell)


def _prepend_to_answer(nb: nbformat.NotebookNode, grade_id: str, code: str) -> None:
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell.source = cell.source + "\n" + code


# case -> (answer bugs, [(code, after grade_id or None for the end, "cell" or "answer")], honest score)
CASES: dict[str, tuple[dict, list[tuple[str, str | None, str]], float]] = {
    "input_transformer": (STUB_STEPS, [(TRANSFORMER, "generator", "cell")], STUB_SCORE),
    "replaced_run_cell": (STUB_STEPS, [(RUN_CELL, "generator", "cell")], STUB_SCORE),
    "callbacks_cleared": (D_BUG, [(CALLBACKS_CLEARED, "training_step", "cell")], D_BUG_SCORE),
    "patching_thread": (D_BUG, [(THREAD, "training_step", "answer")], D_BUG_SCORE),
    "trace_skips_asserts": (D_BUG, [(TRACE, "training_step", "answer")], D_BUG_SCORE),
    "forged_report": (STUB_STEPS, [(FORGED_REPORT, "training_step", "answer")], STUB_SCORE),
    "writes_site_packages": ({}, [(WRITE_PTH, "generator", "cell")], FULL),
    "writes_helpers": ({}, [(WRITE_HELPERS, "generator", "cell")], FULL),
    "spawns_survivors": ({}, [(SPAWN, "generator", "cell")], FULL),
    "kills_its_parent": ({}, [(KILL_PARENT, None, "cell")], FULL),
    "kills_everyone": ({}, [(KILL_EVERYONE, None, "cell")], FULL),
    "other_gradebook": ({}, [(OTHER_GRADEBOOK.format(path=str(other_gradebook())), "generator", "cell")], FULL),
}


def build_hostile(folder: Path, release: Path, source: Path) -> dict[str, float]:
    """Write every case into ``folder`` as ``<case>_dcgan.ipynb``; returns {student: highest allowed score}."""
    folder.mkdir(parents=True, exist_ok=True)
    allowed = {}
    for name, (bugs, tricks, honest) in CASES.items():
        nb = filled_release(release, source)
        answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "training_step")
        for old, new in bugs.values():  # several bugs in the one answer cell that holds the three steps
            assert old in answer.source, old
            answer.source = answer.source.replace(old, new)
        for code, after, where in tricks:
            if where == "answer":
                _prepend_to_answer(nb, after, code)
            else:
                _add_cell(nb, code, after)
        nbformat.write(nb, folder / f"{name}_dcgan.ipynb")
        allowed[name] = honest
    return allowed


def _make_other_gradebook() -> None:
    path = other_gradebook()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE grade (id INTEGER PRIMARY KEY, auto_score REAL)")
        db.execute("INSERT INTO grade (auto_score) VALUES (1.0)")


def _survivors() -> list[str]:
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if MARK in cmdline and int(pid) != os.getpid():
            found.append(f"{pid}: {cmdline[:80]}")
    return found


def _leftovers() -> list[str]:
    """Files the cases tried to plant outside their folders."""
    import helpers

    candidates = [Path(helpers.__file__).parent / "kit_hostile_probe.py"]
    candidates += [Path(p) / "kit_hostile_probe.pth" for p in sys.path if p.endswith("site-packages")]
    return [str(p) for p in candidates if p.exists()]


def hostile_results(course_root: Path, workdir: Path, grade=None) -> dict:
    """Grade every case in one batch (course built at ``course_root``); returns which held and why not.

    ``grade`` is ``autograder.grade.grade_folder`` with the course's config bound (the default builds it).
    """
    import dataclasses

    from autograder.config import load_config
    from autograder.grade import grade_folder

    config = dataclasses.replace(load_config(), assignments=("dcgan",))
    release = course_root / "release" / "dcgan" / "dcgan.ipynb"
    allowed = build_hostile(workdir / "hostile", release, config.source_notebook("dcgan"))
    _make_other_gradebook()
    started = time.monotonic()
    log: list[str] = []
    result = (grade or (lambda folder: grade_folder(folder, config, course_root, log=log.append)))(
        workdir / "hostile")
    seconds = time.monotonic() - started
    time.sleep(1)
    scores = {s: result["scores"].get(s, {}).get("dcgan") for s in allowed}
    failures = {}
    for name, limit in allowed.items():
        if scores[name] is None or scores[name] > limit:
            failures[name] = f"scored {scores[name]} (honest score {limit})"
        error = result["errors"].get(f"{name}/dcgan", "")
        if "timed out" in error and (scores[name] or 0) > 0:
            failures[name] = f"timed out but scored {scores[name]}"
    with sqlite3.connect(other_gradebook()) as db:
        other = db.execute("SELECT auto_score FROM grade").fetchall()
    if other != [(1.0,)]:
        failures["other_gradebook"] = f"another course's gradebook was changed: {other}"
    survivors, leftovers = _survivors(), _leftovers()
    return {"cases": len(allowed), "held": len(allowed) - len(failures), "failures": failures,
            "scores": scores, "allowed": allowed, "survivors": survivors, "leftovers": leftovers,
            "seconds": round(seconds, 1), "flags": result.get("flags", {}), "sandbox": result.get("sandbox"),
            "log": log}
