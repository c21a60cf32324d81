"""Checkpoints that survive interruptions: atomic writes, and a clear error on a mismatched resume."""

from __future__ import annotations

import dataclasses
import os
import zlib
from pathlib import Path
from typing import Any

import torch


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` with ``torch.save`` atomically.

    The file is first written beside its destination and then renamed, so an
    interruption (a Colab disconnect, Ctrl-C) never leaves a half-written checkpoint.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, map_location: torch.device | str | None = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`, with a clear error if it is unreadable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # a truncated or foreign file
        raise ValueError(f"checkpoint {path} could not be read ({exc.__class__.__name__}: {exc}); "
                         "delete it to start over") from exc


def config_differences(saved: dict[str, Any], current: Any, ignore: tuple[str, ...] = ()) -> list[str]:
    """Fields of the dataclass ``current`` whose value differs from the ``saved`` dict, as readable strings."""
    now = dataclasses.asdict(current)
    # Fields renamed since the checkpoint was written (helpers.core.run.renamed_fields) count under their new name.
    renamed = getattr(type(current), "RENAMED_FIELDS", {})
    saved = {renamed.get(key, key): value for key, value in saved.items()}
    # A field added after the checkpoint was written counts as its default (old runs keep resuming).
    defaults = {f.name: f.default for f in dataclasses.fields(current) if f.default is not dataclasses.MISSING}
    return [
        f"{key}: checkpoint has {saved.get(key, defaults.get(key))!r}, config has {value!r}"
        for key, value in now.items()
        if key not in ignore and saved.get(key, defaults.get(key)) != value
    ]


def rng_state(*generators: torch.Generator) -> dict[str, Any]:
    """Snapshot of the global torch RNG (CPU and CUDA) and of the given generators."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "generators": [g.get_state() for g in generators],
    }


def restore_rng_state(state: dict[str, Any], *generators: torch.Generator) -> None:
    """Undo :func:`rng_state`, so that a resumed run draws the same random numbers as an uninterrupted one."""
    # States are CPU byte tensors, even when the checkpoint was loaded with map_location="cuda".
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    for generator, saved in zip(generators, state["generators"]):
        try:
            generator.set_state(saved.cpu())
        except RuntimeError:
            # A state saved on another kind of device (a GPU run resumed on the CPU, or the reverse) does not fit
            # this generator: seed it from the saved state instead, so that the resume stays deterministic.
            generator.manual_seed(zlib.crc32(bytes(saved.cpu().numpy())))


def check_resumable(state: dict[str, Any], config: Any, out_dir: str | Path, ignore: tuple[str, ...] = ()) -> None:
    """Refuse to resume from a checkpoint made with another configuration, naming the fields that differ."""
    diffs = config_differences(state["config"], config, ignore=ignore)
    if diffs:
        raise ValueError(f"the checkpoint in {out_dir} was made with another configuration ("
                         + "; ".join(diffs) + "): use another out_dir, or resume=False to start over")
