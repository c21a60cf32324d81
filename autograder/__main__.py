"""Command line: ``python -m autograder {release,execute,grade,merge,formgrade,feedback,export}``."""

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
    parser.add_argument("--config", type=Path, default=None,
                        help="the kit configuration (default: kit.toml of this checkout), e.g. another course's")
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="build the student release notebooks and bundle")
    rel.add_argument("--dist", type=Path, default=None, help="output folder (default: dist/)")
    sub.add_parser("execute", help="execute every source notebook top to bottom in fast mode (build/executed/)")
    grade = sub.add_parser("grade", help="autograde a folder of submissions")
    grade.add_argument("folder", type=Path)
    grade.add_argument("--workers", type=int, default=None, help="parallel grading workers (default: CPU cores)")
    grade.add_argument("--roster", type=Path, default=None,
                       help="class roster CSV (id, name, email columns; others kept): names, missing students")
    grade.add_argument("--shard", default=None, metavar="I/N",
                       help="grade only the I-th of N parts of the submissions (split by student) into a course "
                            "copy of its own (--course-dir after grade), to merge with `merge`")
    grade.add_argument("--course-dir", dest="shard_dir", type=Path, default=None,
                       help="with --shard: the shard's own course copy (default: <course>/shards/I-of-N); "
                            "without: the course directory, as before `grade`")
    merge = sub.add_parser("merge", help="merge the gradebooks and notebooks of graded shards into the course")
    merge.add_argument("shards", type=Path, nargs="+", help="the shards' course copies (grade --shard --course-dir)")
    form = sub.add_parser("formgrade", help="open nbgrader's formgrader on the course (grade the written answers)")
    form.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    form.add_argument("--token", default=None, help="the login token (default: a random one, printed)")
    form.add_argument("--open", action="store_true", help="open a web browser on it")
    feedback = sub.add_parser("feedback", help="generate HTML feedback for every graded submission")
    feedback.add_argument("--student", default=None,
                          help="only this student's submissions (say, after a regrade); default: every student")
    export = sub.add_parser("export", help="export the gradebook to CSV: nbgrader's, Canvas's and Moodle's imports")
    export.add_argument("--to", type=Path, default=Path("grades.csv"),
                        help="nbgrader's CSV; <name>-canvas.csv and <name>-moodle.csv are written beside it")
    args = parser.parse_args(argv)
    config = load_config(args.config) if args.config else load_config()
    if args.command == "grade" and args.shard_dir is not None and args.shard is None:
        args.course_dir = args.shard_dir  # `grade FOLDER --course-dir DIR` names the course itself
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
        from autograder.roster import Roster
        from autograder.similarity import format_report

        roster = Roster.load(args.roster) if args.roster else None
        log = lambda m: print(m, file=sys.stderr)  # noqa: E731
        if args.shard is not None:
            from autograder.shard import ShardError, grade_shard, parse_shard

            try:
                index, count = parse_shard(args.shard)
                shard_dir = (args.shard_dir or root / "shards" / f"{index}-of-{count}").resolve()
                result = grade_shard(args.folder, config, root, shard_dir, index, count, log=log,
                                     workers=args.workers, roster=roster)
            except (ShardError, ValueError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(f"shard {index}/{count}: {shard_dir} (merge with `python -m autograder --course-dir {root} "
                  f"merge` and every shard's folder)", file=sys.stderr)
        else:
            result = grade_folder(args.folder, config, root, log=log, workers=args.workers, roster=roster)
        print(format_table(result))
        for key, title in (("superseded", "not graded (an earlier file)"), ("not_on_roster", "not on the roster"),
                           ("missing", "on the roster, no submission (0)"), ("identity_warnings", "identities"),
                           ("identity_conflicts", "a zip's inside names someone else")):
            for line in result.get(key, []):
                print(f"{title}: {line}")
        print(format_report(result.get("similar", [])))
        print(json.dumps(result))
    elif args.command == "merge":
        return merge_command(config, root, args.shards)
    elif args.command == "formgrade":
        from autograder.formgrader import serve

        return serve(root, args.port, args.token, args.open)
    elif args.command == "feedback":
        for assignment in config.assignments:
            graded = (root / "autograded").glob(f"{args.student or '*'}/{assignment}")
            if not any(path.is_dir() for path in graded):
                continue  # nothing graded for this notebook yet (nbgrader would fail on it)
            who = ["--student", args.student] if args.student else []
            proc = run_nbgrader(["generate_feedback", assignment, "--force", *who], root)
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
        from autograder.lms_export import export_lms

        made = export_lms(config, root, target)
        print(f"grades: {target}\ncanvas: {made['canvas']}\nmoodle: {made['moodle']}")
    return 0


def merge_command(config, root: Path, shards: list[Path]) -> int:
    """``merge SHARD...``: merge, print what was merged and what is missing; 2 when refused, 3 when incomplete."""
    from autograder.grade import format_table
    from autograder.shard import EXIT_INCOMPLETE, ShardError, merge_shards
    from autograder.similarity import format_report

    try:
        result = merge_shards(config, root, [s.resolve() for s in shards], log=lambda m: print(m, file=sys.stderr))
    except ShardError as exc:
        print(f"error: nothing merged: {exc}", file=sys.stderr)
        return 2
    print(format_table(result))
    merged = sum(result["merged"].values())
    print(f"merged: {merged} submissions of {len(result['scores'])} students from {len(result['merged'])} shards")
    for key, title in (("unfinished", "shard not finished (not merged; grade it again)"),
                       ("absent_parts", "part not given (grade and merge it)"),
                       ("not_merged", "not merged yet"), ("left_out", "not a regular file (not copied)"),
                       ("superseded", "not graded (an earlier file)"), ("not_on_roster", "not on the roster"),
                       ("missing", "on the roster, no submission (0)"), ("identity_warnings", "identities")):
        for line in result.get(key, []):
            print(f"{title}: {line}")
    print(format_report(result.get("similar", [])))
    print(json.dumps(result))
    return EXIT_INCOMPLETE if result["not_merged"] or result["unfinished"] or result.get("absent_parts") else 0


if __name__ == "__main__":
    sys.exit(main())
