"""Environments and the evaluation protocol (shared by the notebook, the loop and ``bench/dqn_cartpole.py``):
every ``eval_every`` environment steps, ``eval_episodes`` greedy episodes; when their mean return reaches
``solve_threshold``, ``confirm_episodes`` more decide whether the task is solved at that step.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from helpers.dqn.agent import DQNAgent

# Evaluation episodes are seeded apart from training, the same way for every agent measured.
EVAL_SEED = 10_000_000
CONFIRM_SEED = 20_000_000


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


def has_local_screen() -> bool:
    """Whether a pygame window can open here: not on Colab or a headless server."""
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
