"""The grading sandbox from outside: what student code can write, see and leave behind (autograder/sandbox.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from autograder.config import KIT_ROOT
from autograder.sandbox import CGROUP_PREFIX, CGROUP_ROOT, kill_recorded, probe

ISOLATED = probe().startswith("isolated")
pytestmark = pytest.mark.skipif(not ISOLATED, reason=f"no namespaces on this machine: {probe()}")


def _sandboxed(code: str, cwd: Path, pids: Path, env: dict | None = None, wait: bool = True, **kwargs):
    command = [sys.executable, "-m", "autograder.sandbox", "--exec", "--", sys.executable, "-c",
               textwrap.dedent(code)]
    full_env = {**os.environ, "PYTHONPATH": str(KIT_ROOT), "KIT_SANDBOX_PIDS": str(pids), **(env or {})}
    proc = subprocess.Popen(command, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


@pytest.fixture
def folders(tmp_path):
    work, pids = tmp_path / "work", tmp_path / "pids"
    work.mkdir()
    pids.mkdir()
    return work, pids


def test_only_its_own_folder_and_a_private_tmp_are_writable(folders, tmp_path):
    work, pids = folders
    secret = tmp_path / "secret.txt"
    secret.write_text("another student's file")
    hidden = tmp_path / "course"
    hidden.mkdir()
    (hidden / "source.ipynb").write_text("solutions")
    blank = tmp_path / "gradebook.db"
    blank.write_text("grades")
    out = _sandboxed(f"""
        import os, sys
        def attempt(path):
            try:
                with open(path, "w") as f:
                    f.write("x")
                return "wrote"
            except OSError as exc:
                return "refused"
        print("helpers", attempt({str(KIT_ROOT / 'helpers' / 'sandbox_probe.py')!r}))
        print("site", attempt(os.path.join(sys.prefix, "sandbox_probe.pth")))
        print("own", attempt("own.txt"))
        print("tmp", attempt("/tmp/scratch.txt"))
        print("secret", os.path.exists({str(secret)!r}))
        print("hidden", os.listdir({str(hidden)!r}) if os.path.isdir({str(hidden)!r}) else "gone")
        print("pid", os.getpid(), "processes", len([p for p in os.listdir("/proc") if p.isdigit()]))
        print("status", os.environ["KIT_SANDBOX_STATUS"])
    """, work, pids, env={"KIT_SANDBOX_HIDE": str(hidden), "KIT_SANDBOX_BLANK": str(blank)})
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert lines["helpers"] == "refused" and lines["site"] == "refused"
    assert lines["own"] == "wrote" and not (work / "own.txt").exists(), "its folder is a private copy"
    assert lines["tmp"] == "wrote" and not Path("/tmp/scratch.txt").exists()
    assert lines["secret"] == "False", "the host's /tmp is not visible"
    assert lines["hidden"] in ("[]", "gone")
    assert lines["pid"] == "1 processes 1", "a PID namespace of its own"
    assert lines["status"].startswith("isolated; limits: memory ")
    assert not (KIT_ROOT / "helpers" / "sandbox_probe.py").exists()


def test_what_it_starts_dies_with_it(folders):
    work, pids = folders
    marker = f"sandbox-survivor-{os.getpid()}"
    _sandboxed(f"""
        import os, subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)  # {marker}"], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)  # {marker}"])
            os._exit(0)
        time_to_start = __import__("time").sleep(1)
    """, work, pids)
    time.sleep(0.5)
    assert not _processes_with(marker)


def test_killing_it_from_outside_ends_everything_and_nobody_waits(folders):
    work, pids = folders
    marker = f"sandbox-killed-{os.getpid()}"
    proc = _sandboxed(f"""
        import os, subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)  # {marker}"])
        os.kill(os.getppid(), 9) if os.getppid() else None
        time.sleep(300)
    """, work, pids, wait=False, start_new_session=True)
    deadline = time.monotonic() + 60
    while not list(pids.glob("*.pid")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    cgroups = list(pids.glob("*.pid"))[0].read_text().splitlines()[1:]
    assert kill_recorded(pids) == 1
    proc.wait(timeout=10)
    time.sleep(0.5)
    assert not _processes_with(marker)
    assert not list(pids.glob("*.pid"))
    assert not [c for c in cgroups if os.path.exists(c)], "its cgroups are removed"


def test_its_parent_is_out_of_reach(folders):
    work, pids = folders
    out = _sandboxed("""
        import os, signal
        print("parent", os.getppid())
        os.kill(os.getppid(), signal.SIGKILL)  # pid 0: its own group, whose first process ignores it
        print("still here")
    """, work, pids)
    assert out.split() == ["parent", "0", "still", "here"]


def test_without_namespaces_it_says_so(folders):
    work, pids = folders
    out = _sandboxed("import os; print(os.environ['KIT_SANDBOX_STATUS'])", work, pids,
                     env={"KIT_SANDBOX_ISOLATE": "0"})
    assert out.strip().startswith("not isolated")


def _processes_with(marker: str) -> list[str]:
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode():
                found.append(pid)
        except OSError:
            pass
    return found


def test_peoples_folders_are_covered_but_the_kit_and_python_show(folders):
    work, pids = folders
    neighbour = KIT_ROOT.parent / f"kit-sandbox-neighbour-{os.getpid()}"
    neighbour.mkdir(exist_ok=True)
    (neighbour / "source.ipynb").write_text("another checkout's solutions")
    try:
        secret, kit = str(neighbour / "source.ipynb"), str(KIT_ROOT / "helpers" / "__init__.py")
        out = _sandboxed(f"""
            import os, sys
            print(os.path.exists({secret!r}), os.path.isfile({kit!r}))
            import torch, helpers
            print("imports", os.path.isfile(sys.executable))
        """, work, pids)
    finally:
        (neighbour / "source.ipynb").unlink()
        neighbour.rmdir()
    under_covered = any(str(neighbour).startswith(root + "/") for root in ("/root", "/home", "/work", "/srv", "/mnt",
                                                                         "/media", "/opt", "/tmp"))
    first, second = out.strip().splitlines()
    assert first == f"{not under_covered} True" and second == "imports True"


def _limits(work, pids, code: str, **env) -> str:
    return _sandboxed(code, work, pids, env={k: str(v) for k, v in env.items()})


def test_the_process_limit_holds_for_the_whole_sandbox(folders):
    work, pids = folders
    out = _limits(work, pids, """
        import os, subprocess, sys, time
        print(os.environ["KIT_SANDBOX_STATUS"])
        started = []
        for _ in range(40):
            try:
                started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]))
            except OSError:
                break
        print(len(started))
        for p in started:
            p.kill()
    """, KIT_SANDBOX_PROCESSES=20)
    status, count = out.strip().splitlines()
    if "processes 20 (cgroup" not in status:
        pytest.skip(f"no cgroup for the process limit here: {status}")
    assert int(count) < 20, "the launcher's children share one limit of 20"


def test_one_memory_limit_for_all_its_processes(folders):
    work, pids = folders
    out = _limits(work, pids, """
        import os, subprocess, sys
        print(os.environ["KIT_SANDBOX_STATUS"])
        # Each holds its block until all have answered (stdin closed): held at once, however slow the machine.
        hold = "import sys; block = bytearray(b'x') * (200 * 2**20); print('held', flush=True); sys.stdin.read()"
        procs = [subprocess.Popen([sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True) for _ in range(4)]
        said = [p.stdout.readline().strip() == "held" for p in procs]
        alive = [ok and p.poll() is None for p, ok in zip(procs, said)]
        for p in procs:
            p.stdin.close()
        print(sum(p.wait() == 0 and ok for p, ok in zip(procs, alive)))
    """, KIT_SANDBOX_MEMORY_BYTES=500 * 2**20)
    status, held = out.strip().splitlines()
    if "memory 500 MiB (cgroup" not in status:
        pytest.skip(f"no cgroup for the memory limit here: {status}")
    assert int(held) < 4, "four processes of 200 MiB each do not fit in one limit of 500 MiB"
    assert int(held) >= 1, "one of them does"


def test_one_disk_quota_for_every_folder_it_may_write(folders):
    work, pids = folders
    out = _limits(work, pids, """
        import os
        print(os.environ["KIT_SANDBOX_STATUS"])
        block = b"z" * (40 * 2**20)
        for path in ("own.bin", "/tmp/tmp.bin", "/dev/shm/shm.bin"):
            try:
                with open(path, "wb") as f:
                    f.write(block)
                print(path, "wrote")
            except OSError as exc:
                print(path, exc.errno)
    """, KIT_SANDBOX_DISK_BYTES=100 * 2**20)
    status, *lines = out.strip().splitlines()
    assert "disk 100 MiB (tmpfs" in status
    assert lines[:2] == ["own.bin wrote", "/tmp/tmp.bin wrote"]
    assert lines[2] in ("/dev/shm/shm.bin 28", "/dev/shm/shm.bin 27"), "ENOSPC (or EFBIG): one quota for all"
    assert not (work / "own.bin").exists()


def test_the_real_folder_cannot_be_replaced_from_inside(folders, tmp_path):
    work, pids = folders
    (work / "dcgan.ipynb").write_text("the submission")
    (work / "data").mkdir()
    (work / "data" / "a.csv").write_text("1,2")
    os.mkfifo(work / "pipe")
    target = tmp_path / "gradebook.db"
    target.write_text("grades")
    out = _sandboxed(f"""
        import os
        print(sorted(os.listdir(".")), open("dcgan.ipynb").read(), open("data/a.csv").read())
        os.remove("dcgan.ipynb")
        os.symlink({str(target)!r}, "dcgan.ipynb")
        os.mkfifo("other.ipynb")
        os.chmod(".", 0o777)
        print("done")
    """, work, pids)
    first, done = out.strip().splitlines()
    assert first == "['data', 'dcgan.ipynb'] the submission 1,2", "a copy of its regular files (not the FIFO)"
    assert done == "done"
    assert (work / "dcgan.ipynb").read_text() == "the submission" and not (work / "dcgan.ipynb").is_symlink()
    assert sorted(p.name for p in work.iterdir()) == ["data", "dcgan.ipynb", "pipe"]
    assert target.read_text() == "grades"


def test_its_cgroups_are_removed_when_it_ends(folders):
    work, pids = folders
    out = _sandboxed("""
        import os, subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
        print(open("/proc/self/cgroup").read())
    """, work, pids)
    mine = []
    for line in out.splitlines():  # "8:pids:/kit-sandbox-123" -> /sys/fs/cgroup/pids/kit-sandbox-123
        if CGROUP_PREFIX in line:
            _, controller, path = line.split(":", 2)
            mine.append(CGROUP_ROOT / controller / path.lstrip("/"))
    if not mine:
        pytest.skip("no cgroup here")
    time.sleep(0.5)
    assert [str(c) for c in mine if c.exists()] == [], "its cgroups are gone, the process it left killed"
