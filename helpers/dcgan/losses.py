"""The DCGAN assignment's loss helper provided to students: the gradient penalty."""

from __future__ import annotations

import torch
from torch import nn


def gradient_penalty(
    discriminator: nn.Module, real_images: torch.Tensor, fake_images: torch.Tensor, weight: float = 1.0
) -> torch.Tensor:
    """``weight`` times the mean L2 norm of dD/dx at random interpolates of real and fake images.

    As in the original assignment, the penalty pushes the norm towards 0 (not towards 1 as in WGAN-GP).
    The graph is kept (``create_graph=True``) so that the penalty trains the discriminator.
    """
    if real_images.shape != fake_images.shape:
        raise ValueError(
            f"real and fake batches differ in shape: {tuple(real_images.shape)} vs {tuple(fake_images.shape)}"
        )
    alpha = torch.rand(real_images.shape[0], 1, 1, 1, device=real_images.device)
    mixed = (alpha * real_images.detach() + (1 - alpha) * fake_images.detach()).requires_grad_(True)
    scores = discriminator(mixed)
    (grads,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = torch.sqrt(grads.flatten(1).pow(2).sum(dim=1) + 1e-12)
    return weight * norms.mean()
