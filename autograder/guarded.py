"""The one list of library objects both grading guards watch.

The kernel guard (:mod:`autograder.kernel_guard`) puts their attributes back before every test cell of nbgrader's
run; the verification runner (:mod:`autograder.verify_runner`) imports them before any student code, watches
every library object besides them, and refuses a test cell during which one changed. Neither guard can import
this module (the sandbox hides ``autograder/``), so the grader passes the list to them as data.
"""

from __future__ import annotations

# Dotted names: a module, or a module's class ("torch.Tensor").
GUARDED: tuple[str, ...] = (
    "builtins", "math", "os", "signal", "numpy", "numpy.testing", "torch", "torch.nn", "torch.nn.functional",
    "torch.testing", "torch.optim", "torch.Tensor", "numpy.ndarray")
