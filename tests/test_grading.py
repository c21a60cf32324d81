"""The whole grading path with the real nbgrader and its SQLite gradebook.

Source notebook -> release -> submissions (reference, untouched, one bug each) -> autograde -> scores.
"""

from __future__ import annotations

import dataclasses
import json
import re
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.__main__ import main as autograder_main
from autograder.config import load_config
from autograder.grade import grade_folder, student_id
from autograder.setup_cell import SETUP_CELL
from tests.corpus import build_corpus
from tests.corpus import dcgan as dcgan_corpus
from tests.corpus.common import check, in_suite, write_cases
from tests.submissions import build_course, cell_scores, filled_release

pytestmark = pytest.mark.slow
CONFIG = load_config()
AUTO_TESTS, MUTANTS = dcgan_corpus.AUTO_TESTS, in_suite(dcgan_corpus.MUTANTS)

# Idioms that solutions share with the provided helpers: their presence in helpers/ gives nothing away.
GENERIC_LINES = {"device = next(G.parameters()).device", "self.net = nn.Sequential(",
                 # the digit lab's epoch loop: the provided step and logger's interface, as the TODO's text gives it
                 "values = step_fn(G, D, g_optimizer, d_optimizer, real, noise, step)",
                 "logger.log_step(step, values)", "logger.end_epoch(epoch, samples)",
                 # seeding a generator from the config, as the kit's own loops do
                 "rng = torch.Generator().manual_seed(config.seed)"}


def _solution_snippets(source: Path) -> list[str]:
    """Substantial lines of every solution region and hidden test of a source notebook."""
    snippets = []
    for cell in nbformat.read(source, 4).cells:
        for region in re.findall(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", cell.source, re.S):
            snippets += [ln.strip() for ln in region[1].splitlines()
                         if len(ln.strip()) >= 24 and not ln.strip().startswith("#")
                         and ln.strip() not in GENERIC_LINES]
    return snippets


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course directory and a release built from the source notebooks."""
    return build_course(CONFIG, tmp_path_factory)


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """Grade one folder holding the reference, the untouched release, every correct variant and mutant of the
    corpus (tests/corpus/dcgan.py), the bad submissions of tests/corpus and some odd files: one batch."""
    import time

    folder = tmp_path_factory.mktemp("submissions")
    release = course["root"] / "release" / "dcgan" / "dcgan.ipynb"
    source = CONFIG.source_notebook("dcgan")
    students = write_cases(folder, "dcgan", release, source, MUTANTS, dcgan_corpus.VARIANTS)
    (folder / "Copy of untouched.ipynb").write_text(release.read_text())
    warns = filled_release(release, source, {"generator": (
        "out = z.reshape(z.shape[0], -1, 1, 1)",
        "import warnings\n        warnings.warn('a harmless warning')\n        out = z.reshape(z.shape[0], -1, 1, 1)")})
    nbformat.write(warns, folder / "warnings_dcgan.ipynb")
    (folder / "broken_dcgan.ipynb").write_text("{ this is not json")
    with zipfile.ZipFile(folder / "zipped.zip", "w") as archive:
        archive.writestr("submission/dcgan.ipynb", nbformat.writes(filled_release(release, source)))
    expected = build_corpus(folder, release, source, course["root"])
    # A short cell limit, for the infinite loop; the whole batch in parallel workers.
    config = dataclasses.replace(CONFIG, cell_timeout_s=40)
    log: list[str] = []
    began = time.perf_counter()
    result = grade_folder(folder, config, course["root"], log=log.append)
    seconds = time.perf_counter() - began
    scores = {s: cell_scores(course["root"], "dcgan", s, AUTO_TESTS) for s in students}
    return {"result": result, "root": course["root"], "expected": expected, "log": log, "scores": scores,
            "check": check(scores, AUTO_TESTS, MUTANTS, dcgan_corpus.VARIANTS), "seconds": seconds,
            "submissions": len(list(folder.iterdir()))}


def _cell_scores(root: Path, student: str) -> dict[str, float]:
    return cell_scores(root, "dcgan", student, AUTO_TESTS)


def test_every_source_notebook_starts_with_the_setup_cell():
    for assignment in CONFIG.assignments:
        nb = nbformat.read(CONFIG.source_notebook(assignment), 4)
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert first_code.source == SETUP_CELL.rstrip("\n")
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
        assert len(ids) == len(set(ids)), "duplicate grade ids"
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit without outputs"


def test_release_and_bundle_contain_no_solution(course):
    snippets = [s for a in CONFIG.assignments for s in _solution_snippets(CONFIG.source_notebook(a))]
    assert len(snippets) > 20 * len(CONFIG.assignments) // 2
    texts = {str(p): p.read_text() for p in course["notebooks"]}
    with zipfile.ZipFile(course["bundle"]) as bundle:
        texts |= {name: bundle.read(name).decode("utf-8", "replace") for name in bundle.namelist()}
    for name, text in texts.items():
        leaked = [s for s in snippets if s in text]
        assert not leaked, f"{name} contains solution code: {leaked[:3]}"
    assert "YOUR CODE HERE" in texts[str(course["notebooks"][0])]
    assert CONFIG.bundle_url in texts[str(course["notebooks"][0])], "the bundle URL is written into the release"
    names = zipfile.ZipFile(course["bundle"]).namelist()
    assert "helpers/dcgan/models.py" in names and "data/emojis.npz" in names and "notebooks/dcgan.ipynb" in names
    assert "writeup_template.tex" in names and "helpers/core/writeup.py" in names
    assert not any(n.startswith("autograder/") or "__pycache__" in n for n in names)


def test_the_reference_gets_full_marks_and_the_untouched_release_none(graded):
    scores, root = graded["result"]["scores"], graded["root"]
    assert _cell_scores(root, "reference") == AUTO_TESTS
    assert scores["reference"]["dcgan"] == sum(AUTO_TESTS.values())
    assert scores["untouched"]["dcgan"] == 0
    assert graded["result"]["max_scores"]["dcgan"] == sum(AUTO_TESTS.values()) + 6  # 6 manual points
    # The untouched release ran to its end (its last cell executed, with an error, as expected).
    executed = nbformat.read(root / "autograded" / "untouched" / "dcgan" / "dcgan.ipynb", 4)
    writeup_cell = next(c for c in reversed(executed.cells) if c.cell_type == "code" and "writeup(" in c.source)
    assert "no writeup" in str(writeup_cell.get("outputs"))
    last_code = next(c for c in reversed(executed.cells) if c.cell_type == "code")
    assert "check_before_handing_in" in last_code.source and "skipped while grading" in str(last_code.outputs)


def test_correct_variants_get_full_marks(graded, capsys):
    with capsys.disabled():
        print(f"\ndcgan: {graded['submissions']} submissions graded in {graded['seconds']:.0f} s")
    assert not graded["check"]["false_failures"], graded["check"]["false_failures"]


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_each_mutant_loses_the_points_of_its_test_and_no_others(graded, mutant):
    got, case = graded["scores"][f"mutant_{mutant}"], MUTANTS[mutant]
    assert got[case.fails] == 0, f"{mutant} should lose {case.fails}: {got}"
    lost_elsewhere = {g for g, s in got.items() if g != case.fails and s != AUTO_TESTS[g]}
    assert lost_elsewhere <= case.may_fail, f"{mutant} lost unrelated points: {got}"
    low, high = case.score_range(AUTO_TESTS)
    assert low <= graded["result"]["scores"][f"mutant_{mutant}"]["dcgan"] <= high


def test_warnings_do_not_cost_points_and_odd_files_do_not_stop_the_batch(graded):
    result = graded["result"]
    assert result["scores"]["warnings"]["dcgan"] == sum(AUTO_TESTS.values())
    assert result["scores"]["zipped"]["dcgan"] == sum(AUTO_TESTS.values())
    assert result["scores"]["broken"]["dcgan"] == 0 and "broken/dcgan" in result["errors"]


def test_feedback_and_csv_export(graded, tmp_path, monkeypatch, capsys):
    root = graded["root"]
    assert autograder_main(["--course-dir", str(root), "feedback"]) == 0
    assert (root / "feedback" / "reference" / "dcgan" / "dcgan.html").is_file()
    csv = tmp_path / "grades.csv"
    assert autograder_main(["--course-dir", str(root), "export", "--to", str(csv)]) == 0
    rows = csv.read_text().splitlines()
    assert rows[0].startswith("assignment,") and any(",reference," in r for r in rows)


def test_student_ids_from_lms_file_names():
    assert student_id("Copy of alice_dcgan (1).ipynb", ("dcgan",)) == "alice"
    assert student_id("Bob Smith - DCGAN.ipynb", ("dcgan",)) == "Bob_Smith"
    assert student_id("dcgan.ipynb", ("dcgan",)) == "student"


def test_grade_command_prints_a_table_and_json(course, tmp_path, capsys):
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "carol_dcgan.ipynb").write_text((course["root"] / "release/dcgan/dcgan.ipynb").read_text())
    assert autograder_main(["--course-dir", str(course["root"]), "grade", str(folder)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("student") and any(line.startswith("carol") for line in out)
    assert json.loads(out[-1])["scores"]["carol"] == {"dcgan": 0.0}


def test_the_corpus_of_bad_submissions_gets_the_expected_scores(graded, capsys):
    scores = graded["result"]["scores"]
    held = {s: scores.get(s, {}).get("dcgan") == want for s, want in graded["expected"].items()}
    with capsys.disabled():
        print(f"\ncorpus: {sum(held.values())} of {len(held)} cases held")
    wrong = {s: (scores.get(s, {}).get("dcgan"), graded["expected"][s]) for s, ok in held.items() if not ok}
    assert not wrong, f"(got, expected): {wrong}\n" + "\n".join(graded["log"])
    errors = graded["result"]["errors"]
    assert "empty file" in " ".join(v for k, v in errors.items() if k.startswith("empty_file")) or \
        any("empty" in v for v in errors.values())
    assert any("repaired" in line and "stripped_all_cells" in line for line in graded["log"])


def test_the_gradebook_holds_every_student_and_the_sources_are_untouched(graded):
    with Gradebook(f"sqlite:///{graded['root'] / 'gradebook.db'}") as gb:
        students = {s.id for s in gb.students}
        assert set(graded["expected"]) <= students
        assert all(gb.find_submission("dcgan", s).score <= 9 for s in graded["expected"])
    source = graded["root"] / "source" / "dcgan" / "dcgan.ipynb"
    assert "cheated" not in source.read_text()
    assert "cheated" not in CONFIG.source_notebook("dcgan").read_text()
