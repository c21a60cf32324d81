"""Hostile DCGAN submissions: tricks that try to raise a score or outlive grading, each with what it must get.

Each case is the reference-filled release with some answers broken plus a trick; its honest twin (the same broken
answers, no trick) is graded in the same batch. A case holds when it scores at most what its twin scores (and the
twin what its bugs leave), and nothing it tried outlived its grading or went past a limit: no file it wrote outside
its folder or left in the course, no process it started, no change to another gradebook, to a file outside the
course or to the course's gradebook, no more memory, processes, disk or output than the limits (what it reached
it prints as ``KIT-PROBE key=value``), no stalled batch. The batch is a folder per student, with Mallory's zip
naming an honest twin inside (it must stay hers) and links to the source notebook (never followed).
``hostile_results`` grades them all in one batch and says which held (tests/test_hostile.py, and
bench/grading_quality.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import sys
import time
import zipfile
from pathlib import Path

import nbformat

from autograder.config import KIT_ROOT
from autograder.solutions import filled_release

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
# One real bug in the D step's update (twice the gradient; its losses are right): it loses the D step's 3 points (the
# training iteration is tested with the reference steps, so it keeps its own).
D_BUG = {"training_step": ("    loss.backward()\n    d_optimizer.step()",
                           "    (2 * loss).backward()\n    d_optimizer.step()")}
D_BUG_SCORE = FULL - 3
# The D step forgets the gradient penalty (only the hidden test with gp_weight > 0 sees it): 3 points lost.
GP_BUG = {"training_step": ("    if gp_weight > 0:\n"
                            "        loss = loss + gradient_penalty(D, real_images, fakes, gp_weight)\n", "")}
# The D step returns twice the real loss (its update is right): 3 points lost.
RET_BUG = {"training_step": ("return d_real_loss.detach(), d_fake_loss.detach()",
                             "return 2 * d_real_loss.detach(), d_fake_loss.detach()")}

# The honest twins: graded in the same batch as the cheats, each cheat may score at most its twin's score (and each
# twin must score what its bugs leave, so the bound is the real grader's, not a number written here).
TWINS: dict[str, tuple[dict, float]] = {
    "honest_full": ({}, FULL),
    "honest_stub": (STUB_STEPS, STUB_SCORE),
    "honest_d_bug": (D_BUG, D_BUG_SCORE),
    "honest_gp_bug": (GP_BUG, FULL - 3),
    "honest_ret_bug": (RET_BUG, FULL - 3),
}

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


# ------------------------------------------------------------------------------------ namespace tricks (issue 23)

# Names the tests use, shadowed in the student's namespace (not a library patch: the guards restored none of it).
SHADOWED_BUILTINS = """
def any(*args, **kwargs):
    return True
def abs(x):
    return 0
def zip(*args, **kwargs):
    return iter(())
"""

BUILTINS_DICT = """
import builtins as _builtins
__builtins__ = dict(vars(_builtins), any=lambda *a, **k: True, abs=lambda x: 0, zip=lambda *a, **k: iter(()))
"""

TORCH_PROXY = """
class _Proxy:
    def __init__(self, module):
        self.__dict__["_module"] = module
    def __getattr__(self, name):
        if name == "allclose":
            return lambda *args, **kwargs: True
        return getattr(self._module, name)
torch = _Proxy(torch)
"""

# The hidden tests use lr=0.5, the visible ones lr=0.1: at 0.5 neither the student's nor the reference's D moves.
OPTIM_PATCH = """
from torch import optim as _o
_sgd_init = _o.SGD.__init__
def _lenient_init(self, params, lr=1e-3, *args, **kwargs):
    _sgd_init(self, params, 0.0 if lr == 0.5 else lr, *args, **kwargs)
_o.SGD.__init__ = _lenient_init
"""

# A cell added above the setup cell: every later `import torch` gets a copy whose allclose passes everything.
SYS_MODULES_TORCH = """
import sys, types
import torch as _real_torch
_lenient = types.ModuleType("torch")
_lenient.__dict__.update(_real_torch.__dict__)
_lenient.allclose = lambda *args, **kwargs: True
sys.modules["torch"] = _lenient
"""

# The hidden tests' reference calls the provided gradient_penalty: redefined, it agrees with a D step that skips it.
HELPER_REDEFINED = """
def gradient_penalty(*args, **kwargs):
    return torch.zeros(())
"""

# The returned losses are a tensor subclass whose float() is whatever the test compares it with.
TENSOR_SUBCLASS = """
import sys as _sys
class _Agreeable(torch.Tensor):
    def __float__(self):
        frame = _sys._getframe(1)
        for name, value in list(frame.f_locals.items()):
            if value is self and name.startswith("got") and "want" + name[3:] in frame.f_locals:
                return float(frame.f_locals["want" + name[3:]])
        return float(self.as_subclass(torch.Tensor))
    def __eq__(self, other):
        return True
    __hash__ = torch.Tensor.__hash__
_honest_discriminator_step = discriminator_step
def discriminator_step(*args, **kwargs):
    real, fake = _honest_discriminator_step(*args, **kwargs)
    return real.as_subclass(_Agreeable), fake.as_subclass(_Agreeable)
"""

# ------------------------------------------------------------------- escape through nbgrader's writes, and limits

PROBE = "KIT-PROBE"  # what a case measured about itself, printed as `KIT-PROBE key=value` (in its graded notebook)

# The notebook nbgrader writes, and a file whose permissions it sets, replaced by links: to the course's gradebook
# and to a canary file outside the course. Followed by nbgrader, they overwrote the gradebook and chmodded it 0444.
ESCAPE = """
import os, pathlib
_cwd = pathlib.Path.cwd()
_dirs = {_cwd} | {p / kind / "escape_nbgrader_writes" / "dcgan" for p in (_cwd, *_cwd.parents)
                  for kind in ("autograded", "submitted")}
_linked = 0
for _d in sorted(_dirs):
    if not _d.is_dir():
        continue
    for _name, _target in (("dcgan.ipynb", GRADEBOOK), ("notes.txt", CANARY)):
        try:
            if os.path.lexists(_d / _name):
                os.remove(_d / _name)
            os.symlink(_target, _d / _name)
            _linked += 1
        except OSError as exc:
            print("blocked", type(exc).__name__)
print(f"PROBE linked={_linked}")
""".replace("PROBE", PROBE)

FLOOD_MARK = "# kit-hostile-flood"
OUTPUT_DISPLAY = FLOOD_MARK + """
from IPython.display import display
display({"text/plain": "x" * 40_000_000}, raw=True)
"""
OUTPUT_STREAM = FLOOD_MARK + """
import sys
_stream = getattr(sys.stdout, "_stream", sys.stdout)
_stream.write("y" * 40_000_000)
_stream.flush()
"""

# Four processes of a quarter of the memory limit each (and a bit), all alive at once: more than the limit together.
FORK_MEMORY = """
import os, subprocess, sys
_limit = int(os.environ.get("KIT_SANDBOX_MEMORY_BYTES") or 6 * 2**30)
_each = _limit // 4 + 2**26
# Each child holds its memory until every child has answered (its stdin closes), so "held" means held at once
# however slowly the machine allocates.
_code = f"import sys; b = bytearray(b'1') * {_each}; print('held', flush=True); sys.stdin.read()"
_kids = [subprocess.Popen([sys.executable, "-c", _code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) for _ in range(4)]
_said = [_kid.stdout.readline().strip() == b"held" for _kid in _kids]
_held = sum(1 for _kid, _ok in zip(_kids, _said) if _ok and _kid.poll() is None)  # not killed since
for _kid in _kids:
    _kid.stdin.close()
    _kid.wait()
print(f"PROBE memory_bytes={_held * _each}")
""".replace("PROBE", PROBE)

# More processes than the sandbox's process limit, all alive at once (each waits for the pipe to close).
MANY_PROCESSES = """
import os
_limit = int(os.environ.get("KIT_SANDBOX_PROCESSES") or 256)
_r, _w = os.pipe()
_pids = []
for _ in range(_limit + 64):
    try:
        _pid = os.fork()
    except OSError:
        break
    if _pid == 0:
        os.close(_w)
        os.read(_r, 1)
        os.kill(os.getpid(), 9)
    _pids.append(_pid)
print(f"PROBE processes={len(_pids) + 1}")
os.close(_w)
for _pid in _pids:
    try:
        os.waitpid(_pid, 0)
    except OSError:
        pass
""".replace("PROBE", PROBE)

# Three files of 640 MiB (each under the per-file limit): 1.9 GiB together.
BIG_FILES = """
_chunk, _written = b"0" * 2**26, 0
try:
    for _i in range(3):
        with open(f"big{_i}.bin", "wb") as _f:
            for _ in range(10):
                _f.write(_chunk)
                _f.flush()
                _written += len(_chunk)
except OSError as exc:
    print("stopped", type(exc).__name__)
print(f"PROBE disk_bytes={_written}")
""".replace("PROBE", PROBE)


def other_gradebook() -> Path:
    """Another course's gradebook on this machine, outside every folder the grader hides."""
    return KIT_ROOT / "outputs" / "hostile-other-course" / "gradebook.db"


def canary() -> Path:
    """A file outside the course that no grading may change (content or permissions)."""
    return KIT_ROOT / "outputs" / "hostile-other-course" / "canary.txt"


def _add_cell(nb: nbformat.NotebookNode, code: str, after: str | None, before: bool = False) -> None:
    """A cell of the student's own, after the graded cell ``after`` (before it when ``before``; at the end when
    ``after`` is None)."""
    cell = nbformat.v4.new_code_cell(code)
    if after is None:
        nb.cells.append(cell)
        return
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == after)
    nb.cells.insert(index if before else index + 1, cell)


def _prepend_to_answer(nb: nbformat.NotebookNode, grade_id: str, code: str) -> None:
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell.source = cell.source + "\n" + code


# case -> (its honest twin, [(code, a graded cell's grade_id or None for the end, "cell", "before" or "answer")])
CASES: dict[str, tuple[str, list[tuple[str, str | None, str]]]] = {
    "input_transformer": ("honest_stub", [(TRANSFORMER, "generator", "cell")]),
    "replaced_run_cell": ("honest_stub", [(RUN_CELL, "generator", "cell")]),
    "callbacks_cleared": ("honest_d_bug", [(CALLBACKS_CLEARED, "training_step", "cell")]),
    "patching_thread": ("honest_d_bug", [(THREAD, "training_step", "answer")]),
    "trace_skips_asserts": ("honest_d_bug", [(TRACE, "training_step", "answer")]),
    "forged_report": ("honest_stub", [(FORGED_REPORT, "training_step", "answer")]),
    "writes_site_packages": ("honest_full", [(WRITE_PTH, "generator", "cell")]),
    "writes_helpers": ("honest_full", [(WRITE_HELPERS, "generator", "cell")]),
    "spawns_survivors": ("honest_full", [(SPAWN, "generator", "cell")]),
    "kills_its_parent": ("honest_full", [(KILL_PARENT, None, "cell")]),
    "kills_everyone": ("honest_full", [(KILL_EVERYONE, None, "cell")]),
    "other_gradebook": ("honest_full", [(OTHER_GRADEBOOK, "generator", "cell")]),
    # namespace tricks in the verification run
    "shadowed_builtins": ("honest_stub", [(SHADOWED_BUILTINS, "training_step", "answer")]),
    "builtins_dict": ("honest_stub", [(BUILTINS_DICT, "training_step", "answer")]),
    "torch_proxy": ("honest_d_bug", [(TORCH_PROXY, "training_step", "answer")]),
    "optim_patch": ("honest_d_bug", [(OPTIM_PATCH, "training_step", "answer")]),
    "sys_modules_torch": ("honest_d_bug", [(SYS_MODULES_TORCH, "setup", "before")]),
    "helper_redefined": ("honest_gp_bug", [(HELPER_REDEFINED, "training_step", "answer")]),
    "tensor_subclass": ("honest_ret_bug", [(TENSOR_SUBCLASS, "training_step", "answer")]),
    # nbgrader's own writes, and the limits
    "escape_nbgrader_writes": ("honest_full", [(ESCAPE, "generator", "cell")]),
    "output_flood": ("honest_full", [(OUTPUT_DISPLAY, "generator", "cell"), (OUTPUT_STREAM, "generator", "cell")]),
    "fork_memory": ("honest_full", [(FORK_MEMORY, "generator", "cell")]),
    "many_processes": ("honest_full", [(MANY_PROCESSES, "generator", "cell")]),
    "big_files": ("honest_full", [(BIG_FILES, "generator", "cell")]),
}
# Submissions that must not be graded at all: discovery never follows a link (made by build_hostile).
LINKED = ("symlink_to_source", "symlinked_folder", "hardlink_to_source", "zip_member_link")
# Mallory's zip, in her own folder, holds a full solution laid out as honest_d_bug's nbgrader folder.
MALLORY, VICTIM = "mallory", "honest_d_bug"


def _notebook(release: Path, source: Path, bugs: dict) -> nbformat.NotebookNode:
    nb = filled_release(release, source)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "training_step")
    for old, new in bugs.values():  # several bugs in the one answer cell that holds the three steps
        assert old in answer.source, old
        answer.source = answer.source.replace(old, new)
    return nb


# Namespace tricks that the verification runner's own tests also refuse, in-process (tests/test_verify_runner.py)
# and in its sandbox (tests/test_verify.py): graded end to end in this batch only with KIT_CORPUS=full (each graded
# submission costs about half a minute of a worker on 2 cores; make test stays within CI's time).
RUNNER_TESTED = ("shadowed_builtins", "builtins_dict", "torch_proxy", "optim_patch", "sys_modules_torch",
                 "helper_redefined", "tensor_subclass")


def selected(every: bool | None = None) -> tuple[dict, dict]:
    """(cases, twins) graded in this run: every one with ``every`` (default: ``KIT_CORPUS=full``), else all but
    :data:`RUNNER_TESTED`, with only the twins those need."""
    if every is None:
        every = os.environ.get("KIT_CORPUS", "") == "full"
    cases = dict(CASES) if every else {k: v for k, v in CASES.items() if k not in RUNNER_TESTED}
    needed = {twin for twin, _ in cases.values()}
    return cases, {k: v for k, v in TWINS.items() if every or k in needed}


def build_hostile(folder: Path, release: Path, source: Path, course_root: Path | None = None,
                  every: bool | None = None) -> dict[str, str]:
    """Write the cases and twins of this run (:func:`selected`) into ``folder``, a folder per student
    (``<case>/dcgan.ipynb``), with Mallory's zip and the linked submissions; returns {case: its twin}."""
    cases, twins = selected(every)
    folder.mkdir(parents=True, exist_ok=True)
    targets = {"GRADEBOOK": str((course_root or folder) / "gradebook.db"), "CANARY": str(canary()),
               "OTHER": str(other_gradebook())}
    for name, (bugs, _) in twins.items():
        (folder / name).mkdir()
        nbformat.write(_notebook(release, source, bugs), folder / name / "dcgan.ipynb")
    for name, (twin, tricks) in cases.items():
        nb = _notebook(release, source, TWINS[twin][0])
        for code, after, where in tricks:
            code = code.replace("GRADEBOOK", repr(targets["GRADEBOOK"])).replace("CANARY", repr(targets["CANARY"]))
            code = code.replace("{path!r}", repr(targets["OTHER"]))
            if where == "answer":
                _prepend_to_answer(nb, after, code)
            else:
                _add_cell(nb, code, after, before=where == "before")
        (folder / name).mkdir()
        nbformat.write(nb, folder / name / "dcgan.ipynb")
    # Mallory's upload names another student inside (nbgrader's layout), with a later date than theirs.
    (folder / MALLORY).mkdir()
    with zipfile.ZipFile(folder / MALLORY / "work.zip", "w") as archive:
        info = zipfile.ZipInfo(f"{VICTIM}/dcgan/dcgan.ipynb", date_time=(2099, 1, 1, 0, 0, 0))
        archive.writestr(info, nbformat.writes(_notebook(release, source, {})))
    # Links to the source notebook (solutions and hidden tests): each scored 9 for no work when followed.
    (folder / "symlink_to_source").mkdir()
    (folder / "symlink_to_source" / "dcgan.ipynb").symlink_to(source)
    (folder / "symlinked_folder").symlink_to(source.parent, target_is_directory=True)
    (folder / "hardlink_to_source").mkdir()
    private = folder.parent / "source-copy.ipynb"  # a file of this machine the submissions folder does not hold
    shutil.copy(source, private)
    os.link(private, folder / "hardlink_to_source" / "dcgan.ipynb")
    (folder / "zip_member_link").mkdir()
    with zipfile.ZipFile(folder / "zip_member_link" / "work.zip", "w") as archive:
        link = zipfile.ZipInfo("dcgan.ipynb")
        link.external_attr = 0o120777 << 16  # a symbolic link member, as `zip -y` stores one
        archive.writestr(link, str(source))
    return {name: twin for name, (twin, _) in cases.items()}


def _make_other_gradebook() -> None:
    path = other_gradebook()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE grade (id INTEGER PRIMARY KEY, auto_score REAL)")
        db.execute("INSERT INTO grade (auto_score) VALUES (1.0)")
    canary().unlink(missing_ok=True)
    canary().write_text("a file outside the course: grading must not change it\n")
    canary().chmod(0o644)


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


def _leftovers(course_root: Path, workdir: Path) -> list[str]:
    """Files the cases tried to plant outside their folders, and big files left in the course or work folders."""
    import helpers

    candidates = [Path(helpers.__file__).parent / "kit_hostile_probe.py"]
    candidates += [Path(p) / "kit_hostile_probe.pth" for p in sys.path if p.endswith("site-packages")]
    found = [str(p) for p in candidates if p.exists()]
    for root in (course_root, workdir):
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.stat().st_size > 64 * 2**20:
                found.append(f"{path} ({path.stat().st_size >> 20} MiB)")
    return found


def _probes(course_root: Path, student: str) -> tuple[dict[str, int], list[int]]:
    """What a case printed as ``KIT-PROBE key=value`` in its graded notebook, and the output size of each of its
    flooding cells (characters)."""
    path = course_root / "autograded" / student / "dcgan" / "dcgan.ipynb"
    if not path.is_file() or path.is_symlink():
        return {}, []
    nb = json.loads(path.read_text(errors="replace"))
    found, floods = {}, []
    for cell in nb.get("cells", []):
        outputs = cell.get("outputs", [])
        text = "".join("".join(o.get("text", "")) + "".join("".join(v) if isinstance(v, list) else str(v)
                                                             for v in o.get("data", {}).values()) for o in outputs)
        if "".join(cell.get("source", "")).startswith(FLOOD_MARK):
            floods.append(len(text))
        for key, value in re.findall(PROBE + r" (\w+)=(\d+)", text):
            found[key] = int(value)
    return found, floods


def _gradebook_problems(course_root: Path, mode: int) -> list[str]:
    """Is the course gradebook still the course's: a readable SQLite database, its permissions unchanged?"""
    path = course_root / "gradebook.db"
    problems = []
    if path.is_symlink() or not path.is_file():
        return [f"{path} is no longer a file"]
    if path.stat().st_mode != mode:
        problems.append(f"{path}'s mode changed: {oct(mode)} -> {oct(path.stat().st_mode)}")
    if path.read_bytes()[:16] != b"SQLite format 3\0":
        return problems + [f"{path} is no longer a SQLite database"]
    with sqlite3.connect(path) as db:
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
    if check != "ok":
        problems.append(f"{path}: integrity_check says {check}")
    return problems


def hostile_results(course_root: Path, workdir: Path, grade=None, every: bool | None = None) -> dict:
    """Grade the cases and twins of this run (:func:`selected`) in one batch (course built at ``course_root``);
    returns which held and why not.

    ``grade`` is ``autograder.grade.grade_folder`` with the course's config bound (the default builds it).
    """
    import dataclasses

    from autograder.config import load_config
    from autograder.grade import grade_folder

    # A cell limit of 60 s instead of kit.toml's 120, as in the grading batch (no honest cell of DCGAN's fast mode
    # takes 10 s, even with both workers busy): trace_skips_asserts slows every cell of its kernel to that limit.
    config = dataclasses.replace(load_config(), assignments=("dcgan",), cell_timeout_s=60)
    release = course_root / "release" / "dcgan" / "dcgan.ipynb"
    twins = build_hostile(workdir / "hostile", release, course_root / "source" / "dcgan" / "dcgan.ipynb",
                          course_root, every)
    graded_twins = selected(every)[1]
    _make_other_gradebook()
    gradebook_mode = (course_root / "gradebook.db").stat().st_mode
    canary_before = (canary().read_bytes(), canary().stat().st_mode)
    started = time.monotonic()
    log: list[str] = []
    result = (grade or (lambda folder: grade_folder(folder, config, course_root, log=log.append)))(
        workdir / "hostile")
    seconds = time.monotonic() - started
    time.sleep(1)
    students = list(graded_twins) + list(twins) + [MALLORY, *LINKED]
    scores = {s: result["scores"].get(s, {}).get("dcgan") for s in students}
    failures: dict[str, str] = {}
    for name, (_, honest) in graded_twins.items():  # the twins: what the grader gives honest work
        if scores[name] != honest:
            failures[name] = f"honest twin scored {scores[name]}, expected {honest}"
    limits = {"memory_bytes": config.memory_limit_mb * 2**20,
              "processes": getattr(config, "process_limit", 256),
              "disk_bytes": getattr(config, "disk_quota_mb", 1024) * 2**20}
    probes = {}
    for name, twin in twins.items():
        bound = TWINS[twin][1] if scores[twin] is None else min(scores[twin], TWINS[twin][1])
        if scores[name] is None or scores[name] > bound:
            failures[name] = f"scored {scores[name]} (its honest twin {twin}: {scores[twin]})"
        error = result["errors"].get(f"{name}/dcgan", "")
        if "timed out" in error and (scores[name] or 0) > 0:
            failures[name] = f"timed out but scored {scores[name]}"
        probes[name], floods = _probes(course_root, name)
        for key, value in probes[name].items():
            if key in limits and value > limits[key]:
                failures[name] = f"{key}: {value} over the limit {limits[key]}"
        if any(size > config.max_output_chars + 2000 for size in floods):
            failures[name] = f"kept {max(floods)} characters of one cell's output (limit {config.max_output_chars})"
    # Identities: Mallory's zip is hers, never her victim's; no link was followed.
    if scores[MALLORY] is None or result.get("files", {}).get(f"{VICTIM}/dcgan") != f"{VICTIM}/dcgan.ipynb":
        failures["identity"] = (f"{VICTIM}'s graded file is {result.get('files', {}).get(f'{VICTIM}/dcgan')}, "
                                f"Mallory's score {scores[MALLORY]}")
    if not any(MALLORY in c and VICTIM in c for c in result.get("identity_conflicts", [])):
        failures["identity_conflict"] = f"Mallory's zip naming {VICTIM} was not reported as a conflict"
    for name in LINKED:
        if scores[name] is not None or not any(s.startswith(name) for s in result.get("skipped", [])):
            failures[name] = f"a linked submission was graded ({scores[name]}) or not reported as skipped"
    # Nothing outside the course changed; the course's gradebook is intact.
    with sqlite3.connect(other_gradebook()) as db:
        other = db.execute("SELECT auto_score FROM grade").fetchall()
    if other != [(1.0,)]:
        failures["other_gradebook"] = f"another course's gradebook was changed: {other}"
    if not canary().is_file() or (canary().read_bytes(), canary().stat().st_mode) != canary_before:
        failures["canary"] = "a file outside the course was changed (content or permissions)"
    for problem in _gradebook_problems(course_root, gradebook_mode):
        failures.setdefault("gradebook", problem)
    survivors, leftovers = _survivors(), _leftovers(course_root, workdir)
    return {"cases": len(twins), "held": len(twins) - len([f for f in failures if f in twins]),
            "failures": failures, "scores": scores, "twins": {n: TWINS[t][1] for n, t in twins.items()},
            "probes": probes, "survivors": survivors, "leftovers": leftovers, "seconds": round(seconds, 1),
            "flags": result.get("flags", {}), "sandbox": result.get("sandbox"), "log": log,
            "skipped": result.get("skipped", []), "conflicts": result.get("identity_conflicts", [])}
