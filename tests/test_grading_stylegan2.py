"""Grading the StyleGAN2 notebook with the real nbgrader: reference, untouched release and one bug each."""

from __future__ import annotations

import dataclasses
import re
import zipfile

import nbformat
import pytest

from autograder.config import load_config
from autograder.grade import grade_folder
from tests.submissions import build_course, cell_scores, filled_release

pytestmark = pytest.mark.slow
CONFIG = dataclasses.replace(load_config(), assignments=("stylegan2",))
AUTO_TESTS = {"test_generate_latent_code": 1, "test_generate_images": 2, "test_interpolate_images": 2,
              "test_generate_from_subnetwork": 2}
MANUAL_POINTS = 4
GENERIC_LINES = {"device = next(G.parameters()).device"}  # an idiom other helpers use too, not a solution

# One realistic bug each, the test cell that must catch it, and the other tests it may also fail.
MUTANTS = {
    "unseeded_latents": ("generate_latent_code", "np.random.RandomState(seed)", "np.random.RandomState()",
                         "test_generate_latent_code", set(AUTO_TESTS)),
    "uniform_latents": ("generate_latent_code", "rnd.randn(batch, latent_dim)", "rnd.rand(batch, latent_dim)",
                        "test_generate_latent_code", set()),
    "truncation_ignored": ("generate_images", "truncation_psi=truncation, noise_mode", "truncation_psi=1, noise_mode",
                           "test_generate_images", set()),
    "endpoint_missing": ("interpolate_images", "np.linspace(1, 0, steps)", "np.linspace(1, 0, steps + 1)[:-1]",
                         "test_interpolate_images", set()),
    "truncation_sign_flipped": ("generate_from_subnetwork", "(ws - w_avg) * truncation", "(w_avg - ws) * truncation",
                                "test_generate_from_subnetwork", set()),
    "batch_mean_for_w_avg": ("generate_from_subnetwork", "w_avg = G.mapping.w_avg",
                             "w_avg = ws.mean(dim=0, keepdim=True)", "test_generate_from_subnetwork", set()),
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return build_course(CONFIG, tmp_path_factory)


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    release = course["root"] / "release" / "stylegan2" / "stylegan2.ipynb"
    source = CONFIG.source_notebook("stylegan2")
    nbformat.write(filled_release(release, source), folder / "reference_stylegan2.ipynb")
    (folder / "untouched_stylegan2.ipynb").write_text(release.read_text())
    for name, (cell, old, new, _, _) in MUTANTS.items():
        nbformat.write(filled_release(release, source, {cell: (old, new)}),
                       folder / f"mutant_{name}_stylegan2.ipynb")
    result = grade_folder(folder, CONFIG, course["root"], log=lambda line: None)
    return {"result": result, "root": course["root"]}


def _cell_scores(root, student: str) -> dict[str, float]:
    return cell_scores(root, "stylegan2", student, AUTO_TESTS)


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
    assert release.count("raise NotImplementedError()") == 4, "four answer cells"
    assert {"helpers/stylegan2/generator.py", "helpers/stylegan2/tools.py", "data/stylegan2_emoji32.pt"} <= set(names)


def test_the_reference_gets_full_marks_and_the_untouched_release_none(graded):
    scores, root = graded["result"]["scores"], graded["root"]
    assert _cell_scores(root, "reference") == AUTO_TESTS
    assert scores["reference"]["stylegan2"] == sum(AUTO_TESTS.values())
    assert scores["untouched"]["stylegan2"] == 0
    assert graded["result"]["max_scores"]["stylegan2"] == sum(AUTO_TESTS.values()) + MANUAL_POINTS


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_each_bug_loses_the_points_of_its_test(graded, mutant):
    target, may_also_fail = MUTANTS[mutant][3], MUTANTS[mutant][4]
    got = _cell_scores(graded["root"], f"mutant_{mutant}")
    assert got[target] == 0, f"{mutant} should lose {target}: {got}"
    lost_elsewhere = {g for g, s in got.items() if g != target and s != AUTO_TESTS[g]}
    assert lost_elsewhere <= may_also_fail, f"{mutant} lost unrelated points: {got}"
