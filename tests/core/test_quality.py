"""The corpus engine (autograder/quality.py) without nbgrader: it loads every notebook's corpus from tests/corpus by
path, refuses a notebook without one, classifies graded scores, and the grading-quality bench reads the corpus
through it, never importing the tests package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import quality
from autograder.config import KIT_ROOT, load_config
from autograder.quality import Mutant, Variant, check, corpus_module_name, corpus_of, hostile_cases, mutant, variant

ASSIGNMENTS = load_config().assignments


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_corpus_of_loads_every_notebook_of_kit_toml_by_path(assignment):
    corpus = corpus_of(assignment)
    assert corpus.__name__ == corpus_module_name(assignment)
    assert Path(corpus.__file__).resolve() == (KIT_ROOT / "tests" / "corpus" / f"{assignment}.py").resolve()
    assert corpus_of(assignment) is corpus, "loaded once"
    assert corpus.MUTANTS and all(isinstance(m, Mutant) for m in corpus.MUTANTS.values())
    assert all(isinstance(v, Variant) for v in corpus.VARIANTS.values())
    assert all(m.fails in corpus.AUTO_TESTS for m in corpus.MUTANTS.values())


def test_a_notebook_without_a_corpus_or_with_an_incomplete_one_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="kit_quality_absent has no corpus"):
        corpus_of("kit_quality_absent", root=tmp_path)
    with pytest.raises(ValueError, match="not an assignment name"):
        corpus_of("../hostile", root=tmp_path)
    (tmp_path / "tests" / "corpus").mkdir(parents=True)
    (tmp_path / "tests" / "corpus" / "kit_quality_partial.py").write_text("AUTO_TESTS = {}\nMUTANTS = {}\n")
    try:
        with pytest.raises(AttributeError, match=r"lacks \['MANUAL_POINTS', 'VARIANTS'\]"):
            corpus_of("kit_quality_partial", root=tmp_path)
    finally:
        sys.modules.pop(corpus_module_name("kit_quality_partial"), None)
    with pytest.raises(FileNotFoundError, match="no hostile submissions"):
        hostile_cases(root=tmp_path)


def test_check_classifies_killed_wrong_and_false_failures():
    auto = {"t_a": 2.0, "t_b": 1.0, "t_c": 1.0}
    full = dict(auto)
    mutants = {
        "right": mutant("a", "x", "y", "t_a"),  # loses its own test only
        "allowed": mutant("a", "x", "y", "t_a", may_fail=["t_b"]),  # and a test it may fail
        "survives": mutant("a", "x", "y", "t_a"),  # keeps every point
        "unrelated": mutant("a", "x", "y", "t_a"),  # also loses a test it may not
        "partial": mutant("a", "x", "y", "t_a"),  # keeps part of its own test's points
        "other_test": mutant("a", "x", "y", "t_a"),  # caught, but by another test only
        "ungraded": mutant("a", "x", "y", "t_a"),  # no scores at all (the grader skipped it)
    }
    variants = {"same": variant("a", "x", "z"), "flagged": variant("a", "x", "w")}
    scores = {
        "reference": full,
        "variant_same": full,
        "variant_flagged": {**full, "t_c": 0.0},
        "mutant_right": {**full, "t_a": 0.0},
        "mutant_allowed": {**full, "t_a": 0.0, "t_b": 0.0},
        "mutant_survives": full,
        "mutant_unrelated": {**full, "t_a": 0.0, "t_c": 0.0},
        "mutant_partial": {**full, "t_a": 1.0},
        "mutant_other_test": {**full, "t_b": 0.0},
    }
    found = check(scores, auto, mutants, variants)
    assert sorted(found["killed"]) == ["allowed", "other_test", "partial", "right", "ungraded", "unrelated"]
    assert sorted(found["wrong"]) == ["other_test", "partial", "survives", "ungraded", "unrelated"]
    assert sorted(found["false_failures"]) == ["variant_flagged"]
    assert (found["mutants"], found["variants"]) == (7, 2)
    # A reference that loses a point is a false failure too.
    assert sorted(check({**scores, "reference": {**full, "t_b": 0.5}}, auto, {}, variants)["false_failures"]) == [
        "reference", "variant_flagged"]


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (import statements and importlib.import_module/__import__ of a constant)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant | ast.JoinedStr):
            func = ast.unparse(node.func)
            if func.endswith(("import_module", "__import__")):
                names.add(ast.unparse(node.args[0]).strip("'\"f"))
    return names


@pytest.mark.parametrize("path", [KIT_ROOT / "autograder" / "quality.py",
                                  *sorted((KIT_ROOT / "bench").glob("*.py"))], ids=lambda p: p.name)
def test_the_bench_and_the_engine_import_nothing_from_tests_and_patch_no_path(path):
    wrong = sorted(m for m in _imports(path) if m == "tests" or m.startswith("tests."))
    assert not wrong, f"{path.name} imports {wrong}"
    assert "sys.path" not in path.read_text(), f"{path.name} patches sys.path"


def test_the_bench_takes_its_notebooks_from_kit_toml():
    tree = ast.parse((KIT_ROOT / "bench" / "grading_quality.py").read_text())
    names = [t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)]
    assert "NOTEBOOKS" not in names
    listed = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in ASSIGNMENTS]
    assert not listed, f"notebook names written in the bench: {[n.value for n in listed]}"


def test_the_hostile_submissions_load_by_path():
    hostile = hostile_cases()
    assert hostile.__name__ == "kit_hostile" and callable(hostile.hostile_results) and hostile.CASES


def test_the_prediction_command_is_the_kit_module_and_refuses_an_unknown_corpus():
    done = subprocess.run([sys.executable, "-m", "autograder.quality", "predict", "kit_quality_absent"],
                          cwd=KIT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "kit_quality_absent has no corpus" in done.stderr, done.stderr[-2000:]
    with pytest.raises(RuntimeError, match="has no corpus"):
        quality.predict_in_subprocess("kit_quality_absent", [])
