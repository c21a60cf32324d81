"""The replay memory of the DQN assignment."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch


class Batch(NamedTuple):
    """A batch of transitions sampled from the replay memory (B transitions, on the agent's device)."""

    states: torch.Tensor  # (B, obs_size) float32
    actions: torch.Tensor  # (B,) int64
    rewards: torch.Tensor  # (B,) float32
    next_states: torch.Tensor  # (B, obs_size) float32
    terminated: torch.Tensor  # (B,) float32: 1.0 where the episode ended in a terminal state, else 0.0


class ReplayMemory:
    """A ring buffer of transitions in preallocated tensors; uniform sampling with its own generator.

    ``terminated`` is 1.0 only for a terminal state (the pole fell, the cart left the track); a time-limit
    truncation is stored with 0.0.
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
