"""Command line: ``python -m autograder {release,grade,feedback,export}``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from autograder.config import load_config
from autograder.course import DEFAULT_COURSE_DIR, run_nbgrader


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    parser.add_argument("--course-dir", type=Path, default=DEFAULT_COURSE_DIR,
                        help="the nbgrader course directory (default: build/course)")
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="build the student release notebooks and bundle")
    rel.add_argument("--dist", type=Path, default=None, help="output folder (default: dist/)")
    sub.add_parser("execute", help="execute every source notebook top to bottom in fast mode (build/executed/)")
    grade = sub.add_parser("grade", help="autograde a folder of submissions")
    grade.add_argument("folder", type=Path)
    grade.add_argument("--workers", type=int, default=None, help="parallel grading workers (default: CPU cores)")
    sub.add_parser("feedback", help="generate HTML feedback for every graded submission")
    export = sub.add_parser("export", help="export the gradebook to CSV")
    export.add_argument("--to", type=Path, default=Path("grades.csv"))
    args = parser.parse_args(argv)
    config = load_config()
    root = args.course_dir.resolve()

    if args.command == "release":
        from autograder.release import DEFAULT_DIST, build_release

        made = build_release(config, args.dist or DEFAULT_DIST, root)
        for notebook in made["notebooks"]:
            print(f"release notebook: {notebook}")
        print(f"student bundle:   {made['bundle']}")
    elif args.command == "execute":
        from autograder.execute import execute_all

        for path in execute_all([config.source_notebook(a) for a in config.assignments]):
            print(f"executed: {path}")
    elif args.command == "grade":
        from autograder.grade import format_table, grade_folder

        result = grade_folder(args.folder, config, root, log=lambda m: print(m, file=sys.stderr),
                              workers=args.workers)
        print(format_table(result))
        print(json.dumps(result))
    elif args.command == "feedback":
        for assignment in config.assignments:
            if not any((root / "autograded").glob(f"*/{assignment}")):
                continue  # nothing graded for this notebook yet (nbgrader would fail on it)
            proc = run_nbgrader(["generate_feedback", assignment, "--force"], root)
            if proc.returncode != 0:
                print(proc.stdout + proc.stderr, file=sys.stderr)
                return proc.returncode
        print(f"feedback: {root / 'feedback'}")
    elif args.command == "export":
        target = args.to.resolve()
        proc = run_nbgrader(["export", "--to", str(target)], root)
        if proc.returncode != 0:
            print(proc.stdout + proc.stderr, file=sys.stderr)
            return proc.returncode
        print(f"grades: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
