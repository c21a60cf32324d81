"""The README keeps its promises: two commands, a Colab badge per notebook, CI runs the test command."""

from __future__ import annotations

from autograder.config import KIT_ROOT, load_config

README = (KIT_ROOT / "README.md").read_text()


def test_every_notebook_has_an_open_in_colab_badge():
    config = load_config()
    for assignment in config.assignments:
        assert f"({config.colab_base}/{assignment}.ipynb)" in README, f"no Colab badge for {assignment}"


def test_the_two_commands_and_ci():
    assert "make all" in README and "make test" in README
    assert "make test" in (KIT_ROOT / ".ci" / "run").read_text()
    makefile = (KIT_ROOT / "Makefile").read_text()
    assert "all: setup data notebooks release" in makefile
