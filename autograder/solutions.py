"""Reference solutions, taken from the source notebooks' solution regions (their only home).

Benchmarks and the kit's own tests use them; the student bundle never contains them.
"""

from __future__ import annotations

import types
from pathlib import Path

import nbformat

from autograder.config import load_config
from helpers.core.notebook_format import ANSWER, cell_role


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
