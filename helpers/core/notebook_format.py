"""The conventions of the kit's notebooks, in one place: cell roles, ``kit:`` marker lines, test-cell ids, ``OUT``.

``autograder`` (release, repair, grading), the writeup (:mod:`helpers.core.writeup`, run by students) and the tests
all read them from here:

* **Cell roles** (nbgrader metadata): an *answer* cell (``solution: true``; code, or a written answer in markdown),
  a *test* cell (``grade: true`` without ``solution``: visible tests, and hidden ones between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``), a *read-only* cell (``locked: true``: the set-up and
  imports cells, provided code), or an ordinary cell.
* **Grade ids**: letters, digits, ``_`` and ``-``; a test cell's id is ``test_<what it tests>`` (lower case), and
  no other cell's id starts with ``test``.
* **Marker lines**: the release writes ``#| kit: <grade_id>`` as the first line of every graded code cell and
  ``<!-- kit: <grade_id> -->`` as the first line of every written answer, so that a cell whose metadata an editor
  stripped is still recognised. A test cell's marker therefore starts with ``#| kit: test`` (:data:`TEST_MARKER`):
  the grading kernel restores functions that student code patched before every cell that starts so.
* **The OUT folder**: every notebook's imports cell sets ``OUT = "outputs/<notebook>"``; its figures go there, and
  that line names the notebook whatever its file is called.
"""

from __future__ import annotations

import re
from typing import Any

CODE_MARKER_PREFIX = "#| kit: "
MARKDOWN_MARKER_PREFIX = "<!-- kit: "
MARKDOWN_MARKER_SUFFIX = " -->"
TEST_ID_PREFIX = "test"
# The first line of every released test cell starts with this (and of no other cell).
TEST_MARKER = CODE_MARKER_PREFIX + TEST_ID_PREFIX

GRADE_ID_PATTERN = r"[A-Za-z0-9_\-]+"
GRADE_ID_RE = re.compile(rf"^{GRADE_ID_PATTERN}$")
TEST_ID_RE = re.compile(r"^test_[a-z0-9_]+$")
# A marker line of either kind, anywhere in a cell (re.M): group 1 is the grade id.
MARKER_RE = re.compile(rf"^(?:#\| kit: |<!-- kit: )({GRADE_ID_PATTERN})(?: -->)?\s*$", re.M)
# One line that is a code cell's marker: group 1 is the grade id.
CODE_MARKER_RE = re.compile(rf"^#\| kit: ({GRADE_ID_PATTERN})\s*$")

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
SOLUTION_LINE_RE = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")

OUTPUTS_DIR = "outputs"
# The imports cell's ``OUT = "outputs/<notebook>"`` line: group 1 is the notebook's name.
OUT_RE = re.compile(rf"""^\s*OUT\s*=\s*f?["']{OUTPUTS_DIR}/({GRADE_ID_PATTERN})/?["']""", re.M)

ANSWER, TEST, READ_ONLY = "answer", "test", "read-only"


def cell_source(cell: Any) -> str:
    """A cell's source as one string (notebook JSON may hold it as a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def nbgrader_metadata(cell: Any) -> dict:
    """The cell's nbgrader metadata (empty when there is none, or when an editor mangled it)."""
    meta = cell.get("metadata", {})
    meta = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return meta if isinstance(meta, dict) else {}


def grade_id(cell: Any) -> str | None:
    """The cell's nbgrader ``grade_id``, or None."""
    return nbgrader_metadata(cell).get("grade_id")


def cell_role(cell: Any) -> str | None:
    """:data:`ANSWER`, :data:`TEST`, :data:`READ_ONLY`, or None for an ordinary cell (from nbgrader metadata)."""
    meta = nbgrader_metadata(cell)
    if meta.get("solution"):
        return ANSWER
    if meta.get("grade"):
        return TEST
    if meta.get("locked"):
        return READ_ONLY
    return None


def is_test_id(grade_id: str) -> bool:
    """Whether ``grade_id`` names a test cell (its marker then starts with :data:`TEST_MARKER`)."""
    return grade_id.startswith(TEST_ID_PREFIX)


def marker_line(cell_type: str, grade_id: str) -> str:
    """The marker the release writes as the first line of a graded cell."""
    if cell_type == "markdown":
        return f"{MARKDOWN_MARKER_PREFIX}{grade_id}{MARKDOWN_MARKER_SUFFIX}"
    return f"{CODE_MARKER_PREFIX}{grade_id}"


def out_folder(notebook: str) -> str:
    """Where notebook ``notebook`` saves its figures: ``outputs/<notebook>`` (its ``OUT``)."""
    return f"{OUTPUTS_DIR}/{notebook}"


def convention_problems(cell: Any, released: bool = False) -> list[str]:
    """What is wrong with a graded cell by these conventions (empty when nothing is).

    ``released``: the cell comes from a release notebook, so its first line must be its marker line.
    """
    role, gid = cell_role(cell), grade_id(cell)
    if role not in (ANSWER, TEST):
        return []
    if not gid or not GRADE_ID_RE.match(gid):
        return [f"grade id {gid!r} is not letters, digits, '_' and '-'"]
    problems = []
    if role == TEST and not TEST_ID_RE.match(gid):
        problems.append(f"test cell {gid!r}: a test cell's grade id is test_<name> (lower case)")
    if role == ANSWER and is_test_id(gid):
        problems.append(f"answer cell {gid!r}: only test cells' grade ids start with {TEST_ID_PREFIX!r}")
    if released:
        first = cell_source(cell).split("\n", 1)[0].rstrip()
        if first != marker_line(cell.get("cell_type", "code"), gid):
            problems.append(f"cell {gid!r} does not start with its marker line "
                            f"{marker_line(cell.get('cell_type', 'code'), gid)!r}")
        if role == TEST and not first.startswith(TEST_MARKER):
            problems.append(f"test cell {gid!r} does not start with {TEST_MARKER!r}: the grading guard skips it")
    return problems
