#!/usr/bin/env bash
# Set up a fresh machine: Debian packages (when root and apt-get exist), then the local virtual environment.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    # The emoji font, to rebuild data/emojis.npz (the built data ships; the font is only needed to re-render it).
    if ! dpkg -s fonts-noto-color-emoji >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji
    fi
    # The writeup (python -m helpers.core.writeup): pdflatex and latexmk, listings.sty for the code, and poppler's
    # pdftotext/pdfimages for its test.
    missing=""
    for package in latexmk texlive-latex-base texlive-latex-recommended poppler-utils; do
        dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
    done
    if [ -n "$missing" ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    fi
    # Sharded grading on Slurm (scripts/grade-slurm.sh; tests/test_slurm.py starts a single-node Slurm with them).
    missing=""
    for package in slurm-wlm munge; do
        dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
    done
    if [ -n "$missing" ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    fi
    # The formgrader's browser test (tests/test_lms.py): Debian's chromium and its chromedriver, driven by selenium.
    missing=""
    for package in chromium chromium-driver; do
        dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
    done
    if [ -n "$missing" ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r requirements-dev.txt -c constraints-local.txt
touch "$VENV/.installed"
