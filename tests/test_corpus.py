"""The corpus of wrong and correct answers (tests/corpus): as large as promised, mutants caught by their own test
and no other, every correct variant at full marks (in-process predictions of a sample; KIT_CORPUS=full: all), and
another part graded through the real grader by the test_grading* modules."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import tests.corpus
from tests.corpus import dcgan, dqn, stylegan2, toy_gan
from tests.corpus.common import check, in_suite, predict_in_subprocess, predicted_in_suite

# Every corpus module (tests/corpus/<notebook>.py), the graded notebooks' and the labs'.
CORPORA = [importlib.import_module(f"tests.corpus.{m.name}") for m in pkgutil.iter_modules(tests.corpus.__path__)
           if m.name != "common"]


def _name(corpus) -> str:
    return corpus.__name__.rsplit(".", 1)[-1]


@pytest.mark.parametrize("corpus", [dcgan, stylegan2, dqn, toy_gan], ids=_name)
def test_every_graded_notebook_has_fifteen_mutants_and_three_correct_variants(corpus, monkeypatch):
    assert len(corpus.MUTANTS) >= 15 and len(corpus.VARIANTS) >= 3
    assert all(m.fails in corpus.AUTO_TESTS for m in corpus.MUTANTS.values())
    monkeypatch.delenv("KIT_CORPUS", raising=False)
    sample = in_suite(corpus.MUTANTS)
    assert set(sample) <= set(corpus.MUTANTS)
    assert {m.fails for m in sample.values()} == {m.fails for m in corpus.MUTANTS.values()}, \
        "the real grader sees every targeted test cell catch a bug"
    monkeypatch.setenv("KIT_CORPUS", "full")
    assert in_suite(corpus.MUTANTS) == corpus.MUTANTS


@pytest.mark.slow
@pytest.mark.parametrize("corpus", CORPORA, ids=_name)
def test_mutants_lose_their_own_tests_points_and_every_variant_keeps_all(corpus):
    """Every variant and a third of the mutants (all with KIT_CORPUS=full), predicted in a fresh process (source
    test cells, hidden parts included, run on each case's answers); bench/grading_quality.py measures the whole
    corpus through the real grader."""
    mutants = predicted_in_suite(corpus.MUTANTS)
    scores = predict_in_subprocess(_name(corpus), sorted(mutants))
    found = check(scores, corpus.AUTO_TESTS, mutants, corpus.VARIANTS)
    assert not found["false_failures"], f"correct answers lost points: {found['false_failures']}"
    assert not found["wrong"], f"mutants not caught by their own test alone: {found['wrong']}"
    assert len(found["killed"]) == len(mutants)
