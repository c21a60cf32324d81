"""Grading the optional image-GAN labs with the real nbgrader, in one batch: each lab's reference and untouched
release; for the digit lab its corpus (tests/corpus/lab_mnist_digit.py: every correct variant, other MLP designs
and loops, and the suite's share of its mutants, one per targeted test; tests/test_corpus.py predicts all of it in
process); two bugs each and one correct variant for the other labs.

Source notebooks -> release -> submissions -> autograde (fast mode, offline data) -> per-cell scores.
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.config import load_config
from autograder.grade import grade_folder
from autograder.setup_cell import SETUP_CELL
from tests.corpus import lab_mnist_digit as digit_corpus
from tests.corpus.common import check, in_suite, write_cases
from tests.submissions import build_course, cell_scores, filled_release

pytestmark = pytest.mark.slow
LABS = ("lab_mnist_digit", "lab_gan_mnist_cifar", "lab_face_gan")
CONFIG = dataclasses.replace(load_config(), assignments=LABS)
AUTO_TESTS = {
    "lab_mnist_digit": digit_corpus.AUTO_TESTS,
    "lab_gan_mnist_cifar": {"test_vanilla": 2, "test_dc_generator": 2, "test_gan_step": 3},
    "lab_face_gan": {"test_face_models": 3, "test_train_step": 2, "test_interpolation": 2},
}
MANUAL_POINTS = {"lab_mnist_digit": digit_corpus.MANUAL_POINTS, "lab_gan_mnist_cifar": 2, "lab_face_gan": 3}
DIGIT_MUTANTS = in_suite(digit_corpus.MUTANTS)

# The other labs: one realistic bug each: (lab, answer cell, old, new, the test cell that must catch it).
MUTANTS = {
    "smoothed_g_target": ("lab_gan_mnist_cifar", "gan_step",
                          "g_loss = F.binary_cross_entropy_with_logits(scores, torch.ones_like(scores))",
                          "g_loss = F.binary_cross_entropy_with_logits(scores, torch.full_like(scores, real_label))",
                          "test_gan_step"),
    "batchnorm_on_output": ("lab_gan_mnist_cifar", "dc_generator", "upconv(conv_dim, channels, batch_norm=False)",
                            "upconv(conv_dim, channels)", "test_dc_generator"),
    "sigmoid_on_scores": ("lab_face_gan", "face_models", "return self.last(out).reshape(images.shape[0])",
                          "return torch.sigmoid(self.last(out)).reshape(images.shape[0])", "test_face_models"),
    "path_misses_the_end": ("lab_face_gan", "interpolation",
                            "torch.linspace(0, 1, steps, dtype=z0.dtype, device=z0.device)",
                            "torch.arange(steps, dtype=z0.dtype, device=z0.device) / steps", "test_interpolation"),
}
# A correct vanilla GAN of another design: (lab, answer cell, [(old, new), ...]); it keeps full marks.
VARIANTS = {
    "vanilla_batchnorm_column_scores": ("lab_gan_mnist_cifar", "vanilla", [
        ("            nn.Linear(z_dim, hidden), nn.LeakyReLU(0.2),\n"
         "            nn.Linear(hidden, 2 * hidden), nn.LeakyReLU(0.2),\n"
         "            nn.Linear(2 * hidden, channels * height * width), nn.Tanh(),",
         "            nn.Linear(z_dim, 4 * hidden), nn.BatchNorm1d(4 * hidden), nn.ReLU(),\n"
         "            nn.Linear(4 * hidden, channels * height * width), nn.Tanh(),"),
        ("return self.net(images).reshape(images.shape[0])", "return self.net(images)"),
    ]),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Release the labs, then grade one folder with each lab's reference, untouched release and mutants."""
    made = build_course(CONFIG, tmp_path_factory)
    course = made["root"]
    folder = tmp_path_factory.mktemp("submissions")
    for lab in LABS:
        release, source = course / "release" / lab / f"{lab}.ipynb", CONFIG.source_notebook(lab)
        (folder / f"untouched_{lab}.ipynb").write_text(release.read_text())
        if lab == "lab_mnist_digit":
            write_cases(folder, lab, release, source, DIGIT_MUTANTS, digit_corpus.VARIANTS)
        else:
            nbformat.write(filled_release(release, source), folder / f"reference_{lab}.ipynb")
    for name, (lab, cell, old, new, _) in MUTANTS.items():
        release, source = course / "release" / lab / f"{lab}.ipynb", CONFIG.source_notebook(lab)
        nbformat.write(filled_release(release, source, {cell: (old, new)}), folder / f"mutant_{name}_{lab}.ipynb")
    for name, (lab, cell, edits) in VARIANTS.items():
        release, source = course / "release" / lab / f"{lab}.ipynb", CONFIG.source_notebook(lab)
        nbformat.write(filled_release(release, source, {cell: edits}), folder / f"variant_{name}_{lab}.ipynb")
    log: list[str] = []
    result = grade_folder(folder, CONFIG, course, log=log.append)
    return {"result": result, "root": course, "made": made, "log": log}


def _cell_scores(root: Path, lab: str, student: str) -> dict[str, float]:
    return cell_scores(root, lab, student, AUTO_TESTS[lab])


def test_lab_sources_start_with_the_setup_cell_and_have_no_outputs():
    for lab in LABS:
        nb = nbformat.read(CONFIG.source_notebook(lab), 4)
        assert next(c for c in nb.cells if c.cell_type == "code").source == SETUP_CELL.rstrip("\n")
        assert "imports" in nb.cells[2].metadata.get("tags", [])
        assert f'OUT = "outputs/{lab}"' in nb.cells[2].source
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
        assert len(ids) == len(set(ids)), f"duplicate grade ids in {lab}"
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit without outputs"
        assert lab in load_config().assignments, f"{lab} is not registered in kit.toml"


def test_releases_hide_the_solutions(graded):
    texts = {p.name: p.read_text() for p in graded["made"]["notebooks"]}
    with zipfile.ZipFile(graded["made"]["bundle"]) as bundle:
        names = bundle.namelist()
    assert "data/digit_classifier.pt" in names and "helpers/image_labs/data.py" in names
    for lab, needle in (("lab_mnist_digit", "nn.Linear(1024, 28 * 28), nn.Tanh()"),
                        ("lab_mnist_digit", "fixed_noise = torch.randn(64, config.z_dim, generator=rng)"),
                        ("lab_gan_mnist_cifar", "torch.full_like(real_scores, real_label)"),
                        ("lab_face_gan", "torch.linspace(0, 1, steps")):
        assert "YOUR CODE HERE" in texts[f"{lab}.ipynb"] and needle not in texts[f"{lab}.ipynb"]
        assert "BEGIN HIDDEN TESTS" not in texts[f"{lab}.ipynb"]


def test_references_get_full_marks_and_untouched_releases_none(graded):
    scores, root = graded["result"]["scores"], graded["root"]
    for lab, tests in AUTO_TESTS.items():
        assert _cell_scores(root, lab, "reference") == tests, "\n".join(graded["log"])
        assert scores["reference"][lab] == sum(tests.values())
        assert scores["untouched"][lab] == 0
        assert graded["result"]["max_scores"][lab] == sum(tests.values()) + MANUAL_POINTS[lab]
    for name, (lab, _, _) in VARIANTS.items():
        assert _cell_scores(root, lab, f"variant_{name}") == AUTO_TESTS[lab], name


def test_digit_lab_correct_variants_keep_full_marks_and_its_bugs_lose_their_test_s_points(graded):
    lab = "lab_mnist_digit"
    students = ["reference", *(f"variant_{k}" for k in digit_corpus.VARIANTS), *(f"mutant_{k}" for k in DIGIT_MUTANTS)]
    scores = {s: _cell_scores(graded["root"], lab, s) for s in students}
    result = check(scores, AUTO_TESTS[lab], DIGIT_MUTANTS, digit_corpus.VARIANTS)
    assert not result["false_failures"], result["false_failures"]
    assert not result["wrong"], result["wrong"]
    assert len(result["killed"]) == len(DIGIT_MUTANTS)


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_each_bug_loses_the_points_of_its_test(graded, mutant):
    lab, _, _, _, target = MUTANTS[mutant]
    got = _cell_scores(graded["root"], lab, f"mutant_{mutant}")
    assert got[target] == 0, f"{mutant} should lose {target}: {got}"
    lost_elsewhere = {g for g, s in got.items() if g != target and s != AUTO_TESTS[lab][g]}
    assert not lost_elsewhere, f"{mutant} lost unrelated points: {got}"

