"""Hostile submissions gain nothing and leave nothing behind (tests/hostile.py), graded by the real batch grader."""

from __future__ import annotations

import dataclasses

import pytest

from autograder.config import load_config
from autograder.flags import scan_source
from autograder.sandbox import probe
from tests.hostile import CASES, hostile_results
from tests.submissions import build_course

pytestmark = pytest.mark.slow
CONFIG = dataclasses.replace(load_config(), assignments=("dcgan",))


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    course = build_course(CONFIG, tmp_path_factory)
    return hostile_results(course["root"], tmp_path_factory.mktemp("hostile"))


def test_no_trick_gains_a_point(outcome):
    assert outcome["cases"] == len(CASES) >= 10
    assert not outcome["failures"], f"{outcome['failures']}\n" + "\n".join(outcome["log"])


def test_nothing_outlives_grading(outcome):
    assert not outcome["survivors"], f"processes left running: {outcome['survivors']}"
    assert not outcome["leftovers"], f"files planted outside the submission's folder: {outcome['leftovers']}"


def test_tricks_are_flagged_for_a_person(outcome):
    assert outcome["sandbox"].startswith(("isolated", "not isolated"))
    for case in ("input_transformer", "replaced_run_cell", "callbacks_cleared", "patching_thread",
                 "trace_skips_asserts", "spawns_survivors", "kills_its_parent", "kills_everyone",
                 "writes_site_packages", "writes_helpers", "other_gradebook"):
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
