"""How well the hidden tests grade: the corpus engine (mutants and correct variants of a notebook's answers).

A mutant (a realistic student bug) is a few text edits of the reference answers; it names the test cell it must
fail (``fails``) and the other test cells it may also fail (``may_fail``: only tests of the same function, or of a
caller whose visible part cannot avoid the bug). Every other test keeps its points. A correct variant is the same
answer written differently: it keeps every point.

The cases themselves are data kept with the kit's tests: ``tests/corpus/<assignment>.py`` (one per notebook of
kit.toml, with ``AUTO_TESTS``, ``MANUAL_POINTS``, ``MUTANTS`` and ``VARIANTS``) and the hostile submissions of
``tests/hostile.py``. :func:`corpus_of` and :func:`hostile_cases` load those files by path, so that this module and
``bench/grading_quality.py`` never import the ``tests`` package. :func:`write_cases` writes a corpus as submissions,
:func:`grade_corpus` grades them with the real grader, :func:`predict_scores` predicts their scores in-process and
:func:`check` compares either with what each case must get.

    python -m autograder.quality predict <assignment> [--mutants NAME ...]

prints ``SCORES {json}``: :func:`predict_scores` of that corpus, run in that (fresh) process.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import nbformat

from autograder.config import KIT_ROOT
from autograder.solutions import filled_release

if TYPE_CHECKING:
    from autograder.config import KitConfig

Edit = tuple[str, str, str]  # (answer cell's grade_id, old text, new text)
Scores = dict[str, dict[str, float]]  # student id -> {test grade_id: score}

CORPUS_DIR = Path("tests") / "corpus"  # under the kit's root: tests/corpus/<assignment>.py
HOSTILE_FILE = Path("tests") / "hostile.py"
CORPUS_NAMES = ("AUTO_TESTS", "MANUAL_POINTS", "MUTANTS", "VARIANTS")


@dataclass(frozen=True)
class Mutant:
    """A realistic bug: ``edits`` of the reference answers, caught by the test cell ``fails`` (and maybe the test
    cells of ``may_fail``), never by another."""

    edits: tuple[Edit, ...]
    fails: str  # the test cell that must lose its points
    may_fail: frozenset[str] = field(default_factory=frozenset)
    kind: str = ""  # the kind of bug, for the report

    def score_range(self, auto_tests: dict[str, float]) -> tuple[float, float]:
        """The (lowest, highest) autograded score this mutant may get."""
        full = sum(auto_tests.values())
        return full - auto_tests[self.fails] - sum(auto_tests[g] for g in self.may_fail), full - auto_tests[self.fails]


@dataclass(frozen=True)
class Variant:
    """A correct answer written differently: ``edits`` of the reference answers that keep every point."""

    edits: tuple[Edit, ...]
    kind: str = ""


def mutant(cell: str, old: str, new: str, fails: str, may_fail: Iterable[str] = (), kind: str = "",
           more: Iterable[Edit] = ()) -> Mutant:
    """One bug: ``old`` replaced by ``new`` in answer cell ``cell`` (plus ``more`` edits for a few-line bug)."""
    return Mutant(((cell, old, new), *more), fails, frozenset(may_fail), kind)


def variant(cell: str, old: str, new: str, kind: str = "", more: Iterable[Edit] = ()) -> Variant:
    """One correct variant: ``old`` replaced by ``new`` in answer cell ``cell`` (plus ``more`` edits)."""
    return Variant(((cell, old, new), *more), kind)


def submission(release: Path, source: Path, edits: Iterable[Edit] = ()) -> nbformat.NotebookNode:
    """The release notebook filled with the reference answers, with ``edits`` applied."""
    grouped: dict[str, list[tuple[str, str]]] = {}
    for cell, old, new in edits:
        grouped.setdefault(cell, []).append((old, new))
    return filled_release(release, source, grouped)


def _load_by_path(module_name: str, path: Path) -> ModuleType:
    """Execute the Python file ``path`` as the module ``module_name`` (registered in ``sys.modules``, as an import
    would, so that a second call returns the same module)."""
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # before running it, as importlib does (dataclasses look their module up)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def corpus_module_name(assignment: str) -> str:
    """The name :func:`corpus_of` gives the corpus module of ``assignment`` in ``sys.modules`` (a test may register
    a made-up corpus under it)."""
    return f"kit_corpus_{assignment}"


def corpus_of(assignment: str, root: Path | None = None) -> ModuleType:
    """The corpus of a notebook that kit.toml lists: the file ``<root>/tests/corpus/<assignment>.py`` (``root``:
    the kit's, by default) loaded by path as the module :func:`corpus_module_name`, with ``AUTO_TESTS`` ({test
    grade_id: points}), ``MANUAL_POINTS``, ``MUTANTS`` and ``VARIANTS``.

    A module already registered under that name (an earlier call's, or a made-up corpus a test registers) is
    returned as is, whatever ``root``. Raises FileNotFoundError when the notebook has no corpus file,
    AttributeError when the file lacks one of those names."""
    if not assignment.isidentifier():  # a notebook name, never a path
        raise ValueError(f"not an assignment name: {assignment!r}")
    path = Path(root or KIT_ROOT) / CORPUS_DIR / f"{assignment}.py"
    name = corpus_module_name(assignment)
    if name not in sys.modules and not path.is_file():
        raise FileNotFoundError(f"{assignment} has no corpus: {path} does not exist (every notebook kit.toml lists "
                                f"needs one, with {', '.join(CORPUS_NAMES)}; see the README's steps for adding a "
                                f"notebook)")
    corpus = _load_by_path(name, path)
    missing = [n for n in CORPUS_NAMES if not hasattr(corpus, n)]
    if missing:
        raise AttributeError(f"{CORPUS_DIR / assignment}.py lacks {missing}")
    return corpus


def hostile_cases(root: Path | None = None) -> ModuleType:
    """The hostile submissions, ``<root>/tests/hostile.py`` (``root``: the kit's, by default), loaded by path as the
    module ``kit_hostile``: its ``hostile_results(course_root, workdir)`` grades them all in one batch."""
    path = Path(root or KIT_ROOT) / HOSTILE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no hostile submissions: {path} does not exist")
    return _load_by_path("kit_hostile", path)


def write_cases(folder: Path, assignment: str, release: Path, source: Path, mutants: dict[str, Mutant],
                variants: dict[str, Variant], assignments: Iterable[str] | None = None) -> list[str]:
    """Write the reference, every variant and every mutant as ``<student>_<assignment>.ipynb``; their ids.
    ``assignments``: every notebook's name (default: kit.toml's), none of which a student id may hold."""
    if assignments is None:
        from autograder.config import load_config

        assignments = load_config().assignments
    assignments = tuple(assignments)
    students = []
    cases = {"reference": (), **{f"variant_{k}": v.edits for k, v in variants.items()},
             **{f"mutant_{k}": m.edits for k, m in mutants.items()}}
    for student, edits in cases.items():
        # The grader takes the student id from the file name, less any assignment's name.
        if any(a in student.lower() for a in (*assignments, "lab_")):
            raise ValueError(f"case name {student!r} holds an assignment's name: the grader would misread its id")
        nbformat.write(submission(release, source, edits), folder / f"{student}_{assignment}.ipynb")
        students.append(student)
    return students


def check(scores: Scores, auto_tests: dict[str, float], mutants: dict[str, Mutant],
          variants: dict[str, Variant]) -> dict[str, Any]:
    """Compare each case's per-test scores with what it must get.

    ``scores`` maps a student id to {test grade_id: score}. Returns killed mutants (lost any point), mutants that
    are wrong (kept their own test's points or lost unrelated points), and false failures (a variant or the
    reference that lost a point).
    """
    killed, wrong, false_failures = [], {}, {}
    for name, m in mutants.items():
        got = scores.get(f"mutant_{name}", {})
        lost = {g for g in auto_tests if got.get(g) != auto_tests[g]}
        if lost:
            killed.append(name)
        if m.fails not in lost or not lost <= {m.fails} | m.may_fail or got.get(m.fails, 0) != 0:
            wrong[name] = got
    for student in ["reference", *(f"variant_{k}" for k in variants)]:
        got = scores.get(student, {})
        if any(got.get(g) != p for g, p in auto_tests.items()):
            false_failures[student] = got
    return {"mutants": len(mutants), "killed": killed, "wrong": wrong, "false_failures": false_failures,
            "variants": len(variants)}


def predict_scores(name: str, corpus: ModuleType, config: KitConfig, mutants: Iterable[str] | None = None) -> Scores:
    """Every case's per-test scores, from running the source notebook's imports, the case's answers and the test
    cells in a fresh namespace of this process (fast mode on, as when grading): the quick prediction of what the
    real grader gives (no nbgrader, no sandbox; a test cell that raises loses its points). The cases: the reference,
    every variant, and ``mutants`` (default: every mutant)."""
    import contextlib
    import io
    import os
    import re
    import tempfile

    from autograder.solutions import is_solution_cell

    chosen = None if mutants is None else set(mutants)
    grading_before = os.environ.get("NBGRADER_EXECUTION")
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    source = nbformat.read(config.source_notebook(name), 4)
    cases = {"reference": (), **{f"variant_{k}": v.edits for k, v in corpus.VARIANTS.items()},
             **{f"mutant_{k}": m.edits for k, m in corpus.MUTANTS.items() if chosen is None or k in chosen}}
    scores = {}
    with tempfile.TemporaryDirectory(prefix="kit-grading-quality-") as workdir:
        here = os.getcwd()
        os.chdir(workdir)
        try:
            for student, edits in cases.items():
                namespace, got = {"__name__": "__main__", "display": lambda *a, **k: None}, {}
                for cell in source.cells:
                    meta = cell.metadata.get("nbgrader", {})
                    text = cell.source
                    if cell.cell_type != "code" or meta.get("grade_id") == "setup":
                        continue
                    if is_solution_cell(cell):
                        text = re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", "", text, flags=re.M)
                        for cell_id, old, new in edits:
                            if cell_id == meta["grade_id"]:
                                if old not in text:  # a stale case: its answer cell changed
                                    raise ValueError(f"{student}: {old!r} not found in {cell_id}")
                                text = text.replace(old, new)
                    elif not (meta.get("grade") or "imports" in cell.metadata.get("tags", [])):
                        continue
                    try:
                        with contextlib.redirect_stdout(io.StringIO()):
                            exec(compile(text, meta.get("grade_id", "cell"), "exec"), namespace)
                        passed = True
                    except Exception:  # noqa: BLE001 - a failing cell is what is measured
                        passed = False
                    if meta.get("grade") and meta.get("grade_id") in corpus.AUTO_TESTS:
                        got[meta["grade_id"]] = float(corpus.AUTO_TESTS[meta["grade_id"]]) if passed else 0.0
                scores[student] = got
        finally:
            os.chdir(here)
            if grading_before is None:
                os.environ.pop("NBGRADER_EXECUTION", None)
            else:
                os.environ["NBGRADER_EXECUTION"] = grading_before
    return scores


def predict_in_subprocess(name: str, mutants: Iterable[str] | None = None, timeout: float = 1800) -> Scores:
    """:func:`predict_scores` of ``tests/corpus/<name>.py`` in a fresh Python process (``python -m
    autograder.quality predict``: the answers' code never runs in the caller's): the reference, every variant, and
    ``mutants`` (default: all)."""
    import os
    import subprocess

    command = [sys.executable, "-m", "autograder.quality", "predict", name]
    if mutants is not None:
        command += ["--mutants", *mutants]
    done = subprocess.run(command, cwd=KIT_ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(KIT_ROOT), "MPLBACKEND": "Agg"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("SCORES ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"prediction of {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("SCORES "):])


def cell_scores(course_root: Path, assignment: str, student: str, grade_ids: Iterable[str]) -> dict[str, float]:
    """The gradebook's score of each of ``grade_ids`` for one student's notebook ``assignment``."""
    from nbgrader.api import Gradebook  # nbgrader only when reading a gradebook

    with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gb:
        return {g: gb.find_grade(g, assignment, assignment, student).score for g in grade_ids}


def grade_corpus(assignment: str, config: KitConfig, course_root: Path, folder: Path, corpus: ModuleType,
                 log: Callable[[str], None] | None = None, workers: int | None = None,
                 mutants: dict[str, Mutant] | None = None,
                 variants: dict[str, Variant] | None = None) -> dict[str, Any]:
    """Grade the reference, the untouched release, the correct variants and the mutants of ``corpus`` (default:
    every one of both) in one batch with the real grader; their per-test scores, the batch's time and
    :func:`check`."""
    import time

    from autograder.grade import grade_folder

    release = course_root / "release" / assignment / f"{assignment}.ipynb"
    mutants = corpus.MUTANTS if mutants is None else mutants
    variants = corpus.VARIANTS if variants is None else variants
    students = write_cases(folder, assignment, release, config.source_notebook(assignment), mutants, variants)
    (folder / f"untouched_{assignment}.ipynb").write_text(release.read_text())
    began = time.perf_counter()
    result = grade_folder(folder, config, course_root, log=log or (lambda line: None), workers=workers)
    seconds = time.perf_counter() - began
    scores = {s: cell_scores(course_root, assignment, s, corpus.AUTO_TESTS) for s in students}
    return {"result": result, "scores": scores, "seconds": seconds, "submissions": len(students) + 1,
            "check": check(scores, corpus.AUTO_TESTS, mutants, variants)}


def main(argv: list[str] | None = None) -> int:
    """``predict <assignment> [--mutants ...]``: print ``SCORES {json}`` of :func:`predict_scores`."""
    parser = argparse.ArgumentParser(prog="python -m autograder.quality", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    predict = sub.add_parser("predict", help="predict a corpus's per-test scores in this process")
    predict.add_argument("assignment")
    predict.add_argument("--mutants", nargs="*", default=None, help="default: every mutant")
    args = parser.parse_args(argv)
    from autograder.config import load_config

    scores = predict_scores(args.assignment, corpus_of(args.assignment), load_config(), args.mutants)
    print("SCORES " + json.dumps(scores))
    return 0


if __name__ == "__main__":
    # Through the imported module, so that the corpus files' Mutant and Variant are this run's classes too.
    from autograder.quality import main as _main

    sys.exit(_main())
