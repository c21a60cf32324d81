"""The corpus of wrong and correct answers (tests/corpus) is as large as promised, and the suite grades a fair part."""

from __future__ import annotations

import pytest

from tests.corpus import dcgan, dqn, stylegan2, toy_gan
from tests.corpus.common import in_suite


@pytest.mark.parametrize("corpus", [dcgan, stylegan2, dqn, toy_gan], ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_graded_notebook_has_fifteen_mutants_and_three_correct_variants(corpus, monkeypatch):
    assert len(corpus.MUTANTS) >= 15 and len(corpus.VARIANTS) >= 3
    assert all(m.fails in corpus.AUTO_TESTS for m in corpus.MUTANTS.values())
    monkeypatch.delenv("KIT_CORPUS", raising=False)
    sample = in_suite(corpus.MUTANTS)
    assert len(sample) >= len(corpus.MUTANTS) // 3 and set(sample) <= set(corpus.MUTANTS)
    monkeypatch.setenv("KIT_CORPUS", "full")
    assert in_suite(corpus.MUTANTS) == corpus.MUTANTS
