"""Mutants (realistic student bugs) and correct variants of a notebook's answers, as data.

A mutant is a few text edits of the reference answers; it names the test cell it must fail (``fails``) and the
other test cells it may also fail (``may_fail``: only tests of the same function, or of a caller whose visible part
cannot avoid the bug). Every other test keeps its points. A correct variant is the same answer written differently:
it keeps every point. ``write_cases`` writes them as submissions; ``check`` compares a graded batch with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import nbformat

from tests.submissions import filled_release

Edit = tuple[str, str, str]  # (answer cell's grade_id, old text, new text)


@dataclass(frozen=True)
class Mutant:
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
    edits: tuple[Edit, ...]
    kind: str = ""


def mutant(cell: str, old: str, new: str, fails: str, may_fail: Iterable[str] = (), kind: str = "",
           more: Iterable[Edit] = ()) -> Mutant:
    """One bug: ``old`` replaced by ``new`` in answer cell ``cell`` (plus ``more`` edits for a few-line bug)."""
    return Mutant(((cell, old, new), *more), fails, frozenset(may_fail), kind)


def variant(cell: str, old: str, new: str, kind: str = "", more: Iterable[Edit] = ()) -> Variant:
    return Variant(((cell, old, new), *more), kind)


def submission(release: Path, source: Path, edits: Iterable[Edit] = ()) -> nbformat.NotebookNode:
    """The release notebook filled with the reference answers, with ``edits`` applied."""
    grouped: dict[str, list[tuple[str, str]]] = {}
    for cell, old, new in edits:
        grouped.setdefault(cell, []).append((old, new))
    return filled_release(release, source, grouped)


def corpus_of(assignment: str) -> ModuleType:
    """The corpus of a notebook that kit.toml lists: the module ``tests/corpus/<assignment>.py`` with
    ``AUTO_TESTS`` ({test grade_id: points}), ``MANUAL_POINTS``, ``MUTANTS`` and ``VARIANTS``."""
    import importlib

    corpus = importlib.import_module(f"tests.corpus.{assignment}")
    missing = [n for n in ("AUTO_TESTS", "MANUAL_POINTS", "MUTANTS", "VARIANTS") if not hasattr(corpus, n)]
    if missing:
        raise AttributeError(f"tests/corpus/{assignment}.py lacks {missing}")
    return corpus


def write_cases(folder: Path, assignment: str, release: Path, source: Path, mutants: dict[str, Mutant],
                variants: dict[str, Variant], assignments: Iterable[str] | None = None) -> list[str]:
    """Write the reference, every variant and every mutant as ``<student>_<assignment>.ipynb``; their ids.
    ``assignments``: every notebook's name (default: kit.toml's), none of which a student id may hold."""
    if assignments is None:
        from autograder.config import load_config

        assignments = load_config().assignments
    students = []
    cases = {"reference": (), **{f"variant_{k}": v.edits for k, v in variants.items()},
             **{f"mutant_{k}": m.edits for k, m in mutants.items()}}
    for student, edits in cases.items():
        # The grader takes the student id from the file name, less any assignment's name.
        assert not any(a in student.lower() for a in (*assignments, "lab_")), student
        nbformat.write(submission(release, source, edits), folder / f"{student}_{assignment}.ipynb")
        students.append(student)
    return students


def check(scores: dict[str, dict[str, float]], auto_tests: dict[str, float], mutants: dict[str, Mutant],
          variants: dict[str, Variant]) -> dict:
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


REAL_GRADER_TESTS = 1  # targeted test cells per notebook whose catch make test sees through the real grader


def predicted_in_suite(mutants: dict[str, Mutant]) -> dict[str, Mutant]:
    """The mutants ``make test`` predicts in-process: every one with ``KIT_CORPUS=full``, else every third by name
    and one for each targeted test cell that neither those nor :func:`in_suite` cover (a prediction costs a run of
    every test cell; DQN's includes its learning check)."""
    import os

    if os.environ.get("KIT_CORPUS", "") == "full":
        return mutants
    third = {name: mutants[name] for name in sorted(mutants)[1::3]}
    for name in sorted(mutants):  # and one for every targeted test cell the real grader does not see
        if all(m.fails != mutants[name].fails for m in (*third.values(), *in_suite(mutants).values())):
            third[name] = mutants[name]
    return third


def in_suite(mutants: dict[str, Mutant]) -> dict[str, Mutant]:
    """The mutants ``make test`` grades through the real grader: every one with ``KIT_CORPUS=full`` (and in
    ``bench/grading_quality.py``), else one for each of the first :data:`REAL_GRADER_TESTS` test cells that mutants
    target (by name), so that the real grader (nbgrader and the verification run) is seen catching bugs in every
    notebook while the suite stays within CI's time (each graded submission costs about half a minute of a worker on
    2 cores). Every targeted test's catch is checked in-process (:func:`predicted_in_suite`, tests/test_corpus.py)."""
    import os

    if os.environ.get("KIT_CORPUS", "") == "full":
        return mutants
    picked: dict[str, str] = {}
    for name in sorted(mutants):
        if mutants[name].fails in picked or len(picked) < REAL_GRADER_TESTS:
            picked.setdefault(mutants[name].fails, name)
    return {name: mutants[name] for name in sorted(picked.values())}


def variants_in_suite(variants: dict[str, Variant]) -> dict[str, Variant]:
    """The correct variants ``make test`` grades through the real grader: every one with ``KIT_CORPUS=full`` (and in
    ``bench/grading_quality.py``), else the first by name. Every variant is still predicted in a fresh process by
    tests/test_corpus.py; what the real grader adds (nbgrader, the sandbox, the verification run) is the same for
    every correct answer, and each graded submission costs about half a minute of a worker on 2 cores."""
    import os

    if os.environ.get("KIT_CORPUS", "") == "full":
        return variants
    return {name: variants[name] for name in sorted(variants)[:1]}


def predict_scores(name: str, corpus, config, mutants: list[str] | None = None) -> dict[str, dict[str, float]]:
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

    grading_before = os.environ.get("NBGRADER_EXECUTION")
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    source = nbformat.read(config.source_notebook(name), 4)
    cases = {"reference": (), **{f"variant_{k}": v.edits for k, v in corpus.VARIANTS.items()},
             **{f"mutant_{k}": m.edits for k, m in corpus.MUTANTS.items() if mutants is None or k in mutants}}
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
                                assert old in text, (student, old)
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


def predict_in_subprocess(name: str, mutants: list[str] | None = None, timeout: float = 1800
                          ) -> dict[str, dict[str, float]]:
    """:func:`predict_scores` of ``tests/corpus/<name>.py`` in a fresh Python process (the answers' code never runs
    in the caller's): the reference, every variant, and ``mutants`` (default: all)."""
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    code = ("import importlib, json\n"
            "from autograder.config import load_config\n"
            "from tests.corpus.common import predict_scores\n"
            f"corpus = importlib.import_module('tests.corpus.{name}')\n"
            f"print('SCORES ' + json.dumps(predict_scores({name!r}, corpus, load_config(), {mutants!r})))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(root), "MPLBACKEND": "Agg"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("SCORES ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"prediction of {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("SCORES "):])


def grade_corpus(assignment: str, config, course_root: Path, folder: Path, corpus, log=None,
                 workers: int | None = None, mutants: dict[str, Mutant] | None = None) -> dict:
    """Grade the reference, the untouched release, every correct variant and every mutant of ``corpus`` (a module
    of tests.corpus) in one batch with the real grader; their per-test scores, the batch's time and ``check``."""
    import time

    from autograder.grade import grade_folder
    from tests.submissions import cell_scores

    release = course_root / "release" / assignment / f"{assignment}.ipynb"
    mutants = in_suite(corpus.MUTANTS) if mutants is None else mutants
    variants = variants_in_suite(corpus.VARIANTS)
    students = write_cases(folder, assignment, release, config.source_notebook(assignment), mutants, variants)
    (folder / f"untouched_{assignment}.ipynb").write_text(release.read_text())
    began = time.perf_counter()
    result = grade_folder(folder, config, course_root, log=log or (lambda line: None), workers=workers)
    seconds = time.perf_counter() - began
    scores = {s: cell_scores(course_root, assignment, s, corpus.AUTO_TESTS) for s in students}
    return {"result": result, "scores": scores, "seconds": seconds, "submissions": len(students) + 1,
            "check": check(scores, corpus.AUTO_TESTS, mutants, variants)}
