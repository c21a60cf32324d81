"""Guards the grading kernel runs before any student code (see :mod:`autograder.sandbox`).

The sandbox hides ``autograder/`` from the kernel, so this file is not imported there: the sandbox passes its
text to the kernel (:func:`autograder.sandbox.kernel_guard_lines`), which runs it in a namespace of its own and
calls :func:`install`. Unit tests import it as a module. It must stay plain Python with no ``__future__`` import
(IPython would keep that compiler flag for the student's cells) and no import of the kit.

These guards make nbgrader's run fairer (a cell cannot end the kernel, flood the output, or keep a library
function it replaced for the tests), but they run inside the student's kernel, so no verdict rests on them: the
verification run (:mod:`autograder.verify`) does.
"""

import importlib
import os
import sys


def resolve(names):
    """The objects of ``names`` ("torch", "torch.Tensor"), leaving out those that do not import."""
    found = []
    for name in names:
        module_name, _, attribute = name.rpartition(".")
        try:
            found.append(importlib.import_module(name))
            continue
        except ImportError:
            pass
        try:
            found.append(getattr(importlib.import_module(module_name), attribute))
        except (ImportError, AttributeError, ValueError):
            pass
    return found


def snapshot(objects):
    """Each object with a copy of its attributes, to put them back later."""
    return [(obj, dict(vars(obj))) for obj in objects]


def restore(saved):
    """Put back every attribute of ``saved`` that was rebound; returns their names."""
    changed = []
    for obj, attributes in saved:
        current = vars(obj)
        for name, value in attributes.items():
            if current.get(name, value) is not value:
                changed.append(f"{getattr(obj, '__name__', '?')}.{name}")
                try:
                    setattr(obj, name, value)
                except (AttributeError, TypeError):
                    pass
    return changed


class LimitedStream:
    """A stream that keeps at most ``limit`` characters per cell (:meth:`reset` starts a cell)."""

    def __init__(self, stream, limit):
        self._stream, self._limit, self._used = stream, limit, 0

    def write(self, text):
        room = self._limit - self._used
        if room <= 0:
            return len(text)
        self._used += len(text)
        if len(text) > room:
            self._stream.write(text[:room] + f"\n[output cut by the grader: over {self._limit} characters]\n")
            return len(text)
        return self._stream.write(text)

    def reset(self, *args):
        self._used = 0

    def __getattr__(self, name):
        return getattr(self._stream, name)


def no_exit(code=0):
    """``os._exit`` in the kernel: a cell may not end the kernel (nbgrader would lose every later cell)."""
    raise SystemExit(f"os._exit({code}) is not allowed while grading")


def install(shell, marker, guarded, default_limit=200_000):
    """Install the guards in ``shell`` (the kernel's IPython); returns the callback run before each cell.

    ``marker`` starts every test cell, ``guarded`` names the library objects to put back before one
    (:data:`autograder.guarded.GUARDED`); a cell's output is cut after ``KIT_SANDBOX_MAX_OUTPUT`` characters
    (``default_limit`` without it).
    """
    try:
        import posix
    except ImportError:
        posix = None
    os._exit = no_exit
    if posix is not None:
        posix._exit = no_exit
    out = LimitedStream(sys.stdout, int(os.environ.get("KIT_SANDBOX_MAX_OUTPUT", default_limit)))
    sys.stdout = sys.stderr = out  # stderr too: a warning in a test cell must not cost points
    originals = snapshot(resolve(guarded))  # after os._exit is replaced: putting back keeps no_exit

    def before_cell(info):
        out.reset()
        if sys.stdout is not out:
            sys.stdout = sys.stderr = out
        source = getattr(info, "raw_cell", "") or ""
        if source.lstrip().startswith(marker):
            restore(originals)
            os._exit = no_exit

    shell.events.register("pre_run_cell", before_cell)
    return before_cell
