"""Pictures of the toy GAN lab: frames of real vs generated points with the discriminator's output."""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch import nn

from helpers.toy_gan.data import DatasetSampler, GaussianMixture
from helpers.toy_gan.metrics import generate


def _discriminator_probability(D: nn.Module, points: torch.Tensor) -> torch.Tensor:
    """D's probability of 'real' at each point (a packed D sees the point repeated ``pack`` times)."""
    pack = getattr(D, "pack", 1)
    device = next(D.parameters()).device
    with torch.no_grad():
        logits = D(points.to(device).repeat_interleave(pack, 0))
    return torch.sigmoid(logits).cpu()


def plot_frame(G: nn.Module, D: nn.Module, distribution: GaussianMixture | DatasetSampler, path: str | Path,
               num_points: int = 1000, title: str = "", metrics: dict[str, float] | None = None) -> Path:
    """Save one frame: real vs generated points, over the discriminator's output.

    2-D: scatter plots on the discriminator's decision surface (its probability of 'real', shaded).
    1-D: histograms of real and generated points, and the discriminator's probability as a curve.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    real = distribution.sample(num_points, torch.Generator().manual_seed(0))
    fake = generate(G, num_points, seed=1)
    low, high = distribution.bounds()
    low, high = torch.minimum(low, real.min(0).values), torch.maximum(high, real.max(0).values)
    fig = Figure(figsize=(5.5, 5) if distribution.dim == 2 else (6.5, 4), dpi=80)
    ax = fig.add_subplot()
    if distribution.dim == 2:
        xs = torch.linspace(float(low[0]), float(high[0]), 100)
        ys = torch.linspace(float(low[1]), float(high[1]), 100)
        gx, gy = torch.meshgrid(xs, ys, indexing="xy")
        prob = _discriminator_probability(D, torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)).reshape(gx.shape)
        surface = ax.contourf(gx.numpy(), gy.numpy(), prob.numpy(), levels=torch.linspace(0, 1, 11).tolist(),
                              cmap="RdBu", alpha=0.5)
        fig.colorbar(surface, ax=ax, label="D(x): probability of real", shrink=0.8)
        ax.scatter(real[:, 0], real[:, 1], s=3, c="tab:orange", label="real")
        ax.scatter(fake[:, 0], fake[:, 1], s=3, c="tab:green", label="generated")
        ax.set_xlim(float(low[0]), float(high[0]))
        ax.set_ylim(float(low[1]), float(high[1]))
        ax.set_aspect("equal")
    else:
        lo, hi = float(low[0]), float(high[0])
        bins = torch.linspace(lo, hi, 60).tolist()
        ax.hist(real[:, 0].numpy(), bins=bins, density=True, alpha=0.5, color="tab:orange", label="real")
        ax.hist(fake[:, 0].clamp(lo, hi).numpy(), bins=bins, density=True, alpha=0.5, color="tab:green",
                label="generated")
        line = torch.linspace(lo, hi, 300)
        twin = ax.twinx()
        twin.plot(line.numpy(), _discriminator_probability(D, line[:, None]).numpy(), color="tab:blue",
                  label="D(x)")
        twin.set_ylim(0, 1)
        twin.set_ylabel("D(x): probability of real")
    metrics = metrics or {}
    if metrics.get("num_modes", 1) > 1:
        title += f"\nmodes {metrics['modes']}/{metrics['num_modes']}, high quality {100 * metrics['hq_share']:.1f}%"
    if "mean" in metrics:
        title += f"\ngenerated mean {metrics['mean']:.2f}, std {metrics['std']:.2f}"
    elif "hq_share" in metrics and metrics["num_modes"] == 1:
        title += f"\nhigh quality (within 3 std) {100 * metrics['hq_share']:.1f}%"
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8, markerscale=3)
    fig.subplots_adjust(left=0.12, right=0.88 if distribution.dim == 1 else 0.95, top=0.88, bottom=0.1)
    fig.savefig(path)
    return path


def plot_real_data(distributions: dict[str, GaussianMixture | DatasetSampler], path: str | Path,
                   num_points: int = 2000) -> Path:
    """Save one panel of real samples per named distribution (histograms for 1-D, scatter plots for 2-D)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(3.2 * len(distributions), 3.2), dpi=90)
    for index, (name, distribution) in enumerate(distributions.items()):
        ax = fig.add_subplot(1, len(distributions), index + 1)
        points = distribution.sample(num_points, torch.Generator().manual_seed(0))
        if distribution.dim == 1:
            ax.hist(points[:, 0].numpy(), bins=60, color="tab:orange")
        else:
            ax.scatter(points[:, 0], points[:, 1], s=2, c="tab:orange")
            ax.set_aspect("equal")
        ax.set_title(name, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    return path
