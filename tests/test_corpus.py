"""The corpus of wrong and correct answers (tests/corpus/<assignment>.py, one per notebook kit.toml lists): as large
as promised, mutants caught by their own test and no other, every correct variant at full marks (in-process
predictions of a sample; KIT_CORPUS=full: all), and another part graded through the real grader by
tests/test_grading.py."""

from __future__ import annotations

import os

import pytest

from autograder.config import load_config
from tests.corpus import common
from tests.corpus.common import check, corpus_of, in_suite, predict_in_subprocess, predicted_in_suite

ASSIGNMENTS = load_config().assignments


def promised_size(assignment: str) -> tuple[int, int]:
    """(mutants, correct variants) a corpus holds at least: the graded notebooks 15 and 3 (the README's promise),
    the optional labs (``lab_*``) 2 and 0."""
    return (2, 0) if assignment.startswith("lab_") else (15, 3)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_notebook_has_a_corpus_as_large_as_promised_and_the_suite_sees_every_targeted_test(assignment,
                                                                                                  monkeypatch):
    corpus = corpus_of(assignment)
    mutants, variants = promised_size(assignment)
    assert len(corpus.MUTANTS) >= mutants and len(corpus.VARIANTS) >= variants
    assert all(m.fails in corpus.AUTO_TESTS for m in corpus.MUTANTS.values())
    assert all(m.may_fail <= set(corpus.AUTO_TESTS) for m in corpus.MUTANTS.values())
    monkeypatch.delenv("KIT_CORPUS", raising=False)
    sample = in_suite(corpus.MUTANTS)
    assert set(sample) <= set(corpus.MUTANTS) and sample
    predicted = predicted_in_suite(corpus.MUTANTS)
    assert {m.fails for m in (*sample.values(), *predicted.values())} == {m.fails for m in corpus.MUTANTS.values()}, \
        "every targeted test cell is seen catching a bug, through the real grader or in a fresh process"
    monkeypatch.setenv("KIT_CORPUS", "full")
    assert in_suite(corpus.MUTANTS) == corpus.MUTANTS


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_mutants_lose_their_own_tests_points_and_every_variant_keeps_all(assignment):
    """Every variant and a third of the mutants (all with KIT_CORPUS=full), predicted in a fresh process (source
    test cells, hidden parts included, run on each case's answers); bench/grading_quality.py measures the whole
    corpus through the real grader."""
    corpus = corpus_of(assignment)
    mutants = predicted_in_suite(corpus.MUTANTS)
    if os.environ.get("KIT_CORPUS", "") != "full" and set(mutants) <= set(in_suite(corpus.MUTANTS)) \
            and common.variants_in_suite(corpus.VARIANTS) == corpus.VARIANTS:
        # A small corpus (a lab's): tests/test_grading.py grades each of these cases through the real grader.
        pytest.skip("every predicted case is graded through the real grader by tests/test_grading.py")
    scores = predict_in_subprocess(assignment, sorted(mutants))
    found = check(scores, corpus.AUTO_TESTS, mutants, corpus.VARIANTS)
    assert not found["false_failures"], f"correct answers lost points: {found['false_failures']}"
    assert not found["wrong"], f"mutants not caught by their own test alone: {found['wrong']}"
    assert len(found["killed"]) == len(mutants)
