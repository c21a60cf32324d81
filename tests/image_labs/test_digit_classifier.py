"""The kit's digit classifier (shipped weights) and its quality numbers: target rate and Frechet distance."""

from __future__ import annotations

import pytest
import torch

from helpers.image_labs.data import offline_digits
from helpers.image_labs.digit_classifier import (
    SHIPPED_WEIGHTS,
    DigitClassifier,
    _augment,
    digit_quality,
    frechet_distance,
    load_digit_classifier,
)


@pytest.fixture(scope="module")
def classifier() -> DigitClassifier:
    assert SHIPPED_WEIGHTS.is_file(), "data/digit_classifier.pt ships with the kit"
    assert SHIPPED_WEIGHTS.stat().st_size < 1_000_000
    return load_digit_classifier()


@pytest.fixture(scope="module")
def digits():
    return offline_digits(train=True), offline_digits(train=False)


def test_the_shipped_classifier_reads_held_out_digits(classifier, digits):
    _, (test_x, test_y) = digits
    with torch.no_grad():
        accuracy = float((classifier(test_x).argmax(1) == test_y).float().mean())
        padded = torch.nn.functional.pad(test_x, (2, 2, 2, 2), value=-1.0)
        assert torch.equal(classifier(padded).argmax(1), classifier(test_x).argmax(1))  # 32x32 inputs are cropped
    assert accuracy > 0.95
    assert not classifier.training


def test_classifier_rejects_colour_or_odd_sizes(classifier):
    with pytest.raises(ValueError, match="grey digits"):
        classifier(torch.zeros(2, 3, 28, 28))
    with pytest.raises(ValueError, match="grey digits"):
        classifier.features(torch.zeros(2, 1, 64, 64))
    with pytest.raises(FileNotFoundError):
        load_digit_classifier("/no/such/weights.pt")


def test_frechet_distance_matches_the_gaussian_formula():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 3, generator=gen, dtype=torch.float64)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # Diagonal covariances: |mu_a - mu_b|^2 + sum (sigma_a - sigma_b)^2.
    b = torch.randn(20000, 3, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 2.0, 3.0]) + 1.0
    assert frechet_distance(a, b) == pytest.approx(3 * 1.0 + (0 + 1 + 4), rel=0.05)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)
    with pytest.raises(ValueError, match="same D"):
        frechet_distance(a, a[:, :2])
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(a[:1], a)


def test_quality_numbers_separate_real_digits_from_noise_and_from_other_digits(classifier, digits):
    (train_x, train_y), (test_x, test_y) = digits
    real_sevens = train_x[train_y == 7]
    held_out = digit_quality(test_x[test_y == 7], real_sevens, target_digit=7, classifier=classifier)
    threes = digit_quality(test_x[test_y == 3], real_sevens, target_digit=7, classifier=classifier)
    noise = digit_quality(torch.rand(100, 1, 28, 28) * 2 - 1, real_sevens, target_digit=7, classifier=classifier)
    assert held_out["target_rate"] > 0.9 and threes["target_rate"] < 0.1 and noise["target_rate"] < 0.5
    assert held_out["frechet"] < threes["frechet"] and held_out["frechet"] < noise["frechet"]
    assert 0.9 < held_out["confidence"] <= 1.0
    assert "target_rate" not in digit_quality(test_x, train_x, classifier=classifier)
    with pytest.raises(ValueError, match="target_digit"):
        digit_quality(test_x, train_x, target_digit=12, classifier=classifier)


def test_augmentation_keeps_shape_background_and_the_digit(classifier, digits):
    (train_x, train_y), _ = digits
    moved = _augment(train_x[:200], torch.Generator().manual_seed(0))
    assert moved.shape == (200, 1, 28, 28) and not torch.equal(moved, train_x[:200])
    assert float(moved[:, :, 0, 0].max()) == pytest.approx(-1.0)  # corners stay background
    with torch.no_grad():
        assert float((classifier(moved).argmax(1) == train_y[:200]).float().mean()) > 0.9
