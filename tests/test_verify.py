"""The verification run (autograder/verify.py): what of the student's code it runs, and verdicts it trusts."""

from __future__ import annotations

import nbformat
import pytest

from autograder.course import nbgrader_env
from autograder.sandbox import probe
from autograder.verify import build_plan, definitions_only, parse_report, run_verification


def _plan(tmp_path, release, source, submitted) -> list[dict]:
    """The verification plan of ``submitted`` against ``release`` and ``source``, written as notebook files."""
    paths = {}
    for name, nb in (("release", release), ("source", source), ("submitted", submitted)):
        paths[name] = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, paths[name])
    return build_plan(paths["submitted"], paths["release"], paths["source"])


def test_only_definitions_of_the_students_code_run():
    source = (
        "import torch\nfrom math import pi\nBATCH = 64\na, b = 1, 2\nlimit: int = 3\n"
        "def f(x):\n    return x + 1\nclass Net:\n    pass\n"
        "torch.allclose = lambda *a, **k: True\nget_ipython().events.callbacks.clear()\n"
        "for i in range(3):\n    print(i)\nsettings['lr'] = 0.1\nconfig.tau = 0.5\nBATCH += 1\n"
        "np.testing.assert_allclose = None\n")
    kept = definitions_only(source)
    for wanted in ("import torch", "from math import pi", "BATCH = 64", "a, b = (1, 2)", "limit: int = 3",
                   "def f(x):", "class Net:", "settings['lr'] = 0.1", "config.tau = 0.5", "BATCH += 1"):
        assert wanted in kept
    for dropped in ("allclose", "get_ipython", "print"):
        assert dropped not in kept
    assert definitions_only("def broken(:\n") == "def broken(:\n", "a syntax error stays one"


def test_verdicts_need_the_nonce_and_a_repeated_verdict_keeps_the_worst():
    lines = ["abc test t1 pass -", "abc test t2 pass -", "abc test t2 fail AssertionError",
             "forged test t3 pass -", "abc flag sys.settrace", "abc done"]
    found = parse_report(lines, "abc")
    assert found.passed == {"t1": True, "t2": False} and found.finished
    assert not found.verdict("t3"), "a test without a verdict of its own fails"
    assert found.flags == ["sys.settrace"]
    unfinished = parse_report(["abc test t1 pass -"], "abc")
    assert not unfinished.finished and any("did not finish" in f for f in unfinished.flags)


def _notebook(cells):
    nb = nbformat.v4.new_notebook()
    for kind, grade_id, text in cells:
        cell = nbformat.v4.new_code_cell(text)
        if kind == "answer":
            cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": True, "grade": False}
        elif kind == "test":
            cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": False, "grade": True, "points": 1}
        nb.cells.append(cell)
    return nb


def test_the_plan_takes_provided_cells_from_the_release_and_tests_from_the_source(tmp_path):
    release = _notebook([("provided", None, "x = 1"), ("answer", "a1", "raise NotImplementedError()"),
                         ("test", "t1", "assert f(1) == 2"), ("provided", None, "print('after')")])
    source = _notebook([("provided", None, "x = 1"), ("answer", "a1", "def f(v):\n    return v + 1"),
                        ("test", "t1", "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 3\n"
                                       "### END HIDDEN TESTS")])
    submitted = _notebook([("provided", None, "x = 1000  # edited"), ("answer", "a1", "def f(v):\n    return v + 1"),
                           ("provided", None, "def helper():\n    return 2\nprint(helper())"),
                           ("test", "t1", "pass  # weakened")])
    plan = _plan(tmp_path, release, source, submitted)
    # The edited provided cell counts as the student's own (definitions only); it sat above the setup (first)
    # cell, and nothing of the student's runs before that: it runs right after it.
    assert [(c["kind"], c["name"]) for c in plan] == [
        ("provided", plan[0]["name"]), ("student", "cell-0-added-0"), ("student", "a1"), ("student", "a1-added-0"),
        ("test", "t1")]
    assert plan[0]["source"].strip() == "x = 1", "the release's provided cell, not the student's edit"
    assert "def helper" in plan[3]["source"] and "print" not in plan[3]["source"]
    assert "assert f(2) == 3" in plan[4]["source"], "hidden tests come from the source"
    assert all(c["exports"] == ["f"] for c in plan if c["kind"] == "student"), "the source's answer names"


def test_added_cells_run_where_the_student_put_them_never_before_the_setup_cell(tmp_path):
    release = _notebook([("provided", None, "SETUP = 1"), ("answer", "a1", "raise NotImplementedError()"),
                         ("test", "t1", "assert f(1) == 2"), ("provided", None, "y = 2"),
                         ("answer", "a2", "raise NotImplementedError()"), ("test", "t2", "assert g() == 3")])
    source = _notebook([("provided", None, "SETUP = 1"), ("answer", "a1", "def f(v):\n    return v + 1"),
                        ("test", "t1", "assert f(1) == 2"), ("provided", None, "y = 2"),
                        ("answer", "a2", "def g():\n    return 3"), ("test", "t2", "assert g() == 3")])
    submitted = _notebook([("provided", None, "import sys as _s\n_s.modules['torch'] = None"),
                           ("provided", None, "SETUP = 1"), ("answer", "a1", "def f(v):\n    return v + 1"),
                           ("test", "t1", "assert f(1) == 2"), ("provided", None, "y = 2"),
                           ("provided", None, "def extra():\n    return 0"),
                           ("answer", "a2", "def g():\n    return 3"), ("test", "t2", "assert g() == 3")])
    plan = _plan(tmp_path, release, source, submitted)
    assert [(c["kind"], c["name"]) for c in plan] == [
        ("provided", "cell-0"), ("student", "cell-0-added-0"), ("student", "a1"), ("test", "t1"),
        ("provided", "cell-3"), ("student", "cell-3-added-0"), ("student", "a2"), ("test", "t2")]
    assert all(c["exports"] == ["f", "g"] for c in plan if c["kind"] == "student")


@pytest.mark.skipif(not probe().startswith("isolated"), reason="no namespaces on this machine")
def test_tricks_in_the_students_functions_fail_their_test(tmp_path):
    student = (
        "import sys, threading, torch\n"
        "def honest(x):\n    return x * 2\n"
        "def patches(x):\n    torch.allclose = lambda *a, **k: True\n    return x\n"
        "def peeks(x):\n    return sys._getframe(1).f_locals\n"
        "def traces(x):\n    sys.settrace(lambda *a: None)\n    return x\n"
        "def forges(x):\n    import os\n    os.write(1, b'abc test t_forges pass -\\n')\n    return x\n"
        "def spins(x):\n    threading.Thread(target=lambda: __import__('time').sleep(30), daemon=True).start()\n"
        "    return x * 2\n")
    plan = [{"kind": "student", "name": "answer", "source": definitions_only(student),
             "exports": ["honest", "patches", "peeks", "traces", "forges", "spins"]}]
    tests = {"t_honest": "assert honest(2) == 4", "t_patches": "assert torch.allclose(patches(1), 2)",
             "t_peeks": "assert peeks(1) is not None", "t_traces": "assert traces(1) == 1",
             "t_forges": "assert forges(1) == 2", "t_spins": "assert spins(2) == 4",
             "t_after": "assert torch.allclose(torch.ones(1), torch.ones(1)) and honest(1) == 2"}
    plan += [{"kind": "test", "name": name, "source": "import torch\n" + text} for name, text in tests.items()]
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {**nbgrader_env(), "KIT_SANDBOX_PIDS": str(pids), "OMP_NUM_THREADS": "1"}
    found = run_verification(plan, tmp_path / "work", env, timeout=300, cell_timeout=60, pids_dir=pids)
    assert found.finished
    assert found.passed == {"t_honest": True, "t_patches": False, "t_peeks": False, "t_traces": False,
                            "t_forges": False, "t_spins": False, "t_after": False}
    assert any("sys._getframe" in f for f in found.flags) and any("settrace" in f for f in found.flags)
    assert any("while_a_test_ran" in f for f in found.flags), "the patch is seen where patches() returns"
    assert not list(pids.glob("*.pid"))
    # The cells' output (verify-output.txt) stays in the sandbox's private copy of its folder (b29f1d9).


@pytest.mark.skipif(not probe().startswith("isolated"), reason="no namespaces on this machine")
def test_a_library_functions_code_swapped_during_a_test_is_refused_and_undone(tmp_path):
    """The runner re-reads functions' code only after its audit hook saw one written (each read is an audited
    event): a student function that swaps a library function's ``__code__`` in place (the module's dictionary does
    not change) is still refused, in the real sandboxed runner with its real hook."""
    student = ("import torch\n"
               "def swaps(x):\n    import torch.nn.functional as F\n"
               "    F.mse_loss.__code__ = (lambda *a, **k: torch.zeros(())).__code__\n    return x * 2\n")
    plan = [{"kind": "student", "name": "answer", "source": definitions_only(student), "exports": ["swaps"]},
            {"kind": "test", "name": "t_swaps", "source": "import torch\nassert swaps(2) == 4"}]
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {**nbgrader_env(), "KIT_SANDBOX_PIDS": str(pids), "OMP_NUM_THREADS": "1"}
    found = run_verification(plan, tmp_path / "work", env, timeout=300, cell_timeout=60, pids_dir=pids)
    assert found.finished and found.passed == {"t_swaps": False}
    assert any("mse_loss.__code__" in f for f in found.flags), found.flags
