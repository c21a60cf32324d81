"""The verification runner (autograder/verify_runner.py) run in this process: namespace tricks are refused and
flagged, their honest twins pass. The sandbox is not the point here (tests/test_verify.py runs it there)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from autograder.config import KIT_ROOT
from autograder.verify import definitions_only, runner_input
from autograder.verify_runner import Libraries, Runner, dict_counter_reader, own_dunder, plain_problem

PROVIDED = ("import torch\nfrom torch import nn\nimport numpy as np\nKEEP_OUTPUTS = False\n"
            "def helper(x):\n    return x + 1\n")
TEST = ("import torch\n"
        "_x = torch.arange(3.0)\n"
        "_out = double(_x)\n"
        "assert torch.allclose(_out, torch.tensor([0.0, 2.0, 4.0])), 'doubles'\n"
        "assert any([True]) and not any([False]) and abs(-2) == 2 and list(zip([1], [2])) == [(1, 2)]\n"
        "assert helper(1) == 2\n"
        "_opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.5)\n"
        "assert _opt.defaults['lr'] == 0.5\n")
HONEST = "def double(x):\n    return x * 2\n"
STUB = "def double(x):\n    return x\n"


def _run(*student_cells: str, test: str = TEST, added_first: str | None = None,
         exports: tuple[str, ...] | list[str] = ("double",)) -> tuple[dict, list[str]]:
    """Run provided cell, [added cell], answer cells, test cell; returns ({test: (verdict, reason)}, flags)."""
    cells = [{"kind": "provided", "name": "setup", "source": PROVIDED}]
    if added_first is not None:
        cells.append({"kind": "student", "name": "setup-added-0", "source": definitions_only(added_first),
                      "exports": list(exports), "added": True})
    for index, text in enumerate(student_cells):
        cells.append({"kind": "student", "name": f"answer{index}", "source": definitions_only(text),
                      "exports": list(exports), "added": False})
    cells.append({"kind": "test", "name": "t1", "source": test})
    cells.append({"kind": "test", "name": "t2", "source": "assert float(double(torch.tensor(2.0))) == 4.0\n"})
    lines: list[tuple] = []
    Runner(runner_input(cells, "nonce", 0), lambda *words: lines.append(words)).run()
    verdicts = {w[1]: (w[2], w[3]) for w in lines if w[0] == "test"}
    return verdicts, [w[1] for w in lines if w[0] == "flag"]


@pytest.fixture(autouse=True)
def _libraries_untouched():
    """Whatever a case did, this process's libraries are as they were (the runner put them back)."""
    saved = (torch.allclose, torch.optim.SGD.__init__, math.pi, dict(sys.modules))
    yield
    assert (torch.allclose, torch.optim.SGD.__init__, math.pi) == saved[:3]
    assert all(sys.modules.get(name) is module for name, module in saved[3].items())


def test_the_honest_answer_passes_and_the_stub_fails():
    assert _run(HONEST) == ({"t1": ("pass", "-"), "t2": ("pass", "-")}, [])
    verdicts, flags = _run(STUB)
    assert verdicts["t1"] == ("fail", "AssertionError") and verdicts["t2"][0] == "fail" and flags == []


TRICKS = {
    "builtins shadowed": ("def any(*a, **k):\n    return True\ndef abs(x):\n    return 0\n"
                          "def zip(*a, **k):\n    return iter(())\n", "shadows:any_(a_builtin)"),
    "__builtins__ rebound": ("import builtins\n__builtins__ = dict(vars(builtins), any=lambda *a: True)\n",
                             "replaced:__builtins__"),
    "library proxied": ("class Proxy:\n    def __init__(self, real):\n        self.real = real\n"
                        "    def __getattr__(self, name):\n"
                        "        return (lambda *a, **k: True) if name == 'allclose' else getattr(self.real, name)\n"
                        "torch = Proxy(torch)\n", "shadows:torch"),
    "class patched through an alias": ("from torch import optim as _o\n"
                                       "_o.SGD.__init__ = lambda self, *a, **k: None\n",
                                       "replaced:torch.optim.sgd.SGD.__init__"),
    "provided helper redefined": ("def helper(x):\n    return 2\n", "shadows:helper"),
    "a module in sys.modules": ("import sys as _s, types as _t\n_fake = _t.ModuleType('torch')\n"
                                "_s.modules['torch'] = _fake\n", "replaced:sys.modules[torch]"),
}


@pytest.mark.parametrize("trick", TRICKS, ids=list(TRICKS))
def test_a_namespace_trick_is_refused_and_flagged(trick):
    code, flag = TRICKS[trick]
    verdicts, flags = _run(code + STUB)
    assert verdicts == {"t1": ("fail", "refused"), "t2": ("fail", "refused")}, trick
    assert flag.replace("_", " ") in [f.replace("_", " ") for f in flags], flags
    # The same trick with an honest answer still fails: a refused cell fails every later test cell.
    assert _run(code + HONEST)[0]["t1"] == ("fail", "refused")


def test_an_added_cell_is_checked_like_an_answer():
    code, _ = TRICKS["a module in sys.modules"]
    verdicts, flags = _run(HONEST, added_first=code)
    assert verdicts["t1"] == ("fail", "refused") and "replaced:sys.modules[torch]" in flags


def test_honest_twins_pass():
    twins = ("import torch\nfrom torch import nn\nimport numpy as np\nimport torch.nn.functional as F\n"
             "from dataclasses import dataclass\nKEEP_OUTPUTS = True  # a provided setting, edited\n"
             "@dataclass\nclass Record:\n    value: float\n"
             "def _helper(x):\n    return Record(float(x.sum()))\n"
             "def record(x):\n    return Record(float(x))\n"
             "class Twice(nn.Module):\n    def forward(self, x):\n        return F.relu(x) * 2 + 0 * helper(0)\n"
             "def double(x):\n    _helper(x)\n    return Twice()(x)\n")
    test = TEST + "assert record(2.0) == record(2.0)  # a dataclass's own __eq__ is generated, not the student's\n"
    assert _run(twins, test=test, exports=["double", "record"]) == ({"t1": ("pass", "-"), "t2": ("pass", "-")}, [])


RETURNED = {
    "tensor subclass": ("class T(torch.Tensor):\n    pass\n"
                        "def double(x):\n    return (x * 2).as_subclass(T)\n", "tensor subclass"),
    "own __torch_function__": ("class T(torch.Tensor):\n    @classmethod\n"
                               "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
                               "        return True\n"
                               "def double(x):\n    return x.as_subclass(T)\n", "tensor subclass (T)"),
    "own __eq__": ("class Equal:\n    def __eq__(self, other):\n        return True\n"
                   "    def __getattr__(self, name):\n        return self\n"
                   "def double(x):\n    return Equal()\n", "__eq__"),
    "own __float__ in a dict": ("class Number:\n    def __float__(self):\n        return 4.0\n"
                                "def double(x):\n    return {'value': [Number()]}\n", "__float__"),
}


@pytest.mark.parametrize("case", RETURNED, ids=list(RETURNED))
def test_what_student_code_returns_must_be_plain_data(case):
    code, what = RETURNED[case]
    test = "_out = double(torch.arange(3.0))\nassert _out == _out\n"
    verdicts, flags = _run(code, test=test)
    assert verdicts["t1"] == ("fail", "refused") and any(what in f and f.startswith("returned:") for f in flags)


def _run_patch_and_undo(code: str, test: str) -> list[tuple]:
    """Run a provided cell, an answer cell exporting ``double`` and ``undo``, and one test cell; the report lines."""
    cells = [{"kind": "provided", "name": "setup", "source": PROVIDED},
             {"kind": "student", "name": "a", "source": code, "exports": ["double", "undo"], "added": False},
             {"kind": "test", "name": "t1", "source": test}]
    lines: list[tuple] = []
    Runner(runner_input(cells, "n", 0), lambda *w: lines.append(w)).run()
    return lines


def test_a_patch_undone_before_the_cell_ends_still_counts():
    code = ("import torch as _t\n_saved = {}\n"
            "def double(x):\n    _saved['allclose'] = _t.allclose\n    _t.allclose = lambda *a, **k: True\n"
            "    return x\n"
            "def undo():\n    _t.allclose = _saved['allclose']\n")
    test = "_out = double(torch.arange(3.0))\nassert torch.allclose(_out, _out * 2)\nundo()\n"
    lines = _run_patch_and_undo(code, test)
    assert ("test", "t1", "fail", "refused") in lines
    assert any(w[0] == "flag" and "while a test ran" in w[1] for w in lines)


def test_the_tests_see_only_the_exported_names():
    code = HONEST + "def secret():\n    return 1\n"
    verdicts, _ = _run(code, test="assert 'secret' not in globals() and double(1) == 2\n")
    assert verdicts["t1"] == ("pass", "-")


def test_plain_data_and_own_dunders():
    libraries = Libraries()
    tensor_types = (torch.Tensor, torch.nn.Parameter)
    assert plain_problem({"a": [torch.ones(1), 1.0, np.float32(2), (None, "x")]}, libraries.classes,
                         tensor_types) is None
    assert plain_problem(torch.nn.Parameter(torch.ones(1)), libraries.classes, tensor_types) is None
    assert own_dunder(torch.Tensor, libraries.classes) is None

    class Sneaky:
        def __bool__(self):
            return True

    assert own_dunder(Sneaky, libraries.classes) is None, "defined here, not in a student's cell"
    Sneaky.__bool__ = bool
    assert own_dunder(Sneaky, libraries.classes) == "__bool__", "not a Python function: not generated"
    assert "Sneaky" in plain_problem([Sneaky()], libraries.classes, tensor_types)


def test_library_changes_are_found_and_undone():
    libraries = Libraries()
    original = torch.nn.functional.relu
    torch.nn.functional.relu = lambda x: x
    torch.nn.Module.__eq__ = lambda self, other: True
    try:
        found = libraries.changes()
    finally:
        torch.nn.functional.relu = original
        if "__eq__" in vars(torch.nn.Module):
            del torch.nn.Module.__eq__
    assert "torch.nn.functional.relu" in found and "torch.nn.modules.module.Module.__eq__" in found
    assert torch.nn.functional.relu is original and "__eq__" not in vars(torch.nn.Module)
    assert libraries.changes() == []


def test_a_library_making_its_own_state_while_a_test_runs_is_not_a_patch():
    """During a test the grader's code runs the student's: tqdm then makes its locks, caches fill. Such data the
    library makes for itself is not refused; a swapped function or a student's object is, even then."""
    import tqdm.std

    libraries = Libraries()
    lock_class = tqdm.std.TqdmDefaultWriteLock
    had_lock = "mp_lock" in vars(lock_class)
    saved_lock = vars(lock_class).get("mp_lock")
    original = torch.nn.functional.relu

    class Student:  # stands for a class a student's cell wrote
        pass
    Student.__init__ = _student_made_function()
    try:
        lock_class.mp_lock = object()  # as create_mp_lock() does: data, not behaviour
        torch.nn.functional._kit_cache = Student()
        torch.nn.functional.relu = torch.nn.functional.gelu  # a library function, swapped: behaviour
        found = libraries.changes(strict=False)
    finally:
        torch.nn.functional.relu = original
        vars(torch.nn.functional).pop("_kit_cache", None)
        if had_lock:
            lock_class.mp_lock = saved_lock
        elif "mp_lock" in vars(lock_class):
            del lock_class.mp_lock
    assert "torch.nn.functional.relu" in found and "torch.nn.functional._kit_cache" in found
    assert not any("mp_lock" in what for what in found)


def _student_made_function():
    """A function compiled as the runner compiles a student's cell (its file name says so)."""
    namespace: dict = {}
    exec(compile("def __init__(self):\n    pass\n", "<student:answer>", "exec"), namespace)
    return namespace["__init__"]


def test_the_dictionary_counter_sees_every_kind_of_write():
    reader = dict_counter_reader()
    assert reader is not None, "CPython up to 3.13 has PEP 509's counter; without it every crossing compares all"
    space = {"a": 1}
    counter, seen = reader(space), []
    for write in (lambda d: d.__setitem__("a", 2), lambda d: d.__setitem__("b", 3), lambda d: d.pop("a"),
                  lambda d: d.update(c=4), lambda d: d.setdefault("e", 5), lambda d: d.clear()):
        before = counter.value
        write(space)
        seen.append(counter.value != before)
    assert all(seen)
    assert counter.value == reader(space).value  # reading changes nothing


@pytest.mark.parametrize("patch", [
    "vars(_t)['allclose'] = lambda *a, **k: True",  # through the module's dictionary
    "setattr(_t, 'allclose', lambda *a, **k: True)",
    "_t.Tensor.__eq__ = lambda self, other: True",  # a guarded class (its dictionary is behind a mappingproxy)
])
def test_a_patch_made_and_undone_inside_one_call_is_seen_at_its_return(patch):
    code = ("import torch as _t\n_saved = {}\n"
            "def double(x):\n    _saved['allclose'] = _t.allclose\n    _saved['eq'] = _t.Tensor.__eq__\n"
            f"    {patch}\n    return x\n"
            "def undo():\n    _t.allclose = _saved['allclose']\n    _t.Tensor.__eq__ = _saved['eq']\n")
    test = "_out = double(torch.arange(3.0))\nundo()\n"
    lines = _run_patch_and_undo(code, test)
    assert ("test", "t1", "fail", "refused") in lines
    assert any(w[0] == "flag" and "while a test ran" in w[1] for w in lines)


def test_what_a_students_generator_yields_is_checked():
    code = ("class _Yes:\n    def __eq__(self, other):\n        return True\n"
            "def double(x):\n    yield x * 2\n    yield _Yes()\n")
    verdicts, flags = _run(code, test="_g = double(torch.arange(3.0))\nassert next(_g) is not None\nnext(_g)\n")
    assert verdicts["t1"] == ("fail", "refused") and any(f.startswith("returned:") for f in flags)


def test_every_kind_of_library_change_is_found_after_the_quick_look_in_every_round():
    """The quick look (dictionary counters, functions' parts by id) skips only what was not written: each round
    of changes, made after a comparison, is found and undone."""
    libraries = Libraries()
    assert libraries._quick is not None and libraries._quick[3], "counters in use on this CPython"
    original_defaults = torch.nn.init.uniform_.__defaults__
    rounds = [
        (lambda: vars(math).__setitem__("pi", 3.0), "math.pi"),
        (lambda: setattr(torch.nn.init.uniform_, "__defaults__", (0.0, 0.0, None)), "torch.nn.init.uniform_"),
        (lambda: setattr(torch.nn.init.uniform_, "__code__", (lambda *a, **k: None).__code__),
         "torch.nn.init.uniform_"),
        (lambda: type.__setattr__(torch.nn.Linear, "extra_repr", lambda self: ""), "Linear.extra_repr"),
        (lambda: vars(np).__setitem__("allclose", lambda *a, **k: True), "numpy.allclose"),
    ]
    for change, label in rounds:
        assert libraries.changes() == []
        change()
        found = libraries.changes()
        assert any(label in f for f in found), (label, found)
    assert libraries.changes() == []
    assert math.pi == 3.141592653589793 and torch.nn.init.uniform_.__defaults__ == original_defaults
    assert torch.nn.Linear(2, 3).extra_repr() == "in_features=2, out_features=3, bias=True"
    assert np.allclose(1.0, 2.0) is False or not np.allclose(1.0, 2.0)


FUNCTION_WRITES = '''
import json, types
import torch
from autograder import verify_runner as vr

written = [True]
vr.install_audit_hook([], lambda *words: None, written)  # as the runner's main() does, before any student code
libraries = vr.Libraries(written)
target = torch.nn.init.uniform_
original = (target.__code__, target.__defaults__, target.__kwdefaults__)
other = (lambda *a, **k: None).__code__
rounds = [
    lambda: setattr(target, "__code__", other),
    lambda: object.__setattr__(target, "__code__", other),
    lambda: types.FunctionType.__dict__["__code__"].__set__(target, other),
    lambda: setattr(target, "__defaults__", (0.0, 0.0, None)),
    lambda: delattr(target, "__defaults__"),
    lambda: setattr(target, "__kwdefaults__", {"generator": 1}),
]
seen = []
for change in rounds:
    assert libraries.changes() == [] and written[0] is False, "nothing written: no function part is read"
    change()
    seen.append((written[0], any("torch.nn.init.uniform_" in f for f in libraries.changes())))
    assert (target.__code__, target.__defaults__, target.__kwdefaults__) == original, "undone"
print(json.dumps(seen))
'''


def test_every_way_of_writing_a_functions_code_or_defaults_sets_the_audited_flag():
    """The quick look reads functions' parts only after the audit hook saw one written (each read is an audited
    event, 0.3 s for all of a grading's libraries); every way to write one is audited, and is found and undone.
    In a fresh process: an audit hook cannot be removed."""
    out = subprocess.run([sys.executable, "-c", FUNCTION_WRITES], capture_output=True, text=True, cwd=KIT_ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[True, True]] * 6
