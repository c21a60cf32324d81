"""The DQN training loop on gymnasium's CartPole-v1, and its configuration.

The students write ``get_action`` (epsilon-greedy) and ``training_step`` (one gradient step on a replayed batch)
in the notebook; :func:`train_dqn` takes both as arguments. The replay memory, agent, evaluation protocol
(:mod:`helpers.dqn.evaluation`) and plots live beside this module in :mod:`helpers.dqn`.
"""

from __future__ import annotations

import dataclasses
import pickle
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from helpers.core.checkpoint import restore_rng_state, rng_state
from helpers.core.run import Run, renamed_fields
from helpers.core.runtime import fast_config, seed_everything
from helpers.dqn.agent import LOSSES, SCHEDULES, DQNAgent
from helpers.dqn.evaluation import Checkpoint, make_env, protocol_check
from helpers.dqn.memory import Batch, ReplayMemory
from helpers.dqn.plots import plot_training

# Fields that may change between a run and its resumption: a longer run continues a shorter one.
RESUMABLE_FIELDS = ("steps", "checkpoint_every", "out_dir", "device", "progress", "stop_when_solved")


@renamed_fields(total_steps="steps")
@dataclass
class DQNConfig:
    """Every hyperparameter of a DQN run on CartPole-v1.

    The learning defaults are a plausible first guess that does *not* solve CartPole within its 30,000 steps (the
    notebook's ``STARTING_VALUES``): choosing settings that learn is the student's TODO, so nothing here hands them
    out. ``bench/dqn_cartpole.py`` measures the reference solution's settings (from the source notebook).
    """

    env_id: str = "CartPole-v1"
    steps: int = 30_000  # environment steps of training (evaluation steps do not count)
    hidden_sizes: tuple[int, ...] = (64,)
    lr: float = 3e-4
    loss: str = "huber"  # or "mse"
    max_grad_norm: float | None = 10.0
    gamma: float = 0.95
    buffer_size: int = 5_000
    batch_size: int = 32
    learning_starts: int = 2_000  # steps of pure collection before the first gradient step
    train_every: int = 1  # environment steps between training phases
    gradient_steps: int = 1  # training steps per training phase
    target_update: str = "hard"  # "hard": copy every target_update_every steps; "soft": Polyak with tau every step
    target_update_every: int = 5_000
    tau: float = 0.02
    epsilon_schedule: str = "linear"  # or "exponential"
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay_steps: int = 3_000
    eval_every: int = 2_500
    eval_episodes: int = 20
    confirm_episodes: int = 100
    solve_threshold: float = 475.0
    stop_when_solved: bool = True  # keep the first agent that passes the confirmation
    checkpoint_every: int = 5_000
    log_every: int = 100  # loss and epsilon are logged as averages over this many steps
    seed: int = 0
    out_dir: str = "outputs/dqn/run"
    device: str | None = "cpu"  # tiny networks: a GPU is no faster (every step waits for one action); None picks
    progress: bool = True

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(self.hidden_sizes)
        for name in ("steps", "buffer_size", "batch_size", "train_every", "gradient_steps",
                     "target_update_every", "eval_every", "eval_episodes", "confirm_episodes", "checkpoint_every",
                     "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"DQNConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.loss not in LOSSES:
            raise ValueError(f"DQNConfig.loss must be one of {sorted(LOSSES)}, got {self.loss!r}")
        if self.target_update not in ("hard", "soft"):
            raise ValueError(f"DQNConfig.target_update must be 'hard' or 'soft', got {self.target_update!r}")
        if self.epsilon_schedule not in SCHEDULES:
            raise ValueError(f"DQNConfig.epsilon_schedule must be one of {sorted(SCHEDULES)}, "
                             f"got {self.epsilon_schedule!r}")
        if not 0 < self.tau <= 1:
            raise ValueError(f"DQNConfig.tau must be in (0, 1], got {self.tau}")
        if not 0 <= self.gamma <= 1:
            raise ValueError(f"DQNConfig.gamma must be in [0, 1], got {self.gamma}")
        if self.lr <= 0:
            raise ValueError(f"DQNConfig.lr must be positive, got {self.lr}")
        for name in ("epsilon_start", "epsilon_end"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"DQNConfig.{name} must be in [0, 1], got {getattr(self, name)}")

    def epsilon(self, step: int) -> float:
        """The exploration rate at training step ``step`` under this configuration's schedule."""
        return SCHEDULES[self.epsilon_schedule](step, self.epsilon_start, self.epsilon_end, self.epsilon_decay_steps)

    # Fast mode (grading, the smoke run): a few hundred steps, learning and exploring early, few evaluations.
    FAST_LIMITS: ClassVar[dict[str, int]] = {"steps": 600, "learning_starts": 200, "epsilon_decay_steps": 400,
                                             "eval_every": 300, "eval_episodes": 3, "confirm_episodes": 5,
                                             "checkpoint_every": 300, "log_every": 50}

    def replace(self, **changes: Any) -> DQNConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def notebook_config(**changes: Any) -> DQNConfig:
    """The configuration a notebook cell should use: the full run, or in fast mode (grading) a few hundred steps
    (the fast-mode policy, :func:`helpers.core.runtime.fast_config`, which no ``changes`` can defeat)."""
    return fast_config(DQNConfig(**changes))


GetAction = Callable[[DQNAgent, torch.Tensor, float], Any]
TrainingStep = Callable[[DQNAgent, Batch, float], torch.Tensor]


@dataclass
class DQNResult:
    """What a run leaves behind: the agent, the history, when it was solved, and where its files are."""

    agent: DQNAgent
    history: dict[str, list]
    out_dir: Path
    solved_at: int | None  # training steps at the first confirmed evaluation, or None
    steps: int  # training steps done
    seconds: float  # wall time of this call, evaluation included
    plot_path: Path | None = None
    checkpoints: list[Checkpoint] = field(default_factory=list)


def _python_rng_state() -> dict[str, Any]:
    return {"random": random.getstate(), "numpy": np.random.get_state()}


def train_dqn(config: DQNConfig, get_action: GetAction, training_step: TrainingStep,
              epsilon_schedule: Callable[[int], float] | None = None, resume: bool = True) -> DQNResult:
    """Train a DQN agent and save its history, plots and checkpoints under ``config.out_dir``.

    Each environment step: ``action = get_action(agent, state, epsilon)`` with ``state`` a float32 tensor of
    shape (obs_size,) on the agent's device; the transition goes into the replay memory. From
    ``learning_starts`` on, every ``train_every`` steps, ``gradient_steps`` calls of
    ``training_step(agent, batch, gamma)`` (it returns the loss). The target network follows the policy
    network by a hard copy every ``target_update_every`` steps or a soft update every step. ``epsilon_schedule(step)``
    gives epsilon (default: the configuration's schedule). Every ``eval_every`` steps the evaluation protocol
    runs (see the module docstring); with ``stop_when_solved`` the run ends at the first confirmed success.
    With ``resume=True`` a run whose checkpoint exists continues exactly where it stopped. In fast mode the run is
    shortened (:func:`helpers.core.runtime.fast_config`), whatever ``config`` asks for.
    """
    config = fast_config(config)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)
    schedule = epsilon_schedule or config.epsilon

    env = make_env(config.env_id)
    obs_size, n_actions = env.observation_space.shape[0], int(env.action_space.n)
    agent = DQNAgent.from_config(config, obs_size, n_actions)
    memory = ReplayMemory(config.buffer_size, obs_size, agent.device, seed=config.seed + 1)
    observation, _ = env.reset(seed=config.seed)
    env.action_space.seed(config.seed)
    episode_return, episode_length = 0.0, 0
    history: dict[str, list] = {"return": [], "loss": [], "epsilon": [], "eval": []}
    solved_at: int | None = None
    eval_seconds = 0.0
    run = Run(config, config.steps, counter="step", resumable=RESUMABLE_FIELDS, desc=f"DQN {out_dir.name}",
              device=agent.device)
    state = run.resume(map_location=agent.device) if resume else None
    if state is not None:
        agent.load_state_dict(state["agent"])
        memory.load_state_dict(state["memory"])
        env = pickle.loads(state["env"])
        observation, episode_return, episode_length = state["observation"], state["episode_return"], \
            state["episode_length"]
        history, solved_at = state["history"], state["solved_at"]
        restore_rng_state(state["rng"])
        random.setstate(state["python_rng"]["random"])
        np.random.set_state(state["python_rng"]["numpy"])

    def checkpoint(step: int) -> None:
        run.save(step, agent=agent.state_dict(), memory=memory.state_dict(), env=pickle.dumps(env),
                 observation=observation, episode_return=episode_return, episode_length=episode_length,
                 history=history, solved_at=solved_at, rng=rng_state(), python_rng=_python_rng_state())

    began = time.perf_counter()
    loss_sum, loss_count, step = 0.0, 0, run.start
    done = solved_at is not None and config.stop_when_solved  # a run that stops when solved is then complete
    for step in [] if done else run.steps():
        epsilon = float(schedule(step))
        state = torch.as_tensor(observation, dtype=torch.float32, device=agent.device)
        action = int(get_action(agent, state, epsilon))
        next_observation, reward, terminated, truncated, _ = env.step(action)
        memory.push(observation, action, reward, next_observation, terminated)
        episode_return += float(reward)
        episode_length += 1
        if terminated or truncated:
            history["return"].append((step, episode_return))
            run.show(ret=episode_return, eps=round(epsilon, 3))
            observation, _ = env.reset()
            episode_return, episode_length = 0.0, 0
        else:
            observation = next_observation

        if step >= config.learning_starts and step % config.train_every == 0:
            for _ in range(config.gradient_steps):
                loss = training_step(agent, memory.sample(config.batch_size), config.gamma)
                loss_sum += float(loss)
                loss_count += 1
        if config.target_update == "soft":
            agent.soft_update(config.tau)
        elif step % config.target_update_every == 0:
            agent.hard_update()
        if step % config.log_every == 0:
            history["epsilon"].append((step, epsilon))
            if loss_count:
                history["loss"].append((step, loss_sum / loss_count))
            loss_sum, loss_count = 0.0, 0
        if step % config.eval_every == 0:
            evaluated = time.perf_counter()
            point = protocol_check(agent, step, config.eval_episodes, config.confirm_episodes,
                                   config.solve_threshold, config.env_id)
            eval_seconds += time.perf_counter() - evaluated
            history["eval"].append(dataclasses.asdict(point))
            if point.solved and solved_at is None:
                solved_at = step
                done = config.stop_when_solved
        if run.due(step, config.checkpoint_every) or done:
            checkpoint(step)
        if done:
            break
    env.close()
    seconds = time.perf_counter() - began
    plot_path = plot_training(history, out_dir / "training.png", config.solve_threshold)
    checkpoints = [Checkpoint(**point) for point in history["eval"]]
    return DQNResult(agent, history, out_dir, solved_at, step, seconds, plot_path, checkpoints)
