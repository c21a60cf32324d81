"""The first cell of every notebook: makes it run on Colab, in a local checkout, or from the bundle.

Its text lives in ``autograder/setup_cell.txt`` only; a test checks that every source notebook starts with it, and
``python -m autograder release`` writes the configured bundle location into it.
"""

from pathlib import Path

BUNDLE_URL_LINE = "BUNDLE_URL = None  # where the course bundle is published; written by the release"

# The cell's text is a file of its own (not a string in this module), read once at import.
SETUP_CELL = Path(__file__).with_name("setup_cell.txt").read_text(encoding="utf-8")
