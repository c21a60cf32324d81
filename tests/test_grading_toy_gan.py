"""Grading the toy-GAN lab with the real nbgrader (the reference, the untouched release, correct variants and
realistic bugs from tests/corpus/toy_gan.py, in one batch), and a CI check that the reference training steps cover
every mode of the tight four-Gaussian mixture on a CPU budget."""

from __future__ import annotations

import dataclasses
import re
import zipfile

import nbformat
import pytest
import torch

from autograder.config import load_config
from autograder.solutions import load_reference
from helpers.toy_gan.training import ToyGANConfig, train_toy_gan
from tests.corpus import toy_gan as corpus
from tests.corpus.common import grade_corpus, in_suite
from tests.submissions import build_course

pytestmark = pytest.mark.slow
CONFIG = dataclasses.replace(load_config(), assignments=("toy_gan",))
AUTO_TESTS, MANUAL_POINTS, MUTANTS = corpus.AUTO_TESTS, corpus.MANUAL_POINTS, corpus.MUTANTS


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return build_course(CONFIG, tmp_path_factory)


def test_the_release_holds_no_solution(course):
    source = nbformat.read(CONFIG.source_notebook("toy_gan"), 4)
    snippets = [line.strip() for cell in source.cells
                for region in re.findall(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", cell.source, re.S)
                for line in region[1].splitlines() if len(line.strip()) >= 24 and not line.strip().startswith("#")]
    assert len(snippets) > 20
    release = (course["root"] / "release" / "toy_gan" / "toy_gan.ipynb").read_text()
    with zipfile.ZipFile(course["bundle"]) as bundle:
        texts = {name: bundle.read(name).decode("utf-8", "replace") for name in bundle.namelist()
                 if name.endswith((".py", ".ipynb"))}
    for name, text in {"release": release, **texts}.items():
        leaked = [s for s in snippets if s in text]
        assert not leaked, f"{name} contains solution code: {leaked[:3]}"
    # mixture_4 and its variances, HalfCircles' three methods, the two training steps, the training iteration, the
    # optional NumPy GAN
    assert release.count("raise NotImplementedError()") == 9, "nine answer regions"
    assert "helpers/toy_gan/training.py" in texts


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """One batch: the reference, the untouched release, every correct variant and every mutant (tests/corpus)."""
    return grade_corpus("toy_gan", CONFIG, course["root"], tmp_path_factory.mktemp("submissions"), corpus)


def test_the_reference_and_correct_variants_get_full_marks_and_the_untouched_release_none(graded, capsys):
    with capsys.disabled():
        print(f"\ntoy_gan: {graded['submissions']} submissions graded in {graded['seconds']:.0f} s")
    assert not graded["check"]["false_failures"], graded["check"]["false_failures"]
    scores = graded["result"]["scores"]
    assert scores["reference"]["toy_gan"] == sum(AUTO_TESTS.values())
    assert scores["untouched"]["toy_gan"] == 0
    assert graded["result"]["max_scores"]["toy_gan"] == sum(AUTO_TESTS.values()) + MANUAL_POINTS


@pytest.mark.parametrize("mutant", sorted(in_suite(MUTANTS)))
def test_each_mutant_loses_the_points_of_its_test_and_no_others(graded, mutant):
    got, case = graded["scores"][f"mutant_{mutant}"], MUTANTS[mutant]
    assert got[case.fails] == 0, f"{mutant} should lose {case.fails}: {got}"
    lost_elsewhere = {g for g, s in got.items() if g != case.fails and s != AUTO_TESTS[g]}
    assert lost_elsewhere <= case.may_fail, f"{mutant} lost unrelated points: {got}"
    low, high = case.score_range(AUTO_TESTS)
    assert low <= graded["result"]["scores"][f"mutant_{mutant}"]["toy_gan"] <= high


# The CI check of the reference solution's training, small enough for a CPU (a few seconds a seed).
MIXTURE_4_CI = dict(mode="mixture_4", num_steps=600, batch_size=64,
                    g_hidden=64, d_hidden=64, lr=2e-3, final_lr_fraction=0.1, pack=2, log_every=100, num_frames=0,
                    checkpoint_every=600, progress=False)


def test_the_reference_covers_every_mode_of_the_tight_mixture_in_most_seeds(tmp_path):
    torch.set_num_threads(1)
    ref = load_reference("toy_gan")
    full = []
    for seed in range(5):
        config = ToyGANConfig(**MIXTURE_4_CI, data={"variance": ref.MIXTURE_4_TIGHT}, seed=seed,
                              out_dir=str(tmp_path / f"seed{seed}"))
        metrics = train_toy_gan(config, ref.train_discriminator, ref.train_generator,
                                samplers={"mixture_4": ref.mixture_4}).metrics
        full.append(metrics["modes_fair"] == 4 and metrics["hq_share"] > 0.3)
    # Measured: 4 of 5 seeds (the plain GAN, pack=1, keeps 2 of the 4 modes in 4 of 5 seeds).
    assert sum(full) >= 3, f"every mode covered (with a fair share) in only {sum(full)} of 5 seeds"
