"""Grading the DQN notebook with the real nbgrader: the reference, the untouched release, correct variants and
realistic bugs (tests/corpus/dqn.py), in one batch."""

from __future__ import annotations

import dataclasses

import pytest

from autograder.config import load_config
from tests.corpus import dqn as corpus
from tests.corpus.common import grade_corpus, in_suite
from tests.submissions import build_course

pytestmark = pytest.mark.slow
CONFIG = dataclasses.replace(load_config(), assignments=("dqn",))
AUTO_TESTS, MANUAL_POINTS, MUTANTS = corpus.AUTO_TESTS, corpus.MANUAL_POINTS, corpus.MUTANTS


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return build_course(CONFIG, tmp_path_factory)


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """One batch: the reference, the untouched release, every correct variant and every mutant (tests/corpus)."""
    return grade_corpus("dqn", CONFIG, course["root"], tmp_path_factory.mktemp("submissions"), corpus)


def test_the_reference_and_correct_variants_get_full_marks_and_the_untouched_release_none(graded, capsys):
    with capsys.disabled():
        print(f"\ndqn: {graded['submissions']} submissions graded in {graded['seconds']:.0f} s")
    assert not graded["check"]["false_failures"], graded["check"]["false_failures"]
    scores = graded["result"]["scores"]
    assert scores["reference"]["dqn"] == sum(AUTO_TESTS.values())
    assert scores["untouched"]["dqn"] == 0
    assert graded["result"]["max_scores"]["dqn"] == sum(AUTO_TESTS.values()) + MANUAL_POINTS


@pytest.mark.parametrize("mutant", sorted(in_suite(MUTANTS)))
def test_each_mutant_loses_the_points_of_its_test_and_no_others(graded, mutant):
    got, case = graded["scores"][f"mutant_{mutant}"], MUTANTS[mutant]
    assert got[case.fails] == 0, f"{mutant} should lose {case.fails}: {got}"
    lost_elsewhere = {g for g, s in got.items() if g != case.fails and s != AUTO_TESTS[g]}
    assert lost_elsewhere <= case.may_fail, f"{mutant} lost unrelated points: {got}"
    low, high = case.score_range(AUTO_TESTS)
    assert low <= graded["result"]["scores"][f"mutant_{mutant}"]["dqn"] <= high
