"""Style-mixing figures with a StyleGAN2 generator, for the StyleGAN2 notebook.

Each of the generator's ``num_ws`` layers takes its own copy of w. Style mixing feeds some layers (``col_styles``)
the w of one latent (a "column") and the other layers the w of another (a "row"). The mixing itself is the
students' ``style_mix`` (TODO 5 of the notebook), which :func:`style_mixing_grid` takes as an argument; this module
only draws the figure. Which layers to mix, and what each group of layers controls, is for the students to find
out (the notebook's TODO 6 and Question 3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from PIL import Image

from helpers.core.plotting import image_grid
from helpers.stylegan2.generator import Generator

# style_mix(G, row_ws, col_ws, col_styles) -> images (R, C, channels, H, W)
StyleMix = Callable[[Generator, torch.Tensor, torch.Tensor, Sequence[int]], torch.Tensor]


def _check_styles(G: Generator, col_styles: Sequence[int]) -> list[int]:
    styles = [int(s) for s in col_styles]
    bad = [s for s in styles if not 0 <= s < G.num_ws]
    if bad:
        raise ValueError(f"col_styles must be layer indices in [0, {G.num_ws}), got {bad}")
    return styles


def _check_latents(G: Generator, z: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != G.z_dim:
        shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise ValueError(f"{name} must be a tensor of shape (N, {G.z_dim}), got {shape}")
    return z.to(device=G.mapping.fc0.weight.device, dtype=torch.float32)


@torch.no_grad()
def style_mixing_grid(G: Generator, row_z: torch.Tensor, col_z: torch.Tensor, col_styles: Sequence[int],
                      style_mix: StyleMix, truncation_psi: float = 1.0, noise_mode: str = "const") -> Image.Image:
    """The style-mixing figure of the StyleGAN papers as one PIL image.

    The top row shows the column latents' images, the left column the row latents' images, and cell (i, j)
    ``style_mix(G, row_ws, col_ws, col_styles)[i, j]``, where ``row_ws`` and ``col_ws`` are the latents' ws
    (``G.mapping`` with ``truncation_psi``); the top-left corner is blank.
    """
    row_z, col_z = _check_latents(G, row_z, "row_z"), _check_latents(G, col_z, "col_z")
    styles = _check_styles(G, col_styles)
    row_ws = G.mapping(row_z, None, truncation_psi=truncation_psi)
    col_ws = G.mapping(col_z, None, truncation_psi=truncation_psi)
    row_images = G.synthesis(row_ws, noise_mode=noise_mode)
    col_images = G.synthesis(col_ws, noise_mode=noise_mode)
    mixed = style_mix(G, row_ws.clone(), col_ws.clone(), styles)
    want = (len(row_images), len(col_images), *row_images.shape[1:])
    if not isinstance(mixed, torch.Tensor) or tuple(mixed.shape) != want:
        got = tuple(mixed.shape) if isinstance(mixed, torch.Tensor) else type(mixed).__name__
        raise ValueError(f"style_mix must return a tensor of shape (rows, columns, channels, H, W) = {want}, "
                         f"got {got}")
    blank = torch.ones_like(row_images[:1])  # white in [-1, 1]
    tiles = [blank, col_images]
    for i in range(len(row_images)):
        tiles += [row_images[i: i + 1], mixed[i].to(row_images.device)]
    return image_grid(torch.cat(tiles), nrow=len(col_images) + 1)

