"""A corpus of bad (and good) DCGAN submissions, each with the score it must get from the batch grader.

Every case is built from the release notebook filled with the reference answers (tests.submissions), then
broken in one way. ``build_corpus(folder, release, source)`` writes them all as files, as an LMS would give them,
and returns {student id: expected score}.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import nbformat

from tests.submissions import filled_release

FULL = 9.0  # the DCGAN notebook's autograded points: generator 2, D step 3, G step 2, training iteration 2
NO_GENERATOR = FULL - 2


def _answer(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _prepend(grade_id: str, code: str) -> Callable[[nbformat.NotebookNode], None]:
    def edit(nb: nbformat.NotebookNode) -> None:
        cell = _answer(nb, grade_id)
        cell.source = code + "\n" + cell.source
    return edit


def _append_cell(code: str, after: str = "training_step") -> Callable[[nbformat.NotebookNode], None]:
    def edit(nb: nbformat.NotebookNode) -> None:
        nb.cells.insert(nb.cells.index(_answer(nb, after)) + 1, nbformat.v4.new_code_cell(code))
    return edit


def _strip(grade_ids: list[str] | None) -> Callable[[nbformat.NotebookNode], None]:
    def edit(nb: nbformat.NotebookNode) -> None:
        for cell in nb.cells:
            if grade_ids is None or cell.metadata.get("nbgrader", {}).get("grade_id") in grade_ids:
                cell.metadata = {}
    return edit


def _duplicate(grade_id: str) -> Callable[[nbformat.NotebookNode], None]:
    def edit(nb: nbformat.NotebookNode) -> None:
        cell = _answer(nb, grade_id)
        copy = nbformat.from_dict(json.loads(json.dumps(cell)))
        copy["id"] = f"{cell.get('id', 'cell')}-copy"
        nb.cells.insert(nb.cells.index(cell) + 1, copy)
    return edit


def _edit_test(grade_id: str, new_source: str) -> Callable[[nbformat.NotebookNode], None]:
    def edit(nb: nbformat.NotebookNode) -> None:
        _answer(nb, grade_id).source = new_source
    return edit


def _delete(grade_id: str) -> Callable[[nbformat.NotebookNode], None]:
    def edit(nb: nbformat.NotebookNode) -> None:
        nb.cells.remove(_answer(nb, grade_id))
    return edit


ALWAYS_EQUAL = """
class _AlwaysEqual:
    shape = (5, 3, 32, 32)
    dtype = torch.float32
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __getattr__(self, name): return self
    def __call__(self, *args, **kwargs): return self
    def __bool__(self): return True
DCGenerator.forward = lambda self, z: _AlwaysEqual()
"""

TRY_TO_CHEAT = """
import glob, os, sqlite3
found = [p for p in {targets!r} if os.path.exists(p)]
found += glob.glob(os.path.expanduser("~/**/gradebook.db"), recursive=True)[:5]
print("found:", found)
for path in found:
    try:
        if path.endswith(".db"):
            db = sqlite3.connect(path)
            db.execute("UPDATE grade SET auto_score = 1000")
            db.commit()
        else:
            open(path, "a").write("cheated")
    except Exception as exc:
        print("blocked:", path, type(exc).__name__)
"""

# student id -> (edits to the reference-filled release, {grade_id: (old, new)} answer bugs, expected score)
CASES: dict[str, tuple[list[Callable], dict[str, tuple[str, str]], float]] = {
    "correct": ([], {}, FULL),
    "syntax_error": ([_prepend("generator", "def oops(:")], {}, NO_GENERATOR),
    "import_error": ([_prepend("generator", "import a_module_that_does_not_exist")], {}, NO_GENERATOR),
    "infinite_loop": ([_prepend("training_step", "while True:\n    pass")], {}, 2.0),
    # A kernel that crashes (a segmentation fault: the grading kernel is its PID namespace's first process, which
    # ignores a kill() from inside it).
    "kernel_killed": ([_append_cell("import ctypes\nctypes.string_at(0)")], {}, 0.0),
    "huge_output": ([_append_cell("for _ in range(20):\n    print('x' * 10**6)")], {}, FULL),
    "exits": ([_append_cell("import os, sys\ntry:\n    sys.exit(1)\nfinally:\n    os._exit(1)")], {}, FULL),
    "stripped_one_cell": ([_strip(["generator"])], {}, FULL),
    "stripped_all_cells": ([_strip(None)], {}, FULL),
    "duplicated_cell": ([_duplicate("training_step"), _duplicate("test_generator")], {}, FULL),
    "edited_test_cell": ([_edit_test("test_generator", "pass")],
                         {"generator": ("return torch.tanh(self.stage4(out))", "return self.stage4(out)")},
                         NO_GENERATOR),
    "deleted_test_cell": ([_delete("test_discriminator_step")], {}, FULL),
    # A trick, not a bug: the verification run refuses the object with its own __eq__ that the generator returns,
    # and a refusal fails every later test cell (autograder/verify_runner.py), so it scores less than no generator.
    "always_equal": ([_append_cell(ALWAYS_EQUAL, after="generator")], {}, 0.0),
    "patched_asserts": ([_prepend("training_step", "torch.allclose = lambda *a, **k: True\n"
                                  "torch.equal = lambda *a, **k: True")],
                        {"training_step": ("d_real_loss = 0.5 * ((D(real_images) - 1) ** 2).mean()",
                                           "d_real_loss = ((D(real_images) - 1) ** 2).mean()")},
                        FULL - 3),  # the D-step bug costs its own test (3): training_iteration uses the reference
}
# Cases whose trick tests/hostile.py also grades (each beside its honest twin, named here), and "correct", which is
# the batch's own "reference": graded only with KIT_CORPUS=full, to keep make test within CI's time (each graded
# submission costs about half a minute of a worker on 2 cores).
ALSO_GRADED_ELSEWHERE = {"correct": "reference", "always_equal": "tensor_subclass", "patched_asserts": "optim_patch",
                         "exits": "kills_its_parent", "huge_output": "output_flood", "cheater": "other_gradebook"}
# Files that are not a gradable DCGAN notebook at all.
RAW_FILES = {"empty_file": (b"", 0.0), "not_json": (b"{ this is not json", 0.0)}


def build_corpus(folder: Path, release: Path, source: Path, course: Path) -> dict[str, float]:
    """Write every case into ``folder`` (odd LMS-style names included) and return {student: expected score}.

    The "cheater" knows where the course directory (``course``) and the kit's source notebook are.
    """
    import os

    expected = {}
    targets = [str(course / "source" / "dcgan" / "dcgan.ipynb"), str(course / "gradebook.db"), str(source)]
    cases = dict(CASES, cheater=([_append_cell(TRY_TO_CHEAT.format(targets=targets))], {}, FULL))
    if os.environ.get("KIT_CORPUS", "") != "full":
        cases = {name: case for name, case in cases.items() if name not in ALSO_GRADED_ELSEWHERE}
    for student, (edits, bugs, score) in cases.items():
        nb = filled_release(release, source, bugs)
        for edit in edits:
            edit(nb)
        nbformat.write(nb, folder / f"{student}_dcgan.ipynb")
        expected[student] = score
    # A renamed file (as Colab downloads it), and a file with the wrong notebook's name but DCGAN's cells.
    nbformat.write(filled_release(release, source), folder / "Copy of renamed (2).ipynb")
    expected["renamed"] = FULL
    for student, (content, score) in RAW_FILES.items():
        (folder / f"{student}_dcgan.ipynb").write_bytes(content)
        expected[student] = score
    wrong = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('my other homework')")])
    nbformat.write(wrong, folder / "wrong_notebook_dcgan.ipynb")
    expected["wrong_notebook"] = 0.0
    return expected
