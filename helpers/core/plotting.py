"""Figures the notebooks save (stable file names, for the writeup) and show inline."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from matplotlib.figure import Figure
from PIL import Image


def tile(images: torch.Tensor, nrow: int = 10, padding: int = 2, pad_value: float = 1.0) -> torch.Tensor:
    """``images`` (N x C x H x W, C of 1 or 3) as one C' x H' x W' image of rows of ``nrow``, ``padding`` pixels of
    ``pad_value`` around each (one image: itself, unpadded); grey images become RGB. The layout of torchvision's
    ``make_grid``, without importing torchvision (2 s: it loads torch's compiler), which every notebook, grading
    kernel and verification run would pay."""
    if images.size(1) == 1:
        images = images.expand(-1, 3, -1, -1)
    count, channels, height, width = images.shape
    if count == 1:
        return images[0].clone()
    columns = min(nrow, count)
    rows = math.ceil(count / columns)
    cell_h, cell_w = height + padding, width + padding
    grid = images.new_full((channels, rows * cell_h + padding, columns * cell_w + padding), pad_value)
    for k in range(count):
        top, left = (k // columns) * cell_h + padding, (k % columns) * cell_w + padding
        grid[:, top:top + height, left:left + width] = images[k]
    return grid


def image_grid(images: torch.Tensor, nrow: int = 10, padding: int = 2) -> Image.Image:
    """A PIL image tiling ``images`` (N x C x H x W, values in [-1, 1]) in rows of ``nrow``."""
    if images.dim() != 4:
        raise ValueError(f"expected a batch of images (N, C, H, W), got shape {tuple(images.shape)}")
    scaled = (images.detach().float().cpu().clamp(-1, 1) + 1) / 2  # [-1, 1] -> [0, 1]
    grid = tile(scaled, nrow=nrow, padding=padding, pad_value=1.0)
    array = (grid.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(array)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int = 10) -> Path:
    """Save ``images`` as one PNG grid and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image_grid(images, nrow=nrow).save(path)
    return path


def plot_curves(
    curves: Mapping[str, Sequence[tuple[float, float]]],
    path: str | Path,
    title: str = "",
    xlabel: str = "iteration",
    ylabel: str = "",
    logy: bool = False,
) -> Path:
    """Plot named (x, y) series on one axis and save the figure as PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    for name, points in curves.items():
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if any(curves.values()):
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return path


def save_gif(frames: Sequence[str | Path], path: str | Path, seconds_per_frame: float = 0.3) -> Path:
    """Assemble PNG frames into a looping animated GIF."""
    if not frames:
        raise ValueError("save_gif needs at least one frame")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.open(f).convert("RGB") for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(seconds_per_frame * 1000),
                   loop=0)
    return path


def show(path: str | Path, width: int | None = None):
    """Display a saved image inline in a notebook (returns an IPython display object)."""
    from IPython.display import Image as IPythonImage

    return IPythonImage(filename=str(path), width=width)


def save_side_by_side(
    left: torch.Tensor, right: torch.Tensor, path: str | Path, titles: tuple[str, str] = ("real", "generated"),
    nrow: int = 8,
) -> Path:
    """Save two image batches as grids next to each other, with a title above each (e.g. real vs generated)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(10, 5.4), dpi=100)
    for index, (images, title) in enumerate(((left, titles[0]), (right, titles[1]))):
        ax = fig.add_subplot(1, 2, index + 1)
        ax.imshow(image_grid(images, nrow=nrow), interpolation="nearest")
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    return path
