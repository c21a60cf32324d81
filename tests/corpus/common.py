"""Which part of each notebook's corpus ``make test`` grades through the real grader and which it predicts.

The corpus engine (Mutant, Variant, mutant(), variant(), write_cases(), check(), predict_scores(),
grade_corpus(), corpus_of(), ...) is the kit module :mod:`autograder.quality`; its names are re-exported here so that
the tests' ``from tests.corpus.common import ...`` keeps working. This file holds only the suite's selection policy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from autograder import quality
from autograder.quality import (  # noqa: F401 - re-exported: the engine, for the tests
    Edit,
    Mutant,
    Scores,
    Variant,
    cell_scores,
    check,
    corpus_module_name,
    corpus_of,
    hostile_cases,
    mutant,
    predict_in_subprocess,
    predict_scores,
    submission,
    variant,
    write_cases,
)

if TYPE_CHECKING:
    from autograder.config import KitConfig

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


def grade_corpus(assignment: str, config: KitConfig, course_root: Path, folder: Path, corpus: ModuleType,
                 log: Callable[[str], None] | None = None, workers: int | None = None,
                 mutants: dict[str, Mutant] | None = None,
                 variants: dict[str, Variant] | None = None) -> dict[str, Any]:
    """:func:`autograder.quality.grade_corpus` of the suite's part of ``corpus`` by default (:func:`in_suite`,
    :func:`variants_in_suite`); ``mutants``/``variants`` choose others."""
    return quality.grade_corpus(assignment, config, course_root, folder, corpus, log=log, workers=workers,
                                mutants=in_suite(corpus.MUTANTS) if mutants is None else mutants,
                                variants=variants_in_suite(corpus.VARIANTS) if variants is None else variants)
