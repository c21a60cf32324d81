"""The nbgrader course directory the kit grades in, and running nbgrader's own commands on it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder.config import KIT_ROOT, KitConfig
from autograder.repair import add_markers
from autograder.setup_cell import BUNDLE_URL_LINE

DEFAULT_COURSE_DIR = KIT_ROOT / "build" / "course"

# The grading kernel sends stderr to stdout: nbgrader scores 0 any test cell with stderr output, and a
# correct answer that triggers a library warning (or a progress bar) must not lose its points.
KERNEL_STDERR_TO_STDOUT = "--IPKernelApp.exec_lines=import sys; sys.stderr = sys.stdout"


def nbgrader_config_text(config: KitConfig) -> str:
    """The ``nbgrader_config.py`` of the course directory."""
    return "\n".join([
        "c = get_config()  # noqa: F821 (nbgrader provides it)",
        f"c.CourseDirectory.course_id = {config.course_id!r}",
        f"c.Execute.timeout = {config.cell_timeout_s}",
        f"c.Execute.extra_arguments = {[KERNEL_STDERR_TO_STDOUT]!r}",
        "c.Autograde.create_student = True",
        'c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}',
        'c.ClearSolutions.text_stub = "YOUR ANSWER HERE"',
        "",
    ])


def with_bundle_url(nb: nbformat.NotebookNode, url: str) -> nbformat.NotebookNode:
    """Write the bundle location into the setup cell (the first code cell) of a notebook."""
    first = next((c for c in nb.cells if c.cell_type == "code"), None)
    if first is None:
        raise ValueError("the notebook has no code cell")
    if BUNDLE_URL_LINE not in first.source:
        raise ValueError("the notebook's first cell is not the kit's setup cell (autograder/setup_cell.py)")
    first.source = first.source.replace(BUNDLE_URL_LINE, BUNDLE_URL_LINE.replace("None", json.dumps(url), 1))
    return nb


def prepare_course(config: KitConfig, root: Path = DEFAULT_COURSE_DIR) -> Path:
    """Create or refresh the course directory: config and source notebooks (with the bundle URL)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(nbgrader_config_text(config))
    for assignment in config.assignments:
        nb = nbformat.read(config.source_notebook(assignment), as_version=4)
        target = root / "source" / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(add_markers(with_bundle_url(nb, config.bundle_url)), target)
    return root


def nbgrader_env() -> dict[str, str]:
    """The environment nbgrader needs: this Python's ``bin/`` first on PATH (nbgrader runs ``alembic``)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    # The grading kernel imports the kit's helpers from this checkout, wherever the course directory is.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(KIT_ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("NBGRADER_EXECUTION", None)
    env.pop("KIT_FAST", None)
    return env


def run_nbgrader(args: list[str], root: Path, timeout: float | None = None,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in the course directory and return the finished process (output captured).

    On ``timeout`` the whole process group (nbgrader and what it started in its group) is killed and
    ``subprocess.TimeoutExpired`` is raised. Output goes to files, not pipes: a process that outlives nbgrader
    (a kernel in its own session, something it forked) and still holds them cannot make this wait.
    Sandboxed kernels are killed by the caller (:func:`autograder.sandbox.kill_recorded`).
    """
    cmd = [sys.executable, "-m", "nbgrader", *args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=root, env={**nbgrader_env(), **(env or {})}, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of nbgrader's group, timed out or not
            except ProcessLookupError:
                pass
            proc.wait()
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())


def generate_assignments(config: KitConfig, root: Path = DEFAULT_COURSE_DIR) -> list[Path]:
    """``nbgrader generate_assignment`` for every assignment; returns the release notebooks."""
    prepare_course(config, root)
    released = []
    for assignment in config.assignments:
        proc = run_nbgrader(["generate_assignment", assignment, "--force"], root)
        if proc.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n{proc.stdout}\n{proc.stderr}")
        released.append(root / "release" / assignment / f"{assignment}.ipynb")
    return released


CUT_NOTE = "\n[output cut by the grader: over {limit} characters in this cell]\n"


def _is_image(mime: str) -> bool:
    return mime.startswith("image/") or mime == "application/pdf"


def _output_sizes(output: dict) -> tuple[int, int]:
    """Characters an output takes in the notebook file: (text, images), every mime type counted."""
    if output.get("output_type") == "stream":
        return len(output.get("text", "")), 0
    if output.get("output_type") == "error":
        return sum(len(str(x)) for x in (output.get("ename", ""), output.get("evalue", ""),
                                         *output.get("traceback", []))), 0
    text = image = 0
    for mime, value in output.get("data", {}).items():
        size = len(value) if isinstance(value, str) else len(json.dumps(value))
        image, text = (image + size, text) if _is_image(mime) else (image, text + size)
    return text, image


def _cut_output(output: dict, text_room: int, image_room: int) -> dict | None:
    """What of ``output`` fits: a stream's first characters, an error's name and what of its message and traceback
    fits (it stays an error), a display's mime types that fit whole; None when nothing does."""
    kind = output.get("output_type")
    if kind == "stream":
        return {**output, "text": output.get("text", "")[:text_room]} if text_room > 0 else None
    if kind == "error":
        ename = str(output.get("ename", ""))[:200]
        evalue = str(output.get("evalue", ""))[:max(0, text_room - len(ename))]
        kept, used = [], len(ename) + len(evalue)
        for line in output.get("traceback", []):
            if used + len(line) > text_room:
                break
            kept.append(line)
            used += len(line)
        return {**output, "ename": ename, "evalue": evalue, "traceback": kept}
    data = {}
    for mime, value in output.get("data", {}).items():
        size = len(value) if isinstance(value, str) else len(json.dumps(value))
        room = image_room if _is_image(mime) else text_room
        if size <= room:
            data[mime] = value
            image_room, text_room = (image_room - size, text_room) if _is_image(mime) else (image_room,
                                                                                              text_room - size)
    return {**output, "data": data} if data else None


def cap_outputs(nb: nbformat.NotebookNode, limit: int, image_limit: int) -> int:
    """Keep at most ``limit`` characters of text and ``image_limit`` of images (base64) of output per code cell,
    whatever wrote it (the kernel's streams, display(), a rich repr, an error); what is past either is replaced by
    one note. Returns how many cells were cut."""
    cut = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code" or not cell.get("outputs"):
            continue
        text_used, image_used, kept = 0, 0, []
        for output in cell.outputs:
            text, image = _output_sizes(output)
            if text_used + text <= limit and image_used + image <= image_limit:
                kept.append(output)
                text_used, image_used = text_used + text, image_used + image
                continue
            part = _cut_output(output, limit - text_used, image_limit - image_used)
            if part is not None:
                kept.append(nbformat.from_dict(part))
            kept.append(nbformat.v4.new_output("stream", name="stdout", text=CUT_NOTE.format(limit=limit)))
            break
        if len(kept) != len(cell.outputs) or kept[-1] is not cell.outputs[-1]:
            cell.outputs = kept
            cut += 1
    return cut


def cap_notebook_file(path: Path, limit: int, image_limit: int) -> int:
    """:func:`cap_outputs` on the notebook file ``path`` (nbgrader's autograded notebook), rewritten in place
    (a new file renamed over it: nbgrader leaves it read-only). Returns how many cells were cut."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, encoding="utf-8") as f:
        nb = nbformat.read(f, as_version=4)
    cut = cap_outputs(nb, limit, image_limit)
    if cut:
        mode = os.stat(path, follow_symlinks=False).st_mode & 0o777
        fresh = path.with_name(f".{path.name}.capped")
        fresh.unlink(missing_ok=True)
        with open(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "w",
                  encoding="utf-8") as f:
            nbformat.write(nb, f)
        os.chmod(fresh, mode)
        os.replace(fresh, path)
    return cut
