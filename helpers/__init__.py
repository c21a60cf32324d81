"""Shared library of the GAN and deep-RL course kit.

Notebooks stay thin and call into these modules; every piece of logic
(data, models, losses, training loops, metrics, plotting) lives here.
"""

from helpers.runtime import DATA_DIR, KIT_ROOT, fast_mode, is_grading, pick_device, seed_everything

__all__ = ["DATA_DIR", "KIT_ROOT", "fast_mode", "is_grading", "pick_device", "seed_everything"]
