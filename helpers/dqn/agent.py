"""The DQN agent: Q-network, policy and target networks, and the exploration schedules."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from helpers.core.runtime import pick_device

if TYPE_CHECKING:  # the configuration names the agent's losses and schedules: no import at run time
    from helpers.dqn.training import DQNConfig


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
