"""``python -m autograder release``: the student release notebooks and the student bundle."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from autograder.config import KIT_ROOT, KitConfig
from autograder.course import DEFAULT_COURSE_DIR, generate_assignments

DEFAULT_DIST = KIT_ROOT / "dist"
BUNDLE_NAME = "kit-bundle.zip"
# What students receive besides the notebooks: the library (no solutions live there), the data, requirements.
BUNDLE_PARTS = ("helpers", "data", "requirements.txt", "requirements-local.txt", "writeup_template.tex")
LOCAL_INSTALL = "pip install -r requirements-local.txt"  # the notebooks' requirements plus Jupyter

STUDENT_README = """\
# GAN and deep-RL assignments: student bundle

Open the notebooks in `notebooks/` (Google Colab: File -> Upload notebook, or the course's "Open in Colab" links).
Their first cell finds this bundle (or downloads it on Colab). Run all cells, fill in the `YOUR CODE HERE` cells,
and hand in the notebook and your writeup PDF. Locally: `pip install -r requirements-local.txt` (the
notebooks' requirements and Jupyter), then `jupyter lab`.
"""


def _ignored(path: Path) -> bool:
    return any(part in {"__pycache__", ".ipynb_checkpoints"} for part in path.parts) or path.suffix == ".pyc"


def build_bundle(release_notebooks: list[Path], target: Path) -> Path:
    """Zip the student bundle: ``helpers/``, ``data/``, ``requirements.txt``, the release notebooks, a README."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for part in BUNDLE_PARTS:
            source = KIT_ROOT / part
            files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
            for file in files:
                if not _ignored(file.relative_to(KIT_ROOT)):
                    bundle.write(file, file.relative_to(KIT_ROOT).as_posix())
        for notebook in release_notebooks:
            bundle.write(notebook, f"notebooks/{notebook.name}")
        bundle.writestr("README.md", STUDENT_README)
    return target


def build_release(config: KitConfig, dist: Path = DEFAULT_DIST, course_dir: Path = DEFAULT_COURSE_DIR) -> dict:
    """Generate the release notebooks with nbgrader and the bundle; returns the paths made."""
    released = generate_assignments(config, course_dir)
    notebooks_dir = dist / "release" / "notebooks"
    if notebooks_dir.exists():
        shutil.rmtree(notebooks_dir)
    notebooks_dir.mkdir(parents=True)
    copies = [Path(shutil.copy2(nb, notebooks_dir / nb.name)) for nb in released]
    bundle = build_bundle(copies, dist / BUNDLE_NAME)
    return {"notebooks": copies, "bundle": bundle}
