"""Runtime facts every notebook needs: where the kit lives, which device, grading or not, and the fast-mode policy."""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

KIT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = KIT_ROOT / "data"

Config = TypeVar("Config")


def is_grading() -> bool:
    """True when nbgrader executes the notebook (it sets ``NBGRADER_EXECUTION``)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def fast_mode() -> bool:
    """True when notebooks should train only a few iterations.

    That is under nbgrader (autograde/validate) or when ``KIT_FAST=1`` is set, as the
    main job does when it executes every notebook end to end.
    """
    return is_grading() or os.environ.get("KIT_FAST", "") not in ("", "0")


def shortened(config: Config) -> Config:
    """``config`` as fast mode runs it: each field named in its class's ``FAST_LIMITS`` (the run's length and
    intervals) at most its limit (``None``, "no limit", becomes the limit), and the fields of ``FAST_SETTINGS``
    (say, a learning rate that stays constant) set outright. Idempotent."""
    changes: dict[str, Any] = {}
    for name, limit in type(config).FAST_LIMITS.items():
        value = getattr(config, name)
        changes[name] = limit if value is None else min(value, limit)
    changes.update(getattr(type(config), "FAST_SETTINGS", {}))
    return dataclasses.replace(config, **changes)


def fast_config(config: Config) -> Config:
    """The kit's one fast-mode policy: in fast mode (grading, or ``KIT_FAST=1``) a run is :func:`shortened`,
    whatever its configuration asks for; otherwise it is the configuration as given.

    Every training loop applies it to the configuration it is handed, so nothing a notebook cell passes (a
    longer run, a configuration built by hand) makes a graded notebook train longer.
    """
    return shortened(config) if fast_mode() else config


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
