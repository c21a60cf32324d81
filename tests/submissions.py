"""Make realistic student submissions (:func:`autograder.solutions.filled_release`), the session's course, and read
per-test scores back from the gradebook."""

from __future__ import annotations

from pathlib import Path

from nbgrader.api import Gradebook

from autograder.solutions import filled_release

__all__ = ["build_course", "cell_scores", "filled_release"]  # filled_release lives in the kit (the benches use it)


def build_course(config, tmp_path_factory) -> dict:
    """A course directory and a release built from ``config``'s source notebooks (for a module-scoped fixture)."""
    from autograder.release import build_release

    root = tmp_path_factory.mktemp("course")
    made = build_release(config, dist=root / "dist", course_dir=root / "course")
    return {"root": root / "course", **made}


def cell_scores(course_root: Path, assignment: str, student: str, grade_ids) -> dict[str, float]:
    """The gradebook's score of each of ``grade_ids`` for one student's notebook ``assignment``."""
    with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gb:
        return {g: gb.find_grade(g, assignment, assignment, student).score for g in grade_ids}
