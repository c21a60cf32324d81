"""The notebook conventions (helpers/core/notebook_format.py) hold in every source notebook, and their users agree."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

from autograder.repair import add_markers
from helpers.core import notebook_format as fmt
from helpers.core.writeup import notebook_name

KIT_ROOT = Path(__file__).resolve().parents[2]
SOURCE_NOTEBOOKS = sorted((KIT_ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_source_notebooks():
    assert len(SOURCE_NOTEBOOKS) >= 7


@pytest.mark.parametrize("path", SOURCE_NOTEBOOKS, ids=lambda p: p.stem)
def test_every_graded_cell_follows_the_conventions_once_released(path):
    source = nbformat.read(path, as_version=4)
    released = add_markers(copy.deepcopy(source))  # what the release writes into each graded cell
    problems, tests, ids = [], 0, []
    for cell in released.cells:
        role = fmt.cell_role(cell)
        if role in (fmt.ANSWER, fmt.TEST):
            ids.append(fmt.grade_id(cell))
            problems += fmt.convention_problems(cell, released=True)
        if role == fmt.TEST:
            tests += 1
            # The grading kernel's guard runs only before cells that start with the test marker.
            assert cell.source.startswith(fmt.TEST_MARKER), f"{path.name}: {fmt.grade_id(cell)}"
    assert not problems, f"{path.name}: " + "; ".join(problems)
    assert tests >= 1, f"{path.name} has no test cell"
    assert len(ids) == len(set(ids)), f"{path.name}: duplicated grade ids"


@pytest.mark.parametrize("path", SOURCE_NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_names_its_out_folder(path):
    nb = nbformat.read(path, as_version=4)
    assert notebook_name(nb) == path.stem
    assert any(f'OUT = "{fmt.out_folder(path.stem)}"' in c.source for c in nb.cells if c.cell_type == "code")


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

    assert f"marker = {fmt.TEST_MARKER!r}" in KERNEL_GUARD
