"""Style mixing with a StyleGAN2 generator, provided to the students of the StyleGAN2 notebook.

Each of the generator's ``num_ws`` layers takes its own copy of w. Style mixing feeds the layers
``col_styles`` with the w of another latent (a "column") and the other layers with the w of a "row":
the coarse layers (4x4, 8x8) set pose and shape, the middle ones features, the fine ones colours and
texture.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image

from helpers.core.plotting import image_grid
from helpers.stylegan2.generator import Generator


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
def style_mix(G: Generator, row_ws: torch.Tensor, col_ws: torch.Tensor, col_styles: Sequence[int],
              noise_mode: str = "const") -> torch.Tensor:
    """Images (R, C, channels, H, W): cell (i, j) has row i's ws, with column j's ws at the ``col_styles`` layers.

    ``row_ws`` (R, num_ws, w_dim) and ``col_ws`` (C, num_ws, w_dim) come from ``G.mapping``.
    """
    styles = _check_styles(G, col_styles)
    rows, cols = len(row_ws), len(col_ws)
    ws = row_ws.unsqueeze(1).repeat(1, cols, 1, 1)  # (R, C, num_ws, w_dim)
    if styles:
        ws[:, :, styles] = col_ws[:, styles].unsqueeze(0).expand(rows, -1, -1, -1)
    images = G.synthesis(ws.reshape(rows * cols, *row_ws.shape[1:]), noise_mode=noise_mode)
    return images.reshape(rows, cols, *images.shape[1:])


@torch.no_grad()
def style_mixing_grid(G: Generator, row_z: torch.Tensor, col_z: torch.Tensor, col_styles: Sequence[int],
                      truncation_psi: float = 1.0, noise_mode: str = "const") -> Image.Image:
    """The style-mixing figure of the StyleGAN papers as one PIL image.

    The top row shows the column latents' images, the left column the row latents' images, and cell
    (i, j) the row's image with the column's w at the layers ``col_styles`` (top-left corner blank).
    With ``col_styles=[]`` each cell is its row's image; with all layers, its column's.
    """
    row_z, col_z = _check_latents(G, row_z, "row_z"), _check_latents(G, col_z, "col_z")
    row_ws = G.mapping(row_z, None, truncation_psi=truncation_psi)
    col_ws = G.mapping(col_z, None, truncation_psi=truncation_psi)
    row_images = G.synthesis(row_ws, noise_mode=noise_mode)
    col_images = G.synthesis(col_ws, noise_mode=noise_mode)
    mixed = style_mix(G, row_ws, col_ws, col_styles, noise_mode)
    blank = torch.ones_like(row_images[:1])  # white in [-1, 1]
    tiles = [blank, col_images]
    for i in range(len(row_images)):
        tiles += [row_images[i: i + 1], mixed[i]]
    return image_grid(torch.cat(tiles), nrow=len(col_images) + 1)


def layer_resolutions(G: Generator) -> list[int]:
    """The resolution each of the ``num_ws`` ws drives (a block's ToRGB shares its w with the next block's conv)."""
    resolutions: list[int] = []
    for res in G.synthesis.block_resolutions:
        resolutions += [res] * getattr(G.synthesis, f"b{res}").num_conv
    return resolutions + [G.img_resolution] * (G.num_ws - len(resolutions))
