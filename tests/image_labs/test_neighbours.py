"""Nearest training neighbours of generated images, and the figure of pairs."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from helpers.image_labs.neighbours import nearest_training_images, save_nearest_neighbours


def _training() -> torch.Tensor:
    return torch.rand(50, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1


def _exact_cdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise L2 distances without the matrix-product shortcut (which cancels, BLAS-dependently, in float32)."""
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def test_a_copy_finds_its_original_at_distance_zero_and_a_new_image_does_not():
    training = _training()
    copies = training[[7, 3, 41]]
    index, distance = nearest_training_images(copies, training, size=None)
    # Exactly zero on any BLAS (|a|^2 + |b|^2 - 2ab gave 0.0078 on one machine, 0 on another).
    assert index.tolist() == [7, 3, 41] and torch.equal(distance, torch.zeros(3))
    index, distance = nearest_training_images(copies, training)  # downscaled copies too
    assert index.tolist() == [7, 3, 41] and torch.equal(distance, torch.zeros(3))
    noisy = training[[12]] + 0.05 * torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    index, distance = nearest_training_images(noisy, training, size=None)
    assert index.tolist() == [12] and distance.item() > 0.1
    assert index.dtype == torch.int64 and distance.dtype == torch.float32


def test_it_agrees_with_brute_force_in_chunks_and_on_downscaled_copies():
    training = _training()
    generated = torch.rand(9, 3, 16, 16, generator=torch.Generator().manual_seed(2)) * 2 - 1
    brute = _exact_cdist(generated.flatten(1), training.flatten(1))
    index, distance = nearest_training_images(generated, training, size=None, chunk=7)
    assert torch.equal(index, brute.argmin(1)) and torch.allclose(distance, brute.min(1).values, atol=1e-4)
    small = torch.nn.functional.avg_pool2d(training, 2).flatten(1)
    brute = _exact_cdist(torch.nn.functional.avg_pool2d(generated, 2).flatten(1), small)
    index, distance = nearest_training_images(generated, training, size=8, chunk=11)
    assert torch.equal(index, brute.argmin(1)) and torch.allclose(distance, brute.min(1).values, atol=1e-4)


def test_excluded_indices_are_skipped_in_every_chunk():
    training = _training()
    mirrored = torch.cat([training, training.flip(-1)])
    queries = torch.tensor([4, 30])
    index, distance = nearest_training_images(mirrored[queries], mirrored, size=None, chunk=9,
                                              exclude=torch.stack([queries, queries + 50], 1))
    brute = _exact_cdist(training[queries].flatten(1), mirrored.flatten(1))
    brute[[0, 0, 1, 1], [4, 54, 30, 80]] = float("inf")
    assert torch.equal(index, brute.argmin(1)) and torch.allclose(distance, brute.min(1).values, atol=1e-4)
    assert distance.min() > 1.0 and not set(index.tolist()) & {4, 54, 30, 80}
    index, _ = nearest_training_images(training[[7]], training, size=None, exclude=torch.tensor([7]))
    assert index.item() != 7


def test_shapes_must_match():
    with pytest.raises(ValueError, match="one shape"):
        nearest_training_images(torch.zeros(2, 3, 16, 16), torch.zeros(5, 1, 16, 16))
    with pytest.raises(ValueError, match="at least one"):
        nearest_training_images(torch.zeros(2, 3, 16, 16), torch.zeros(0, 3, 16, 16))


def test_the_figure_of_pairs(tmp_path):
    training = _training()
    path = save_nearest_neighbours(training[:20] * 0.9, training, tmp_path / "a" / "nearest.png", size=8,
                                   max_pairs=6)
    assert path == tmp_path / "a" / "nearest.png"
    with Image.open(path) as figure:
        width, height = figure.size
    assert width > height > 200
