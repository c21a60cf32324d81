"""The kit's configuration (``kit.toml``) and the paths everything else uses."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = KIT_ROOT / "notebooks"


@dataclass(frozen=True)
class KitConfig:
    """Settings an instructor sets once."""

    course_id: str
    assignments: tuple[str, ...]
    bundle_url: str
    colab_base: str
    cell_timeout_s: int = 120
    notebook_timeout_s: int = 900
    memory_limit_mb: int = 6144
    max_output_chars: int = 200_000
    # [submissions] pattern: a named regular expression telling the student of a file (autograder.identity)
    submission_pattern: str | None = None
    # [export] canvas_assignment_ids: notebook -> the Canvas assignment id, for the Canvas CSV's column headers
    canvas_assignment_ids: tuple[tuple[str, str], ...] = ()

    def source_notebook(self, assignment: str) -> Path:
        """The nbgrader source notebook (with solutions and hidden tests) of ``assignment``."""
        if assignment not in self.assignments:
            raise ValueError(f"unknown assignment {assignment!r}; kit.toml lists {list(self.assignments)}")
        return NOTEBOOKS_DIR / f"{assignment}.ipynb"


def load_config(path: str | Path = KIT_ROOT / "kit.toml") -> KitConfig:
    """Read ``kit.toml``, with a clear error for a missing file or field."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"kit configuration not found: {path}")
    data = tomllib.loads(path.read_text())
    try:
        course, grading = data["course"], data.get("grading", {})
        return KitConfig(course_id=course["id"], assignments=tuple(course["assignments"]),
                         bundle_url=course["bundle_url"], colab_base=course["colab_base"],
                         cell_timeout_s=int(grading.get("cell_timeout_s", 120)),
                         notebook_timeout_s=int(grading.get("notebook_timeout_s", 900)),
                         memory_limit_mb=int(grading.get("memory_limit_mb", 6144)),
                         max_output_chars=int(grading.get("max_output_chars", 200_000)),
                         submission_pattern=data.get("submissions", {}).get("pattern") or None,
                         canvas_assignment_ids=tuple((str(k), str(v)) for k, v in
                                                     data.get("export", {}).get("canvas_assignment_ids", {}).items()))
    except KeyError as exc:
        raise ValueError(f"{path} lacks the setting {exc.args[0]!r}") from exc
