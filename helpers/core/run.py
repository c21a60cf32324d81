"""What an image GAN run leaves behind (the DCGAN loop and the image labs' loop return it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch import nn


@dataclass
class TrainResult:
    """What a run leaves behind: the models, the history, and the files it wrote."""

    generator: nn.Module  # the one to sample from: the moving average of G when ema_decay > 0
    discriminator: nn.Module
    history: dict[str, list[tuple[int, float]]]
    out_dir: Path
    sample_paths: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    def samples_at(self, iteration: int) -> Path:
        """The saved sample grid closest to ``iteration``."""
        if not self.sample_paths:
            raise ValueError("this run saved no samples")
        return min(self.sample_paths, key=lambda p: abs(int(p.stem.split("-")[-1]) - iteration))
