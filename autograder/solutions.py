"""Reference solutions, taken from the source notebooks' solution regions (their only home).

Benchmarks and the kit's own tests use them; the student bundle never contains them.
"""

from __future__ import annotations

import re
import types
from pathlib import Path

import nbformat

from autograder.config import load_config
from helpers.core.notebook_format import ANSWER, MARKER_RE, cell_role


def is_solution_cell(cell: nbformat.NotebookNode) -> bool:
    """A code cell that nbgrader treats as a student answer (its solution region is cleared in the release)."""
    return cell.cell_type == "code" and cell_role(cell) == ANSWER


def load_reference(assignment: str, notebook: str | Path | None = None) -> types.ModuleType:
    """A module holding the reference solution of ``assignment``.

    It executes the notebook's ``imports``-tagged cell and then every solution cell, in order.
    """
    path = Path(notebook) if notebook else load_config().source_notebook(assignment)
    nb = nbformat.read(path, as_version=4)
    module = types.ModuleType(f"reference_{assignment}")
    module.__file__ = str(path)
    for cell in nb.cells:
        if cell.cell_type == "code" and ("imports" in cell.metadata.get("tags", []) or is_solution_cell(cell)):
            exec(compile(cell.source, f"{path.name}:{cell.get('id', '?')}", "exec"), module.__dict__)
    return module


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
