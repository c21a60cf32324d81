"""The grading sandbox: limits and isolation for student code, then the IPython kernel (or another command).

nbgrader starts the kernel through the course's kernel spec (see :func:`write_kernel_spec`), whose command is
``python -m autograder.sandbox -f {connection_file} ...``; the verification run (:mod:`autograder.verify`) starts
``python -m autograder.sandbox --exec -- python -c ...`` the same way. Before it becomes that program this process:

1. sets resource limits: memory (``RLIMIT_DATA``), size of files written (``RLIMIT_FSIZE``), no core dumps;
2. where the machine allows it (root, or unprivileged user namespaces), enters a new PID namespace and forks:
   the child is process 1 of that namespace, so when it ends the kernel ends every process it started (a
   double fork included), it sees no process outside, and it dies with this launcher (``PR_SET_PDEATHSIG``).
   The launcher records the child's PID in ``KIT_SANDBOX_PIDS`` so the grader can kill the whole namespace from
   outside (:func:`kill_recorded`), whatever the student's code did to its parent;
3. the child enters new mount and network namespaces: no network at all (the kernel talks to nbgrader over Unix
   sockets); the paths in ``KIT_SANDBOX_HIDE`` (the course directory with source notebooks, hidden tests and
   gradebook, the kit's notebooks, tests and autograder) are covered by empty read-only folders and the files in
   ``KIT_SANDBOX_BLANK`` (the worker's gradebook) by an empty file; every mount is made read-only; ``/tmp``,
   ``/var/tmp`` and ``/dev/shm`` are private empty tmpfs; people's folders (``/root``, ``/home``, ``/work``, ...)
   are covered, showing only the kit, Python and the virtual environment again; only the working directory and
   the folders in ``KIT_SANDBOX_WRITABLE`` (the kernel's socket folder) stay writable; ``/proc`` shows the new
   PID namespace only. One more user namespace then locks those mounts: student code cannot undo them, even as
   "root" inside;
4. the kernel starts with guards run before any student code (:data:`KERNEL_GUARD`): ``os._exit`` raises
   ``SystemExit`` instead of killing the kernel, a cell's output is cut after ``KIT_SANDBOX_MAX_OUTPUT``
   characters, and before each test cell every function of ``builtins``, ``torch``, ``numpy`` and ``math`` that
   student code replaced is put back. Those guards run inside the student's kernel, so they are not what the
   verdict rests on: :mod:`autograder.verify` re-runs the tests in a fresh sandboxed process.

What is not isolated is written in the README ("What grading isolates").
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from helpers.core.notebook_format import TEST_MARKER

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_NOATIME, MS_NODIRATIME, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 16384, 1 << 18, 1 << 21
PR_SET_PDEATHSIG = 1
# statvfs flags -> the mount flags a read-only remount must keep (a user namespace may not drop locked ones)
KEPT_FLAGS = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
              (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME))
PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm")
# Where people keep their files (other checkouts of the kit, other courses' gradebooks): covered by an empty
# read-only folder, with only what the kernel needs (the kit, Python, the virtual environment) shown again.
COVERED = ("/root", "/home", "/work", "/srv", "/mnt", "/media", "/opt")

KIT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MEMORY_BYTES = 6 * 2**30
DEFAULT_FILE_BYTES = 2**30
DEFAULT_MAX_OUTPUT = 200_000

KERNEL_GUARD = r'''
def _kit_install_guards():
    import builtins, math, os, sys
    try:
        import posix
    except ImportError:
        posix = None
    import IPython

    def _no_exit(code=0):
        raise SystemExit(f"os._exit({code}) is not allowed while grading")
    os._exit = _no_exit
    if posix is not None:
        posix._exit = _no_exit

    limit = int(os.environ.get("KIT_SANDBOX_MAX_OUTPUT", "200000"))

    class _Limited:
        """A stream that keeps at most `limit` characters per cell."""
        def __init__(self, stream):
            self._stream, self._used = stream, 0
        def write(self, text):
            room = limit - self._used
            if room <= 0:
                return len(text)
            self._used += len(text)
            if len(text) > room:
                self._stream.write(text[:room] + "\n[output cut by the grader: over %d characters]\n" % limit)
                return len(text)
            return self._stream.write(text)
        def reset(self, *args):
            self._used = 0
        def __getattr__(self, name):
            return getattr(self._stream, name)

    out = _Limited(sys.stdout)
    sys.stdout = sys.stderr = out  # stderr too: a warning in a test cell must not cost points
    modules = [builtins, math]
    for name in ("numpy", "torch", "torch.nn.functional", "torch.testing"):
        try:
            __import__(name)
            modules.append(sys.modules[name])
        except ImportError:
            pass
    if "torch" in sys.modules:
        modules.append(sys.modules["torch"].Tensor)
    originals = [(m, dict(vars(m))) for m in modules]
    marker = TEST_MARKER

    def _before_cell(info):
        out.reset()
        if sys.stdout is not out:
            sys.stdout = sys.stderr = out
        source = getattr(info, "raw_cell", "") or ""
        if source.lstrip().startswith(marker):
            for module, saved in originals:
                for name, value in saved.items():
                    if module.__dict__.get(name, value) is not value:
                        try:
                            setattr(module, name, value)
                        except (AttributeError, TypeError):
                            pass
            os._exit = _no_exit

    IPython.get_ipython().events.register("pre_run_cell", _before_cell)


_kit_install_guards()
del _kit_install_guards
'''.replace("TEST_MARKER", repr(TEST_MARKER))


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def encode(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    _check(_libc().mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
           f"mount {target}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _enter_user_namespace(extra_flags: int) -> None:
    """unshare a new user namespace (plus ``extra_flags``) and map our user to root inside it."""
    uid, gid = os.geteuid(), os.getegid()
    _check(_libc().unshare(CLONE_NEWUSER | extra_flags), "unshare")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1")
    _write("/proc/self/gid_map", f"0 {gid} 1")


def _unshare(flags: int) -> None:
    """unshare ``flags``: directly as root, else inside a new user namespace."""
    if os.geteuid() == 0:
        _check(_libc().unshare(flags), "unshare")
    else:
        _enter_user_namespace(flags)


def _mount_points() -> list[str]:
    """Every mount point this mount namespace sees, parents before children."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")  # "\040" for a space
        points.append(point)
    return sorted(set(points), key=lambda p: (p.count("/"), p))


def _make_read_only(point: str) -> None:
    kept = 0
    try:
        flags = os.statvfs(point).f_flag
        kept = sum(ms for st, ms in KEPT_FLAGS if flags & st)
    except OSError:
        pass
    _mount(None, point, None, MS_BIND | MS_REMOUNT | MS_RDONLY | kept)


def _hold(folders: list[str]) -> dict[str, int]:
    """Open folders by handle: they may lie under /tmp, which is about to be covered."""
    unique = dict.fromkeys(os.path.realpath(p) for p in folders)
    return {f: os.open(f, os.O_PATH | os.O_DIRECTORY) for f in unique if os.path.isdir(f) and f != "/"}


def _covered(folder: str) -> bool:
    """Whether ``folder`` lies under a private /tmp or a covered folder (and must be shown again to be seen)."""
    return any(folder == t or folder.startswith(t + "/") for t in (*PRIVATE_TMP, *COVERED))


def _make_writable(point: str) -> None:
    flags = os.statvfs(point).f_flag
    _mount(None, point, None, MS_BIND | MS_REMOUNT | sum(ms for st, ms in KEPT_FLAGS if flags & st))


def confine_files(hide: list[str], blank: list[str], writable: list[str], readable: list[str],
                  keep_files: list[str]) -> list[str]:
    """In a new mount namespace: hide, blank, make everything read-only but ``writable``; private /tmp.

    ``readable`` folders (the kit, the virtual environment) stay visible, read-only, where a private /tmp would
    cover them; ``keep_files`` (the kernel's connection file) are copied into the new view if it would lose them.
    Returns the mount points that could not be made read-only (none on a normal machine).
    """
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    kept_content = {}
    for file in keep_files:
        try:
            kept_content[file] = Path(file).read_bytes()
        except OSError:
            pass
    handles = _hold(writable)
    wanted = [os.path.realpath(r) for r in readable if _covered(os.path.realpath(r))]
    shown = {f: h for f, h in _hold(wanted).items() if not any(f.startswith(o + "/") for o in wanted if o != f)}
    for folder in hide:
        if os.path.isdir(folder):
            _mount("tmpfs", folder, "tmpfs", MS_RDONLY, "size=4k,mode=555")
    for file in blank:
        if os.path.isfile(file):
            _mount("/dev/null", file, None, MS_BIND)
    failed = []
    for point in _mount_points():
        if point == "/proc" or point.startswith("/proc/"):
            continue  # replaced below by this PID namespace's own /proc
        try:
            _make_read_only(point)
        except OSError:
            if point == "/":
                raise
            failed.append(point)
    for folder in PRIVATE_TMP:
        if os.path.isdir(folder):
            _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=2g,mode=1777")
    covered = [folder for folder in COVERED if os.path.isdir(folder) and not os.path.islink(folder)]
    for folder in covered:  # writable while the folders shown again are made inside it; read-only below
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    for folder, handle in shown.items():  # the hidden folders inside them stay hidden (a recursive bind)
        os.makedirs(folder, exist_ok=True)
        _mount(f"/proc/self/fd/{handle}", folder, None, MS_BIND | MS_REC)
        _make_read_only(folder)
        os.close(handle)
    for folder, handle in handles.items():
        os.makedirs(folder, exist_ok=True)  # a no-op unless the folder was under a private tmpfs
        _mount(f"/proc/self/fd/{handle}", folder, None, MS_BIND)
        _make_writable(folder)  # a bind mount keeps its source's read-only flag
        os.close(handle)
    for file, content in kept_content.items():
        if not os.path.exists(file):
            os.makedirs(os.path.dirname(file), exist_ok=True)
            Path(file).write_bytes(content)
    for folder in covered:
        _make_read_only(folder)
    return failed


def _record(pids_dir: str, child: int) -> None:
    """Note the namespace's first process (PID and start time, against PID reuse) for :func:`kill_recorded`."""
    try:
        start = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[19]
        Path(pids_dir, f"{os.getpid()}.pid").write_text(f"{child} {start}\n")
    except OSError:
        pass


def _supervise(child: int, pids_dir: str | None) -> None:
    """The launcher's part after the fork: forward signals to the namespace and end with its exit status."""
    if pids_dir:
        _record(pids_dir, child)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, lambda number, frame: os.kill(child, number))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
    if pids_dir:
        Path(pids_dir, f"{os.getpid()}.pid").unlink(missing_ok=True)
    os._exit(os.waitstatus_to_exitcode(status) % 256)


def kill_recorded(pids_dir: Path) -> int:
    """Kill every sandbox recorded in ``pids_dir`` (its whole PID namespace with it); returns how many."""
    killed = 0
    for record in Path(pids_dir).glob("*.pid"):
        try:
            child, start = record.read_text().split()
            stat = Path(f"/proc/{child}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[19] == start:
                os.kill(int(child), signal.SIGKILL)  # process 1 of the namespace: every process in it dies
                killed += 1
            launcher = int(record.stem)
            os.kill(launcher, signal.SIGKILL)
        except (OSError, ValueError):
            pass
        record.unlink(missing_ok=True)
    return killed


def set_limits(memory_bytes: int, file_bytes: int) -> None:
    """Memory (data segment, which includes malloc'd and mmap'd memory), written file size, no core files."""
    for limit, value in ((resource.RLIMIT_DATA, memory_bytes), (resource.RLIMIT_FSIZE, file_bytes),
                         (resource.RLIMIT_CORE, 0)):
        soft, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, hard))


def write_kernel_spec(jupyter_dir: Path) -> Path:
    """A ``python3`` kernel spec under ``jupyter_dir/kernels`` that starts the kernel through this launcher."""
    spec_dir = jupyter_dir / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "autograder.sandbox", "-f", "{connection_file}"],
            "display_name": "Python 3 (grading sandbox)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return spec_dir


def _connection_file(argv: list[str]) -> tuple[str | None, str | None]:
    """The kernel's connection file (``-f PATH``) and, for Unix-socket transport, the sockets' folder."""
    if "-f" not in argv or argv.index("-f") + 1 >= len(argv):
        return None, None
    path = argv[argv.index("-f") + 1]
    try:
        info = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return path, None
    return path, (os.path.dirname(info["ip"]) if info.get("transport") == "ipc" else None)


def _split(env: os._Environ | dict, name: str) -> list[str]:
    return [p for p in env.get(name, "").split(os.pathsep) if p]


def isolate(argv: list[str]) -> str:
    """Steps 2 and 3 of the module's description; returns the sandbox status. Only the child returns."""
    env = os.environ
    _unshare(CLONE_NEWPID)
    launcher = os.getpid()
    child = os.fork()
    if child:
        _supervise(child, env.get("KIT_SANDBOX_PIDS"))
    # Process 1 of the new PID namespace, in a session of its own (a kill(0) from student code stays inside).
    os.setsid()
    _check(_libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    if os.getppid() not in (0, launcher):  # the launcher died before PR_SET_PDEATHSIG took effect
        os._exit(1)
    _unshare(CLONE_NEWNS | CLONE_NEWNET)
    connection, sockets = _connection_file(argv)
    cwd = os.getcwd()
    writable = [cwd, *_split(env, "KIT_SANDBOX_WRITABLE"), *([sockets] if sockets else [])]
    readable = [str(KIT_ROOT), sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                os.path.dirname(os.path.realpath(sys.executable)), *_split(env, "PYTHONPATH")]
    failed = confine_files(_split(env, "KIT_SANDBOX_HIDE"), _split(env, "KIT_SANDBOX_BLANK"), writable, readable,
                           [connection] if connection else [])
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # A new user namespace owns a new copy of the mount namespace, in which the mounts above are locked.
    _enter_user_namespace(CLONE_NEWNS)
    os.chdir(cwd)  # onto the writable bind mount (the old working directory lies on a now read-only mount)
    home = "/tmp/home"
    os.makedirs(home, exist_ok=True)
    for name, value in (("HOME", home), ("TMPDIR", "/tmp"), ("IPYTHONDIR", f"{home}/.ipython"),
                        ("MPLCONFIGDIR", f"{home}/.matplotlib"), ("XDG_CACHE_HOME", f"{home}/.cache")):
        os.environ[name] = value
    return "isolated" + (f" (not read-only: {', '.join(failed)})" if failed else "")


def main(argv: list[str]) -> None:
    env = os.environ
    set_limits(int(env.get("KIT_SANDBOX_MEMORY_BYTES", DEFAULT_MEMORY_BYTES)),
               int(env.get("KIT_SANDBOX_FILE_BYTES", DEFAULT_FILE_BYTES)))
    if argv[:1] == ["--exec"]:
        command = argv[2:] if argv[1:2] == ["--"] else argv[1:]
    else:
        command = [sys.executable, "-m", "ipykernel_launcher", *argv, f"--IPKernelApp.exec_lines={KERNEL_GUARD}"]
    if env.get("KIT_SANDBOX_ISOLATE", "1") != "0":
        try:
            status = isolate(argv)
        except OSError as exc:  # no namespaces on this machine: limits and guards only
            status = f"not isolated ({exc})"
    else:
        status = "not isolated (KIT_SANDBOX_ISOLATE=0)"
    os.environ["KIT_SANDBOX_STATUS"] = status
    for name in ("KIT_SANDBOX_HIDE", "KIT_SANDBOX_BLANK", "KIT_SANDBOX_WRITABLE", "KIT_SANDBOX_PIDS"):
        os.environ.pop(name, None)
    os.execv(command[0], command)


def probe(timeout: float = 60) -> str:
    """The status a sandbox gets on this machine ("isolated", or "not isolated (why)"), for the grade report."""
    code = "import os; print(os.environ.get('KIT_SANDBOX_STATUS', 'unknown'))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(KIT_ROOT), os.environ.get("PYTHONPATH"))
                                                       if p)}
    try:
        with tempfile.TemporaryDirectory(prefix="kit-sandbox-probe-") as scratch:
            proc = subprocess.run([sys.executable, "-m", "autograder.sandbox", "--exec", "--", sys.executable, "-c",
                                   code], capture_output=True, text=True, timeout=timeout, env=env, cwd=scratch)
    except subprocess.TimeoutExpired:
        return "not isolated (the sandbox probe timed out)"
    lines = proc.stdout.strip().splitlines()
    return lines[-1] if proc.returncode == 0 and lines else f"not isolated (probe failed: {proc.stderr[-200:]})"


if __name__ == "__main__":
    main(sys.argv[1:])
