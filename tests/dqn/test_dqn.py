"""Tests for helpers/dqn/: replay memory, agent, schedules, evaluation, the resumable training loop, videos."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder.solutions import load_reference
from helpers.dqn import plots
from helpers.dqn.agent import DQNAgent, QNetwork, exponential_epsilon, linear_epsilon
from helpers.dqn.evaluation import evaluate, protocol_check
from helpers.dqn.memory import Batch, ReplayMemory
from helpers.dqn.plots import moving_average, record_episode, save_animation
from helpers.dqn.training import DQNConfig, notebook_config, train_dqn


@pytest.fixture(scope="module")
def reference():
    """The notebook's reference get_action and training_step."""
    return load_reference("dqn")


def tiny_config(tmp_path, **changes) -> DQNConfig:
    """A run of a few hundred steps with a small network (seconds on a CPU)."""
    base = dict(steps=400, hidden_sizes=(32,), batch_size=32, learning_starts=100, eval_every=200,
                eval_episodes=2, confirm_episodes=3, checkpoint_every=100, log_every=50, epsilon_decay_steps=300,
                out_dir=str(tmp_path / "run"), progress=False)
    return DQNConfig(**{**base, **changes})


def always(action: int):
    return lambda observations: np.full(len(observations), action)


def test_replay_memory_stores_samples_and_wraps_around():
    memory = ReplayMemory(capacity=3, obs_size=4, seed=0)
    with pytest.raises(ValueError, match="empty"):
        memory.sample(2)
    for i in range(5):
        memory.push(np.full(4, i), i % 2, float(i), np.full(4, i + 1), terminated=(i == 4))
    assert len(memory) == 3
    # The two oldest transitions were overwritten.
    assert sorted(memory.rewards.tolist()) == [2.0, 3.0, 4.0]
    batch = memory.sample(64)
    assert isinstance(batch, Batch)
    assert batch.states.shape == (64, 4) and batch.next_states.shape == (64, 4)
    assert batch.actions.dtype == torch.int64 and batch.actions.shape == (64,)
    assert batch.terminated.dtype == torch.float32
    assert torch.equal(batch.next_states[:, 0], batch.states[:, 0] + 1)
    assert torch.equal(batch.terminated, (batch.rewards == 4.0).float()), "only the last transition was terminal"
    assert set(batch.rewards.tolist()) == {2.0, 3.0, 4.0}


def test_replay_memory_state_dict_restores_contents_and_sampling():
    memory = ReplayMemory(capacity=100, obs_size=2, seed=3)
    for i in range(30):
        memory.push([i, -i], i % 2, 1.0, [i + 1, -i], False)
    state = memory.state_dict()
    assert state["states"].untyped_storage().nbytes() == 30 * 2 * 4, "only the filled part is saved"
    copy = ReplayMemory(capacity=100, obs_size=2, seed=99)
    copy.load_state_dict(state)
    assert len(copy) == 30 and copy.position == memory.position
    assert torch.equal(memory.sample(16).states, copy.sample(16).states)
    with pytest.raises(ValueError, match="capacity"):
        ReplayMemory(capacity=10, obs_size=2).load_state_dict(state)


def test_q_network_and_agent_target_updates():
    assert QNetwork(4, 3, (16, 16))(torch.zeros(5, 4)).shape == (5, 3)
    torch.manual_seed(0)
    agent = DQNAgent(4, 2, hidden_sizes=(8,), device="cpu")
    for p, q in zip(agent.policy_net.parameters(), agent.target_net.parameters()):
        assert torch.equal(p, q), "the target starts as a copy of the policy network"
    with torch.no_grad():
        for p in agent.policy_net.parameters():
            p.add_(1.0)
    before = [q.detach().clone() for q in agent.target_net.parameters()]
    agent.soft_update(0.25)
    for old, p, q in zip(before, agent.policy_net.parameters(), agent.target_net.parameters()):
        assert torch.allclose(q, 0.75 * old + 0.25 * p)
    agent.hard_update()
    assert all(torch.equal(p, q) for p, q in zip(agent.policy_net.parameters(), agent.target_net.parameters()))
    assert {id(p) for g in agent.optimizer.param_groups for p in g["params"]} == \
        {id(p) for p in agent.policy_net.parameters()}, "the optimizer trains the policy network only"
    with pytest.raises(ValueError, match="unknown loss"):
        DQNAgent(4, 2, loss="l1")


def test_gradient_clipping_happens_inside_the_optimizer_step():
    agent = DQNAgent(4, 2, hidden_sizes=(8,), max_grad_norm=0.01, device="cpu")
    for p in agent.policy_net.parameters():
        p.grad = torch.full_like(p, 10.0)
    agent.optimizer.step()
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in agent.policy_net.parameters()]))
    assert float(norm) <= 0.0101


def test_epsilon_schedules():
    assert linear_epsilon(0, 1.0, 0.1, 100) == 1.0
    assert linear_epsilon(50, 1.0, 0.1, 100) == pytest.approx(0.55)
    assert linear_epsilon(1000, 1.0, 0.1, 100) == pytest.approx(0.1)
    values = [exponential_epsilon(s, 1.0, 0.05, 200) for s in range(0, 3000, 10)]
    assert values[0] == 1.0 and all(b < a for a, b in zip(values, values[1:])) and values[-1] > 0.05
    config = DQNConfig(epsilon_schedule="exponential", epsilon_decay_steps=200)
    assert config.epsilon(200) == pytest.approx(exponential_epsilon(200, 1.0, 0.05, 200))


@pytest.mark.parametrize("changes, message", [
    ({"batch_size": 0}, "batch_size"), ({"loss": "l1"}, "loss"), ({"target_update": "never"}, "target_update"),
    ({"tau": 0.0}, "tau"), ({"epsilon_end": 1.5}, "epsilon_end"), ({"epsilon_schedule": "cosine"}, "cosine"),
    ({"lr": -1.0}, "lr"), ({"gamma": 1.5}, "gamma"),
])
def test_config_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        DQNConfig(**changes)


def test_fast_mode_shortens_the_run_even_when_a_cell_asks_for_more(monkeypatch):
    monkeypatch.setenv("KIT_FAST", "1")
    config = notebook_config(steps=50_000, lr=3e-4)
    assert config.steps <= 600 and config.lr == 3e-4
    monkeypatch.setenv("KIT_FAST", "0")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert notebook_config(steps=50_000).steps == 50_000


def test_evaluate_runs_seeded_episodes_side_by_side():
    left = evaluate(always(0), n_episodes=5, seed=7)
    assert len(left.returns) == 5 and all(8 <= r <= 12 for r in left.returns), left.returns
    assert left.steps == sum(left.returns)
    assert evaluate(always(0), n_episodes=3, seed=7).returns == left.returns[:3], "episode i starts at seed + i"
    assert left.mean == pytest.approx(np.mean(left.returns)) and left.std == pytest.approx(np.std(left.returns))
    with pytest.raises(ValueError, match="n_episodes"):
        evaluate(always(0), n_episodes=0)


def test_protocol_confirms_only_when_the_first_check_passes():
    low = protocol_check(always(1), step=2500, episodes=3, confirm_episodes=4, threshold=400.0)
    assert low.confirmed_mean is None and not low.solved and low.step == 2500
    easy = protocol_check(always(1), step=2500, episodes=3, confirm_episodes=4, threshold=5.0)
    assert easy.confirmed_mean is not None and easy.solved
    assert easy.eval_steps > low.eval_steps, "the confirmation's steps are counted"


def test_training_writes_history_plot_and_checkpoint(tmp_path, reference):
    result = train_dqn(tiny_config(tmp_path), reference.get_action, reference.training_step)
    assert result.steps == 400 and result.history["return"] and result.plot_path.is_file()
    assert [e["step"] for e in result.history["eval"]] == [200, 400]
    assert [s for s, _ in result.history["loss"]] == list(range(100, 401, 50)), "logged from learning_starts on"
    assert result.history["epsilon"][0] == (50, pytest.approx(1 - 50 / 300 * 0.95))
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    # Episode returns add up to the steps of finished episodes.
    finished = sum(r for _, r in result.history["return"])
    assert finished <= 400 and finished > 300


def test_resumed_training_matches_an_uninterrupted_run(tmp_path, reference):
    straight = train_dqn(tiny_config(tmp_path / "a", target_update="hard", target_update_every=50),
                         reference.get_action, reference.training_step)
    half = tiny_config(tmp_path / "b", target_update="hard", target_update_every=50, steps=250)
    train_dqn(half, reference.get_action, reference.training_step)
    resumed = train_dqn(half.replace(steps=400), reference.get_action, reference.training_step)
    assert resumed.history == straight.history
    for p, q in zip(straight.agent.policy_net.parameters(), resumed.agent.policy_net.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="lr"):
        train_dqn(half.replace(lr=0.5), reference.get_action, reference.training_step)


def test_training_stops_at_the_first_confirmed_success(tmp_path, reference):
    config = tiny_config(tmp_path, solve_threshold=1.0)
    result = train_dqn(config, reference.get_action, reference.training_step)
    assert result.solved_at == 200 and result.steps == 200
    again = train_dqn(config, reference.get_action, reference.training_step)
    assert again.steps == 200 and again.solved_at == 200, "a finished run returns at once"


def test_custom_schedule_is_used(tmp_path, reference):
    seen = []

    def get_action(agent, state, epsilon):
        seen.append(epsilon)
        return reference.get_action(agent, state, epsilon)

    config = tiny_config(tmp_path, steps=60, learning_starts=1000)
    train_dqn(config, get_action, reference.training_step, epsilon_schedule=lambda step: 0.5 / step)
    assert seen[:3] == [0.5, 0.25, pytest.approx(0.5 / 3)]


def test_moving_average():
    assert moving_average([2, 4, 6, 8], window=2).tolist() == [2, 3, 5, 7]
    assert moving_average([], window=3).size == 0


def test_record_and_save_animation(tmp_path):
    frames, total = record_episode(always(0), seed=1, max_steps=30)
    assert len(frames) == total + 1 and frames[0].shape == (400, 600, 3)
    gif = save_animation(frames, tmp_path / "agent.gif", every=2, scale=0.5)
    from PIL import Image

    with Image.open(gif) as image:
        assert image.n_frames == len(frames[::2]) and image.size == (300, 200)
    with pytest.raises(ValueError, match="at least one frame"):
        save_animation([], tmp_path / "none.gif")
    if not plots.can_write_mp4():
        with pytest.raises(ValueError, match="imageio-ffmpeg"):
            save_animation(frames, tmp_path / "agent.mp4")


def test_human_play_without_a_screen_explains_itself(monkeypatch, capsys):
    monkeypatch.setattr(plots, "has_local_screen", lambda: False)
    assert plots.play_cartpole() is None
    assert "local screen" in capsys.readouterr().out
