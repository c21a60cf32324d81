"""Grading the DQN notebook with the real nbgrader: reference, a correct variant, untouched release, one bug each."""

from __future__ import annotations

import dataclasses

import nbformat
import pytest

from autograder.config import load_config
from autograder.grade import grade_folder
from tests.submissions import build_course, cell_scores, filled_release

pytestmark = pytest.mark.slow
CONFIG = dataclasses.replace(load_config(), assignments=("dqn",))
AUTO_TESTS = {"test_get_action": 2, "test_td_loss": 3, "test_optimizer_step": 2, "test_exploration": 1}
MANUAL_POINTS = 3

NO_GRAD_TARGET = ("    with torch.no_grad():\n"
                  "        next_q_values = agent.target_net(batch.next_states).max(dim=1).values\n"
                  "        targets = batch.rewards + gamma * (1 - batch.terminated) * next_q_values\n")
# One realistic bug each (cell, old, new), the test cell that must catch it, and the others it may also fail.
MUTANTS = {
    "never_explores": ("get_action", "if random.random() < epsilon:", "if False:", "test_get_action", set()),
    "greedy_is_argmin": ("get_action", "q_values.argmax(dim=1)", "q_values.argmin(dim=1)", "test_get_action", set()),
    "greedy_with_gradients": ("get_action", "    with torch.no_grad():\n        q_values = agent.policy_net",
                              "    if True:\n        q_values = agent.policy_net", "test_get_action", set()),
    "target_from_policy_net": ("training_step", "agent.target_net(batch.next_states)",
                               "agent.policy_net(batch.next_states)", "test_td_loss", set()),
    "no_terminal_mask": ("training_step", "gamma * (1 - batch.terminated) * next_q_values",
                         "gamma * next_q_values", "test_td_loss", set()),
    "gradient_into_target": ("training_step", NO_GRAD_TARGET,
                             NO_GRAD_TARGET.replace("    with torch.no_grad():\n", "").replace("        ", "    "),
                             "test_td_loss", set()),
    "no_zero_grad": ("training_step", "    agent.optimizer.zero_grad()\n", "", "test_optimizer_step", set()),
    "no_optimizer_step": ("training_step", "    agent.optimizer.step()\n", "", "test_optimizer_step",
                          {"test_td_loss"}),
    "epsilon_never_decays": ("exploration", "return linear_epsilon(step, start=1.0, end=0.05, decay_steps=3_000)",
                             "return 1.0", "test_exploration", set()),
}
# Correct solutions written differently: they must get every point.
VARIANTS = {
    "mse_and_indexing": ("training_step",
                         "agent.policy_net(batch.states).gather(1, batch.actions.unsqueeze(1)).squeeze(1)",
                         "agent.policy_net(batch.states)[torch.arange(len(batch.actions)), batch.actions]"),
    "max_as_amax": ("training_step", ".max(dim=1).values", ".amax(dim=1)"),
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return build_course(CONFIG, tmp_path_factory)


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    release = course["root"] / "release" / "dqn" / "dqn.ipynb"
    source = CONFIG.source_notebook("dqn")
    nbformat.write(filled_release(release, source), folder / "reference_dqn.ipynb")
    (folder / "untouched_dqn.ipynb").write_text(release.read_text())
    for name, (cell, old, new) in VARIANTS.items():
        nbformat.write(filled_release(release, source, {cell: (old, new)}), folder / f"variant_{name}_dqn.ipynb")
    for name, (cell, old, new, _, _) in MUTANTS.items():
        nbformat.write(filled_release(release, source, {cell: (old, new)}), folder / f"mutant_{name}_dqn.ipynb")
    result = grade_folder(folder, CONFIG, course["root"], log=lambda line: None)
    return {"result": result, "root": course["root"]}


def _cell_scores(root, student: str) -> dict[str, float]:
    return cell_scores(root, "dqn", student, AUTO_TESTS)


def test_the_reference_and_correct_variants_get_full_marks_and_the_untouched_release_none(graded):
    scores, root = graded["result"]["scores"], graded["root"]
    for student in ["reference", *(f"variant_{name}" for name in VARIANTS)]:
        assert _cell_scores(root, student) == AUTO_TESTS, student
        assert scores[student]["dqn"] == sum(AUTO_TESTS.values()), student
    assert scores["untouched"]["dqn"] == 0
    assert graded["result"]["max_scores"]["dqn"] == sum(AUTO_TESTS.values()) + MANUAL_POINTS


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_each_bug_loses_the_points_of_its_test(graded, mutant):
    target, may_also_fail = MUTANTS[mutant][3], MUTANTS[mutant][4]
    got = _cell_scores(graded["root"], f"mutant_{mutant}")
    assert got[target] == 0, f"{mutant} should lose {target}: {got}"
    lost_elsewhere = {g for g, s in got.items() if g != target and s != AUTO_TESTS[g]}
    assert lost_elsewhere <= may_also_fail, f"{mutant} lost unrelated points: {got}"
