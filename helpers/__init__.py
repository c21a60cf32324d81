"""Shared library of the GAN and deep-RL course kit.

Notebooks stay thin and call into these modules; every piece of logic
(data, models, losses, training loops, metrics, plotting) lives here:

* :mod:`helpers.core`: what every assignment shares (runtime, seeding, checkpoints and run bookkeeping, weight
  averaging, schedules, samplers, layers, image grids and plots, metrics, the emoji data, the writeup);
* one package per assignment, which imports only itself and the core: :mod:`helpers.dcgan`,
  :mod:`helpers.stylegan2`, :mod:`helpers.dqn`, :mod:`helpers.toy_gan` and :mod:`helpers.image_labs` (the
  three image-GAN labs).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DATA_DIR", "KIT_ROOT", "fast_mode", "is_grading", "pick_device", "seed_everything"]


def __getattr__(name: str) -> Any:
    """``from helpers import fast_mode`` and the rest of :data:`__all__`, from :mod:`helpers.core.runtime`, loaded
    on first use: importing a torch-free module (``helpers.core.notebook_format``, which the grader's sandbox
    launcher reads) must not import torch (1.5 s on 2 cores, paid by every sandbox a grading starts)."""
    if name in __all__:
        from helpers.core import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
