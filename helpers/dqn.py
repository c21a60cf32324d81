"""Deep Q-learning on gymnasium's CartPole-v1: replay memory, Q-network, agent, evaluation, training loop, videos.

The students write ``get_action`` (epsilon-greedy) and ``training_step`` (one gradient step on a replayed batch)
in the notebook; :func:`train_dqn` takes both as arguments. Everything else lives here.

The evaluation protocol (shared by the notebook, the loop and ``bench/dqn_cartpole.py``): every
``eval_every`` environment steps, ``eval_episodes`` greedy episodes; when their mean return reaches
``solve_threshold``, ``confirm_episodes`` more decide whether the task is solved at that step.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from helpers.checkpoint import (
    check_resumable,
    load_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
)
from helpers.runtime import fast_mode, pick_device, seed_everything

# Fields that may change between a run and its resumption: a longer run continues a shorter one.
RESUMABLE_FIELDS = ("total_steps", "checkpoint_every", "out_dir", "device", "progress", "stop_when_solved")
# Evaluation episodes are seeded apart from training, the same way for every agent measured.
EVAL_SEED = 10_000_000
CONFIRM_SEED = 20_000_000


class Batch(NamedTuple):
    """A batch of transitions sampled from the replay memory (B transitions, on the agent's device)."""

    states: torch.Tensor  # (B, obs_size) float32
    actions: torch.Tensor  # (B,) int64
    rewards: torch.Tensor  # (B,) float32
    next_states: torch.Tensor  # (B, obs_size) float32
    terminated: torch.Tensor  # (B,) float32: 1.0 where the episode ended in a terminal state, else 0.0


class ReplayMemory:
    """A ring buffer of transitions in preallocated tensors; uniform sampling with its own generator.

    ``terminated`` is 1.0 only for a true terminal state (the pole fell, the cart left the track): a
    time-limit truncation is not terminal, its next state still has a value to bootstrap from.
    """

    def __init__(self, capacity: int, obs_size: int, device: torch.device | str = "cpu", seed: int = 0) -> None:
        if capacity < 1 or obs_size < 1:
            raise ValueError(f"ReplayMemory needs capacity >= 1 and obs_size >= 1, got {capacity}, {obs_size}")
        self.capacity = capacity
        self.device = torch.device(device)
        self.states = torch.zeros(capacity, obs_size, device=self.device)
        self.actions = torch.zeros(capacity, dtype=torch.int64, device=self.device)
        self.rewards = torch.zeros(capacity, device=self.device)
        self.next_states = torch.zeros(capacity, obs_size, device=self.device)
        self.terminated = torch.zeros(capacity, device=self.device)
        self.position = 0  # where the next transition goes
        self.size = 0
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.size

    def push(self, state: Any, action: int, reward: float, next_state: Any, terminated: bool) -> None:
        """Store one transition, overwriting the oldest when full."""
        i = self.position
        self.states[i] = torch.as_tensor(state, dtype=torch.float32)
        self.actions[i] = int(action)
        self.rewards[i] = float(reward)
        self.next_states[i] = torch.as_tensor(next_state, dtype=torch.float32)
        self.terminated[i] = float(bool(terminated))
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        """``batch_size`` transitions drawn uniformly with replacement."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay memory")
        index = torch.randint(0, self.size, (batch_size,), generator=self.generator).to(self.device)
        return Batch(self.states[index], self.actions[index], self.rewards[index], self.next_states[index],
                     self.terminated[index])

    def state_dict(self) -> dict[str, Any]:
        n = self.size
        # clone(): a slice would save the whole preallocated storage
        saved = {name: getattr(self, name)[:n].cpu().clone()
                 for name in ("states", "actions", "rewards", "next_states", "terminated")}
        return {**saved, "position": self.position, "size": n, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        n = state["size"]
        if n > self.capacity:
            raise ValueError(f"the saved memory holds {n} transitions, more than the capacity {self.capacity}")
        for name in ("states", "actions", "rewards", "next_states", "terminated"):
            getattr(self, name)[:n] = state[name].to(self.device)
        self.position, self.size = state["position"], n
        self.generator.set_state(state["generator"])


class QNetwork(nn.Module):
    """A multilayer perceptron from an observation to one Q-value per action: (B, obs_size) -> (B, n_actions)."""

    def __init__(self, obs_size: int, n_actions: int, hidden_sizes: Sequence[int] = (128, 128),
                 activation: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = obs_size
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), activation()]
            width = hidden
        layers.append(nn.Linear(width, n_actions))
        self.layers = nn.Sequential(*layers)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.layers(states)


LOSSES = {"huber": nn.SmoothL1Loss, "mse": nn.MSELoss}


class DQNAgent:
    """What a DQN learner holds: ``policy_net`` (trained), ``target_net`` (a lagging copy), ``optimizer``, ``loss_fn``.

    The optimizer only updates ``policy_net``. With ``max_grad_norm`` the gradients are clipped inside
    ``optimizer.step()`` (a step pre-hook), so a training step is just zero_grad, backward, step.
    """

    def __init__(self, obs_size: int, n_actions: int, hidden_sizes: Sequence[int] = (128, 128), lr: float = 1e-3,
                 loss: str = "huber", max_grad_norm: float | None = None,
                 device: torch.device | str | None = None) -> None:
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)}")
        self.device = pick_device(str(device) if device is not None else None)
        self.obs_size, self.n_actions = obs_size, n_actions
        self.policy_net = QNetwork(obs_size, n_actions, hidden_sizes).to(self.device)
        self.target_net = QNetwork(obs_size, n_actions, hidden_sizes).to(self.device)
        self.hard_update()
        try:  # the fused Adam is several times faster for small networks on a CPU
            self.optimizer = torch.optim.Adam(self.policy_net.parameters(), lr=lr,
                                              fused=self.device.type in ("cpu", "cuda"))
        except (RuntimeError, TypeError):  # an older torch without it
            self.optimizer = torch.optim.Adam(self.policy_net.parameters(), lr=lr)
        self.loss_fn = LOSSES[loss]()
        if max_grad_norm is not None:
            params = list(self.policy_net.parameters())

            def clip_gradients(*_: Any) -> None:
                nn.utils.clip_grad_norm_(params, max_grad_norm)

            self.optimizer.register_step_pre_hook(clip_gradients)

    @classmethod
    def from_config(cls, config: DQNConfig, obs_size: int = 4, n_actions: int = 2) -> DQNAgent:
        return cls(obs_size, n_actions, config.hidden_sizes, config.lr, config.loss, config.max_grad_norm,
                   config.device)

    def hard_update(self) -> None:
        """Copy the policy network's weights into the target network."""
        self.target_net.load_state_dict(self.policy_net.state_dict())

    @torch.no_grad()
    def soft_update(self, tau: float) -> None:
        """Polyak averaging: target <- (1 - tau) * target + tau * policy."""
        torch._foreach_lerp_(list(self.target_net.parameters()), list(self.policy_net.parameters()), tau)

    def state_dict(self) -> dict[str, Any]:
        return {"policy_net": self.policy_net.state_dict(), "target_net": self.target_net.state_dict(),
                "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy_net.load_state_dict(state["policy_net"])
        self.target_net.load_state_dict(state["target_net"])
        self.optimizer.load_state_dict(state["optimizer"])


def linear_epsilon(step: int, start: float, end: float, decay_steps: int) -> float:
    """Epsilon falling linearly from ``start`` at step 0 to ``end`` at ``decay_steps``, then constant."""
    if decay_steps <= 0:
        return end
    return start + (end - start) * min(step / decay_steps, 1.0)


def exponential_epsilon(step: int, start: float, end: float, decay_steps: int) -> float:
    """Epsilon decaying exponentially from ``start`` towards ``end`` with time constant ``decay_steps``."""
    if decay_steps <= 0:
        return end
    return end + (start - end) * math.exp(-step / decay_steps)


SCHEDULES = {"linear": linear_epsilon, "exponential": exponential_epsilon}


@dataclass
class DQNConfig:
    """Every hyperparameter of a DQN run on CartPole-v1 (defaults tuned with ``bench/dqn_cartpole.py``)."""

    env_id: str = "CartPole-v1"
    total_steps: int = 30_000  # environment steps of training (evaluation steps do not count)
    hidden_sizes: tuple[int, ...] = (128, 128)
    lr: float = 1e-3
    loss: str = "huber"  # or "mse"
    max_grad_norm: float | None = 10.0
    gamma: float = 0.99
    buffer_size: int = 50_000
    batch_size: int = 128
    learning_starts: int = 1_000  # steps of pure collection before the first gradient step
    train_every: int = 1  # environment steps between training phases
    gradient_steps: int = 1  # training steps per training phase
    target_update: str = "soft"  # "hard": copy every target_update_every steps; "soft": Polyak with tau every step
    target_update_every: int = 500
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
        for name in ("total_steps", "buffer_size", "batch_size", "train_every", "gradient_steps",
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

    def replace(self, **changes: Any) -> DQNConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def fast(self) -> DQNConfig:
        """This configuration shortened to a few hundred steps: for autograding and the end-to-end smoke run."""
        return self.replace(total_steps=min(self.total_steps, 600), learning_starts=min(self.learning_starts, 200),
                            eval_every=300, eval_episodes=3, confirm_episodes=5, checkpoint_every=300,
                            log_every=50, epsilon_decay_steps=min(self.epsilon_decay_steps, 400))


def notebook_config(**changes: Any) -> DQNConfig:
    """The configuration a notebook cell should use: the full run, or a few hundred steps when grading."""
    config = DQNConfig(**changes)
    return config.fast() if fast_mode() else config


# ----------------------------------------------------------------------------------------------------------------
# Environments and evaluation

def make_env(env_id: str = "CartPole-v1", render_mode: str | None = None):
    """A gymnasium environment (imported here so that the rest of the module works without gymnasium)."""
    if render_mode == "rgb_array" and not has_local_screen():
        # Off-screen rendering: keeps SDL from looking for a display or a sound server (and from warning).
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    try:
        import gymnasium as gym
    except ImportError as exc:
        raise ImportError("this notebook needs gymnasium: pip install 'gymnasium[classic-control]'") from exc
    return gym.make(env_id, render_mode=render_mode)


Policy = Callable[[np.ndarray], Any]  # a batch of observations (N, obs_size) -> N actions


def greedy_policy(agent: DQNAgent) -> Policy:
    """The greedy policy of ``agent``: argmax of ``policy_net``, for a batch of observations."""
    def act(observations: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            states = torch.as_tensor(observations, dtype=torch.float32, device=agent.device)
            return agent.policy_net(states).argmax(dim=1).cpu().numpy()
    return act


@dataclass
class Evaluation:
    """Returns of greedy evaluation episodes."""

    mean: float
    std: float
    returns: list[float]
    steps: int  # environment steps spent evaluating


def evaluate(policy: DQNAgent | Policy, n_episodes: int = 20, env_id: str = "CartPole-v1",
             seed: int = EVAL_SEED) -> Evaluation:
    """Run ``n_episodes`` episodes with ``policy`` (an agent, acting greedily, or a batch policy).

    The episodes run side by side (one forward pass per time step for all of them); episode ``i``
    starts from ``reset(seed=seed + i)``, so every agent is measured on the same starting states.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be at least 1, got {n_episodes}")
    act = greedy_policy(policy) if isinstance(policy, DQNAgent) else policy
    envs = [make_env(env_id) for _ in range(n_episodes)]
    observations = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    returns = [0.0] * n_episodes
    running = list(range(n_episodes))
    steps = 0
    while running:
        actions = np.asarray(act(np.stack([observations[i] for i in running])))
        still_running = []
        for i, action in zip(running, actions):
            observations[i], reward, terminated, truncated, _ = envs[i].step(int(action))
            returns[i] += float(reward)
            steps += 1
            if not (terminated or truncated):
                still_running.append(i)
        running = still_running
    for env in envs:
        env.close()
    values = np.asarray(returns)
    return Evaluation(float(values.mean()), float(values.std()), returns, steps)


@dataclass
class Checkpoint:
    """One evaluation point of the protocol."""

    step: int  # training steps so far
    mean: float  # mean return of the first greedy episodes
    std: float
    confirmed_mean: float | None  # the confirmation's mean return, when the first mean reached the threshold
    solved: bool  # the confirmation reached the threshold too
    eval_steps: int  # environment steps spent evaluating


def protocol_check(policy: DQNAgent | Policy, step: int, episodes: int = 20, confirm_episodes: int = 100,
                   threshold: float = 475.0, env_id: str = "CartPole-v1") -> Checkpoint:
    """One evaluation point: ``episodes`` greedy episodes, and ``confirm_episodes`` more when they reach
    ``threshold``. The task counts as solved at ``step`` when the confirmation's mean reaches it too."""
    first = evaluate(policy, episodes, env_id, seed=EVAL_SEED + step)
    confirmed, eval_steps = None, first.steps
    if first.mean >= threshold:
        confirmation = evaluate(policy, confirm_episodes, env_id, seed=CONFIRM_SEED + step)
        confirmed, eval_steps = confirmation.mean, eval_steps + confirmation.steps
    solved = confirmed is not None and confirmed >= threshold
    return Checkpoint(step, first.mean, first.std, confirmed, solved, eval_steps)


# ----------------------------------------------------------------------------------------------------------------
# Training

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
    With ``resume=True`` a run whose checkpoint exists continues exactly where it stopped.
    """
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "checkpoint.pt"
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
    start, eval_seconds = 0, 0.0
    if resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path, map_location=agent.device)
        check_resumable(state, config, out_dir, ignore=RESUMABLE_FIELDS)
        agent.load_state_dict(state["agent"])
        memory.load_state_dict(state["memory"])
        env = pickle.loads(state["env"])
        observation, episode_return, episode_length = state["observation"], state["episode_return"], \
            state["episode_length"]
        history, solved_at, start = state["history"], state["solved_at"], state["step"]
        restore_rng_state(state["rng"])
        random.setstate(state["python_rng"]["random"])
        np.random.set_state(state["python_rng"]["numpy"])

    def checkpoint(step: int) -> None:
        save_checkpoint({"config": dataclasses.asdict(config), "step": step, "agent": agent.state_dict(),
                         "memory": memory.state_dict(), "env": pickle.dumps(env), "observation": observation,
                         "episode_return": episode_return, "episode_length": episode_length, "history": history,
                         "solved_at": solved_at, "rng": rng_state(), "python_rng": _python_rng_state()}, ckpt_path)

    began = time.perf_counter()
    loss_sum, loss_count, step = 0.0, 0, start
    done = solved_at is not None and config.stop_when_solved
    bar = tqdm(total=config.total_steps, initial=start, desc=f"DQN {out_dir.name}", disable=not config.progress)
    while step < config.total_steps and not done:
        step += 1
        epsilon = float(schedule(step))
        state = torch.as_tensor(observation, dtype=torch.float32, device=agent.device)
        action = int(get_action(agent, state, epsilon))
        next_observation, reward, terminated, truncated, _ = env.step(action)
        memory.push(observation, action, reward, next_observation, terminated)
        episode_return += float(reward)
        episode_length += 1
        if terminated or truncated:
            history["return"].append((step, episode_return))
            bar.set_postfix(ret=episode_return, eps=round(epsilon, 3))
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
        if step % config.checkpoint_every == 0 or step == config.total_steps or done:
            checkpoint(step)
        bar.update(1)
    bar.close()
    env.close()
    seconds = time.perf_counter() - began
    plot_path = plot_training(history, out_dir / "training.png", config.solve_threshold)
    checkpoints = [Checkpoint(**point) for point in history["eval"]]
    return DQNResult(agent, history, out_dir, solved_at, step, seconds, plot_path, checkpoints)


# ----------------------------------------------------------------------------------------------------------------
# Plots, videos, human play

def moving_average(values: Sequence[float], window: int = 20) -> np.ndarray:
    """The mean of the last ``window`` values at each position (fewer at the start)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return values
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, values.size + 1), window)
    return (sums[1:] - sums[np.arange(1, values.size + 1) - counts]) / counts


def plot_training(history: dict[str, list], path: str | Path, threshold: float = 475.0, window: int = 20) -> Path:
    """Four panels: episode returns with their moving average and the evaluations, the loss, and epsilon."""
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(11, 7), dpi=100)
    (ax_ret, ax_eval), (ax_loss, ax_eps) = fig.subplots(2, 2)
    if history["return"]:
        steps, returns = zip(*history["return"])
        ax_ret.plot(steps, returns, alpha=0.35, label="episode return")
        ax_ret.plot(steps, moving_average(returns, window), label=f"moving average ({window} episodes)")
    ax_ret.set(title="Training episodes", xlabel="environment step", ylabel="return")
    if history["eval"]:
        steps = [e["step"] for e in history["eval"]]
        ax_eval.errorbar(steps, [e["mean"] for e in history["eval"]], yerr=[e["std"] for e in history["eval"]],
                         marker="o", capsize=3, label="greedy evaluation")
    ax_eval.axhline(threshold, color="gray", linestyle="--", label=f"solved ({threshold:g})")
    ax_eval.set(title="Greedy evaluation (mean ± std)", xlabel="environment step", ylabel="return")
    if history["loss"]:
        ax_loss.plot(*zip(*history["loss"]))
    ax_loss.set(title="Training loss", xlabel="environment step", ylabel="loss")
    if history["epsilon"]:
        ax_eps.plot(*zip(*history["epsilon"]))
    ax_eps.set(title="Exploration rate", xlabel="environment step", ylabel="epsilon", ylim=(0, 1.05))
    for ax in (ax_ret, ax_eval, ax_loss, ax_eps):
        ax.grid(alpha=0.3)
    for ax in (ax_ret, ax_eval):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    return path


def record_episode(policy: DQNAgent | Policy, env_id: str = "CartPole-v1", seed: int = 0,
                   max_steps: int = 500) -> tuple[list[np.ndarray], float]:
    """Play one greedy episode with ``rgb_array`` rendering: its frames and its return."""
    act = greedy_policy(policy) if isinstance(policy, DQNAgent) else policy
    env = make_env(env_id, render_mode="rgb_array")
    observation, _ = env.reset(seed=seed)
    frames, total = [env.render()], 0.0
    for _ in range(max_steps):
        action = int(np.asarray(act(observation[None]))[0])
        observation, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        frames.append(env.render())
        if terminated or truncated:
            break
    env.close()
    return frames, total


def save_animation(frames: Sequence[np.ndarray], path: str | Path, fps: int = 25, every: int = 2,
                   scale: float = 0.5) -> Path:
    """Save frames as an animated GIF (or an MP4 when ``path`` ends in .mp4 and imageio-ffmpeg is installed).

    Every ``every``-th frame is kept, shrunk by ``scale``, to keep the file small.
    """
    from PIL import Image

    if not frames:
        raise ValueError("save_animation needs at least one frame")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = list(frames[::every])
    images = [Image.fromarray(np.asarray(f)) for f in kept]
    if scale != 1:
        size = (max(1, int(images[0].width * scale)), max(1, int(images[0].height * scale)))
        images = [im.resize(size, Image.BILINEAR) for im in images]
    if path.suffix.lower() == ".mp4":
        if not can_write_mp4():
            raise ValueError(f"cannot write {path}: MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg); "
                             "use a .gif path instead")
        import imageio.v2 as imageio

        # Video encoders want even sizes.
        even = [np.asarray(im)[: im.height // 2 * 2, : im.width // 2 * 2] for im in images]
        imageio.mimwrite(path, even, fps=max(1, fps // every), macro_block_size=1)
        return path
    duration = int(1000 * every / fps)
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration, loop=0)
    return path


def can_write_mp4() -> bool:
    """True when imageio and its ffmpeg plugin are installed."""
    try:
        import imageio  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def show_animation(path: str | Path, width: int | None = 300):
    """An inline display object for a saved GIF or MP4 (embedded in the notebook: works on Colab and offline)."""
    from IPython.display import Image, Video

    path = Path(path)
    if path.suffix.lower() == ".mp4":
        return Video(str(path), embed=True, width=width)
    return Image(filename=str(path), width=width)


def has_local_screen() -> bool:
    """Whether a pygame window can open here: not on Colab or a headless server."""
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def play_cartpole(fps: int = 15, seed: int | None = 0) -> list[float] | None:
    """Play CartPole yourself in a pygame window: hold A (or Left) to push left, D (or Right) to push right.

    CartPole has no "do nothing" action: with no key pressed the cart is pushed left. The game runs at
    ``fps`` steps per second (the simulation's own rate is 50) and restarts when the pole falls; close the
    window or press Escape to stop. Returns the returns of the finished episodes, or None (with a message)
    when there is no local screen (Colab, a server).
    """
    if not has_local_screen():
        print("Human play needs a local screen (a pygame window): it does not work on Colab or a headless "
              "server. Run this notebook on your own computer to play.")
        return None
    try:
        import pygame
        from gymnasium.utils.play import play
    except ImportError:
        print("Human play needs pygame: pip install 'gymnasium[classic-control]'")
        return None
    returns, current = [], [0.0]

    def record(obs, next_obs, action, reward, terminated, truncated, info) -> None:
        current[0] += float(reward)
        if terminated or truncated:
            returns.append(current[0])
            print(f"episode {len(returns)}: return {current[0]:.0f}")
            current[0] = 0.0

    keys = {(ord("a"),): 0, (ord("d"),): 1, (pygame.K_LEFT,): 0, (pygame.K_RIGHT,): 1}
    play(make_env("CartPole-v1", render_mode="rgb_array"), fps=fps, keys_to_action=keys, noop=0,
         callback=record, seed=seed)
    return returns
