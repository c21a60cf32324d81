"""Run at the start of a notebook kernel that ``bench/student_time.py`` starts (this folder is first on its
``PYTHONPATH``): installs the timing slices (:mod:`bench.timing`) when ``KIT_TIME_SLICE`` is set."""

import os

if os.environ.get("KIT_TIME_SLICE"):
    from bench.timing import install

    install()
