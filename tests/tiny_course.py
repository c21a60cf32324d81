"""A tiny graded notebook and a kit configuration that lists it alone, for the tests whose checks are about the
grader itself (identities from LMS layouts, rosters, exports, the formgrader, Slurm shards, files and links a
submission leaves) rather than about an assignment's content.

The notebook follows every convention of the real ones (setup cell first, locked imports, solution regions, test
cells with points, written answers graded by hand, the hand-in check last) and goes through the same grader: the
repair layer, nbgrader in the sandbox, the verification run. Grading one of its submissions takes a few seconds
(nbgrader's start-up, the sandbox, the guarded imports), where DCGAN's takes about twenty (three training runs).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import nbformat

from autograder.config import KIT_ROOT, KitConfig, load_config

TINY = "tiny"
# Autograded points: add_one 2, scale 7 (as DCGAN's generator and the rest); with the three written answers (2 each).
FULL, MAX = 9.0, 15.0
ADD_ONE_POINTS = 2.0
ANSWERS = ("answer_why", "answer_where", "answer_what")
# Answer bugs for filled_release: {grade_id: (reference text, buggy text)}.
ADD_ONE_BUG = {"add_one": ("return x + 1", "return x + 2")}        # costs add_one's 2 points
FLAGGED_IMPORT = {"add_one": ("return x + 1", "import gc\n    return x + 1")}  # correct, flagged for a person


def graded_cell(source: str, grade_id: str, kind: str = "code", **flags) -> nbformat.NotebookNode:
    """A cell with nbgrader's metadata (``flags``: solution, grade, locked, points)."""
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(source)
    cell.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": False, "task": False,
                                 "schema_version": 3, "grade_id": grade_id, **flags}
    return cell


def tiny_notebook() -> nbformat.NotebookNode:
    """The source notebook (solutions and tests), as an instructor writes one."""
    from autograder.setup_cell import SETUP_CELL

    imports = graded_cell(f'import math\n\nOUT = "outputs/{TINY}"', "imports", locked=True)
    imports.metadata["tags"] = ["imports"]
    cells = [
        nbformat.v4.new_markdown_cell("# A tiny assignment\n\nTwo functions and three questions."),
        graded_cell(SETUP_CELL.rstrip("\n"), "setup", locked=True),
        imports,
        graded_cell("def add_one(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION", "add_one",
              solution=True),
        graded_cell("# Tests for add_one (2 points)\nassert add_one(1) == 2\nassert add_one(-3) == -2", "test_add_one",
              grade=True, locked=True, points=2),
        graded_cell("def scale(x, k):\n    ### BEGIN SOLUTION\n    return x * k\n    ### END SOLUTION", "scale",
              solution=True),
        graded_cell("# Tests for scale (7 points)\nassert scale(3, 2) == 6\nassert math.isclose(scale(0.5, 3), 1.5)",
              "test_scale", grade=True, locked=True, points=7),
    ]
    for grade_id in ANSWERS:
        cells.append(graded_cell(f"**Question ({grade_id}).** Explain in two sentences.", f"{grade_id}_question",
                           kind="markdown", locked=True))
        cells.append(graded_cell("YOUR ANSWER HERE", grade_id, kind="markdown", solution=True, grade=True, points=2))
    cells.append(nbformat.v4.new_code_cell(f'from helpers.core.handin import check_before_handing_in\n\n'
                                           f'ready = check_before_handing_in("{TINY}")'))
    return nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "display_name": "Python 3", "language": "python", "name": "python3"}})


def tiny_kit(folder: Path, **changes) -> tuple[Path, KitConfig]:
    """``folder/kit.toml`` (the kit's own, listing the tiny notebook alone, in ``folder/notebooks/``) and its
    configuration with ``changes``; the CLI takes the file (``--config``)."""
    notebooks = folder / "notebooks"
    notebooks.mkdir(parents=True, exist_ok=True)
    nbformat.write(tiny_notebook(), notebooks / f"{TINY}.ipynb")
    path = folder / "kit.toml"
    path.write_text(kit_toml_listing([TINY]))
    return path, dataclasses.replace(load_config(path), **changes)


def kit_toml_listing(assignments: list[str]) -> str:
    """The kit's own kit.toml with another list of assignments, whose notebooks are in ``notebooks/`` beside it."""
    real = load_config()
    toml = (KIT_ROOT / "kit.toml").read_text()
    listed = f"assignments = {list(real.assignments)!r}".replace("'", '"')
    assert listed in toml, "kit.toml's assignments line as kit_toml_listing edits it"
    wanted = f"assignments = {list(assignments)!r}".replace("'", '"')
    return toml.replace(listed, f'{wanted}\nnotebooks_dir = "notebooks"')


def build_tiny_course(tmp_path_factory, **changes) -> dict:
    """The tiny kit (:func:`tiny_kit`) and its released course: ``{"root", "config", "kit_toml", "notebooks",
    "bundle"}``."""
    from tests.submissions import build_course

    kit_toml, config = tiny_kit(tmp_path_factory.mktemp("tiny-kit"), **changes)
    return {**build_course(config, tmp_path_factory), "config": config, "kit_toml": kit_toml}
