"""The verification run's runner: runs a plan (:func:`autograder.verify.build_plan`) in a fresh sandboxed process.

The sandbox hides ``autograder/`` from the process, so :func:`autograder.verify.run_verification` passes this
file's text to ``python -c`` and the plan over stdin; unit tests import it and run a :class:`Runner` directly.
Only the standard library is imported at the top (the libraries the tests use are imported by :func:`preimport`).

Two namespaces keep the verdict out of the student's reach:

- the *test* namespace: the provided cells and the test cells run there, with the real ``builtins``; of the
  student's code it holds only the names the source notebook's answer cells define (``exports``), taken from
- the *student* namespace, where the student's cells run (definitions only) and their functions keep running
  (it is their ``__globals__``); before each student cell it receives the provided names.

After every student cell, and after every test or provided cell that ran the student's code, the runner refuses
(flags, and fails every later test cell) and undoes: a student binding that shadows a builtin, a provided
function, class or module, or a library the tests use; a rebound ``__builtins__``; a change to ``sys.modules``;
a changed attribute of any library object (module, class, function), found by comparing snapshots. While tests
run, whatever the student's code returns to the grader's is checked as plain data (:func:`plain_problem`).
"""

import builtins
import json
import operator
import os
import signal
import sys
import threading
import types

STUDENT = "<student"  # the file name of every student cell's code starts with this
SUSPECT_DUNDERS = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__float__", "__int__",
                   "__index__", "__complex__", "__abs__", "__round__", "__torch_function__", "__torch_dispatch__",
                   "__array__", "__array_ufunc__", "__array_function__", "__getattr__", "__getattribute__",
                   "__class__", "__instancecheck__", "__subclasscheck__")
# New attributes that libraries add to themselves while working (not a patch).
SELF_MADE = ("__warningregistry__", "__annotations__", "__slotnames__")
BLOCKED_ANYWHERE = {"sys.settrace", "sys.setprofile", "sys._current_frames", "gc.get_objects", "gc.get_referrers",
                    "gc.get_referents", "os.fork", "os.forkpty", "os.kill", "os.killpg", "os.system", "os.exec",
                    "os.posix_spawn", "os.spawn", "subprocess.Popen", "signal.pthread_kill", "sys.addaudithook"}
FRAME_ATTRIBUTES = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"}
INTROSPECTION = ("inspect.py", "traceback.py")
_MISSING = object()


def is_student_code(code) -> bool:
    """Whether a code object was compiled from one of the student's cells."""
    return code.co_filename.startswith(STUDENT)


def _student_function(value) -> bool:
    value = getattr(value, "__func__", value)  # classmethod, staticmethod
    if isinstance(value, property):
        value = value.fget
    code = getattr(value, "__code__", None)
    return isinstance(code, types.CodeType) and is_student_code(code)


def own_dunder(cls, library_classes) -> str | None:
    """A comparison, conversion or attribute hook that a class not from a library defines for ``cls``.

    ``library_classes`` holds the ids of the classes the libraries define; any other class in ``cls``'s MRO is
    the student's (or a test's), and an object of it whose ``__eq__`` or ``__float__`` is its own proves nothing.
    """
    for klass in getattr(cls, "__mro__", ()):
        if id(klass) in library_classes:
            continue
        attributes = vars(klass)
        for name in SUSPECT_DUNDERS:
            if name in attributes and _not_generated(attributes[name]):
                return name
    return None


def _not_generated(value) -> bool:
    """Whether a class attribute is the student's own (code from their cells, or not a Python function at all),
    rather than one a library wrote for the class (a dataclass's ``__eq__``)."""
    inner = getattr(value, "__func__", value)
    if isinstance(inner, property):
        inner = inner.fget
    return not isinstance(inner, types.FunctionType) or _student_function(inner)


def plain_problem(value, library_classes, tensor_types=()) -> str | None:
    """Why ``value`` is not plain data (``None`` when it is): a tensor subclass that is not a library's, or an
    object whose class has its own comparison or conversion (:func:`own_dunder`), anywhere in its containers."""
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in (bool, int, float, str, bytes, type(None)):
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        if tensor_types and isinstance(item, tensor_types[0]) and kind not in tensor_types:
            if any(id(k) not in library_classes for k in kind.__mro__):
                return f"a tensor subclass ({kind.__name__})"
        bad = own_dunder(kind, library_classes)
        if bad:
            return f"{kind.__name__} with its own {bad}"
        if isinstance(item, (tuple, list, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
    return None


def swaps_behaviour(old, new) -> bool:
    """Whether replacing a library attribute's ``old`` value by ``new`` changes what the library does: either is
    callable (a function, method, class), or ``new`` is the student's (an object of a class their cells wrote).
    Data a library makes for itself (a lock, a cache, a registry) is neither."""
    if callable(old) or callable(new):
        return True
    kind = type(new)
    return any(_student_function(v) for klass in kind.__mro__ for v in vars(klass).values())


def _function_state(function):
    return (function.__code__, function.__defaults__, function.__kwdefaults__)


FUNCTION_PARTS = ("__code__", "__defaults__", "__kwdefaults__")
_FUNCTION_PARTS = tuple(map(operator.attrgetter, FUNCTION_PARTS))
# CPython audits every write of a function's parts (``object.__setattr__``/``__delattr__`` with the part's name,
# whichever way it is written: attribute, setattr, object.__setattr__, the descriptor), and every read of one.
_VALUE = operator.attrgetter("value")


class Libraries:
    """Snapshots, by identity, of every library object's attributes: modules in ``sys.modules``, the classes and
    functions they hold, and the functions those classes hold."""

    def __init__(self, functions_written: list[bool] | None = None) -> None:
        """``functions_written``: a flag the audit hook (:func:`install_audit_hook`) sets at every write of a
        function's code or defaults; the quick look then reads every function's parts (each read is an audited
        event: 0.3 s for 50,000 functions, at every cell) only after such a write. None: at every look."""
        self._functions_written = functions_written
        self.saved: dict[int, tuple] = {}  # id -> (object, label, state)
        self.classes: set[int] = set()
        self.modules: dict[str, object] = {}
        # The quick look (:meth:`_suspects`): each dictionary's write counter, and the functions' parts by id.
        self._reader = dict_counter_reader()
        self._counters: dict[int, object] = {}  # id(object) -> its dictionary's counter (made once)
        self._tags: dict[int, int | None] = {}  # id(object) -> its counter when its state was copied or compared
        self._quick: tuple | None = None
        self._dirty = True  # entries added or replaced since the quick look's lists were made
        self.take()

    def _add(self, obj, label) -> None:
        if id(obj) in self.saved:
            return
        if type(obj) is types.FunctionType:
            self.saved[id(obj)] = (obj, label, _function_state(obj))
            return
        self._dirty = True
        counter = self._counter(obj)
        self._tags[id(obj)] = counter.value if counter is not None else None  # read before the copy
        attributes = dict(vars(obj))
        self.saved[id(obj)] = (obj, label, attributes)
        if isinstance(obj, type):
            self.classes.add(id(obj))
        for key, value in attributes.items():
            kind = type(value)  # not isinstance(): that reads __class__, which some deprecated aliases warn on
            if issubclass(kind, type) and not isinstance(obj, type):
                self._add(value, f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', key)}")
            elif kind is types.FunctionType and not is_student_code(value.__code__):
                self._add(value, f"{label}.{key}")

    def take(self) -> None:
        """Snapshot every module (and its classes and functions) not seen yet, and ``sys.modules`` itself."""
        for name, module in list(sys.modules.items()):
            if isinstance(module, types.ModuleType) and name not in ("__main__", "__mp_main__"):
                self._add(module, name)
        self.modules = dict(sys.modules)
        if self._dirty:
            self._refresh()

    def _counter(self, obj):
        """The write counter of ``obj``'s dictionary (a class's is behind its mappingproxy), or None."""
        counter = self._counters.get(id(obj))
        if counter is None and self._reader is not None:
            space = vars(obj)
            if type(space) is not dict:
                import gc

                space = next((d for d in gc.get_referents(space) if type(d) is dict), None)
            if type(space) is dict:
                counter = self._counters[id(obj)] = self._reader(space)
        return counter

    def _refresh(self) -> None:
        """Make the quick look's lists (:meth:`_suspects`) again after entries were added or replaced: the saved
        parts of every function by id, and every other object's dictionary counter with its value as read before
        its state was copied or last compared (so a write after that read is always seen)."""
        functions, counted, uncounted = [], [], []
        for obj, _label, state in self.saved.values():
            if type(obj) is types.FunctionType:
                functions.append((obj, state))
            elif self._counters.get(id(obj)) is not None:
                counted.append(obj)
            else:
                uncounted.append(obj)
        parts = [list(map(id, (state[i] for _, state in functions))) for i in range(3)]
        counters = [self._counters[id(obj)] for obj in counted]
        tags = [self._tags.get(id(obj)) for obj in counted]
        self._quick = ([f for f, _ in functions], parts, counted, counters, tags, uncounted)
        self._dirty = False

    def _suspects(self) -> list[tuple]:
        """The saved entries that may have changed since they were last compared, found at C speed: functions
        whose code, defaults or keyword defaults are not the saved objects, objects whose dictionary counter moved
        (read again now, before they are compared) and those without a counter."""
        functions, parts, counted, counters, tags, uncounted = self._quick
        changed: set[int] = set()
        written = self._functions_written
        if written is None or written[0]:
            if written is not None:
                written[0] = False  # before the reads: a write after them sets it again
            for index, getter in enumerate(_FUNCTION_PARTS):
                now = list(map(id, map(getter, functions)))
                if now != parts[index]:
                    changed.update(i for i, (a, b) in enumerate(zip(now, parts[index])) if a != b)
        found = [functions[i] for i in sorted(changed)]
        current = list(map(_VALUE, counters))
        if current != tags:
            for i in [i for i, (a, b) in enumerate(zip(current, tags)) if a != b]:
                found.append(counted[i])
                tags[i] = self._tags[id(counted[i])] = current[i]
        found += uncounted
        return [self.saved[id(obj)] for obj in found]

    def accept(self) -> None:
        """Take the present state as the reference (after a provided cell: the release's own code)."""
        self.changes(undo=False, adopt=True)

    def changes(self, undo: bool = True, adopt: bool = False, strict: bool = True) -> list[str]:
        """What changed since the snapshots (``sys.modules`` entries, then attributes), each undone with ``undo``
        (or taken as the new reference with ``adopt``); then modules imported since are snapshotted.

        ``strict=False`` is for a cell where the grader's code ran the student's (a test or provided cell): the
        libraries then change their own state too (tqdm makes its locks, caches fill), and only a change that
        swaps behaviour (:func:`swaps_behaviour`) counts; the others become the new reference.
        """
        found = []
        adopted: list[tuple[object, str, object]] = []
        current_modules = sys.modules
        for name, module in ({} if adopt else self.modules).items():
            if current_modules.get(name, _MISSING) is not module:
                found.append(f"sys.modules[{name}]")
                if undo:
                    current_modules[name] = module
        for name in [n for n in current_modules if n not in self.modules and not adopt]:
            module = current_modules[name]
            if not isinstance(module, types.ModuleType):  # an import adds modules; only they are harmless
                found.append(f"sys.modules[{name}]")
                if undo:
                    del current_modules[name]
        entries = self._suspects() if self._quick is not None else list(self.saved.values())
        for obj, label, state in entries:
            if type(obj) is types.FunctionType:
                if any(a is not b for a, b in zip(_function_state(obj), state)):
                    if adopt:
                        self.saved[id(obj)] = (obj, label, _function_state(obj))
                        self._dirty = True
                        continue
                    found.append(f"{label}.__code__")
                    if undo:
                        obj.__code__, obj.__defaults__, obj.__kwdefaults__ = state
                continue
            current = vars(obj)
            if len(current) == len(state) and all(map(operator.is_, current.values(), state.values())) \
                    and current.keys() == state.keys():
                continue  # unchanged: the usual case, compared at C speed
            if adopt:
                self.saved[id(obj)] = (obj, label, dict(current))
                continue  # the quick look reads counters only: nothing to make again
            for key, value in state.items():
                now = current.get(key, _MISSING)
                if now is not value:
                    if (type(now) is int and type(value) is int) or (value is None and now is not _MISSING):
                        continue  # a counter or a lazily filled cache (torch's hook ids, matplotlib's unit paths)
                    if not strict and not swaps_behaviour(value, now):
                        adopted.append((state, key, now))
                        continue
                    found.append(f"{label}.{key}")
                    if undo:
                        self._set(obj, key, value)
            if len(current) != len(state) or any(key not in state for key in current):
                for key in [k for k in current if k not in state]:
                    if key in SELF_MADE or isinstance(current[key], types.ModuleType):
                        continue  # a warning's registry, a lazily made dict, a submodule just imported
                    if not strict and not swaps_behaviour(_MISSING, current[key]):
                        adopted.append((state, key, current[key]))
                        continue
                    found.append(f"{label}.{key}")
                    if undo:
                        self._set(obj, key, _MISSING)
        for state, key, now in adopted:
            state[key] = now
        self.take()
        return found

    @staticmethod
    def _set(obj, key, value) -> None:
        try:
            if isinstance(obj, types.ModuleType):
                if value is _MISSING:
                    vars(obj).pop(key, None)
                else:
                    vars(obj)[key] = value
            elif value is _MISSING:
                type.__delattr__(obj, key)
            else:
                type.__setattr__(obj, key, value)
        except (AttributeError, TypeError):
            pass


def preimport(names) -> None:
    """Import every library the tests use before any student code, so that none is first imported from a copy
    the student placed in ``sys.modules``."""
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (a module the tests name but cannot import fails the test itself)
            module_name, _, attribute = name.rpartition(".")
            try:
                getattr(importlib.import_module(module_name), attribute)
            except Exception:  # noqa: BLE001
                pass


def _guarded_object(name: str):
    """The object a dotted name of :data:`autograder.guarded.GUARDED` stands for, if imported."""
    module_name, _, attribute = name.rpartition(".")
    obj = sys.modules.get(name)
    if obj is None and module_name in sys.modules:
        obj = getattr(sys.modules[module_name], attribute, None)
    return obj


def dict_counter_reader():
    """A reader of a dictionary's modification counter (PEP 509's ``ma_version_tag``: CPython changes it at every
    write to that dictionary, up to 3.13), or ``None`` where this interpreter has none that passes a check on a
    test dictionary. It lets the runner skip comparing a guarded library's thousands of attributes at each of the
    thousands of crossings between a test and the student's code when nothing was written."""
    if sys.implementation.name != "cpython" or not (3, 8) <= sys.version_info[:2] <= (3, 13):
        return None
    try:
        import ctypes
    except ImportError:
        return None
    offset = 3 * ctypes.sizeof(ctypes.c_ssize_t)  # after ob_refcnt, ob_type and ma_used

    def reader(mapping: dict):
        return ctypes.c_uint64.from_address(id(mapping) + offset)

    probe = {"a": 1}
    counter = reader(probe)
    seen = [counter.value, reader(probe).value]
    probe["a"] = 2
    seen.append(counter.value)
    probe["b"] = 3
    seen.append(counter.value)
    del probe["a"]
    seen.append(counter.value)
    probe.update(c=4)
    seen.append(counter.value)
    if seen[0] != seen[1] or len(set(seen[1:])) != 5:
        return None
    return reader


def warm_up() -> None:
    """Let the libraries make their own lazy changes to themselves before any snapshot: torch wraps each
    optimizer class's ``step`` when the first one of that class is made."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    parameter = torch.zeros(1, requires_grad=True)
    for name in dir(torch.optim):
        kind = getattr(torch.optim, name)
        if isinstance(kind, type) and issubclass(kind, torch.optim.Optimizer) and kind is not torch.optim.Optimizer:
            try:
                kind([parameter])
            except Exception:  # noqa: BLE001 (one that needs more arguments is made later, if ever)
                pass


class Runner:
    """Runs a plan's cells in the two namespaces and reports each test cell's verdict through ``report``."""

    def __init__(self, plan: dict, report, refusals: list | None = None,
                 functions_written: list[bool] | None = None) -> None:
        self.cells = plan["cells"]
        self.exports = set(plan.get("exports", ()))
        self.libraries_used = set(plan.get("libraries", ()))
        self.cell_timeout = plan.get("cell_timeout", 0)
        self.report = report
        self.refusals = refusals if refusals is not None else []  # the audit hook adds to it too
        self.flagged: set[str] = set()
        try:
            import tqdm
            tqdm.tqdm.monitor_interval = 0  # no monitor thread: a new thread during a test is the student's
        except ImportError:
            pass
        preimport(plan.get("preimport", ()))
        warm_up()
        self.tensor_types = ()
        if "torch" in sys.modules:
            torch = sys.modules["torch"]
            self.tensor_types = tuple(t for t in (torch.Tensor, torch.nn.Parameter,
                                                  getattr(torch.nn.parameter, "Buffer", None)) if t is not None)
        self.libraries = Libraries(functions_written)
        self.guarded_names = plan.get("guarded", ())
        # The guarded objects' dictionary counters (made now, before any student code; None: none on this Python).
        self.counters = ({id(obj): self.libraries._counter(obj) for obj in map(_guarded_object, self.guarded_names)
                          if obj is not None} if self.libraries._reader is not None else None)
        self.guarded = self.snapshot_guarded()
        no_ipython = type(None)  # get_ipython() is None, and it holds no grader code to reach through
        self.tests = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": no_ipython}
        self.student = {"__name__": "__main__", "__builtins__": builtins}
        self.provided = {"get_ipython": no_ipython}
        self.exported: dict[str, object] = {}
        self.protected = self.protected_state()
        self.failing = False  # a refusal fails every later test cell
        self.student_ran = False
        self.crossings: list[str] = []

    def snapshot_guarded(self) -> list:
        """The guarded objects (:data:`autograder.guarded.GUARDED`), each as ``[object, a copy of its attributes
        (which keeps the old values alive, so no new object can take an old one's id), their ids in order, its
        dictionary's modification counter or None, the counter's value]``."""
        found = []
        for name in self.guarded_names:
            obj = _guarded_object(name)
            if obj is not None:
                counter = self.counters.get(id(obj)) if self.counters is not None else None
                tag = counter.value if counter is not None else None
                attributes = dict(vars(obj))
                found.append([obj, attributes, list(map(id, attributes.values())), counter, tag])
        return found

    def accept(self) -> None:
        """The libraries as they are now are the reference (the release's own code changed them)."""
        self.libraries.accept()
        self.guarded = self.snapshot_guarded()

    # -- refusals ------------------------------------------------------------------------------------------
    def refuse(self, what: str) -> None:
        self.refusals.append(what)
        if what not in self.flagged:
            self.flagged.add(what)
            self.report("flag", what)

    def watch(self, frame, event, arg):
        """The trace function while provided and test cells run (``sys.settrace``: called at each new Python frame,
        never for C calls, and only the frames it returns a tracer for report their return). Where the grader's
        code calls the student's, it notes the test namespace and the guarded libraries as the grader's code left
        them, and traces that frame's return (:meth:`returned`)."""
        if not is_student_code(frame.f_code):
            return None
        caller = frame.f_back
        if caller is not None and is_student_code(caller.f_code):
            return None
        self.student_ran = True
        if self.protected_changes() or self.guarded_changes():
            self.protected = self.protected_state()  # the test's own doing
            self.guarded = self.snapshot_guarded()
        frame.f_trace_lines = False
        return self.returned

    def returned(self, frame, event, arg):
        """Where the student's code returns (or yields) to the grader's, check what it returns
        (:func:`plain_problem`) and that neither the test namespace nor a guarded library changed (so a patch the
        student undoes before the cell ends still counts)."""
        if event != "return":
            return self.returned
        caller = frame.f_back  # a generator of the student's resumed by the student's own code keeps this tracer
        if caller is not None and is_student_code(caller.f_code):
            return None
        problem = plain_problem(arg, self.libraries.classes, self.tensor_types)
        if problem:
            self.refuse(f"returned:{problem}")
        for what in self.protected_changes() + self.guarded_changes():
            self.refuse(what)
        return None

    # This and guarded_changes run at every crossing between the grader's code and the student's (thousands of
    # times in a test that calls a student function in a loop): identities compared in C, by map(id, ...) and
    # list equality, never through a value's own __eq__.
    def protected_state(self) -> tuple:
        """The test namespace's builtins, provided and exported names as they are now: (names, values, ids)."""
        names = ["__builtins__", *self.provided, *self.exported]
        values = list(map(self.tests.get, names, [_MISSING] * len(names)))
        return names, values, list(map(id, values))

    def protected_changes(self) -> list[str]:
        names, values, ids = self.protected
        current = list(map(self.tests.get, names, [_MISSING] * len(names)))
        if list(map(id, current)) == ids:
            return []
        return [f"replaced:{name} (tests)" for name, old, new in zip(names, values, current) if old is not new]

    def guarded_changes(self) -> list[str]:
        found = []
        for entry in self.guarded:
            obj, attributes, ids, counter, tag = entry
            if counter is not None and counter.value == tag:
                continue  # its dictionary was not written since the snapshot
            current = vars(obj)
            if len(current) != len(ids) or list(map(id, current.values())) != ids \
                    or list(current) != list(attributes):
                found.append(f"replaced:{getattr(obj, '__name__', '?')} (while a test ran)")
            elif counter is not None:
                entry[4] = counter.value  # written, but every attribute is the same object: no need to compare again
        return found

    def namespace_changes(self, undo: bool = True) -> list[str]:
        """Provided and exported names the test namespace no longer holds as they were, and its builtins."""
        found = []
        tests = self.tests
        if tests.get("__builtins__") is not builtins:
            found.append("replaced:__builtins__ (tests)")
            if undo:
                tests["__builtins__"] = builtins
        for names in (self.provided, self.exported):
            for name, value in names.items():
                if tests.get(name, _MISSING) is not value:
                    found.append(f"replaced:{name} (tests)")
                    if undo:
                        tests[name] = value
        return found

    def student_bindings(self) -> list[str]:
        """Refused bindings of the student namespace (each undone): see the module's docstring."""
        found = []
        space = self.student
        if space.get("__builtins__") is not builtins:
            found.append("replaced:__builtins__")
            space["__builtins__"] = builtins
        builtin_names = vars(builtins)
        for name, value in list(space.items()):
            if name in self.exports or (name.startswith("__") and name.endswith("__")
                                        and name not in ("__import__", "__build_class__")):
                continue
            if name in self.provided:
                given = self.provided[name]
                if value is not given and (callable(given) or isinstance(given, types.ModuleType)):
                    found.append(f"shadows:{name}")
                    space[name] = given
            elif name in builtin_names:
                found.append(f"shadows:{name} (a builtin)")
                del space[name]
            elif name in self.libraries_used:
                real = isinstance(value, types.ModuleType) and sys.modules.get(value.__name__) is value
                if not real:
                    found.append(f"shadows:{name} (a library)")
                    del space[name]
        return found

    def export(self) -> list[str]:
        """Give the test namespace the student's definitions of the exported names; refuse those that are not
        functions, classes or plain data."""
        found = []
        for name in self.exports:
            value = self.student.get(name, _MISSING)
            if value is _MISSING or self.exported.get(name, _MISSING) is value:
                continue
            if isinstance(value, types.ModuleType):
                problem = "a module"
            elif isinstance(value, type):
                bad = own_dunder(value, self.libraries.classes)
                problem = f"its own {bad}" if bad else None
            elif callable(value):
                problem = None
            else:
                problem = plain_problem(value, self.libraries.classes, self.tensor_types)
            if problem:
                found.append(f"refused:{name} ({problem})")
                continue
            self.exported[name] = value
            self.tests[name] = value
        return found

    # -- cells ---------------------------------------------------------------------------------------------
    def _exec(self, source: str, name: str, kind: str, namespace: dict, watched: bool) -> str | None:
        """Run one cell; returns the name of the exception it raised (``None`` when none)."""
        alarm = self.cell_timeout > 0 and threading.current_thread() is threading.main_thread()
        if alarm:
            # A C handler: no function of the grader's that student code could reach through signal.getsignal.
            signal.signal(signal.SIGALRM, signal.default_int_handler)
            signal.setitimer(signal.ITIMER_REAL, self.cell_timeout)
        error = None
        try:
            code = compile(source, f"<{kind}:{name}>", "exec")
            if watched:
                sys.settrace(self.watch)
            try:
                exec(code, namespace)
            finally:
                if watched:
                    sys.settrace(None)
        except BaseException as exc:  # noqa: BLE001 (a cell's error, a timeout, or SystemExit: the cell fails)
            error = type(exc).__name__
        finally:
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
        return error

    def run(self) -> None:
        threads = None
        for cell in self.cells:
            kind, name, source = cell["kind"], cell["name"], cell["source"]
            before = len(self.refusals)
            if kind == "student":
                if threads is None:
                    threads = set(threading.enumerate())
                self.student.update(self.provided)
                self._exec(source, name, kind, self.student, watched=False)
                found = (self.student_bindings() + [f"replaced:{w}" for w in self.libraries.changes()]
                         + self.namespace_changes() + self.export())
                for what in found:
                    self.refuse(what)
                self.protected = self.protected_state()
            else:
                self.student_ran = False
                names_before = dict(self.tests)
                namespace = self.tests
                error = self._exec(source, name, kind, namespace, watched=True)
                if kind == "provided":
                    if self.student_ran:
                        for what in self.libraries.changes(strict=False):
                            self.refuse(f"replaced:{what}")
                    else:
                        self.accept()
                    for key, value in self.tests.items():
                        if key not in self.exports and names_before.get(key, _MISSING) is not value \
                                and not key.startswith("__"):
                            self.provided[key] = value
                    self.student.update(self.provided)
                    self.protected = self.protected_state()
                    self.failing = self.failing or len(self.refusals) > before
                    continue
                changed = self.libraries.changes(strict=False) if self.student_ran else (self.accept() or [])
                for what in changed:
                    self.refuse(f"replaced:{what}")
                self.namespace_changes()  # what the test cell itself rebound (the student's was refused above)
                self.protected = self.protected_state()
                started = [t for t in threading.enumerate() if threads is not None and t not in threads
                           and t.is_alive()]
                if started:
                    self.refuse("started_a_thread")
                refused = len(self.refusals) > before
                self.failing = self.failing or refused
                reason = "refused" if self.failing else error or "-"
                self.report("test", name, "pass" if reason == "-" else "fail", reason)
                continue
            if len(self.refusals) > before:
                self.failing = True


def install_audit_hook(refusals: list, report, functions_written: list[bool] | None = None) -> None:
    """Refuse what student code has no honest use for while grading (frames of the grader, tracing, the garbage
    collector's object lists, ``ctypes``, processes and signals, ``/proc/*/mem``): the call raises, the test cell
    fails, and it is flagged. Cannot be removed once installed. Every write of a function's code or defaults, by
    anyone, sets ``functions_written[0]`` (see :class:`Libraries`)."""
    busy = [False]
    flagged = set()

    def stack_has_student(start):
        frame = start
        while frame is not None:
            if frame.f_code.co_filename.startswith(STUDENT):
                return True
            frame = frame.f_back
        return False

    def nearest_is_student(start):
        frame = start
        while frame is not None and frame.f_code.co_filename.endswith(INTROSPECTION):
            frame = frame.f_back
        return frame is not None and frame.f_code.co_filename.startswith(STUDENT)

    def refuse(what):
        refusals.append(what)
        if what not in flagged:
            flagged.add(what)
            report("flag", what)
        raise RuntimeError(f"{what} is not allowed while grading")

    def hook(event, args):
        if functions_written is not None and event in ("object.__setattr__", "object.__delattr__") \
                and len(args) > 1 and type(args[1]) is str and args[1] in FUNCTION_PARTS:
            functions_written[0] = True
        if busy[0]:
            return
        watched = (event in BLOCKED_ANYWHERE or event.startswith("ctypes.") or event == "sys._getframe"
                   or (event == "object.__getattr__" and len(args) > 1 and args[1] in FRAME_ATTRIBUTES)
                   or event == "open")
        if not watched:
            return
        busy[0] = True
        try:
            caller = sys._getframe(1)
            if event == "open":
                path = str(args[0]) if args and isinstance(args[0], (str, bytes)) else ""
                sensitive = path.startswith(("/proc/", "/dev/fd")) and any(
                    part in path for part in ("/mem", "/fd", "/environ", "/maps", "/task"))
                if sensitive and stack_has_student(caller):
                    refuse(f"open:{path}")
                return
            if event in ("sys._getframe", "object.__getattr__"):
                if nearest_is_student(caller):
                    refuse(event if event == "sys._getframe" else f"frame access ({args[1]})")
                return
            if stack_has_student(caller):
                refuse(event)
        finally:
            busy[0] = False

    sys.addaudithook(hook)


def main() -> None:
    """Read the plan from stdin, report on the descriptor that was stdout (the cells' output goes to a file)."""
    plan = json.loads(sys.stdin.buffer.read().decode())
    nonce = plan["nonce"]
    report_fd = os.dup(1)
    quiet = os.open("verify-output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    os.close(quiet)

    def report(*words):
        try:
            os.write(report_fd, (" ".join((nonce,) + tuple(str(w).replace(" ", "_") for w in words)) + "\n").encode())
        except OSError:
            pass

    refusals: list[str] = []
    functions_written = [True]
    install_audit_hook(refusals, report, functions_written)
    # Nothing of the runner stays reachable by name: `import __main__`, sys.gettrace() and sys.getprofile() give
    # nothing (and no frame, where a tracer is kept, is reachable: the audit hook refuses the ways to one).
    sys.modules["__main__"] = types.ModuleType("__main__")
    sys.getprofile = type(None)
    sys.gettrace = type(None)
    runner = Runner(plan, report, refusals, functions_written)
    del plan
    runner.run()
    report("done")
    os._exit(0)


if __name__ == "__main__":
    main()
