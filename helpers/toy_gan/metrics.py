"""Mode-collapse metrics of the toy GAN lab.

Metrics follow the mode-collapse literature (VEEGAN, PacGAN): a generated sample is *high quality* if it
lies within 3 standard deviations of its nearest mode; a mode is *captured* if it has at least one
high-quality sample, and *fairly captured* if it holds at least 20% of its fair share of the samples.
"""

from __future__ import annotations

import torch
from torch import nn

from helpers.toy_gan.data import DatasetSampler, GaussianMixture


def mode_metrics(samples: torch.Tensor, distribution: GaussianMixture, num_stds: float = 3.0,
                 fair_fraction: float = 0.2) -> dict[str, float]:
    """Mode coverage and sample quality of ``samples`` (N x dim) against a Gaussian mixture.

    Returns ``modes`` (modes with at least one high-quality sample), ``modes_fair`` (modes holding at least
    ``fair_fraction`` of their fair share N / K of high-quality samples), ``num_modes`` and ``hq_share`` (the
    share of samples within ``num_stds`` standard deviations of their nearest mode).
    """
    if not isinstance(distribution, GaussianMixture):
        raise ValueError(f"mode metrics need a Gaussian mixture, got {type(distribution).__name__}")
    samples = samples.detach().float().cpu()
    if samples.dim() != 2 or samples.shape[1] != distribution.dim or len(samples) == 0:
        raise ValueError(f"samples must have shape (N, {distribution.dim}), got {tuple(samples.shape)}")
    distances = torch.cdist(samples, distribution.modes)
    nearest_distance, nearest = distances.min(1)
    good = nearest_distance <= num_stds * distribution.std
    counts = torch.bincount(nearest[good], minlength=distribution.num_modes)
    fair_share = len(samples) / distribution.num_modes
    return {"modes": int((counts > 0).sum()), "modes_fair": int((counts >= fair_fraction * fair_share).sum()),
            "num_modes": distribution.num_modes, "hq_share": float(good.float().mean())}


def sample_moments(samples: torch.Tensor) -> tuple[float, float]:
    """Mean and standard deviation of 1-D samples (N or N x 1)."""
    flat = samples.detach().float().reshape(-1)
    return float(flat.mean()), float(flat.std())


def generate(G: nn.Module, n: int, seed: int = 1234) -> torch.Tensor:
    """``n`` points from ``G`` on standard normal noise drawn with ``seed`` (CPU tensor)."""
    device = next(G.parameters()).device
    noise = torch.randn(n, G.noise_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    with torch.no_grad():
        return G(noise).cpu()


def evaluate(G: nn.Module, distribution: GaussianMixture | DatasetSampler, num_samples: int = 2500,
             seed: int = 1234) -> dict[str, float]:
    """Mode metrics (Gaussian mixtures) and, for 1-D data, the mean and std of ``num_samples`` generated points."""
    samples = generate(G, num_samples, seed)
    metrics: dict[str, float] = {}
    if isinstance(distribution, GaussianMixture):
        metrics.update(mode_metrics(samples, distribution))
    if samples.shape[1] == 1:
        metrics["mean"], metrics["std"] = sample_moments(samples)
    return metrics
