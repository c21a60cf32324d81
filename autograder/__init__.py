"""Instructor tooling on top of nbgrader: release, autograde, feedback, export (``python -m autograder``).

Not part of the student bundle: it knows where the solutions are.
"""
