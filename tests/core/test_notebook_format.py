"""The notebook conventions (helpers/core/notebook_format.py) hold in every source notebook kit.toml lists, and
their users agree: the setup cell first, no outputs, unique grade ids, the marker conventions once released, the
notebook's OUT folder. The checks are functions of a notebook's path, so a notebook added to kit.toml is checked
without naming it here (tests/core/test_layout.py checks that with a tiny eighth notebook)."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

from autograder.config import load_config
from autograder.repair import add_markers
from autograder.setup_cell import SETUP_CELL
from helpers.core import notebook_format as fmt
from helpers.core.writeup import notebook_name

CONFIG = load_config()
SOURCE_NOTEBOOKS = [CONFIG.source_notebook(a) for a in CONFIG.assignments]


def notebook_problems(path: Path) -> list[str]:
    """What is wrong with source notebook ``path``: the invariants every graded notebook keeps (empty: none)."""
    source = nbformat.read(path, as_version=4)
    problems = []
    code = [c for c in source.cells if c.cell_type == "code"]
    if not code or code[0].source != SETUP_CELL.rstrip("\n"):
        problems.append("the first code cell is not the setup cell (autograder/setup_cell.py)")
    if any(c.get("outputs") or c.get("execution_count") for c in code):
        problems.append("committed with outputs (clear them)")
    if notebook_name(source) != path.stem:
        problems.append(f"its writeup name is {notebook_name(source)!r}, not {path.stem!r}")
    if not any(f'OUT = "{fmt.out_folder(path.stem)}"' in c.source for c in code):
        problems.append(f'no cell sets OUT = "{fmt.out_folder(path.stem)}"')
    released = add_markers(copy.deepcopy(source))  # what the release writes into each graded cell
    tests, ids = 0, []
    for cell in released.cells:
        role = fmt.cell_role(cell)
        if role in (fmt.ANSWER, fmt.TEST):
            ids.append(fmt.grade_id(cell))
            problems += fmt.convention_problems(cell, released=True)
        if role == fmt.TEST:
            tests += 1
            # The grading kernel's guard runs only before cells that start with the test marker.
            if not cell.source.startswith(fmt.TEST_MARKER):
                problems.append(f"{fmt.grade_id(cell)} does not start with the test marker")
    if not tests:
        problems.append("no test cell")
    if len(ids) != len(set(ids)):
        problems.append("duplicated grade ids")
    return problems


def test_every_source_notebook_is_listed_in_kit_toml():
    assert len(SOURCE_NOTEBOOKS) >= 7
    on_disk = {p.stem for p in Path(CONFIG.notebooks_dir).glob("*.ipynb")}
    assert on_disk == set(CONFIG.assignments), "add the notebook's line to kit.toml's assignments"


@pytest.mark.parametrize("path", SOURCE_NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_keeps_the_invariants(path):
    assert not notebook_problems(path), f"{path.name}: " + "; ".join(notebook_problems(path))


def test_markers_round_trip():
    assert fmt.marker_line("code", "test_generator") == "#| kit: test_generator"
    assert fmt.marker_line("markdown", "answer_gp") == "<!-- kit: answer_gp -->"
    for cell_type, gid in (("code", "generator"), ("markdown", "answer_gp"), ("code", "test_x-1")):
        text = f"{fmt.marker_line(cell_type, gid)}\nbody"
        assert fmt.MARKER_RE.search(text).group(1) == gid
    assert fmt.CODE_MARKER_RE.match("#| kit: generator").group(1) == "generator"
    assert fmt.CODE_MARKER_RE.match("<!-- kit: answer_gp -->") is None
    assert fmt.marker_line("code", "test_generator").startswith(fmt.TEST_MARKER)
    assert not fmt.marker_line("code", "generator").startswith(fmt.TEST_MARKER)


def _cell(source: str, **nbgrader) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {"nbgrader": nbgrader}}


def test_convention_problems_name_what_is_wrong():
    assert fmt.convention_problems(_cell("#| kit: test_ok\nassert 1", grade=True, grade_id="test_ok"), True) == []
    assert fmt.convention_problems(_cell("x = 1", locked=True, grade_id="imports"), True) == []
    bad_test = fmt.convention_problems(_cell("#| kit: check_it\nassert 1", grade=True, grade_id="check_it"), True)
    assert any("test_<name>" in p for p in bad_test) and any("grading guard" in p for p in bad_test)
    answer = fmt.convention_problems(_cell("#| kit: test_answer\nx = 1", solution=True, grade_id="test_answer"))
    assert any("only test cells" in p for p in answer)
    unmarked = fmt.convention_problems(_cell("assert 1", grade=True, grade_id="test_ok"), released=True)
    assert any("marker line" in p for p in unmarked)
    assert fmt.convention_problems(_cell("assert 1", grade=True, grade_id="test_ok"), released=False) == []
    assert fmt.convention_problems(_cell("x", solution=True, grade_id="bad id"))


def test_roles_from_metadata():
    assert fmt.cell_role(_cell("", solution=True, grade=True)) == fmt.ANSWER
    assert fmt.cell_role(_cell("", grade=True)) == fmt.TEST
    assert fmt.cell_role(_cell("", locked=True)) == fmt.READ_ONLY
    assert fmt.cell_role({"cell_type": "code", "source": "", "metadata": {}}) is None
    assert fmt.cell_role({"cell_type": "code", "source": "", "metadata": {"nbgrader": "mangled"}}) is None
    assert fmt.cell_source({"source": ["a\n", "b"]}) == "a\nb"


def test_the_grading_kernel_uses_the_same_test_marker():
    # The guard the grading kernel runs restores patched functions only before cells with this marker.
    from autograder.sandbox import KERNEL_GUARD

    assert repr(fmt.TEST_MARKER) in KERNEL_GUARD
