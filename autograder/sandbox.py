"""The grading kernel's launcher: limits and isolation for student code, then the ordinary IPython kernel.

nbgrader starts the kernel through the course's kernel spec (see :func:`write_kernel_spec`), whose command is
``python -m autograder.sandbox -f {connection_file} ...``. Before it becomes the IPython kernel this process:

1. sets resource limits: memory (``RLIMIT_DATA``), size of files written (``RLIMIT_FSIZE``), no core dumps;
2. where the machine allows it (root, or unprivileged user namespaces), enters new mount and network namespaces:
   no network at all (the kernel talks to nbgrader over Unix sockets), and the paths in ``KIT_SANDBOX_HIDE``
   (the course directory with source notebooks, hidden tests and gradebook, the kit's notebooks, tests and
   autograder) are covered by empty read-only folders, the files in ``KIT_SANDBOX_BLANK`` (the worker's gradebook)
   by an empty file; then it enters one more user namespace, which locks those mounts: student code cannot undo
   them, even as "root" inside;
3. starts the kernel with guards run before any student code (:data:`KERNEL_GUARD`): ``os._exit`` raises
   ``SystemExit`` instead of killing the kernel, a cell's output is cut after ``KIT_SANDBOX_MAX_OUTPUT``
   characters, and before each test cell every function of ``builtins``, ``torch``, ``numpy`` and ``math`` that
   student code replaced is put back, so tests cannot be fooled by monkey-patching.

What is not isolated is written in the README ("What grading isolates").
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
MS_RDONLY, MS_BIND, MS_REC, MS_PRIVATE = 1, 4096, 16384, 1 << 18

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
    marker = "#| kit: test"

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
'''


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


def isolate(hide: list[str], blank: list[str]) -> None:
    """Enter new network and mount namespaces, hide ``hide`` and ``blank``, and lock those mounts."""
    if os.geteuid() == 0:
        _check(_libc().unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    else:
        _enter_user_namespace(CLONE_NEWNS | CLONE_NEWNET)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    for folder in hide:
        if os.path.isdir(folder):
            _mount("tmpfs", folder, "tmpfs", MS_RDONLY, "size=4k,mode=555")
    for file in blank:
        if os.path.isfile(file):
            _mount("/dev/null", file, None, MS_BIND)
    # A new user namespace owns a new copy of the mount namespace, in which the mounts above are locked.
    _enter_user_namespace(CLONE_NEWNS)


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


def main(argv: list[str]) -> None:
    env = os.environ
    set_limits(int(env.get("KIT_SANDBOX_MEMORY_BYTES", DEFAULT_MEMORY_BYTES)),
               int(env.get("KIT_SANDBOX_FILE_BYTES", DEFAULT_FILE_BYTES)))
    hide = [p for p in env.get("KIT_SANDBOX_HIDE", "").split(os.pathsep) if p]
    blank = [p for p in env.get("KIT_SANDBOX_BLANK", "").split(os.pathsep) if p]
    status = "isolated"
    if env.get("KIT_SANDBOX_ISOLATE", "1") != "0":
        try:
            isolate(hide, blank)
        except OSError as exc:  # no namespaces on this machine: limits and guards only
            status = f"not isolated ({exc})"
    else:
        status = "not isolated (KIT_SANDBOX_ISOLATE=0)"
    os.environ["KIT_SANDBOX_STATUS"] = status
    for name in ("KIT_SANDBOX_HIDE", "KIT_SANDBOX_BLANK"):
        os.environ.pop(name, None)
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv,
                              f"--IPKernelApp.exec_lines={KERNEL_GUARD}"])


if __name__ == "__main__":
    main(sys.argv[1:])
