"""The toy GAN lab's extra loss: the R1 gradient penalty, applied as its own discriminator step."""

from __future__ import annotations

import torch
from torch import nn


def r1_penalty_step(D: nn.Module, d_optimizer: torch.optim.Optimizer, real: torch.Tensor, gamma: float,
                    ) -> torch.Tensor:
    """One extra D update on the R1 penalty (gamma / 2) E|grad_x D(x)|^2 on real data (Mescheder et al., 2018).

    Applied as its own step after the students' discriminator step ("lazy" regularisation, as in StyleGAN2), so
    their step stays the plain GAN loss. Returns the penalty.
    """
    d_optimizer.zero_grad()
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(real).sum(), real, create_graph=True)
    penalty = 0.5 * gamma * grad.pow(2).sum(1).mean() * getattr(D, "pack", 1)
    penalty.backward()
    d_optimizer.step()
    return penalty.detach()
