"""Execute notebooks top to bottom (fast mode), as the main job does and as the kit's tests do."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograder.config import KIT_ROOT

DEFAULT_RUN_DIR = KIT_ROOT / "build" / "executed"


def execute_notebook(notebook: Path, workdir: Path, env: dict[str, str] | None = None,
                     cell_timeout: int = 600, kernel_name: str = "python3") -> nbformat.NotebookNode:
    """Run ``notebook`` in ``workdir`` (its outputs go there) and save the executed copy beside them.

    ``env`` entries are added to the kernel's environment (``KIT_FAST=1`` by default). Raises
    ``nbclient.exceptions.CellExecutionError`` naming the failing cell if one fails.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(notebook, as_version=4)
    kernel_env = {**os.environ, "KIT_FAST": "1", **(env or {})}
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(workdir)}})
    # nbclient passes env through the kernel manager's start arguments.
    client.execute(env=kernel_env)
    nbformat.write(nb, workdir / notebook.name)
    return nb


def execute_all(notebooks: list[Path], run_dir: Path = DEFAULT_RUN_DIR) -> list[Path]:
    """Execute each notebook in its own folder under ``run_dir``; returns the executed copies."""
    done = []
    for notebook in notebooks:
        workdir = run_dir / notebook.stem
        if workdir.exists():
            shutil.rmtree(workdir)
        execute_notebook(notebook, workdir)
        done.append(workdir / notebook.name)
    return done
