"""Shared fixtures: the kit's configuration, the course and release built once per session, the reference DCGAN
solution (from the source notebook), the emoji data, and every notebook executed in fast mode (once per session)."""

from __future__ import annotations

import pytest
import torch

from autograder.solutions import load_reference
from helpers.core.emoji_data import load_emojis
from helpers.core.runtime import KIT_ROOT


@pytest.fixture(scope="session")
def kit_config():
    """kit.toml, as every command reads it."""
    from autograder.config import load_config

    return load_config()


@pytest.fixture(scope="session")
def course(kit_config, tmp_path_factory) -> dict:
    """The course directory and the release of every notebook kit.toml lists, built once per session and shared
    by every test that grades (tests/test_grading.py, the hostile, LMS and leak tests): ``{"root": the nbgrader
    course directory, "notebooks": the release notebooks, "bundle": the student bundle (zip)}``. Tests grade into
    it under student ids of their own, and copy what else they change."""
    from tests.submissions import build_course

    return build_course(kit_config, tmp_path_factory)


@pytest.fixture(scope="session")
def dcgan_reference():
    """The source notebook's solution cells, executed as a module."""
    return load_reference("dcgan")


@pytest.fixture(scope="session")
def emojis() -> tuple[torch.Tensor, torch.Tensor]:
    """A small slice of the shipped train and test emojis (32x32)."""
    return load_emojis("train")[:200], load_emojis("test")[:64]


@pytest.fixture(scope="session")
def executed_notebooks(tmp_path_factory):
    """Every course notebook (the reference solutions) executed in fast mode, as ``make all`` does: a folder
    with ``<notebook>/`` per notebook, each holding the executed copy and its ``outputs/``. Tests copy what they
    change."""
    from autograder.config import load_config
    from autograder.execute import execute_notebook

    config = load_config()
    executed = tmp_path_factory.mktemp("executed")
    for name in config.assignments:
        execute_notebook(config.source_notebook(name), executed / name, env={"PYTHONPATH": str(KIT_ROOT)})
    return executed
