"""The grading sandbox: limits and isolation for student code, then the IPython kernel (or another command).

nbgrader starts the kernel through the course's kernel spec (see :func:`write_kernel_spec`), whose command is
``python -m autograder.sandbox -f {connection_file} ...``; the verification run (:mod:`autograder.verify`) starts
``python -m autograder.sandbox --exec -- python -c ...`` the same way. Before it becomes that program this process:

1. sets the limits of the whole sandbox (:func:`set_limits`, :class:`Cgroup`): one memory limit and one
   process-count limit for all its processes together (a cgroup of its own: v2 ``memory.max``/``pids.max``, or v1
   ``memory.limit_in_bytes``/``pids.max``, where the machine lets us make one; else per-process ``rlimit``s, and
   the status says so), the size of a file written (``RLIMIT_FSIZE``), no core dumps. The launcher removes the
   cgroup, killing what is left in it, when the sandbox ends (:func:`kill_recorded` does when it is killed);
2. where the machine allows it (root, or unprivileged user namespaces), enters a new PID namespace and forks:
   the child is process 1 of that namespace, so when it ends the kernel ends every process it started (a
   double fork included), it sees no process outside, and it dies with this launcher (``PR_SET_PDEATHSIG``).
   The launcher records the child's PID in ``KIT_SANDBOX_PIDS`` so the grader can kill the whole namespace from
   outside (:func:`kill_recorded`), whatever the student's code did to its parent;
3. the child enters new mount and network namespaces: no network at all (the kernel talks to nbgrader over Unix
   sockets); the paths in ``KIT_SANDBOX_HIDE`` (the course directory with source notebooks, hidden tests and
   gradebook, the kit's notebooks, tests and autograder) are covered by empty read-only folders and the files in
   ``KIT_SANDBOX_BLANK`` (the worker's gradebook) by an empty file; every mount is made read-only; people's
   folders (``/root``, ``/home``, ``/work``, ...) are covered, showing only the kit, Python and the virtual
   environment again. What the sandbox may write is one private tmpfs of ``KIT_SANDBOX_DISK_BYTES`` (the disk
   quota; its pages count as the sandbox's memory too): ``/tmp``, ``/var/tmp``, ``/dev/shm`` and the working
   directory are folders of it. The working directory is a fresh copy of the real one (regular files only): the
   real folder, where nbgrader later writes the autograded notebook and changes permissions, is never seen by
   student code, so nothing it writes or links there is ever followed by the grader, and nothing written in the
   sandbox comes back out. Only the folders in ``KIT_SANDBOX_WRITABLE`` (the kernel's socket folder) stay
   writable outside it; ``/proc`` shows the new PID namespace only. One more user namespace then locks those
   mounts: student code cannot undo them, even as "root" inside;
4. the kernel starts with guards run before any student code (:data:`KERNEL_GUARD`): ``os._exit`` raises
   ``SystemExit`` instead of killing the kernel, a cell's output is cut after ``KIT_SANDBOX_MAX_OUTPUT``
   characters, and before each test cell every function of ``builtins``, ``torch``, ``numpy`` and ``math`` that
   student code replaced is put back. Those guards run inside the student's kernel, so they are not what the
   verdict rests on: :mod:`autograder.verify` re-runs the tests in a fresh sandboxed process.

What is not isolated is written in the README ("What grading isolates").
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.config import default
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
DEFAULT_MEMORY_BYTES = default("memory_limit_mb") * 2**20  # declared once, in autograder.config
DEFAULT_PROCESSES = default("process_limit")
DEFAULT_DISK_BYTES = default("disk_quota_mb") * 2**20
DEFAULT_MAX_OUTPUT = default("max_output_chars")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PREFIX = "kit-sandbox-"

def kernel_guard_lines(max_output: int = DEFAULT_MAX_OUTPUT) -> str:
    """The kernel's ``exec_lines``: :mod:`autograder.kernel_guard`'s text (the kernel cannot import the kit's
    grader), run in a namespace of its own, then its ``install`` with the test marker, the guarded objects and the
    characters of output a cell keeps (the grading's ``max_output_chars``, from ``KIT_SANDBOX_MAX_OUTPUT``)."""
    from autograder import kernel_guard
    from autograder.guarded import GUARDED

    text = Path(kernel_guard.__file__).read_text()
    return (f"_kit_guard = {{'__name__': 'kit_kernel_guard'}}\n"
            f"exec(compile({text!r}, 'kit_kernel_guard', 'exec'), _kit_guard)\n"
            f"_kit_guard['install'](get_ipython(), {TEST_MARKER!r}, {GUARDED!r}, {int(max_output)!r})\n"
            "del _kit_guard\n")


KERNEL_GUARD = kernel_guard_lines()


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


def _scratch(disk_bytes: int) -> dict[str, int]:
    """One tmpfs of ``disk_bytes`` over /tmp, with the folders that become the sandbox's writable places.

    Returns handles on its folders ``tmp``, ``var-tmp``, ``shm`` and ``work`` (bind-mounted by the caller): one
    quota for everything the sandbox writes, whichever folder it writes in.
    """
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={disk_bytes},mode=700")
    handles = {}
    for name in ("tmp", "var-tmp", "shm", "work"):
        path = f"/tmp/{name}"
        os.mkdir(path)
        os.chmod(path, 0o755 if name == "work" else 0o1777)
        handles[name] = os.open(path, os.O_PATH | os.O_DIRECTORY)
    return handles


def copy_regular_files(source_fd: int, target: str) -> list[str]:
    """Copy the regular files and folders under the open folder ``source_fd`` into ``target``, links never followed.

    Symbolic links, devices, FIFOs and sockets are skipped (``lstat``, ``O_NOFOLLOW``); a file that no longer fits
    (the quota) is left out. Returns what was left out, as "name (why)".
    """
    skipped = []
    for entry in os.scandir(source_fd):
        name = entry.name
        try:
            info = os.stat(name, dir_fd=source_fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=source_fd)
                try:
                    os.mkdir(os.path.join(target, name), 0o755)
                    skipped += [f"{name}/{s}" for s in copy_regular_files(inner, os.path.join(target, name))]
                finally:
                    os.close(inner)
                continue
            if not stat.S_ISREG(info.st_mode):
                skipped.append(f"{name} (not a regular file)")
                continue
            _copy_file(name, source_fd, os.path.join(target, name))
        except OSError as exc:
            skipped.append(f"{name} ({exc.strerror})")
    return skipped


def _copy_file(name: str, source_fd: int, target: str) -> None:
    """One regular file, opened without following a link (and without blocking on a FIFO put in its place)."""
    source = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=source_fd)
    try:
        if not stat.S_ISREG(os.fstat(source).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            while chunk := os.read(source, 1 << 20):
                os.write(out, chunk)
        except OSError:
            os.close(out)
            out = -1
            os.unlink(target)
            raise
        finally:
            if out >= 0:
                os.close(out)
    finally:
        os.close(source)


def confine_files(hide: list[str], blank: list[str], writable: list[str], readable: list[str],
                  keep_files: list[str], workdir: str | None = None, disk_bytes: int = DEFAULT_DISK_BYTES
                  ) -> list[str]:
    """In a new mount namespace: hide, blank, make everything read-only but ``writable`` and one private tmpfs.

    The tmpfs (``disk_bytes``) holds /tmp, /var/tmp, /dev/shm and, at ``workdir``'s path, a fresh copy of
    ``workdir``'s regular files: the real ``workdir`` is not seen from inside. ``readable`` folders (the kit, the
    virtual environment) stay visible, read-only, where a private /tmp would cover them; ``keep_files`` (the
    kernel's connection file) are copied into the new view if it would lose them. Returns the mount points that
    could not be made read-only (none on a normal machine).
    """
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    kept_content = {}
    for file in keep_files:
        try:
            kept_content[file] = Path(file).read_bytes()
        except OSError:
            pass
    original = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY) if workdir and workdir != "/" else None
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
    scratch = _scratch(disk_bytes)
    for folder, name in zip(PRIVATE_TMP, ("tmp", "var-tmp", "shm")):  # /tmp: its "tmp" folder covers the rest
        if os.path.isdir(folder) and not os.path.islink(folder):
            _mount(f"/proc/self/fd/{scratch[name]}", folder, None, MS_BIND)
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
    if original is not None:  # the working directory: the quota's "work" folder, holding a copy of the real one
        os.makedirs(workdir, exist_ok=True)
        _mount(f"/proc/self/fd/{scratch['work']}", workdir, None, MS_BIND)
        copy_regular_files(original, workdir)
        os.close(original)
    for handle in scratch.values():
        os.close(handle)
    for file, content in kept_content.items():
        if not os.path.exists(file):
            os.makedirs(os.path.dirname(file), exist_ok=True)
            Path(file).write_bytes(content)
    for folder in covered:
        _make_read_only(folder)
    return failed


def _own_cgroup(controller: str) -> str:
    """This process's cgroup path in the hierarchy of ``controller`` ("" for cgroup v2's unified one)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or (controller == "" and controllers == ""):
            return path
    raise OSError(errno.ENOENT, f"no cgroup for {controller or 'v2'}")


class Cgroup:
    """The sandbox's own cgroups: one memory and one process-count limit for all its processes together.

    :meth:`create` makes them under this process's cgroups (v2 where /sys/fs/cgroup is cgroup v2 with the
    memory and pids controllers delegable, else v1's memory and pids hierarchies) and moves this process in;
    ``limits`` says which limit each gives ({"memory": "cgroup v1", ...}); a limit no cgroup gives is absent.
    """

    def __init__(self, folders: list[Path], limits: dict[str, str]) -> None:
        self.folders, self.limits = folders, limits

    @classmethod
    def create(cls, memory_bytes: int, processes: int) -> Cgroup:
        name = f"{CGROUP_PREFIX}{os.getpid()}"
        try:
            if (CGROUP_ROOT / "cgroup.controllers").is_file():
                return cls._v2(name, memory_bytes, processes)
        except OSError:
            pass
        made = cls([], {})
        for controller, kind, settings in (
                ("memory", "memory", [("memory.limit_in_bytes", memory_bytes),
                                      ("memory.memsw.limit_in_bytes", memory_bytes)]),  # no swap past the limit
                ("pids", "processes", [("pids.max", processes)])):
            try:
                made.folders.append(cls._v1(controller, name, settings))
                made.limits[kind] = "cgroup v1"
            except OSError:
                pass
        return made

    @staticmethod
    def _v1(controller: str, name: str, settings: list[tuple[str, int]]) -> Path:
        base = CGROUP_ROOT / controller
        if not (base / "cgroup.procs").is_file():
            raise OSError(errno.ENOENT, f"no cgroup v1 {controller} hierarchy")
        own = base / _own_cgroup(controller).lstrip("/")
        folder = (own if own.is_dir() else base) / name  # not there: this cgroup namespace's root is ours
        folder.mkdir()
        try:
            for file, value in settings:
                if (folder / file).exists() or file == settings[0][0]:
                    _write(str(folder / file), str(value))
            _write(str(folder / "cgroup.procs"), str(os.getpid()))
        except OSError:
            _remove_cgroup(folder)
            raise
        return folder

    @classmethod
    def _v2(cls, name: str, memory_bytes: int, processes: int) -> Cgroup:
        parent = CGROUP_ROOT / _own_cgroup("").lstrip("/")
        folder = parent / name
        folder.mkdir()
        try:
            if not ((folder / "memory.max").exists() and (folder / "pids.max").exists()):
                # refused (EBUSY) where the parent holds processes itself, unless it is the root cgroup
                _write(str(parent / "cgroup.subtree_control"), "+memory +pids")
            _write(str(folder / "memory.max"), str(memory_bytes))
            if (folder / "memory.swap.max").exists():
                _write(str(folder / "memory.swap.max"), "0")
            _write(str(folder / "pids.max"), str(processes))
            _write(str(folder / "cgroup.procs"), str(os.getpid()))
        except OSError:
            _remove_cgroup(folder)
            raise
        return cls([folder], {"memory": "cgroup v2", "processes": "cgroup v2"})

    def leave(self) -> None:
        """Move this process back to the cgroups it came from (its sandbox stays in them)."""
        for folder in self.folders:
            try:
                _write(str(folder.parent / "cgroup.procs"), str(os.getpid()))
            except OSError:
                pass

    def remove(self) -> None:
        """Kill every process left in the cgroups, then remove them."""
        for folder in self.folders:
            _remove_cgroup(folder)


def _remove_cgroup(folder: Path, timeout: float = 10.0) -> None:
    """Kill what is in ``folder`` (a cgroup this launcher made) and remove it; gives up after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            pass  # EBUSY: processes (or zombies not yet reaped) are still in it
        try:
            if (folder / "cgroup.kill").exists():
                _write(str(folder / "cgroup.kill"), "1")
            for pid in (folder / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        except OSError:
            pass
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)


def sweep_cgroups() -> int:
    """Remove the sandbox cgroups left by launchers that are gone (killed before they could); returns how many."""
    removed = 0
    for controller in ("", "memory", "pids"):
        try:
            base = CGROUP_ROOT / controller
            own = base / _own_cgroup(controller).lstrip("/")
            found = list((own if own.is_dir() else base).glob(f"{CGROUP_PREFIX}*"))
        except OSError:
            continue
        for folder in found:
            launcher = folder.name[len(CGROUP_PREFIX):]
            if launcher.isdigit() and not Path(f"/proc/{launcher}").exists():
                _remove_cgroup(folder)
                removed += 1
    return removed


def _record(pids_dir: str, child: int, cgroup: Cgroup | None) -> None:
    """Note the namespace's first process (PID and start time, against PID reuse) and the sandbox's cgroups for
    :func:`kill_recorded`."""
    try:
        start = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[19]
        folders = "".join(f"{f}\n" for f in (cgroup.folders if cgroup else []))
        Path(pids_dir, f"{os.getpid()}.pid").write_text(f"{child} {start}\n{folders}")
    except OSError:
        pass


def _supervise(child: int, pids_dir: str | None, cgroup: Cgroup | None) -> None:
    """The launcher's part after the fork: forward signals to the sandbox, end with its exit status and remove its
    cgroups (killing whatever is left in them)."""
    if cgroup:
        cgroup.leave()  # the launcher is not part of the sandbox: killing the cgroup's processes spares it
    if pids_dir:
        _record(pids_dir, child, cgroup)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, lambda number, frame: os.kill(child, number))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            status = 256
            break
        except InterruptedError:
            continue
    if cgroup:
        cgroup.remove()
    if pids_dir:
        Path(pids_dir, f"{os.getpid()}.pid").unlink(missing_ok=True)
    os._exit(os.waitstatus_to_exitcode(status) % 256)


def kill_recorded(pids_dir: Path) -> int:
    """Kill every sandbox recorded in ``pids_dir`` (its whole PID namespace with it) and remove its cgroups;
    returns how many were running."""
    killed = 0
    for record in Path(pids_dir).glob("*.pid"):
        try:
            first, *folders = record.read_text().splitlines()
            child, start = first.split()
            try:
                stat_line = Path(f"/proc/{child}/stat").read_text()
                if stat_line.rsplit(")", 1)[1].split()[19] == start:
                    os.kill(int(child), signal.SIGKILL)  # process 1 of the namespace: every process in it dies
                    killed += 1
                os.kill(int(record.stem), signal.SIGKILL)
            except OSError:
                pass
            for folder in map(Path, folders):  # only cgroups a launcher made (the record is the grader's own)
                if folder.name.startswith(CGROUP_PREFIX) and CGROUP_ROOT in folder.parents:
                    _remove_cgroup(folder)
        except (OSError, ValueError):
            pass
        record.unlink(missing_ok=True)
    return killed


def _user_processes() -> int:
    """How many processes this process's real user runs now (RLIMIT_NPROC counts them all)."""
    uid, count = os.getuid(), 0
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            count += os.stat(f"/proc/{pid}").st_uid == uid
        except OSError:
            pass
    return count


def set_limits(memory_bytes: int, processes: int, disk_bytes: int, use_cgroup: bool = True
               ) -> tuple[Cgroup | None, dict[str, str]]:
    """The sandbox's limits, set on this process before it forks: returns its cgroups and what each limit is.

    Memory and processes: a cgroup for the whole sandbox where one can be made; memory per process
    (``RLIMIT_DATA``, data segment: malloc'd and mmap'd memory) in any case; processes otherwise by
    ``RLIMIT_NPROC``, which counts all the user's processes and does not bind root. Files: ``RLIMIT_FSIZE`` at
    the disk quota; no core files.
    """
    cgroup = Cgroup.create(memory_bytes, processes) if use_cgroup else None
    given = cgroup.limits if cgroup else {}
    nproc = None
    if "processes" not in given:
        nproc = _user_processes() + processes
    for limit, value in ((resource.RLIMIT_DATA, memory_bytes), (resource.RLIMIT_FSIZE, disk_bytes),
                         (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, nproc)):
        if value is None:
            continue
        soft, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, hard))
    mib = memory_bytes // 2**20
    described = {"memory": f"memory {mib} MiB ({given['memory']})" if "memory" in given
                 else f"memory {mib} MiB per process (rlimit)"}
    if "processes" in given:
        described["processes"] = f"processes {processes} ({given['processes']})"
    elif os.geteuid() == 0:
        described["processes"] = "processes not limited (root: RLIMIT_NPROC does not bind it)"
    else:
        described["processes"] = f"processes {processes} more than the user ran at start (rlimit, per user)"
    return (cgroup if cgroup and cgroup.folders else None), described


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


_SUPERVISED = False  # set in the sandbox's first process once a launcher waits for it (and removes its cgroups)


def isolate(argv: list[str], cgroup: Cgroup | None = None, disk_bytes: int = DEFAULT_DISK_BYTES) -> str:
    """Steps 2 and 3 of the module's description; returns the sandbox status. Only the child returns."""
    global _SUPERVISED
    env = os.environ
    _unshare(CLONE_NEWPID)
    launcher = os.getpid()
    child = os.fork()
    if child:
        _supervise(child, env.get("KIT_SANDBOX_PIDS"), cgroup)
    _SUPERVISED = True
    # Process 1 of the new PID namespace, in a session of its own (a kill(0) from student code stays inside).
    os.setsid()
    _check(_libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    if os.getppid() not in (0, launcher):  # the launcher died before PR_SET_PDEATHSIG took effect
        os._exit(1)
    _unshare(CLONE_NEWNS | CLONE_NEWNET)
    connection, sockets = _connection_file(argv)
    cwd = os.getcwd()
    writable = [*_split(env, "KIT_SANDBOX_WRITABLE"), *([sockets] if sockets else [])]
    readable = [str(KIT_ROOT), sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                os.path.dirname(os.path.realpath(sys.executable)), *_split(env, "PYTHONPATH")]
    failed = confine_files(_split(env, "KIT_SANDBOX_HIDE"), _split(env, "KIT_SANDBOX_BLANK"), writable, readable,
                           [connection] if connection else [], workdir=cwd, disk_bytes=disk_bytes)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # A new user namespace owns a new copy of the mount namespace, in which the mounts above are locked.
    _enter_user_namespace(CLONE_NEWNS)
    os.chdir(cwd)  # onto the private copy (the old working directory is the real folder, now covered)
    home = "/tmp/home"
    os.makedirs(home, exist_ok=True)
    for name, value in (("HOME", home), ("TMPDIR", "/tmp"), ("IPYTHONDIR", f"{home}/.ipython"),
                        ("MPLCONFIGDIR", f"{home}/.matplotlib"), ("XDG_CACHE_HOME", f"{home}/.cache")):
        os.environ[name] = value
    return "isolated" + (f" (not read-only: {', '.join(failed)})" if failed else "")


def main(argv: list[str]) -> None:
    """Limits, isolation, then become the kernel (or the ``--exec`` command); see the module's description."""
    global _SUPERVISED
    env = os.environ
    memory, processes = int(env.get("KIT_SANDBOX_MEMORY_BYTES", DEFAULT_MEMORY_BYTES)), int(
        env.get("KIT_SANDBOX_PROCESSES", DEFAULT_PROCESSES))
    disk, output = int(env.get("KIT_SANDBOX_DISK_BYTES", DEFAULT_DISK_BYTES)), int(
        env.get("KIT_SANDBOX_MAX_OUTPUT", DEFAULT_MAX_OUTPUT))
    cgroup, limits = set_limits(memory, processes, disk, use_cgroup=env.get("KIT_SANDBOX_CGROUP", "1") != "0")
    if argv[:1] == ["--exec"]:
        command = argv[2:] if argv[1:2] == ["--"] else argv[1:]
    else:
        command = [sys.executable, "-m", "ipykernel_launcher", *argv,
                   f"--IPKernelApp.exec_lines={kernel_guard_lines(output)}"]
    isolated = False
    if env.get("KIT_SANDBOX_ISOLATE", "1") != "0":
        try:
            status = isolate(argv, cgroup, disk)
            isolated = True
        except OSError as exc:  # no namespaces on this machine: limits and guards only
            status = f"not isolated ({exc})"
    else:
        status = "not isolated (KIT_SANDBOX_ISOLATE=0)"
    if cgroup and not _SUPERVISED:  # someone must remove the cgroups when the command ends
        child = os.fork()
        if child:
            _supervise(child, env.get("KIT_SANDBOX_PIDS"), cgroup)
        _SUPERVISED = True
    disk_text = (f"disk {disk // 2**20} MiB (tmpfs, counted as memory)" if isolated
                 else f"files up to {disk // 2**20} MiB each (rlimit), no quota")
    os.environ["KIT_SANDBOX_STATUS"] = (f"{status}; limits: {limits['memory']}, {limits['processes']}, "
                                        f"{disk_text}, output {output} chars/cell")
    for name in ("KIT_SANDBOX_HIDE", "KIT_SANDBOX_BLANK", "KIT_SANDBOX_WRITABLE", "KIT_SANDBOX_PIDS"):
        os.environ.pop(name, None)
    os.execv(command[0], command)


def probe(timeout: float = 60, env: dict[str, str] | None = None) -> str:
    """The status a sandbox gets on this machine ("isolated; limits: ...", or "not isolated (why); limits: ..."),
    for the grade report; ``env`` holds the grader's ``KIT_SANDBOX_*`` limits (else the defaults)."""
    code = "import os; print(os.environ.get('KIT_SANDBOX_STATUS', 'unknown'))"
    env = {**os.environ, **(env or {}),
           "PYTHONPATH": os.pathsep.join(p for p in (str(KIT_ROOT), os.environ.get("PYTHONPATH")) if p)}
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
