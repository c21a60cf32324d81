"""The grading kernel's guards (autograder/kernel_guard.py), imported and run against a stand-in shell."""

from __future__ import annotations

import io
import os
import sys
from types import SimpleNamespace

import torch

from autograder import kernel_guard
from autograder.guarded import GUARDED
from autograder.sandbox import DEFAULT_MAX_OUTPUT, KERNEL_GUARD, kernel_guard_lines
from helpers.core.notebook_format import TEST_MARKER


class _Shell:
    """What install() uses of IPython's shell: its events."""

    def __init__(self) -> None:
        self.callbacks: list = []
        self.events = SimpleNamespace(register=lambda name, callback: self.callbacks.append((name, callback)))


def test_the_kernel_runs_this_module_with_the_shared_list():
    assert repr(TEST_MARKER) in KERNEL_GUARD and repr(GUARDED) in KERNEL_GUARD
    assert "def install(shell, marker, guarded" in KERNEL_GUARD, "the module's own text, not a copy"
    assert "from __future__" not in KERNEL_GUARD, "IPython would keep the flag for the student's cells"
    assert KERNEL_GUARD.rstrip().splitlines()[-2].endswith(f", {DEFAULT_MAX_OUTPUT!r})")
    # The grading's own output limit (kit.toml's max_output_chars, passed as KIT_SANDBOX_MAX_OUTPUT), not the default.
    assert kernel_guard_lines(1234).rstrip().splitlines()[-2].endswith(", 1234)")


def test_before_a_test_cell_patched_library_functions_are_put_back_and_exit_is_refused():
    shell, original_allclose = _Shell(), torch.allclose
    saved = (os._exit, sys.stdout, sys.stderr)
    try:
        before_cell = kernel_guard.install(shell, TEST_MARKER, GUARDED, default_limit=50)
        assert [name for name, _ in shell.callbacks] == ["pre_run_cell"]
        torch.allclose = lambda *a, **k: True
        before_cell(SimpleNamespace(raw_cell="x = 1"))
        assert torch.allclose(torch.zeros(1), torch.ones(1)), "only test cells restore"
        before_cell(SimpleNamespace(raw_cell=f"{TEST_MARKER}\nassert True"))
        assert torch.allclose is original_allclose
        try:
            os._exit(3)
        except SystemExit as exc:
            assert "os._exit(3)" in str(exc)
        else:
            raise AssertionError("os._exit ended the process")
    finally:
        torch.allclose = original_allclose
        os._exit, sys.stdout, sys.stderr = saved


def test_a_cells_output_is_cut_at_the_limit():
    sink = io.StringIO()
    stream = kernel_guard.LimitedStream(sink, 10)
    stream.write("abcdef")
    stream.write("ghijklmnop")
    stream.write("more")
    assert sink.getvalue().startswith("abcdefghij\n[output cut by the grader: over 10 characters]")
    assert "more" not in sink.getvalue()
    stream.reset()
    stream.write("again")
    assert sink.getvalue().endswith("again")


def test_restore_names_what_it_put_back():
    holder = SimpleNamespace(f=len)
    saved = kernel_guard.snapshot([holder])
    holder.f = max
    assert kernel_guard.restore(saved) == ["?.f"] and holder.f is len
