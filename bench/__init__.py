"""The kit's benchmarks: scripts that measure it (time, quality, grading), run from the kit's root as
``python -m bench.<name>``; their figures go into the README's tables and ``bench/results/``."""
