"""Grading the StyleGAN2 notebook with the real nbgrader: the reference, the untouched release, correct variants and
realistic bugs (tests/corpus/stylegan2.py), in one batch; and the release holds no solution."""

from __future__ import annotations

import dataclasses
import re
import zipfile

import nbformat
import pytest

from autograder.config import load_config
from tests.corpus import stylegan2 as corpus
from tests.corpus.common import grade_corpus, in_suite
from tests.submissions import build_course

pytestmark = pytest.mark.slow
CONFIG = dataclasses.replace(load_config(), assignments=("stylegan2",))
AUTO_TESTS, MANUAL_POINTS, MUTANTS = corpus.AUTO_TESTS, corpus.MANUAL_POINTS, corpus.MUTANTS
GENERIC_LINES = {"device = next(G.parameters()).device"}  # an idiom other helpers use too, not a solution


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return build_course(CONFIG, tmp_path_factory)


def test_the_release_holds_no_solution_and_the_bundle_holds_the_generator(course):
    source = nbformat.read(CONFIG.source_notebook("stylegan2"), 4)
    snippets = [line.strip() for cell in source.cells
                for region in re.findall(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", cell.source, re.S)
                for line in region[1].splitlines()
                if len(line.strip()) >= 24 and not line.strip().startswith("#") and line.strip() not in GENERIC_LINES]
    assert len(snippets) > 20
    release = (course["root"] / "release" / "stylegan2" / "stylegan2.ipynb").read_text()
    with zipfile.ZipFile(course["bundle"]) as bundle:
        texts = {name: bundle.read(name).decode("utf-8", "replace") for name in bundle.namelist()
                 if name.endswith((".py", ".ipynb"))}
        names = bundle.namelist()
    for name, text in {"release": release, **texts}.items():
        leaked = [s for s in snippets if s in text]
        assert not leaked, f"{name} contains solution code: {leaked[:3]}"
    assert release.count("raise NotImplementedError()") == 5, "five answer cells"
    assert {"helpers/stylegan2/generator.py", "helpers/stylegan2/tools.py", "data/stylegan2_emoji32.pt"} <= set(names)


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """One batch: the reference, the untouched release, every correct variant and every mutant (tests/corpus)."""
    return grade_corpus("stylegan2", CONFIG, course["root"], tmp_path_factory.mktemp("submissions"), corpus)


def test_the_reference_and_correct_variants_get_full_marks_and_the_untouched_release_none(graded, capsys):
    with capsys.disabled():
        print(f"\nstylegan2: {graded['submissions']} submissions graded in {graded['seconds']:.0f} s")
    assert not graded["check"]["false_failures"], graded["check"]["false_failures"]
    scores = graded["result"]["scores"]
    assert scores["reference"]["stylegan2"] == sum(AUTO_TESTS.values())
    assert scores["untouched"]["stylegan2"] == 0
    assert graded["result"]["max_scores"]["stylegan2"] == sum(AUTO_TESTS.values()) + MANUAL_POINTS


@pytest.mark.parametrize("mutant", sorted(in_suite(MUTANTS)))
def test_each_mutant_loses_the_points_of_its_test_and_no_others(graded, mutant):
    got, case = graded["scores"][f"mutant_{mutant}"], MUTANTS[mutant]
    assert got[case.fails] == 0, f"{mutant} should lose {case.fails}: {got}"
    lost_elsewhere = {g for g, s in got.items() if g != case.fails and s != AUTO_TESTS[g]}
    assert lost_elsewhere <= case.may_fail, f"{mutant} lost unrelated points: {got}"
    low, high = case.score_range(AUTO_TESTS)
    assert low <= graded["result"]["scores"][f"mutant_{mutant}"]["stylegan2"] <= high
