"""Metadata repair of submissions against the release (no grading here: see test_grading.py)."""

from __future__ import annotations

import copy
import json

import nbformat
import pytest

from autograder.config import load_config
from autograder.grade import identify_assignment, release_notebooks
from autograder.repair import SubmissionError, read_notebook_json, repair_notebook
from helpers.core.notebook_format import MARKER_RE

CONFIG = load_config()


@pytest.fixture(scope="module")
def releases(course):
    """The release notebooks of the session's course (tests/conftest.py: built once for every test that needs it)."""
    return release_notebooks(CONFIG, course["root"])


@pytest.fixture
def release(releases):
    return releases["dcgan"]


def _as_json(nb) -> dict:
    return json.loads(nbformat.writes(nb))


def _graded(nb) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def test_every_graded_cell_of_the_release_carries_its_marker(release):
    for gid, cell in _graded(release).items():
        meta = cell.metadata["nbgrader"]
        if meta.get("solution") or meta.get("grade"):
            assert MARKER_RE.search(cell.source).group(1) == gid


def test_an_intact_submission_is_left_as_it_is(release):
    repaired, log = repair_notebook(_as_json(release), release)
    assert log == []
    assert [c.source for c in repaired.cells] == [c.source for c in release.cells]


def test_all_stripped_metadata_is_restored(release):
    sub = _as_json(release)
    for cell in sub["cells"]:
        cell["metadata"] = {}
        cell.pop("id", None)
    repaired, log = repair_notebook(sub, release)
    assert _graded(repaired).keys() == _graded(release).keys()
    for gid, cell in _graded(repaired).items():
        assert cell.metadata["nbgrader"] == _graded(release)[gid].metadata["nbgrader"]
    assert any("metadata restored" in line for line in log)


def test_a_cell_without_marker_or_metadata_is_found_by_id_or_content(release):
    sub = _as_json(release)
    test_cell = next(c for c in sub["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "test_generator")
    answer = next(c for c in sub["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "generator")
    for cell in (test_cell, answer):
        cell["metadata"] = {}
        cell["source"] = MARKER_RE.sub("", "".join(cell["source"])).lstrip("\n")
    test_cell.pop("id")  # the read-only test cell is found by its content, the answer by its cell id
    repaired, _ = repair_notebook(sub, release)
    assert {"generator", "test_generator"} <= _graded(repaired).keys()


def test_duplicates_are_resolved_and_order_restored(release):
    sub = _as_json(release)
    cells = sub["cells"]
    index = {c["metadata"].get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(cells)}
    old_copy = copy.deepcopy(cells[index["generator"]])
    old_copy["source"] = "".join(old_copy["source"]).replace("raise NotImplementedError()", "pass  # old try")
    test_copy = copy.deepcopy(cells[index["test_generator"]])
    cells.insert(index["generator"], old_copy)  # an older copy of the answer above the latest one
    cells.append(test_copy)  # a copy of a test cell at the end
    # and the training-step answer moved below its tests
    at = next(i for i, c in enumerate(cells) if c["metadata"].get("nbgrader", {}).get("grade_id") == "training_step")
    cells.insert(at + 3, cells.pop(at))
    repaired, log = repair_notebook(sub, release)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in repaired.cells if "nbgrader" in c.metadata]
    assert ids == [c.metadata["nbgrader"]["grade_id"] for c in release.cells if "nbgrader" in c.metadata]
    assert any("old try" in c.source and "nbgrader" not in c.metadata for c in repaired.cells)
    markers = [m.group(1) for c in repaired.cells if (m := MARKER_RE.search(c.source))]
    assert markers.count("test_generator") == 1
    assert any("release order" in line for line in log) and any("duplicate" in line for line in log)


def test_a_deleted_test_cell_is_put_back(release):
    sub = _as_json(release)
    sub["cells"] = [c for c in sub["cells"]
                    if c["metadata"].get("nbgrader", {}).get("grade_id") != "test_discriminator_step"]
    repaired, log = repair_notebook(sub, release)
    assert "test_discriminator_step" in _graded(repaired)
    assert any("missing" in line for line in log)


@pytest.mark.parametrize("content, problem", [(b"", "empty"), (b"{ nope", "invalid JSON"), (b"[1, 2]", "no list")])
def test_files_that_are_not_notebooks_are_named(tmp_path, content, problem):
    path = tmp_path / "x.ipynb"
    path.write_bytes(content)
    with pytest.raises(SubmissionError, match=problem):
        read_notebook_json(path)


def test_a_renamed_or_misnamed_file_is_recognised_by_its_cells(tmp_path, releases):
    stripped = _as_json(releases["dcgan"])
    for cell in stripped["cells"]:
        cell["metadata"] = {}
    path = tmp_path / "Copy of my homework (3).ipynb"
    path.write_text(json.dumps(stripped))
    assert identify_assignment(path, CONFIG, releases) == "dcgan"
    unknown = tmp_path / "notes.ipynb"
    unknown.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert identify_assignment(unknown, CONFIG, releases) is None

