"""Learning-rate schedules shared by the training loops."""

from __future__ import annotations


def lr_scale(step: int, total: int, decay_start: float) -> float:
    """The learning-rate factor at ``step`` (0-based) of ``total``: 1 until ``decay_start * total``, then linear
    to 0 at ``total``."""
    begin = decay_start * total
    if step < begin or total <= begin:
        return 1.0
    return max(0.0, (total - step) / (total - begin))
