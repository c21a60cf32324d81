"""Make realistic student submissions (:func:`autograder.solutions.filled_release`), the session's course, and read
per-test scores back from the gradebook."""

from __future__ import annotations

from autograder.quality import cell_scores
from autograder.solutions import filled_release

# filled_release and cell_scores live in the kit (autograder.solutions, autograder.quality: the benches use them)
__all__ = ["build_course", "cell_scores", "filled_release"]


def build_course(config, tmp_path_factory) -> dict:
    """A course directory and a release built from ``config``'s source notebooks (for a module-scoped fixture)."""
    from autograder.release import build_release

    root = tmp_path_factory.mktemp("course")
    made = build_release(config, dist=root / "dist", course_dir=root / "course")
    return {"root": root / "course", **made}
