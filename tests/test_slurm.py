"""scripts/grade-slurm.sh on a real single-node Slurm: the batch sharded over 3 array tasks and merged gives what
``grade`` gives on one machine (scores, identities, flags, errors).

The test starts munged (a fresh key) and slurmctld + slurmd on localhost (their own ports, state and spool in a
temporary folder; Debian's ``slurm-wlm`` and ``munge``, installed by scripts/setup.sh as root) and stops them. It
is skipped, saying why, where they cannot start (not root, not installed). Four students of the tiny notebook
(tests/tiny_course.py, graded in seconds; the script gets its kit.toml with ``-k``): the reference, a bug, a
flagged import and a file that is not a notebook.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.config import KIT_ROOT
from autograder.grade import grade_folder
from tests.submissions import filled_release
from tests.tiny_course import ADD_ONE_BUG, FLAGGED_IMPORT, TINY, build_tiny_course

pytestmark = pytest.mark.slow
DAEMONS = ("/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch")
NOTEBOOK = TINY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slurm_conf(folder: Path) -> str:
    """A minimal single-node slurm.conf: no accounting, no cgroups, everything under ``folder``."""
    return "\n".join([
        "ClusterName=kit-test", "SlurmctldHost=localhost", f"SlurmctldPort={free_port()}",
        f"SlurmdPort={free_port()}", "SlurmUser=root", "SlurmdUser=root", "AuthType=auth/munge",
        "CredType=cred/munge", f"AuthInfo=socket={folder / 'munge.sock'}", "MpiDefault=none",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core", "ReturnToService=2", "MinJobAge=3600",
        f"StateSaveLocation={folder / 'state'}", f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}", f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}", f"SlurmdLogFile={folder / 'slurmd.log'}",
        f"NodeName=localhost CPUs={os.cpu_count() or 1} State=UNKNOWN",
        "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP", ""])


def _wait(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.5)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running single-node Slurm (munged, slurmctld, slurmd): the environment its commands need."""
    missing = [d for d in DAEMONS if not Path(d).exists()]
    if missing:
        pytest.skip(f"Slurm is not installed ({', '.join(missing)} missing): as root, scripts/setup.sh installs "
                    "Debian's slurm-wlm and munge")
    if os.geteuid() != 0:
        pytest.skip("starting munged, slurmctld and slurmd here needs root (they run as root in this test)")
    folder = tmp_path_factory.mktemp("slurm")
    folder.chmod(0o755)  # munged's socket must be reachable
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    (folder / "munge.key").write_bytes(os.urandom(1024))
    (folder / "munge.key").chmod(0o400)
    (folder / "slurm.conf").write_text(slurm_conf(folder))
    env = {**os.environ, "SLURM_CONF": str(folder / "slurm.conf")}
    started: list[Path] = []

    def run(*cmd: str) -> None:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            logs = "\n".join(p.read_text()[-2000:] for p in folder.glob("*.log"))
            pytest.skip(f"{cmd[0]} did not start (exit {proc.returncode}): {proc.stderr.strip()}\n{logs}")

    try:
        run("/usr/sbin/munged", "--force", f"--key-file={folder / 'munge.key'}", f"--socket={folder / 'munge.sock'}",
            f"--pid-file={folder / 'munged.pid'}", f"--log-file={folder / 'munged.log'}",
            f"--seed-file={folder / 'munge.seed'}")
        started.append(folder / "munged.pid")
        run("/usr/sbin/slurmctld", "-f", str(folder / "slurm.conf"), "-i")
        started.append(folder / "slurmctld.pid")
        run("/usr/sbin/slurmd", "-f", str(folder / "slurm.conf"), "-N", "localhost")
        started.append(folder / "slurmd.pid")

        def idle() -> bool:
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True).stdout
            return out.strip() in {"idle", "mix", "alloc"}

        _wait(idle, 60, "the Slurm node never came up")
        # Measured working: a job runs and its output comes back.
        job = subprocess.run(["sbatch", "--parsable", "--wait", f"--output={folder / 'hostname.out'}", "--wrap",
                              "hostname"], env=env, capture_output=True, text=True, timeout=120)
        assert job.returncode == 0, job.stderr
        assert (folder / "hostname.out").read_text().strip()
        yield env
    finally:
        for pid_file in reversed(started):  # only the daemons this test started, by their pid
            try:
                os.kill(int(pid_file.read_text().strip()), 15)
            except (FileNotFoundError, ValueError, ProcessLookupError):
                pass


def gradebook_cells(course: Path, students) -> dict:
    """Every graded cell's score of ``students`` in a course gradebook."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {(s, notebook.name, grade.name): grade.score for s in students
                for notebook in gb.find_submission(NOTEBOOK, s).notebooks for grade in notebook.grades}


def test_grade_slurm_script_equals_grading_on_one_machine(slurm, tmp_path, tmp_path_factory):
    course = build_tiny_course(tmp_path_factory)
    release = course["root"] / "release" / NOTEBOOK / f"{NOTEBOOK}.ipynb"
    source = course["config"].source_notebook(NOTEBOOK)
    folder = tmp_path / "submissions"
    folder.mkdir()
    nbformat.write(filled_release(release, source), folder / f"ada_{NOTEBOOK}.ipynb")
    nbformat.write(filled_release(release, source, ADD_ONE_BUG), folder / f"ben_{NOTEBOOK}.ipynb")
    nbformat.write(filled_release(release, source, FLAGGED_IMPORT), folder / f"cy_{NOTEBOOK}.ipynb")
    (folder / f"dee_{NOTEBOOK}.ipynb").write_text("{ not a notebook")

    # On one machine, in a copy of the released course.
    single = Path(shutil.copytree(course["root"], tmp_path / "single"))
    alone = grade_folder(folder, course["config"], single, log=lambda m: None)
    assert alone["scores"]["ada"][NOTEBOOK] > alone["scores"]["ben"][NOTEBOOK]

    # On Slurm: the script's release, 3 array tasks, the merge, feedback and export.
    sharded = tmp_path / "sharded"
    proc = subprocess.run(["bash", str(KIT_ROOT / "scripts" / "grade-slurm.sh"), "-n", "3", "-c", "1", "-w",
                           "-k", str(course["kit_toml"]), str(folder), str(sharded)],
                          env=slurm, capture_output=True, text=True, timeout=1500)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted((sharded / "slurm-logs").glob("*")))
    assert proc.returncode == 0, proc.stdout + proc.stderr + logs
    merged = json.loads((sharded / "merge-report.json").read_text())
    assert len(merged["merged"]) == 3 and merged["not_merged"] == [] and merged["unfinished"] == []
    for key in ("scores", "errors", "flags", "students", "files", "superseded", "identity_warnings"):
        assert merged[key] == alone[key], key
    assert any("gc" in flag for flag in merged["flags"]["cy/" + NOTEBOOK])
    assert "dee/" + NOTEBOOK in merged["errors"]
    graded = ["ada", "ben", "cy"]
    assert gradebook_cells(sharded, graded) == gradebook_cells(single, graded)
    assert (sharded / "grades.csv").is_file() and (sharded / "feedback" / "ada" / NOTEBOOK).is_dir()
