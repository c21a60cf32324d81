"""What a student installs from the bundle gives a working Jupyter (and Colab keeps its own torch)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

from autograder.config import KIT_ROOT
from autograder.release import LOCAL_INSTALL, STUDENT_README, build_bundle


def _requirements(path: Path) -> list[Requirement]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("-r")]


def test_the_local_requirements_add_jupyter_to_the_notebooks_requirements():
    local = (KIT_ROOT / "requirements-local.txt").read_text()
    assert "-r requirements.txt" in local
    names = {r.name.lower() for r in _requirements(KIT_ROOT / "requirements-local.txt")}
    assert {"jupyterlab", "ipykernel"} <= names
    # Colab installs requirements.txt only: no Jupyter there, and torch's range admits Colab's own.
    colab = {r.name.lower(): r for r in _requirements(KIT_ROOT / "requirements.txt")}
    assert "jupyterlab" not in colab and "notebook" not in colab
    assert not any(op in str(colab["torch"].specifier) for op in ("==", "<"))


def test_this_environment_satisfies_them_and_runs_jupyter_lab():
    for requirement in _requirements(KIT_ROOT / "requirements-local.txt"):
        try:
            assert version(requirement.name) in requirement.specifier, requirement
        except PackageNotFoundError:
            raise AssertionError(f"{requirement.name} is not installed") from None
    proc = subprocess.run([sys.executable, "-m", "jupyterlab", "--version"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip()[0].isdigit(), proc.stderr


def test_the_bundle_ships_them_and_both_readmes_say_so(tmp_path):
    bundle = build_bundle([], tmp_path / "bundle.zip")
    names = zipfile.ZipFile(bundle).namelist()
    assert {"requirements.txt", "requirements-local.txt"} <= set(names)
    assert LOCAL_INSTALL in STUDENT_README.replace("\n", " ")
    assert LOCAL_INSTALL in (KIT_ROOT / "README.md").read_text()
