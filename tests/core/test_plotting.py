"""The image grid the notebooks save: torchvision's layout, without importing torchvision."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers.core.plotting import image_grid, tile
from helpers.core.runtime import KIT_ROOT


@pytest.mark.parametrize(("count", "channels", "nrow", "padding"),
                         [(1, 3, 10, 2), (7, 3, 3, 2), (10, 1, 10, 2), (12, 3, 5, 0), (4, 1, 2, 3), (3, 3, 8, 1)])
def test_the_grid_is_torchvision_s(count, channels, nrow, padding):
    make_grid = pytest.importorskip("torchvision.utils").make_grid
    images = torch.rand(count, channels, 5, 4, generator=torch.Generator().manual_seed(count)) * 2.4 - 1.2
    want = make_grid(images.clone(), nrow=nrow, padding=padding, normalize=True, value_range=(-1, 1),
                     pad_value=1.0)
    got = tile((images.clamp(-1, 1) + 1) / 2, nrow=nrow, padding=padding, pad_value=1.0)
    assert got.shape == want.shape
    assert torch.allclose(got, want, atol=1e-6)
    pixels = np.asarray(image_grid(images, nrow=nrow, padding=padding))
    assert pixels.shape == (*want.shape[1:], 3)
    assert np.array_equal(pixels, (want.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy())


def test_a_grid_leaves_its_input_alone_and_refuses_a_single_image():
    images = torch.zeros(2, 3, 4, 4)
    image_grid(images)
    assert torch.count_nonzero(images) == 0
    with pytest.raises(ValueError, match="batch of images"):
        image_grid(torch.zeros(3, 4, 4))


def test_the_plotting_module_does_not_import_torchvision():
    """torchvision loads torch's compiler (2 s), in every notebook kernel and verification run that shows a grid."""
    code = "import sys, helpers.core.plotting; print('torchvision' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=KIT_ROOT, check=True)
    assert out.stdout.strip() == "False"
