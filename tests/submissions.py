"""Make realistic student submissions: the release notebook with (possibly buggy) answers filled in."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from autograder.solutions import is_solution_cell
from helpers.core.notebook_format import MARKER_RE


def filled_release(release: Path, source: Path,
                   edits: dict[str, tuple[str, str] | list[tuple[str, str]]] | None = None,
                   ) -> nbformat.NotebookNode:
    """The release notebook with every answer cell taken from the source notebook.

    ``edits`` maps a cell's grade_id to an (old, new) text replacement applied to that answer (one bug), or to a
    list of them, applied in order.
    """
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(source, 4).cells
               if "nbgrader" in c.metadata}
    nb = nbformat.read(release, 4)
    pending = dict(edits or {})
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            text = answers[meta["grade_id"]]
            marker = MARKER_RE.match(cell.source)
            if marker:  # students keep the release's marker line
                text = f"{marker.group(0)}\n{text}"
            if cell.cell_type == "code" and is_solution_cell(cell):
                text = re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", "", text, flags=re.M)
            if meta["grade_id"] in pending:
                replacements = pending.pop(meta["grade_id"])
                for old, new in [replacements] if isinstance(replacements, tuple) else replacements:
                    assert old in text, f"mutation target not found in {meta['grade_id']}: {old!r}"
                    text = text.replace(old, new)
            cell.source = text
    assert not pending, f"unknown cells {list(pending)}"
    return nb


def build_course(config, tmp_path_factory) -> dict:
    """A course directory and a release built from ``config``'s source notebooks (for a module-scoped fixture)."""
    from autograder.release import build_release

    root = tmp_path_factory.mktemp("course")
    made = build_release(config, dist=root / "dist", course_dir=root / "course")
    return {"root": root / "course", **made}


def cell_scores(course_root: Path, assignment: str, student: str, grade_ids) -> dict[str, float]:
    """The gradebook's score of each of ``grade_ids`` for one student's notebook ``assignment``."""
    with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gb:
        return {g: gb.find_grade(g, assignment, assignment, student).score for g in grade_ids}
