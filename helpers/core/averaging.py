"""Weight averaging: an exponential moving average of a model's weights, and BatchNorm statistics
measured afresh for averaged weights ("precise BN")."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


@torch.no_grad()
def update_ema(averaged: nn.Module, model: nn.Module, beta: float) -> None:
    """``averaged <- beta * averaged + (1 - beta) * model`` for the weights; buffers (BatchNorm) are copied."""
    torch._foreach_lerp_(list(averaged.parameters()), list(model.parameters()), 1.0 - beta)
    for mine, theirs in zip(averaged.buffers(), model.buffers()):
        mine.copy_(theirs)


def recalibrate_batchnorm(model: nn.Module, batches: Iterable[torch.Tensor]) -> None:
    """Replace the running statistics of every BatchNorm layer in ``model`` by their exact average over the
    forward passes of ``batches`` ("precise BN"); weights are untouched and the model is left in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # None: a cumulative average over the batches
    model.train()
    with torch.no_grad():
        for batch in batches:
            model(batch)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()
