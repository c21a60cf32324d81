"""The style-mixing figure and layer resolutions of the StyleGAN2 notebook (the mixing is the students' TODO 5: these
tests pass their own reference, which is not shipped)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.core.plotting import image_grid
from helpers.stylegan2 import tools
from helpers.stylegan2.generator import Generator
from helpers.stylegan2.tools import style_mixing_grid


def reference_style_mix(G, row_ws, col_ws, col_styles):
    """Cell (i, j): row i's ws with column j's at the layers ``col_styles``, constant noise (batched)."""
    rows, cols = len(row_ws), len(col_ws)
    ws = row_ws.unsqueeze(1).repeat(1, cols, 1, 1)
    styles = list(col_styles)
    if styles:
        ws[:, :, styles] = col_ws[:, styles].unsqueeze(0).expand(rows, -1, -1, -1)
    with torch.no_grad():
        images = G.synthesis(ws.reshape(rows * cols, *row_ws.shape[1:]), noise_mode="const")
    return images.reshape(rows, cols, *images.shape[1:])


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    G = Generator(8, 0, 8, 16, 3, {"num_layers": 2}, {"channel_base": 64, "channel_max": 8}).eval()
    G.mapping.w_avg.copy_(torch.randn(8))
    for name, p in G.named_parameters():
        if name.endswith("noise_strength"):
            p.data.fill_(0.3)
    return G


def test_the_shipped_tools_hold_no_style_mixing_answer():
    assert not hasattr(tools, "style_mix"), "style_mix is the students' TODO 5"
    text = (tools.__doc__ or "").lower()
    assert not any(word in text for word in ("pose", "colour", "color", "texture", "shape")), \
        "the docstring must not answer the notebook's style-mixing question"


def test_the_grid_lays_out_columns_on_top_and_rows_on_the_left(G):
    row_z, col_z = torch.randn(2, 8), torch.randn(3, 8)
    grid = np.asarray(style_mixing_grid(G, row_z, col_z, [], reference_style_mix, truncation_psi=0.5))
    assert grid.shape == (3 * 18 + 2, 4 * 18 + 2, 3)
    assert (grid[2:18, 2:18] == 255).all(), "the top-left corner is blank"
    with torch.no_grad():
        rows = G(row_z, None, truncation_psi=0.5)
        cols = G(col_z, None, truncation_psi=0.5)
    top = np.asarray(image_grid(cols, nrow=3))
    assert np.array_equal(grid[:20, 18:], top)
    second_row = np.asarray(image_grid(rows[1:].repeat(4, 1, 1, 1), nrow=4))  # its image, then 3 unmixed copies
    assert np.array_equal(grid[36:], second_row)
    every = np.asarray(style_mixing_grid(G, row_z, col_z, range(G.num_ws), reference_style_mix, truncation_psi=0.5))
    assert np.array_equal(every[18:36, 18:], np.asarray(image_grid(cols, nrow=3))[:18]), "all layers: the columns"


def test_the_grid_passes_truncated_ws_and_checked_styles_to_the_mixing_function(G):
    seen = {}

    def spy(G_, row_ws, col_ws, col_styles):
        seen.update(row_ws=row_ws.clone(), col_ws=col_ws.clone(), styles=col_styles)
        row_ws.zero_()  # mixing in place must not spoil the figure's row images
        return reference_style_mix(G_, row_ws, col_ws, col_styles)

    row_z, col_z = torch.randn(2, 8), torch.randn(1, 8)
    style_mixing_grid(G, row_z, col_z, (1, 3), spy, truncation_psi=0.5)
    assert torch.allclose(seen["row_ws"], G.mapping(row_z, None, truncation_psi=0.5))
    assert torch.allclose(seen["col_ws"], G.mapping(col_z, None, truncation_psi=0.5))
    assert seen["styles"] == [1, 3]


def test_errors_say_what_is_wrong(G):
    with pytest.raises(ValueError, match=r"col_styles must be layer indices in \[0, 6\)"):
        style_mixing_grid(G, torch.randn(1, 8), torch.randn(1, 8), [6], reference_style_mix)
    with pytest.raises(ValueError, match=r"row_z must be a tensor of shape \(N, 8\)"):
        style_mixing_grid(G, torch.randn(2, 5), torch.randn(2, 8), [0], reference_style_mix)
    with pytest.raises(ValueError, match=r"style_mix must return a tensor of shape"):
        style_mixing_grid(G, torch.randn(2, 8), torch.randn(3, 8), [0],
                          lambda *args: reference_style_mix(*args).transpose(0, 1))
