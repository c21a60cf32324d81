"""Shared fixtures: the reference DCGAN solution (from the source notebook) and the emoji data."""

from __future__ import annotations

import pytest
import torch

from autograder.solutions import load_reference
from helpers.core.emoji_data import load_emojis


@pytest.fixture(scope="session")
def dcgan_reference():
    """The source notebook's solution cells, executed as a module."""
    return load_reference("dcgan")


@pytest.fixture(scope="session")
def emojis() -> tuple[torch.Tensor, torch.Tensor]:
    """A small slice of the shipped train and test emojis (32x32)."""
    return load_emojis("train")[:200], load_emojis("test")[:64]
