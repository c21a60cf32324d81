"""The toy GAN lab's networks: multilayer perceptrons (the discriminator optionally packed, PacGAN)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm


class MLPGenerator(nn.Module):
    """Noise (N x noise_dim) -> points (N x data_dim): ``depth`` ReLU layers of ``hidden`` units, linear output."""

    def __init__(self, noise_dim: int = 2, data_dim: int = 2, hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = noise_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, data_dim))
        self.net = nn.Sequential(*layers)
        self.noise_dim, self.data_dim = noise_dim, data_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """Points (N x data_dim) -> one logit per point (N,), i.e. before the sigmoid.

    With ``pack`` > 1 (PacGAN) it judges ``pack`` points at once: N must be a multiple of ``pack`` and the output
    has N / pack logits, one per group of consecutive points.
    """

    def __init__(self, data_dim: int = 2, hidden: int = 128, depth: int = 3, pack: int = 1,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        if pack < 1:
            raise ValueError(f"pack must be at least 1, got {pack}")
        layers: list[nn.Module] = []
        width = data_dim * pack
        for _ in range(depth):
            linear = nn.Linear(width, hidden)
            layers += [_spectral_norm(linear) if spectral_norm else linear, nn.LeakyReLU(0.2)]
            width = hidden
        last = nn.Linear(width, 1)
        layers.append(_spectral_norm(last) if spectral_norm else last)
        self.net = nn.Sequential(*layers)
        self.data_dim, self.pack = data_dim, pack

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.data_dim or x.shape[0] % self.pack:
            raise ValueError(f"expected points of shape (N, {self.data_dim}) with N a multiple of {self.pack}, "
                             f"got {tuple(x.shape)}")
        return self.net(x.reshape(-1, self.data_dim * self.pack)).squeeze(1)
