"""Tests for helpers/dqn/compare.py: a comparison of runs, tabulated."""

from __future__ import annotations

import csv

import pytest

from autograder.solutions import load_reference
from helpers.dqn.compare import RunRow, RunTable, compare_runs

TINY = dict(steps=300, hidden_sizes=(16,), batch_size=16, learning_starts=100, eval_every=150, eval_episodes=2,
            confirm_episodes=2, checkpoint_every=150, log_every=50, epsilon_decay_steps=200, progress=False)


@pytest.fixture(scope="module")
def reference():
    return load_reference("dqn")


def test_compare_runs_trains_each_setting_and_tabulates_it(tmp_path, reference, capsys):
    settings = {"easy": {"solve_threshold": 1.0}, "hard lr=1e-4": {"lr": 1e-4},
                "own schedule": {"epsilon_schedule_fn": lambda step: 0.5}}
    table = compare_runs(settings, reference.get_action, reference.training_step, out_dir=tmp_path, **TINY)
    assert [row.name for row in table.rows] == list(settings) and len(table) == 3
    easy, hard = table["easy"], table["hard lr=1e-4"]
    assert easy.solved_at == 150 and easy.steps == 150, "a run stops at its first confirmed success"
    assert hard.solved_at is None and hard.steps == 300 and hard.settings == {"lr": 1e-4}
    assert [step for step, _ in hard.evaluations] == [150, 300]
    assert hard.best_return == max(mean for _, mean in hard.evaluations)
    assert hard.last_return == hard.evaluations[-1][1]
    folders = sorted(path.name.rsplit("-", 1)[0] for path in tmp_path.iterdir())
    assert folders == ["easy", "hard_lr_1e-4", "own_schedule"], "each run in its own folder"
    assert list(tmp_path.glob("hard_lr_1e-4-*/checkpoint.pt"))
    assert table["own schedule"].settings == {}
    text = table.text()
    assert "not in 300" in text and "150" in text and text.splitlines()[0].startswith("run")
    assert "| easy | 150 |" in table.markdown()
    # A finished run is not trained again.
    again = compare_runs({"hard lr=1e-4": {"lr": 1e-4}}, reference.get_action, reference.training_step,
                         out_dir=tmp_path, **TINY)
    assert again["hard lr=1e-4"].evaluations == hard.evaluations and again["hard lr=1e-4"].seconds < hard.seconds
    # Changed settings under the same name start a new run (no clash with the old checkpoint).
    changed = compare_runs({"hard lr=1e-4": {"lr": 2e-4}}, reference.get_action, reference.training_step,
                           out_dir=tmp_path, **TINY)
    assert changed["hard lr=1e-4"].steps == 300 and len(list(tmp_path.glob("hard_lr_1e-4-*"))) == 2


def test_the_table_saves_csv_markdown_latex_and_a_figure(tmp_path):
    rows = [RunRow("starting values", {"lr": 1e-4}, None, 31.5, 20.0, 30_000, 61.0, [(2500, 20.0), (5000, 31.5)]),
            RunRow("lr_1e-3 & 100%", {"lr": 1e-3}, 12_500, 500.0, 500.0, 12_500, 17.2, [(2500, 40.0), (12500, 500.0)])]
    table = RunTable(rows)
    csv_path, md_path, tex_path = table.save(tmp_path / "comparison")
    with csv_path.open() as handle:
        got = list(csv.DictReader(handle))
    assert [r["run"] for r in got] == ["starting values", "lr_1e-3 & 100%"]
    assert got[0]["solved_at"] == "" and got[1]["solved_at"] == "12500" and got[1]["best_return"] == "500.00"
    latex = tex_path.read_text()
    assert r"\begin{tabular}" in latex and r"lr\_1e-3 \& 100\%" in latex and "not in 30,000" in latex
    assert "12,500" in md_path.read_text()
    assert table.plot(tmp_path / "comparison.png").stat().st_size > 1000 and table.plot_path is not None


def test_compare_runs_refuses_names_that_share_a_folder(tmp_path, reference):
    with pytest.raises(ValueError, match="share a folder"):
        compare_runs({"a b": {}, "a_b": {}}, reference.get_action, reference.training_step, out_dir=tmp_path)
    with pytest.raises(ValueError, match="at least one"):
        compare_runs({}, reference.get_action, reference.training_step, out_dir=tmp_path)


def test_compare_runs_trains_nothing_while_graded(tmp_path, reference, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    table = compare_runs({"a": {"lr": 1e-4}, "b": {}}, reference.get_action, reference.training_step,
                         out_dir=tmp_path, **TINY)
    assert [(row.name, row.steps, row.solved_at) for row in table.rows] == [("a", 0, None), ("b", 0, None)]
    assert not list(tmp_path.iterdir())
    assert table.plot(tmp_path / "c.png").is_file() and "not in 0" in table.text()
