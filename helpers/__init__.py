"""Shared library of the GAN and deep-RL course kit.

Notebooks stay thin and call into these modules; every piece of logic
(data, models, losses, training loops, metrics, plotting) lives here:

* :mod:`helpers.core`: what every assignment shares (runtime, seeding, checkpoints and run bookkeeping, weight
  averaging, schedules, samplers, layers, image grids and plots, metrics, the emoji data, the writeup);
* one package per assignment, which imports only itself and the core: :mod:`helpers.dcgan`,
  :mod:`helpers.stylegan2`, :mod:`helpers.dqn`, :mod:`helpers.toy_gan` and :mod:`helpers.image_labs` (the
  three image-GAN labs).
"""

from helpers.core.runtime import DATA_DIR, KIT_ROOT, fast_mode, is_grading, pick_device, seed_everything

__all__ = ["DATA_DIR", "KIT_ROOT", "fast_mode", "is_grading", "pick_device", "seed_everything"]
