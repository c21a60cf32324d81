"""What grading writes and copies: stored output capped whatever wrote it, only regular files merged, the course
gradebook kept across a batch that fails, and (real grader) a submission that replaces its own notebook with a
link and floods its output (autograder/grade.py, autograder/course.py)."""

from __future__ import annotations

import json
import os
import sqlite3

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.config import KIT_ROOT, load_config
from autograder.course import CUT_NOTE, _output_sizes, cap_notebook_file, cap_outputs
from autograder.grade import gradebook_kept, gradebook_sound, merge_submission
from autograder.sandbox import probe


@pytest.fixture(autouse=True)
def _alembic_on_path(monkeypatch):
    """nbgrader's Gradebook runs ``alembic`` from this Python's ``bin/`` (as the grader's own environment has)."""
    from autograder.course import nbgrader_env

    monkeypatch.setenv("PATH", nbgrader_env()["PATH"])


def _outputs_size(cell) -> int:
    return len(json.dumps(cell.outputs))


def test_stored_output_is_capped_whatever_wrote_it():
    nb = nbformat.v4.new_notebook()
    flood = nbformat.v4.new_code_cell("flood()")
    flood.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a" * 300),
                     *[nbformat.v4.new_output("display_data", data={"text/plain": "b" * 400}) for _ in range(5)],
                     nbformat.v4.new_output("execute_result", data={"text/html": "<p>" + "c" * 500},
                                            execution_count=1)]
    failing = nbformat.v4.new_code_cell("fail()")
    failing.outputs = [nbformat.v4.new_output("stream", name="stdout", text="d" * 900),
                       nbformat.v4.new_output("error", ename="AssertionError", evalue="e" * 50,
                                              traceback=["f" * 40] * 10)]
    honest = nbformat.v4.new_code_cell("ok()")
    honest.outputs = [nbformat.v4.new_output("stream", name="stdout", text="fine\n"),
                      *[nbformat.v4.new_output("display_data", data={"image/png": "g" * 2000,
                                                                     "text/plain": "<Figure>"})] * 2]
    images = nbformat.v4.new_code_cell("show()")
    images.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "h" * 3000, "text/plain": "<F>"})
                      for _ in range(4)]
    nb.cells = [flood, failing, honest, images]
    before = json.dumps(honest.outputs)
    assert cap_outputs(nb, 1000, image_limit=5000) == 3
    assert nb.cells[0].outputs[0].text == "a" * 300  # whole outputs first, in order
    assert [o.output_type for o in nb.cells[0].outputs] == ["stream", "display_data", "stream"]
    assert nb.cells[0].outputs[-1].text == CUT_NOTE.format(limit=1000)
    kinds = [o.output_type for o in nb.cells[1].outputs]
    assert kinds == ["stream", "error", "stream"], "a failing cell's error stays an error"
    assert sum(len(line) for line in nb.cells[1].outputs[1].traceback) <= 100
    assert json.dumps(nb.cells[2].outputs) == before, "output under the limits is untouched"
    kept = nb.cells[3].outputs
    assert [sorted(o.get("data", {})) for o in kept] == [["image/png", "text/plain"], ["text/plain"], []]
    nbformat.validate(nb)


def test_capping_a_file_rewrites_it_in_place(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": "x" * 5000})]
    nb.cells = [cell]
    path = tmp_path / "a.ipynb"
    nbformat.write(nb, path)
    path.chmod(0o444)  # as nbgrader leaves it
    assert cap_notebook_file(path, 1000, 1000) == 1
    assert os.stat(path).st_mode & 0o777 == 0o444
    assert _outputs_size(nbformat.read(path, 4).cells[0]) < 1000
    link = tmp_path / "link.ipynb"
    link.symlink_to(path)
    with pytest.raises(OSError):
        cap_notebook_file(link, 1000, 1000)  # never through a link


def test_the_kit_s_own_figures_are_never_cut():
    """The reference notebooks' stored outputs (figures up to about 1 MB a cell) keep every character."""
    config = load_config()
    for name in config.assignments:
        nb = nbformat.read(config.source_notebook(name), 4)
        executed = KIT_ROOT / "build" / "executed" / name / f"{name}.ipynb"
        if executed.is_file():  # made by `make all`; else the figures are the size the settings allow for
            nb = nbformat.read(executed, 4)
        else:
            for cell in (c for c in nb.cells if c.cell_type == "code"):
                cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "i" * 1_000_000})]
        assert cap_outputs(nb, config.max_output_chars, config.max_output_image_chars) == 0, name


def _worker_with_files(tmp_path, student="s", assignment="a"):
    """A course and a worker whose gradebooks hold one submission, and the worker's autograded folder."""
    course, worker = tmp_path / "course", tmp_path / "worker"
    for root in (course, worker):
        root.mkdir()
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            gb.add_assignment(assignment)
    with Gradebook(f"sqlite:///{worker / 'gradebook.db'}") as gb:
        gb.add_student(student)
        gb.add_submission(assignment, student)
    made = worker / "autograded" / student / assignment
    made.mkdir(parents=True)
    (made / "a.ipynb").write_text("{}")
    return course, worker, made


def test_merge_copies_regular_files_only(tmp_path):
    course, worker, made = _worker_with_files(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("not the grader's")
    (made / "link.txt").symlink_to(outside)
    os.link(outside, made / "hard.txt")
    os.mkfifo(made / "fifo")
    (made / "sub").mkdir()
    (made / "sub" / "kept.txt").write_text("kept")
    left = merge_submission(worker, course, "a", "s")
    target = course / "autograded" / "s" / "a"
    assert sorted(p.name for p in target.iterdir()) == ["a.ipynb", "sub"]
    assert (target / "sub" / "kept.txt").read_text() == "kept"
    assert sorted(os.path.basename(p) for p in left) == ["fifo", "hard.txt", "link.txt"]
    assert outside.read_text() == "not the grader's"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_submission("a", "s")


def test_merge_refuses_a_folder_that_is_a_link(tmp_path):
    course, worker, made = _worker_with_files(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    made.rename(elsewhere)
    made.symlink_to(elsewhere)
    assert merge_submission(worker, course, "a", "s") == [str(made)]
    assert not (course / "autograded" / "s" / "a").exists()


def test_a_batch_that_breaks_the_gradebook_loses_no_grade(tmp_path):
    course, _, _ = _worker_with_files(tmp_path)
    db = course / "gradebook.db"
    with Gradebook(f"sqlite:///{db}") as gb:
        gb.add_student("earlier")
    with pytest.raises(RuntimeError), gradebook_kept(course, log=lambda line: None) as backup:
        db.write_text('{"cells": []}')  # what nbgrader wrote through a link, before the fix
        raise RuntimeError("file is not a database")
    assert backup.exists() and gradebook_sound(db)
    with Gradebook(f"sqlite:///{db}") as gb:
        assert [s.id for s in gb.students] == ["earlier"]
    with gradebook_kept(course, log=lambda line: None):  # a batch that ends well keeps its own grades
        with Gradebook(f"sqlite:///{db}") as gb:
            gb.add_student("later")
    with Gradebook(f"sqlite:///{db}") as gb:
        assert sorted(s.id for s in gb.students) == ["earlier", "later"]


ESCAPE = """
import os, sys
from IPython.display import display
os.remove("{name}.ipynb")
os.symlink({gradebook!r}, "{name}.ipynb")  # nbgrader writes the autograded notebook here, then chmods it
os.symlink({outside!r}, "notes.txt")
for _ in range(60):
    display({{"text/plain": "x" * 10000}}, raw=True)
sys.stdout._stream.write("y" * 300000)
"""


@pytest.mark.slow
@pytest.mark.skipif(not probe().startswith("isolated"), reason="no namespaces on this machine")
def test_a_submission_that_links_its_notebook_away_changes_nothing_outside(tmp_path_factory):
    """On the tiny notebook (tests/tiny_course.py): what is checked is what nbgrader does with the folder the kernel
    leaves, the same for any assignment."""
    from autograder.grade import grade_folder
    from tests.submissions import filled_release
    from tests.tiny_course import FULL, TINY, build_tiny_course

    course = build_tiny_course(tmp_path_factory, max_output_chars=50_000)
    root, config = course["root"], course["config"]
    outside = tmp_path_factory.mktemp("outside") / "notes.txt"
    outside.write_text("someone's notes")
    nb = filled_release(root / "release" / TINY / f"{TINY}.ipynb", config.source_notebook(TINY))
    nb.cells.append(nbformat.v4.new_code_cell(ESCAPE.format(name=TINY, gradebook=str(root / "gradebook.db"),
                                                            outside=str(outside))))
    folder = tmp_path_factory.mktemp("submissions")
    nbformat.write(nb, folder / f"mallory_{TINY}.ipynb")
    log: list[str] = []
    result = grade_folder(folder, config, root, log=log.append, workers=1)
    assert result["scores"]["mallory"][TINY] == FULL, (result, log)
    assert gradebook_sound(root / "gradebook.db")
    with sqlite3.connect(root / "gradebook.db") as db:
        assert db.execute("SELECT count(*) FROM grade").fetchone()[0] > 0
    assert outside.read_text() == "someone's notes" and oct(outside.stat().st_mode)[-3:] != "444"
    graded = root / "autograded" / "mallory" / TINY / f"{TINY}.ipynb"
    assert not graded.is_symlink() and sorted(p.name for p in graded.parent.iterdir()) == [f"{TINY}.ipynb"]
    stored = nbformat.read(graded, 4)
    text = [sum(_output_sizes(o)[0] for o in c.outputs) for c in stored.cells if c.cell_type == "code"]
    assert 50_000 <= max(text) < 51_000, "the flood is stored up to the limit, and a note"
    assert "limits: memory" in result["sandbox"] and "output 50000 chars/cell" in result["sandbox"]


@pytest.mark.slow
def test_the_cell_limit_is_the_grading_configurations_not_the_one_the_course_was_made_with(tmp_path_factory):
    """The course was generated with kit.toml's 120 s; a grading run with another limit gives nbgrader that one
    (a sleeping cell is interrupted, and the answers before it keep their points)."""
    import dataclasses

    from autograder.grade import grade_folder
    from tests.submissions import filled_release
    from tests.tiny_course import FULL, TINY, build_tiny_course

    course = build_tiny_course(tmp_path_factory)
    root, config = course["root"], course["config"]
    assert config.cell_timeout_s == 120 and "c.Execute.timeout = 120" in (root / "nbgrader_config.py").read_text()
    nb = filled_release(root / "release" / TINY / f"{TINY}.ipynb", config.source_notebook(TINY))
    nb.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(40)\nprint('slept')"))
    folder = tmp_path_factory.mktemp("submissions")
    nbformat.write(nb, folder / f"sam_{TINY}.ipynb")
    result = grade_folder(folder, dataclasses.replace(config, cell_timeout_s=8), root, log=lambda line: None,
                          workers=1)
    assert result["scores"]["sam"][TINY] == FULL
    stored = nbformat.read(root / "autograded" / "sam" / TINY / f"{TINY}.ipynb", 4)
    last = next(c for c in reversed(stored.cells) if c.cell_type == "code" and "time.sleep" in c.source)
    printed = "".join(o.get("text", "") for o in last.outputs if o.output_type == "stream")
    errors = {o.ename for o in last.outputs if o.output_type == "error"}
    assert "slept" not in printed and errors & {"KeyboardInterrupt", "CellTimeoutError"}, last.outputs
