"""The optional 1-D exercise's reference (the source notebook's ``numpy_gan`` solution region): a GAN from scratch in
NumPy with plain gradient descent."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest

from autograder.config import load_config
from autograder.solutions import load_reference

TARGETS = [(4.0, 1.25), (0.0, 1.0), (-3.0, 2.0)]  # the notebook's three 1-D targets


@pytest.fixture(scope="module")
def train_gan():
    """The notebook's reference ``train_gan(mean, std, epochs, seed)``."""
    return load_reference("toy_gan").train_gan


def _moments(generator) -> tuple[float, float]:
    x = generator(np.random.default_rng(0).standard_normal(500))
    return float(x.mean()), float(x.std())


@pytest.mark.parametrize("mean, std", TARGETS)
def test_it_learns_each_target_within_a_tenth_of_a_std(train_gan, mean, std):
    """The notebook's check: 500 samples within 0.1 std of the mean and 10% of the std (seed 42, and seed 1)."""
    for seed in (42, 1):
        got_mean, got_std = _moments(train_gan(mean, std, seed=seed))
        assert abs(got_mean - mean) <= 0.1 * std, (seed, got_mean)
        assert abs(got_std - std) <= 0.1 * std, (seed, got_std)


def test_same_seed_same_generator_and_the_losses_are_recorded(train_gan):
    a = train_gan(0.0, 1.0, epochs=50, seed=3)
    b = train_gan(0.0, 1.0, epochs=50, seed=3)
    z = np.linspace(-2, 2, 5)
    assert np.array_equal(a(z), b(z))
    assert not np.array_equal(a(z), train_gan(0.0, 1.0, epochs=50, seed=4)(z))
    assert len(a.history) == 50 and all(np.isfinite(h).all() for h in np.array(a.history))


def test_hand_derived_gradients_match_finite_differences(train_gan):
    rng = np.random.default_rng(0)
    D = train_gan(0.0, 1.0, epochs=3, seed=0).discriminator
    x, weights = rng.normal(size=7), rng.normal(size=7)
    h, logits = D.forward(x)
    params, grad_x = D.backward(x, h, weights)  # loss = weights . logits
    eps = 1e-6
    for name in ("a", "c", "v"):
        value = getattr(D, name)
        for i in range(len(value)):
            bumped = value.copy()
            bumped[i] += eps
            other = type(D)(**{**D.__dict__, name: bumped})
            numeric = (weights @ other.logits(x) - weights @ logits) / eps
            assert abs(numeric - params[name][i]) < 1e-4, name
    numeric_d = (weights @ type(D)(**{**D.__dict__, "d": D.d + eps}).logits(x) - weights @ logits) / eps
    assert abs(numeric_d - params["d"]) < 1e-4
    numeric_x = (D.logits(x + eps) - logits) * weights / eps
    assert np.allclose(grad_x, numeric_x, atol=1e-4)


def test_losses_are_stable_for_large_logits(train_gan):
    D = train_gan(0.0, 1.0, epochs=1).discriminator
    big = np.array([-800.0, 800.0])
    assert np.isfinite(D.d_loss(big, big)) and np.isfinite(D.g_loss(big))
    assert D.g_loss(np.array([-800.0])) == pytest.approx(800.0)
    assert np.array_equal(D.sigmoid(np.array([-800.0, 0.0, 800.0])), [0.0, 0.5, 1.0])


def test_bad_arguments(train_gan):
    with pytest.raises(ValueError, match="std must be positive"):
        train_gan(0.0, 0.0)
    with pytest.raises(ValueError, match="at least 1"):
        train_gan(0.0, 1.0, epochs=0)


def test_the_notebooks_optional_check_passes_the_reference_and_skips_the_stub(train_gan, capsys):
    """The notebook's (ungraded) check cell of the optional exercise, run on the reference and on the released stub."""
    nb = nbformat.read(load_config().source_notebook("toy_gan"), 4)
    cells = {c.get("id"): c for c in nb.cells}
    assert cells["numpy-gan"].metadata["nbgrader"] == {"grade": False, "grade_id": "numpy_gan", "locked": False,
                                                       "schema_version": 3, "solution": True, "task": False}
    assert "nbgrader" not in cells["numpy-gan-check"].metadata, "the check cell stays ungraded"
    check = cells["numpy-gan-check"].source
    exec(check, {"np": np, "train_gan": train_gan})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(": within 0.1 std" in line for line in lines), lines
    stub: dict = {"np": np}
    source = cells["numpy-gan"].source
    begin, end = source.index("### BEGIN SOLUTION"), source.index("### END SOLUTION") + len("### END SOLUTION")
    exec(source[:begin] + "# YOUR CODE HERE\n    raise NotImplementedError()" + source[end:], stub)
    exec(check, stub)
    assert "not done" in capsys.readouterr().out
