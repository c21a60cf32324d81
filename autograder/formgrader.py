"""``python -m autograder formgrade``: nbgrader's formgrader on the kit's course directory, to grade written answers.

In nbgrader 0.9 the formgrader is a Jupyter server extension (``nbgrader.server_extensions.formgrader``), reached
from a running Jupyter server (``nbgrader formgrade`` only says so). This starts ``jupyter server`` with that
extension (and Notebook 7, for its "open live notebook" links) on the course directory (``build/course``): root
directory and working directory the course, so nbgrader reads its ``nbgrader_config.py``; listening on 127.0.0.1
only, with a random token unless one is given; no terminals, no JupyterLab, no browser opened unless asked.
Grades and comments typed there go into ``build/course/gradebook.db``, which ``export`` and ``feedback`` read.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from autograder.course import nbgrader_env

EXTENSIONS = {
    "nbgrader.server_extensions.formgrader": True,
    "notebook": True, "notebook_shim": True,
    "nbgrader.server_extensions.assignment_list": False, "nbgrader.server_extensions.course_list": False,
    "nbgrader.server_extensions.validate_assignment": False,
    "jupyterlab": False, "jupyter_lsp": False, "jupyter_server_terminals": False,
}


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Formgrader:
    """A Jupyter server with nbgrader's formgrader on a course directory (a context manager: stopped on exit)."""

    def __init__(self, root: Path, port: int | None = None, token: str | None = None,
                 open_browser: bool = False, log: Path | None = None) -> None:
        self.root = Path(root).resolve()
        if not (self.root / "gradebook.db").is_file():
            raise FileNotFoundError(f"no gradebook in {self.root}: grade first (python -m autograder grade)")
        self.port = port or free_port()
        self.token = token or secrets.token_urlsafe(24)
        self.open_browser = open_browser
        self.log = log
        self.proc: subprocess.Popen | None = None
        self._config_dir: tempfile.TemporaryDirectory | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The formgrader's first page, with the token that logs the browser in."""
        return f"{self.base}/formgrader?token={self.token}"

    def command(self, config_file: Path) -> list[str]:
        return [sys.executable, "-m", "jupyter_server", f"--config={config_file}",
                f"--ServerApp.root_dir={self.root}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0", f"--ServerApp.open_browser={self.open_browser}",
                "--ServerApp.terminals_enabled=False"] + (["--ServerApp.allow_root=True"] if os.geteuid() == 0 else [])

    def start(self, timeout: float = 90.0) -> Formgrader:
        self._config_dir = tempfile.TemporaryDirectory(prefix="kit-formgrader-")
        config_file = Path(self._config_dir.name) / "jupyter_server_config.json"
        config_file.write_text(json.dumps({"ServerApp": {"jpserver_extensions": EXTENSIONS},
                                           "IdentityProvider": {"token": self.token}}))
        env = nbgrader_env()
        out = open(self.log, "w") if self.log else subprocess.DEVNULL  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(self.command(config_file), cwd=self.root, env=env, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited with {self.proc.returncode}"
                                   + (f"; see {self.log}" if self.log else ""))
            try:
                request = urllib.request.Request(f"{self.base}/formgrader/api/status",
                                                 headers={"Authorization": f"token {self.token}"})
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"the formgrader did not answer within {timeout:g} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 15)
                self.proc.wait(timeout=15)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, 9)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        if self._config_dir is not None:
            self._config_dir.cleanup()
            self._config_dir = None

    def __enter__(self) -> Formgrader:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def submission_url(base: str, root: Path, assignment: str, student: str, notebook: str | None = None) -> str:
    """The formgrader's manual grading page of one student's notebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(root) / 'gradebook.db'}") as gb:
        found = gb.find_submission_notebook(notebook or assignment, assignment, student)
        return f"{base}/formgrader/submissions/{found.id}/"


def serve(root: Path, port: int | None = None, token: str | None = None, open_browser: bool = False) -> int:
    """Run the formgrader until interrupted (Ctrl-C), printing where to open it."""
    try:
        server = Formgrader(root, port, token, open_browser)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    server.start()
    print(f"formgrader on {server.root} (Ctrl-C stops it):\n  {server.url}", flush=True)
    print("Manage assignments -> an assignment's submissions -> a student: type each written answer's points and a "
          "comment; then `python -m autograder export` and `feedback`.", flush=True)
    try:
        server.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
