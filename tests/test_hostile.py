"""Hostile submissions gain nothing and leave nothing behind (tests/hostile.py), graded by the real batch grader.

One batch: every case with its honest twin, Mallory's zip naming a twin, and links to the source notebook.
"""

from __future__ import annotations

import dataclasses

import pytest

from autograder.config import load_config
from autograder.flags import scan_source
from autograder.sandbox import probe
from tests.hostile import CASES, LINKED, RUNNER_TESTED, TWINS, hostile_results, selected
from tests.submissions import build_course

pytestmark = pytest.mark.slow
CONFIG = dataclasses.replace(load_config(), assignments=("dcgan",))
NAMESPACE_TRICKS = RUNNER_TESTED  # graded here with KIT_CORPUS=full (tests/test_verify_runner.py refuses each)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    course = build_course(CONFIG, tmp_path_factory)
    result = hostile_results(course["root"], tmp_path_factory.mktemp("hostile"))
    # One line per case for the log (pytest -s or -rP shows it): score, twin's score, what it measured.
    for name in [*selected()[1], *selected()[0]]:
        twin = CASES[name][0] if name in CASES else name
        print(f"hostile {name}: {result['scores'].get(name)} (twin {result['scores'].get(twin)}) "
              f"{result['probes'].get(name, '')} {result['failures'].get(name, 'held')}")
    print(f"hostile batch: {result['seconds']} s; other failures: "
          f"{ {k: v for k, v in result['failures'].items() if k not in CASES and k not in TWINS} }")
    return result


def _failures(outcome, names) -> dict[str, str]:
    return {k: v for k, v in outcome["failures"].items() if k in names}


def test_honest_twins_keep_their_scores(outcome):
    failed = _failures(outcome, TWINS)
    assert not failed, f"{failed}\n" + "\n".join(outcome["log"])


def test_no_trick_gains_a_point_nor_passes_a_limit(outcome):
    assert outcome["cases"] == len(selected()[0]) >= 15 and len(CASES) >= 20
    failed = _failures(outcome, CASES)
    assert not failed, f"{failed}\nprobes: {outcome['probes']}\n" + "\n".join(outcome["log"][-60:])


def test_nothing_outside_the_course_changes_and_the_gradebook_is_intact(outcome):
    failed = _failures(outcome, ("other_gradebook", "canary", "gradebook"))
    assert not failed, failed


def test_nothing_outlives_grading(outcome):
    assert not outcome["survivors"], f"processes left running: {outcome['survivors']}"
    assert not outcome["leftovers"], f"files planted outside the submission's folder: {outcome['leftovers']}"


def test_identities_come_from_the_uploader_and_links_are_never_followed(outcome):
    failed = _failures(outcome, ("identity", "identity_conflict", *LINKED))
    assert not failed, f"{failed}\nskipped: {outcome['skipped']}\nconflicts: {outcome['conflicts']}"


def test_tricks_are_flagged_for_a_person(outcome):
    # "isolated; limits: memory 6144 MiB (cgroup v1), ..." or "not isolated (why)": the JSON says which held.
    assert outcome["sandbox"].startswith(("isolated; limits: memory ", "not isolated")), outcome["sandbox"]
    for case in ("input_transformer", "replaced_run_cell", "callbacks_cleared", "patching_thread",
                 "trace_skips_asserts", "spawns_survivors", "kills_its_parent", "kills_everyone",
                 "writes_site_packages", "writes_helpers", "other_gradebook", *NAMESPACE_TRICKS):
        if case in selected()[0]:
            assert outcome["flags"].get(f"{case}/dcgan"), f"{case} was not flagged"


@pytest.mark.skipif(not probe().startswith("isolated"), reason="this machine has no namespaces for the sandbox")
def test_the_grading_machine_isolates():
    assert probe().startswith("isolated")


def test_the_scan_flags_tricks_and_not_ordinary_code():
    assert scan_source("import ctypes\nctypes.CDLL(None)")
    assert scan_source("torch.allclose = lambda *a, **k: True")
    assert scan_source("get_ipython().events.callbacks.clear()")
    assert scan_source("sys.settrace(f)")
    ordinary = "import torch\nimport sys\nx = torch.zeros(3)\nmodel.eval()\nprint(sys.version)\n"
    assert scan_source(ordinary) == []


def test_the_tricks_graded_only_in_the_deep_run_are_refused_by_the_runner_s_own_tests():
    """Each case make test leaves to KIT_CORPUS=full has a namespace trick the runner's unit tests refuse."""
    from tests.test_verify_runner import TRICKS

    assert set(RUNNER_TESTED) <= set(CASES) and len(TRICKS) >= 6
    cases, twins = selected(every=False)
    assert not set(RUNNER_TESTED) & set(cases) and set(twins) == {twin for twin, _ in cases.values()}
    assert selected(every=True) == (CASES, TWINS)
