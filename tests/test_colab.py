"""Play Colab: a fresh Python without the kit runs a release notebook, which installs the bundle and runs.

The fresh virtual environment sees this environment's packages (torch, jupyter, ...) as Colab's preinstalled
ones, but not the kit: the notebook's first cell must download the bundle from its configured location (here
a file:// URL to a locally built bundle), install its requirements, and import the helpers from it.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys

import nbformat
import pytest

from autograder.config import load_config
from autograder.release import build_release
from tests.submissions import filled_release

pytestmark = pytest.mark.slow


def test_a_release_notebook_installs_the_bundle_and_runs(tmp_path):
    config = load_config()
    made = build_release(config, dist=tmp_path / "dist", course_dir=tmp_path / "course")
    fresh = tmp_path / "fresh-venv"
    subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True)
    fresh_python = fresh / "bin" / "python"
    fresh_site = subprocess.run([fresh_python, "-c", "import site; print(site.getsitepackages()[0])"],
                                check=True, capture_output=True, text=True).stdout.strip()
    # "Preinstalled" packages, as on Colab: this environment's site-packages, which do not hold the kit.
    (tmp_path / fresh_site / "preinstalled.pth").write_text(site.getsitepackages()[0] + "\n")
    probe = subprocess.run([fresh_python, "-c", "import helpers"], capture_output=True, text=True,
                           cwd=tmp_path, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert probe.returncode != 0, "the fresh environment must not see the kit"

    student = tmp_path / "student"
    student.mkdir()
    release = made["notebooks"][0]
    # A student's completed copy of the release notebook, plus a cell that reports where helpers came from.
    nb = filled_release(release, config.source_notebook("dcgan"))
    nb.cells.append(nbformat.v4.new_code_cell("import helpers; print('HELPERS_FROM', helpers.__file__)"))
    nbformat.write(nb, student / "dcgan.ipynb")
    install_dir = tmp_path / "bundle-install"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NBGRADER_EXECUTION")}
    env |= {"KIT_BUNDLE_URL": made["bundle"].as_uri(), "KIT_BUNDLE_DIR": str(install_dir), "KIT_FAST": "1",
            "HOME": str(tmp_path / "home")}
    proc = subprocess.run([fresh_python, "-m", "nbconvert", "--to", "notebook", "--execute",
                           "--ExecutePreprocessor.timeout=600", "--output", "executed.ipynb", "dcgan.ipynb"],
                          cwd=student, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    executed = nbformat.read(student / "executed.ipynb", 4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "Downloading the course bundle" in text
    assert f"HELPERS_FROM {install_dir}" in text
    assert (install_dir / "data" / "emojis.npz").is_file()
    assert (student / "outputs" / "dcgan" / "vanilla" / "samples.gif").is_file()
    assert (student / "outputs" / "dcgan" / "real_emojis.png").is_file()
