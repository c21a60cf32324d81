"""Is a generated image new, or a copy of a training image? Its nearest training neighbour, and a figure of pairs.

A GAN that memorised its (small) training set reproduces training images; one that generalises makes images
whose nearest training image is visibly different. The distance is the L2 (Euclidean) distance between the
images' pixels, by default on copies downscaled to ``size`` x ``size`` (area averaging), which weighs the overall
layout and colours more than pixel-exact detail and is faster on large sets.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from helpers.core.plotting import image_grid

# Candidates per query and chunk whose exact distance is computed: the approximate ones' error (~1e-4 in squared
# units at 32x32x3) can only reorder images that are practically equally near.
SHORTLIST = 8


def _flat(images: torch.Tensor, size: int | None) -> torch.Tensor:
    """The images as float rows, downscaled to ``size`` x ``size`` first when given."""
    images = images.detach().float().cpu()
    if size is not None and tuple(images.shape[-2:]) != (size, size):
        images = F.interpolate(images, size=(size, size), mode="area")
    return images.flatten(1)


@torch.no_grad()
def nearest_training_images(
    generated: torch.Tensor, training: torch.Tensor, size: int | None = 32, chunk: int = 1024,
    exclude: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each generated image, the index of the closest training image and the L2 distance to it.

    ``generated`` (N x C x H x W) and ``training`` (M x C x H x W) share their shape; with ``size`` both are
    downscaled to ``size`` x ``size`` first (None: full resolution). Returns ``(indices, distances)``, two
    tensors of length N on the CPU (``indices`` int64, ``distances`` float32). ``chunk`` training images are
    compared at a time, so the memory stays bounded on large sets. ``exclude`` (N or N x K training indices)
    leaves out, for each image, those training images: with training images as the queries, their own index
    (and their mirror image's), to measure how far a training image is from its nearest *other* one.
    """
    if generated.dim() != 4 or training.dim() != 4 or generated.shape[1:] != training.shape[1:]:
        raise ValueError(f"generated and training images must be batches of one shape (N, C, H, W), got "
                         f"{tuple(generated.shape)} and {tuple(training.shape)}")
    if len(training) == 0 or len(generated) == 0:
        raise ValueError("nearest_training_images needs at least one generated and one training image")
    queries = _flat(generated, size)
    if exclude is not None:
        exclude = torch.as_tensor(exclude, dtype=torch.int64).reshape(len(queries), -1).cpu()
    best = torch.full((len(queries),), float("inf"))
    index = torch.zeros(len(queries), dtype=torch.int64)
    for start in range(0, len(training), chunk):
        block = _flat(training[start:start + chunk], size)
        # |q|^2 + |t|^2 - 2 q.t (a matrix product) only shortlists: in float32 it cancels to about 1e-2 for
        # identical images, and by how much depends on the BLAS. The shortlist's distances are then exact.
        approximate = (queries.square().sum(1, keepdim=True) + block.square().sum(1)
                       - 2 * queries @ block.T)
        if exclude is not None:
            local = exclude - start
            inside = (local >= 0) & (local < len(block))
            rows = torch.arange(len(queries)).unsqueeze(1).expand_as(local)
            approximate[rows[inside], local[inside]] = float("inf")
        shortlist = approximate.topk(min(SHORTLIST, len(block)), dim=1, largest=False)
        exact = torch.stack([(queries - block[shortlist.indices[:, j]]).norm(dim=1)
                             for j in range(shortlist.indices.shape[1])], 1)
        exact[shortlist.values.isinf()] = float("inf")  # an excluded image stays out
        value, where = exact.min(dim=1)
        better = value < best
        best[better] = value[better]
        index[better] = shortlist.indices[better, where[better]] + start
    return index, best


def save_nearest_neighbours(
    generated: torch.Tensor, training: torch.Tensor, path: str | Path, size: int | None = 32, max_pairs: int = 16,
) -> Path:
    """Save a figure of pairs: in the top row up to ``max_pairs`` generated images, under each its nearest
    training image (:func:`nearest_training_images`) with their distance. Returns the figure's path."""
    generated = generated[:max_pairs].detach().cpu()
    indices, distances = nearest_training_images(generated, training, size=size)
    neighbours = training[indices].detach().cpu()
    count = len(generated)
    grid = image_grid(torch.cat([generated.float(), neighbours.float()]), nrow=count, padding=2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(max(4.0, 1.1 * count + 1.6), 3.4), dpi=100)
    ax = fig.add_subplot()
    ax.imshow(grid, interpolation="nearest")
    cell_w, cell_h = grid.width / count, grid.height / 2
    ax.set_yticks([cell_h / 2, 1.5 * cell_h], ["generated", "nearest\ntraining image"])
    ax.set_xticks([cell_w * (i + 0.5) for i in range(count)], [f"{d:.1f}" for d in distances.tolist()],
                  fontsize=7)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    where = "pixels" if size is None else f"pixels at {size}x{size}"
    ax.set_xlabel(f"L2 distance between the pair ({where}, values in [-1, 1])")
    ax.set_title("Generated images and their nearest training images")
    fig.tight_layout()
    fig.savefig(path)
    return path
