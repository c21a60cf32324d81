"""DCGAN pieces provided to students besides the shared layers (:mod:`helpers.core.layers`): the noise.

The generator and the training step are the students' work: their reference
implementations live only in the source notebook's solution regions.
"""

from __future__ import annotations

import torch


def sample_noise(
    batch_size: int,
    noise_size: int,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Noise vectors of shape (batch_size, noise_size), uniform in (-1, 1)."""
    return torch.rand(batch_size, noise_size, device=device, generator=generator) * 2 - 1
