#!/usr/bin/env bash
# Grade a course on a Slurm cluster: the release once, one shard of the submissions per array task, then a merge
# job (after every task, finished or failed) that merges the shards into the course and, when nothing is missing,
# writes the feedback and the CSV exports. The course directory and the submissions must be on a file system every
# node sees (the cluster's home or scratch), and the kit's virtual environment too.
#
#   scripts/grade-slurm.sh [options] SUBMISSIONS COURSE_DIR
#     -n N          shards (array tasks), default 8
#     -c CPUS       cores per task (the grading workers), default 2
#     -o LIST       only these shards again (e.g. 3 or 3,5), after a failure: no release, then the merge
#     -w            wait for the merge job and exit with its status
#     -s "ARGS"     more sbatch options for every job (e.g. "--partition=short --time=02:00:00 --account=cs101")
#     -p PYTHON     the kit's Python (default: .venv/bin/python of this checkout)
#     -k KIT_TOML   the kit configuration (default: kit.toml of this checkout)
#
# A shard that fails (a node lost, a time limit) leaves the course untouched; the merge job then merges the others
# and lists the missing students (exit 3) and skips feedback and export. Re-run: scripts/grade-slurm.sh -o 3 ...
# (the same SUBMISSIONS and -n): the merge is repeated and gives the same gradebook for the shards merged before.
# Logs: COURSE_DIR/slurm-logs/. Job ids are printed, e.g. to `squeue -j` or `scancel` them.
set -euo pipefail
KIT="$(cd "$(dirname "$0")/.." && pwd)"
SHARDS=8 CPUS=2 ONLY="" WAIT=0 EXTRA="" PYTHON="$KIT/.venv/bin/python" CONFIG="$KIT/kit.toml"
while getopts "n:c:o:ws:p:k:h" opt; do
    case "$opt" in
        n) SHARDS="$OPTARG" ;;
        c) CPUS="$OPTARG" ;;
        o) ONLY="$OPTARG" ;;
        w) WAIT=1 ;;
        s) EXTRA="$OPTARG" ;;
        p) PYTHON="$OPTARG" ;;
        k) CONFIG="$(cd "$(dirname "$OPTARG")" && pwd)/$(basename "$OPTARG")" ;;
        *) sed -n '2,19p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || { sed -n '2,19p' "$0"; exit 2; }
SUBMISSIONS="$(cd "$1" && pwd)"
mkdir -p "$2"
COURSE="$(cd "$2" && pwd)"
LOGS="$COURSE/slurm-logs"
mkdir -p "$LOGS"
# shellcheck disable=SC2206 # EXTRA is a list of options
SBATCH=(sbatch --parsable --chdir="$KIT" $EXTRA)
ag() { printf '%q ' "$PYTHON" -m autograder --config "$CONFIG" --course-dir "$COURSE" "$@"; }
# submit COMMAND SBATCH-OPTION...: a bash batch script on sbatch's standard input; prints the job id.
submit() { local cmd="$1"; shift; printf '#!/bin/bash\nset -euo pipefail\n%s\n' "$cmd" | "${SBATCH[@]}" "$@"; }

after=""
if [ -z "$ONLY" ]; then
    # The release, once: every shard copies it, and the merge refuses a shard made from another one (checksums).
    release=$(submit "$(ag release --dist "$COURSE/dist")" --job-name=kit-release --cpus-per-task=1 \
        --output="$LOGS/release-%j.out")
    after="--dependency=afterok:$release"
    echo "release job: $release"
fi
array="${ONLY:-1-$SHARDS}"
# One shard per task, in its own course copy (COURSE/shards/I-of-N): $SLURM_ARRAY_TASK_ID is read by the task.
shard_cmd="$(ag grade "$SUBMISSIONS" --workers "$CPUS") --shard \$SLURM_ARRAY_TASK_ID/$SHARDS \
--course-dir $(printf '%q' "$COURSE")/shards/\${SLURM_ARRAY_TASK_ID}-of-$SHARDS"
# shellcheck disable=SC2086 # $after is empty or one option
grade=$(submit "$shard_cmd" $after --job-name=kit-grade --array="$array" --cpus-per-task="$CPUS" \
    --output="$LOGS/grade-%A_%a.out")
echo "grading array job: $grade (tasks $array of $SHARDS)"
# afterany: the merge runs even when a shard failed, to merge the others and say which students are missing.
# The shards that left a folder (a task that never started left none: the merge reports its part as absent).
merge_cmd="shopt -s nullglob; shards=($(printf '%q' "$COURSE")/shards/*-of-$SHARDS)
$(ag merge) \"\${shards[@]}\"
$(ag feedback)
$(ag export --to "$COURSE/grades.csv")"
wait_opt=()
[ "$WAIT" = 1 ] && wait_opt=(--wait)
set +e
merge=$(submit "$merge_cmd" "${wait_opt[@]}" --dependency="afterany:$grade" --job-name=kit-merge \
    --cpus-per-task=1 --output="$LOGS/merge-%j.out")
status=$?
set -e
echo "merge job: ${merge%%;*} (then feedback, export: $COURSE/grades.csv)"
exit "$status"
