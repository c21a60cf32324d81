"""Runtime facts every notebook needs: where the kit lives, which device, grading or not."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

KIT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = KIT_ROOT / "data"


def is_grading() -> bool:
    """True when nbgrader executes the notebook (it sets ``NBGRADER_EXECUTION``)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def fast_mode() -> bool:
    """True when notebooks should train only a few iterations.

    That is under nbgrader (autograde/validate) or when ``KIT_FAST=1`` is set, as the
    main job does when it executes every notebook end to end.
    """
    return is_grading() or os.environ.get("KIT_FAST", "") not in ("", "0")


def pick_device(prefer: str | None = None) -> torch.device:
    """The training device: ``prefer`` if given, else CUDA, then Apple MPS, then CPU."""
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU ``torch.Generator`` seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
