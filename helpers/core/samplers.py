"""Random batches from a tensor kept on the training device (used by every image GAN loop)."""

from __future__ import annotations

import torch


class TensorSampler:
    """Random batches from a tensor held on the training device.

    Indices are drawn on the data's device with the sampler's own seeded ``torch.Generator``,
    so sampling neither touches the global RNG nor decodes images or spawns DataLoader workers.
    Each batch has distinct items (sampling without replacement within a batch); batches are
    independent of one another.

    Example::

        sampler = TensorSampler(load_emojis("train"), seed=0, device=pick_device())
        real = sampler.sample(64)  # 64 x 3 x 32 x 32 on the device
    """

    def __init__(self, data: torch.Tensor, seed: int = 0, device: torch.device | str | None = None) -> None:
        """Keep ``data`` (moved to ``device`` if given) and seed a generator on its device."""
        if not isinstance(data, torch.Tensor) or data.dim() == 0 or len(data) == 0:
            raise ValueError("TensorSampler needs a non-empty tensor with a leading batch dimension")
        self.data = data if device is None else data.to(device)
        self.seed = seed
        self.generator = torch.Generator(device=self.data.device).manual_seed(seed)

    @property
    def device(self) -> torch.device:
        """The device the data (and the batches) live on."""
        return self.data.device

    def __len__(self) -> int:
        """Number of items in the data."""
        return len(self.data)

    def sample(self, batch_size: int) -> torch.Tensor:
        """A batch of ``batch_size`` distinct random items, on the data's device."""
        n = len(self.data)
        if not 1 <= batch_size <= n:
            raise ValueError(f"batch_size must be between 1 and {n} (the data size), got {batch_size}")
        idx = torch.randperm(n, generator=self.generator, device=self.data.device)[:batch_size]
        return self.data[idx]

    def reset(self, seed: int | None = None) -> None:
        """Reseed the generator (with the original seed unless ``seed`` is given)."""
        if seed is not None:
            self.seed = seed
        self.generator.manual_seed(self.seed)
