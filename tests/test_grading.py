"""The whole grading path with the real nbgrader and its SQLite gradebook, for every notebook kit.toml lists.

Source notebooks -> release (built once per session: the ``course`` fixture) -> one folder of submissions -> one
batch through the real grader (parallel workers) -> per-test scores. For each assignment the batch holds its
reference, its untouched release, the suite's share of the correct variants of its corpus
(``tests/corpus/<assignment>.py``; :func:`tests.corpus.common.variants_in_suite`: the first, every one predicted by
tests/test_corpus.py) and of its mutants (:func:`tests.corpus.common.in_suite`: one per targeted test cell); all of
both with ``KIT_CORPUS=full``; for DCGAN also the corpus of bad submissions (``tests/corpus/__init__.py``) and odd
files.
Only the assignments whose tests are selected are graded (``-k stylegan2`` grades StyleGAN2's cases alone).
Nothing here names a notebook except the DCGAN-only checks of the bad-submission corpus and the command line.
"""

from __future__ import annotations

import dataclasses
import json
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.__main__ import main as autograder_main
from autograder.config import load_config
from autograder.grade import grade_folder, student_id
from tests.corpus import build_corpus
from tests.corpus.common import check, corpus_of, in_suite, variants_in_suite, write_cases
from tests.submissions import cell_scores, filled_release

CONFIG = load_config()
BAD_SUBMISSIONS = "dcgan"  # the notebook the corpus of bad submissions (tests/corpus/__init__.py) is made from


def grading_params(config) -> list:
    """One pytest param per (assignment, mutant in the suite) of every notebook ``config`` lists: the mutant
    tests' parametrisation, read from kit.toml and the corpora (no list of notebooks here)."""
    return [pytest.param(a, m, id=f"{a}-{m}") for a in config.assignments
            for m in sorted(in_suite(corpus_of(a).MUTANTS))]


def _assignments_selected(session) -> list[str]:
    """The assignments whose grading tests this session runs (after -k/-m deselection), in kit.toml's order."""
    wanted = {item.callspec.params["assignment"] for item in session.items
              if item.module.__name__ == __name__ and hasattr(item, "callspec")
              and "assignment" in item.callspec.params}
    return [a for a in CONFIG.assignments if a in wanted]


def _write_bad_submissions(folder: Path, release: Path, source: Path, course_root: Path) -> dict[str, float]:
    """DCGAN's corpus of bad submissions and odd files (tests/corpus/__init__.py): {student: expected score}."""
    warns = filled_release(release, source, {"generator": (
        "out = z.reshape(z.shape[0], -1, 1, 1)",
        "import warnings\n        warnings.warn('a harmless warning')\n        out = z.reshape(z.shape[0], -1, 1, 1)")})
    nbformat.write(warns, folder / "warnings_dcgan.ipynb")
    (folder / "broken_dcgan.ipynb").write_text("{ this is not json")
    with zipfile.ZipFile(folder / "zipped.zip", "w") as archive:
        archive.writestr("submission/dcgan.ipynb", nbformat.writes(filled_release(release, source)))
    return build_corpus(folder, release, source, course_root)


@pytest.fixture(scope="session")
def graded(course, request, tmp_path_factory) -> dict:
    """One batch for every selected assignment, graded with the default workers (one per core); each case's
    per-test scores are read right after (the session's course is shared with other tests that grade)."""
    root = course["root"]
    folder = tmp_path_factory.mktemp("submissions")
    cases, expected = {}, {}
    for assignment in _assignments_selected(request.session):
        corpus = corpus_of(assignment)
        release = root / "release" / assignment / f"{assignment}.ipynb"
        source = CONFIG.source_notebook(assignment)
        cases[assignment] = write_cases(folder, assignment, release, source, in_suite(corpus.MUTANTS),
                                        variants_in_suite(corpus.VARIANTS), CONFIG.assignments)
        (folder / f"untouched_{assignment}.ipynb").write_text(release.read_text())
        if assignment == BAD_SUBMISSIONS:
            expected = _write_bad_submissions(folder, release, source, root)
    log: list[str] = []
    began = time.perf_counter()
    # A cell limit of 60 s instead of kit.toml's 120 (no honest cell in fast mode takes 20 s, even with both
    # workers busy): the infinite loop spins nbgrader's kernel and the verification run for the whole limit.
    result = grade_folder(folder, dataclasses.replace(CONFIG, cell_timeout_s=60), root, log=log.append)
    seconds = time.perf_counter() - began
    scores = {a: {s: cell_scores(root, a, s, corpus_of(a).AUTO_TESTS) for s in students}
              for a, students in cases.items()}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        students = {s.id for s in gb.students}
    return {"result": result, "root": root, "scores": scores, "expected": expected, "log": log,
            "seconds": seconds, "submissions": len(list(folder.iterdir())), "students": students}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", CONFIG.assignments)
def test_the_reference_and_correct_variants_get_full_marks_and_the_untouched_release_none(graded, assignment,
                                                                                           capsys):
    corpus = corpus_of(assignment)
    with capsys.disabled():
        print(f"\ngrading batch: {graded['submissions']} submissions graded in {graded['seconds']:.0f} s")
    found = check(graded["scores"][assignment], corpus.AUTO_TESTS, in_suite(corpus.MUTANTS),
                  variants_in_suite(corpus.VARIANTS))
    assert not found["false_failures"], f"{found['false_failures']}\n" + "\n".join(graded["log"])
    scores, full = graded["result"]["scores"], sum(corpus.AUTO_TESTS.values())
    assert scores["reference"][assignment] == full
    assert scores["untouched"][assignment] == 0
    assert graded["result"]["max_scores"][assignment] == full + corpus.MANUAL_POINTS


@pytest.mark.slow
@pytest.mark.parametrize(("assignment", "mutant"), grading_params(CONFIG))
def test_each_mutant_loses_the_points_of_its_test_and_no_others(graded, assignment, mutant):
    corpus = corpus_of(assignment)
    got, case = graded["scores"][assignment][f"mutant_{mutant}"], corpus.MUTANTS[mutant]
    assert got[case.fails] == 0, f"{mutant} should lose {case.fails}: {got}"
    lost_elsewhere = {g for g, s in got.items() if g != case.fails and s != corpus.AUTO_TESTS[g]}
    assert lost_elsewhere <= case.may_fail, f"{mutant} lost unrelated points: {got}"
    low, high = case.score_range(corpus.AUTO_TESTS)
    assert low <= graded["result"]["scores"][f"mutant_{mutant}"][assignment] <= high


# DCGAN's batch also holds the corpus of bad submissions; these tests read that part.
@pytest.mark.slow
@pytest.mark.parametrize("assignment", [BAD_SUBMISSIONS])
def test_the_untouched_release_runs_to_its_end(graded, assignment):
    executed = nbformat.read(graded["root"] / "autograded" / "untouched" / assignment / f"{assignment}.ipynb", 4)
    writeup_cell = next(c for c in reversed(executed.cells) if c.cell_type == "code" and "writeup(" in c.source)
    assert "no writeup" in str(writeup_cell.get("outputs"))
    last_code = next(c for c in reversed(executed.cells) if c.cell_type == "code")
    assert "check_before_handing_in" in last_code.source and "skipped while grading" in str(last_code.outputs)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [BAD_SUBMISSIONS])
def test_warnings_do_not_cost_points_and_odd_files_do_not_stop_the_batch(graded, assignment):
    result, full = graded["result"], sum(corpus_of(assignment).AUTO_TESTS.values())
    assert result["scores"]["warnings"][assignment] == full
    assert result["scores"]["zipped"][assignment] == full
    assert result["scores"]["broken"][assignment] == 0 and f"broken/{assignment}" in result["errors"]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [BAD_SUBMISSIONS])
def test_the_corpus_of_bad_submissions_gets_the_expected_scores(graded, assignment, capsys):
    scores = graded["result"]["scores"]
    held = {s: scores.get(s, {}).get(assignment) == want for s, want in graded["expected"].items()}
    with capsys.disabled():
        print(f"\nbad submissions: {sum(held.values())} of {len(held)} cases held")
    wrong = {s: (scores.get(s, {}).get(assignment), graded["expected"][s]) for s, ok in held.items() if not ok}
    assert not wrong, f"(got, expected): {wrong}\n" + "\n".join(graded["log"])
    errors = graded["result"]["errors"]
    assert "empty file" in " ".join(v for k, v in errors.items() if k.startswith("empty_file")) or \
        any("empty" in v for v in errors.values())
    assert any("repaired" in line and "stripped_all_cells" in line for line in graded["log"])
    assert set(graded["expected"]) <= graded["students"], "the gradebook holds every student"
    source = graded["root"] / "source" / assignment / f"{assignment}.ipynb"
    assert "cheated" not in source.read_text() and "cheated" not in CONFIG.source_notebook(assignment).read_text()


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [BAD_SUBMISSIONS])
def test_feedback_and_csv_export(graded, assignment, tmp_path):
    root = graded["root"]
    # One student's feedback (the batch holds dozens; test_lms makes every student's in a small course).
    assert autograder_main(["--course-dir", str(root), "feedback", "--student", "reference"]) == 0
    assert (root / "feedback" / "reference" / assignment / f"{assignment}.html").is_file()
    assert not (root / "feedback" / "untouched").exists()
    csv = tmp_path / "grades.csv"
    assert autograder_main(["--course-dir", str(root), "export", "--to", str(csv)]) == 0
    rows = csv.read_text().splitlines()
    assert rows[0].startswith("assignment,") and any(",reference," in r for r in rows)


@pytest.mark.slow
def test_grade_command_prints_a_table_and_json(course, tmp_path, capsys):
    assignment = CONFIG.assignments[0]
    folder = tmp_path / "subs"
    folder.mkdir()
    release = course["root"] / "release" / assignment / f"{assignment}.ipynb"
    (folder / f"carol_{assignment}.ipynb").write_text(release.read_text())
    assert autograder_main(["--course-dir", str(course["root"]), "grade", str(folder)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("student") and any(line.startswith("carol") for line in out)
    assert json.loads(out[-1])["scores"]["carol"] == {assignment: 0.0}


def test_student_ids_from_lms_file_names():
    assert student_id("Copy of alice_dcgan (1).ipynb", ("dcgan",)) == "alice"
    assert student_id("Bob Smith - DCGAN.ipynb", ("dcgan",)) == "Bob_Smith"
    assert student_id("dcgan.ipynb", ("dcgan",)) == "student"


def test_every_assignment_s_mutants_in_the_suite_are_parametrised():
    params = grading_params(CONFIG)
    assert {p.values[0] for p in params} == set(CONFIG.assignments)
    assert len(params) == sum(len(in_suite(corpus_of(a).MUTANTS)) for a in CONFIG.assignments)


def test_bad_submissions_left_to_other_batches_are_graded_there():
    """The bad submissions make test leaves out (tests/corpus/__init__.py) are tricks the hostile batch grades
    beside their honest twins, or the batch's own reference."""
    from tests.corpus import ALSO_GRADED_ELSEWHERE, CASES
    from tests.hostile import CASES as HOSTILE

    for case, elsewhere in ALSO_GRADED_ELSEWHERE.items():
        assert case in CASES or case == "cheater", case
        assert elsewhere in HOSTILE or elsewhere == "reference", elsewhere
