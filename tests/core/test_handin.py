"""The hand-in check (helpers.core.handin) on the DCGAN notebook: filled, unfilled, broken, and where it looks."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
import pytest

from autograder.config import load_config
from autograder.repair import add_markers
from helpers.core import handin
from helpers.core import notebook_format as fmt
from helpers.core.runtime import KIT_ROOT


def _filled() -> dict:
    """The DCGAN notebook as a student who answered everything and ran it all saves it (tests passing)."""
    nb = nbformat.read(KIT_ROOT / "notebooks" / "dcgan.ipynb", 4)
    for cell in nb.cells:  # the source's written answers are left for the student: write them
        if cell.cell_type == "markdown" and fmt.cell_role(cell) == fmt.ANSWER:
            cell.source = "The losses oscillate, then settle."
    nb = add_markers(nb)
    for count, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
        cell.outputs = [nbformat.v4.new_output("stream", text="ok\n")]
    return json.loads(nbformat.writes(nb))


def _figures(run_dir: Path) -> None:
    for figure in handin.figures_needed("dcgan"):
        (run_dir / figure).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / figure).write_bytes(b"png")


def _items(nb: dict, run_dir: Path) -> dict[str, handin.Item]:
    return {item.what.split(" (")[0]: item for item in handin.check_notebook(nb, "dcgan", run_dir)}


def test_a_finished_notebook_is_ready(tmp_path):
    _figures(tmp_path)
    items = _items(_filled(), tmp_path)
    assert all(item.ok for item in items.values()), [str(i) for i in items.values()]
    assert len(handin.figures_needed("dcgan")) >= 10


def test_each_problem_is_named_with_its_fix(tmp_path):
    _figures(tmp_path)
    nb = _filled()
    answer = next(c for c in nb["cells"] if fmt.grade_id(c) == "generator")
    answer["source"] = "#| kit: generator\n# YOUR CODE HERE\nraise NotImplementedError()"
    test = next(c for c in nb["cells"] if fmt.grade_id(c) == "test_discriminator_step")
    test["outputs"] = [{"output_type": "error", "ename": "AssertionError", "evalue": "wrong update", "traceback": []}]
    unrun = next(c for c in nb["cells"] if fmt.grade_id(c) == "test_generator_step")
    unrun["outputs"], unrun["execution_count"] = [], None
    nb["cells"].append(copy.deepcopy(answer))
    stripped = next(c for c in nb["cells"] if fmt.grade_id(c) == "training_step")
    stripped["metadata"] = {}
    gone = next(c for c in nb["cells"] if fmt.grade_id(c) == "test_training_iteration")
    nb["cells"].remove(gone)
    (tmp_path / "outputs" / "dcgan" / "vanilla" / "losses.png").unlink()
    items = _items(nb, tmp_path)
    assert not items["every answer written"].ok and "generator" in items["every answer written"].fix
    tests = items["every visible test run and passing"]
    assert not tests.ok and "test_discriminator_step (AssertionError: wrong update)" in tests.fix
    assert "not run: test_generator_step" in tests.fix
    cells = items["every graded cell recognisable by the grader"]
    assert not cells.ok and "appear twice: generator" in cells.fix and "test_training_iteration" in cells.fix
    assert "stripped from training_step" in cells.fix
    figures = items["the writeup's figures saved"]
    assert not figures.ok and "outputs/dcgan/vanilla/losses.png" in figures.fix


def test_it_finds_the_saved_notebook_and_says_when_there_is_none(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert handin.check_before_handing_in("dcgan", run_dir=tmp_path) is False
    assert "Save this notebook first" in capsys.readouterr().out
    (tmp_path / "Copy of dcgan (2).ipynb").write_text(json.dumps(_filled()))
    (tmp_path / "other.ipynb").write_text(json.dumps({"cells": [], "metadata": {}}))
    _figures(tmp_path)
    assert handin.check_before_handing_in("dcgan", run_dir=tmp_path) is True
    out = capsys.readouterr().out
    assert "Copy of dcgan (2).ipynb (saved 0 min ago)" in out and "Ready to hand in" in out


def test_it_reads_colab_s_open_notebook(tmp_path, monkeypatch):
    import sys
    import types

    colab = types.ModuleType("google.colab")
    message = types.ModuleType("google.colab._message")
    message.blocking_request = lambda kind, request, timeout_sec: {"ipynb": _filled()} if kind == "get_ipynb" else {}
    colab._message = message
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab._message", message)
    nb, where = handin.find_notebook("dcgan", tmp_path)
    assert where == "the notebook open in Colab" and nb == _filled()


def ends_with_the_check(path: Path) -> bool:
    """Whether source notebook ``path``'s last code cell runs the hand-in check of that notebook."""
    last = [c for c in nbformat.read(path, 4).cells if c.cell_type == "code"][-1]
    return f'check_before_handing_in("{path.stem}")' in last.source


@pytest.mark.parametrize("name", load_config().assignments)
def test_every_notebook_ends_with_the_check(name):
    assert ends_with_the_check(load_config().source_notebook(name))


def test_the_digit_lab_s_figures_are_found_in_the_student_s_digit_folder(tmp_path):
    needed = handin.figures_needed("lab_mnist_digit")
    assert any("\\labdigit" in f for f in needed)
    for figure in needed:
        path = tmp_path / figure.replace("\\labdigit", "3")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"png")
    nb = json.loads(nbformat.writes(nbformat.read(KIT_ROOT / "notebooks" / "lab_mnist_digit.ipynb", 4)))
    figures = next(i for i in handin.check_notebook(nb, "lab_mnist_digit", tmp_path) if "figures" in i.what)
    assert figures.ok, str(figures)
    (tmp_path / "outputs" / "lab_mnist_digit" / "digit_3" / "losses.png").unlink()
    figures = next(i for i in handin.check_notebook(nb, "lab_mnist_digit", tmp_path) if "figures" in i.what)
    assert not figures.ok and "losses.png" in str(figures)


def test_an_optional_answer_cell_without_points_is_not_asked_for(tmp_path):
    """The toy lab's optional NumPy GAN (no points, a comment says optional) is not "still to do" when untouched,
    while its graded TODOs are; a cell with points is never optional, whatever its comments say."""
    import re

    nb = add_markers(nbformat.read(KIT_ROOT / "notebooks" / "toy_gan.ipynb", 4))
    for cell in nb.cells:  # as released: every solution region replaced by the stub
        if cell.cell_type == "code" and fmt.cell_role(cell) == fmt.ANSWER:
            cell.source = re.sub(r"### BEGIN SOLUTION\n.*?### END SOLUTION",
                                 "# YOUR CODE HERE\nraise NotImplementedError()", cell.source, flags=re.S)
    nb = json.loads(nbformat.writes(nb))
    optional = next(c for c in nb["cells"] if fmt.grade_id(c) == "numpy_gan")
    assert handin.is_optional(optional) and "raise NotImplementedError()" in fmt.cell_source(optional)
    written = {i.what.split(" (")[0]: i for i in handin.check_notebook(nb, "toy_gan", tmp_path)}["every answer written"]
    assert not written.ok and "mixture_4" in written.fix and "training_iteration" in written.fix
    assert "numpy_gan" not in written.fix
    graded = {"cell_type": "code", "source": "# optional: any design\n# YOUR CODE HERE",
              "metadata": {"nbgrader": {"solution": True, "grade": True, "points": 2, "grade_id": "extra"}}}
    assert not handin.is_optional(graded)
    plain = next(c for c in nb["cells"] if fmt.grade_id(c) == "mixture_4")
    assert not handin.is_optional(plain)
