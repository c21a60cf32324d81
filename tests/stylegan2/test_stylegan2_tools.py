"""The provided style-mixing helpers of the StyleGAN2 notebook."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.core.plotting import image_grid
from helpers.stylegan2.generator import Generator
from helpers.stylegan2.tools import layer_resolutions, style_mix, style_mixing_grid


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    G = Generator(8, 0, 8, 16, 3, {"num_layers": 2}, {"channel_base": 64, "channel_max": 8}).eval()
    G.mapping.w_avg.copy_(torch.randn(8))
    for name, p in G.named_parameters():
        if name.endswith("noise_strength"):
            p.data.fill_(0.3)
    return G


def test_no_column_styles_gives_the_row_images_and_all_give_the_column_images(G):
    row_ws, col_ws = G.mapping(torch.randn(2, 8), None), G.mapping(torch.randn(3, 8), None)
    with torch.no_grad():
        row_images, col_images = G.synthesis(row_ws), G.synthesis(col_ws)
    none = style_mix(G, row_ws, col_ws, [])
    every = style_mix(G, row_ws, col_ws, range(G.num_ws))
    assert none.shape == (2, 3, 3, 16, 16)
    for j in range(3):
        assert torch.allclose(none[:, j], row_images, atol=1e-5)
        assert torch.allclose(every[:, j], col_images.expand(2, -1, -1, -1, -1)[:, j], atol=1e-5)
    partial = style_mix(G, row_ws, col_ws, [0, 1])
    assert not torch.allclose(partial[0, 0], row_images[0], atol=1e-3)
    assert not torch.allclose(partial[0, 0], col_images[0], atol=1e-3)


def test_the_grid_lays_out_columns_on_top_and_rows_on_the_left(G):
    row_z, col_z = torch.randn(2, 8), torch.randn(3, 8)
    grid = np.asarray(style_mixing_grid(G, row_z, col_z, [], truncation_psi=0.5))
    assert grid.shape == (3 * 18 + 2, 4 * 18 + 2, 3)
    assert (grid[2:18, 2:18] == 255).all(), "the top-left corner is blank"
    with torch.no_grad():
        rows = G(row_z, None, truncation_psi=0.5)
        cols = G(col_z, None, truncation_psi=0.5)
    top = np.asarray(image_grid(cols, nrow=3))
    assert np.array_equal(grid[:20, 18:], top)
    second_row = np.asarray(image_grid(rows[1:].repeat(4, 1, 1, 1), nrow=4))  # its image, then 3 unmixed copies
    assert np.array_equal(grid[36:], second_row)


def test_layer_resolutions_and_errors(G):
    assert layer_resolutions(G) == [4, 8, 8, 16, 16, 16]
    with pytest.raises(ValueError, match=r"col_styles must be layer indices in \[0, 6\)"):
        style_mix(G, G.mapping(torch.randn(1, 8), None), G.mapping(torch.randn(1, 8), None), [6])
    with pytest.raises(ValueError, match=r"row_z must be a tensor of shape \(N, 8\)"):
        style_mixing_grid(G, torch.randn(2, 5), torch.randn(2, 8), [0])
