"""StyleGAN2's regularisers: style mixing, the R1 penalty and the path length penalty."""

from __future__ import annotations

import math

import torch
from torch import nn

from helpers.stylegan2.generator import Generator


def generate_with_mixing(G: Generator, z: torch.Tensor, style_mixing_prob: float) -> torch.Tensor:
    """Images from ``G`` with random noise, where with probability ``style_mixing_prob`` the ws after a random
    layer come from a second latent (StyleGAN's mixing regularisation)."""
    ws = G.mapping(z, None)
    if style_mixing_prob > 0 and torch.rand([]).item() < style_mixing_prob:
        cutoff = int(torch.randint(1, ws.shape[1], []))
        mixed = G.mapping(torch.randn_like(z), None, skip_w_avg_update=True)
        ws = torch.cat([ws[:, :cutoff], mixed[:, cutoff:]], dim=1)
    return G.synthesis(ws, noise_mode="random")


def r1_penalty(D: nn.Module, real: torch.Tensor) -> torch.Tensor:
    """Per-image squared norm of dD/dx at the real images (the graph is kept, so that it trains D)."""
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(real).sum(), real, create_graph=True)
    return grad.square().sum(dim=[1, 2, 3])


def path_length_penalty(G: Generator, z: torch.Tensor, pl_mean: torch.Tensor, decay: float,
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """StyleGAN2's path length penalty and the updated running mean of the path lengths."""
    ws = G.mapping(z, None)
    img = G.synthesis(ws, noise_mode="random")
    noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
    (grad,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
    lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
    pl_mean = pl_mean.lerp(lengths.mean().detach(), decay)
    return (lengths - pl_mean).square(), pl_mean
