"""Code in a submission that a person should look at: it reaches for the grader's machinery, not the assignment.

Nothing here changes a score: the sandbox and the verification run (:mod:`autograder.verify`) make such code
gain nothing. The grade report lists what is found, per submission, so an instructor can read it: honest
solutions to these assignments have no use for IPython's internals, tracing, the garbage collector's object
lists, ``ctypes``, signals, processes, or files outside their folder.
"""

from __future__ import annotations

import ast
import re

import nbformat

SUSPECT_MODULES = {"ctypes", "gc", "signal", "inspect", "threading", "_thread", "multiprocessing", "subprocess",
                   "IPython", "builtins", "importlib", "sqlite3", "socket", "pty", "resource", "mmap", "atexit",
                   "faulthandler", "tracemalloc", "site", "sys"}
# `sys` alone is common (sys.path); only these of its attributes are suspect.
SUSPECT_SYS = {"settrace", "setprofile", "_getframe", "_current_frames", "addaudithook", "modules", "excepthook",
               "displayhook", "stdout", "stderr", "setrecursionlimit", "meta_path", "path_hooks", "audit"}
SUSPECT_ATTRIBUTES = {"settrace", "setprofile", "_getframe", "f_back", "f_locals", "f_globals", "f_trace",
                      "tb_frame", "gi_frame", "cr_frame", "input_transformers_cleanup", "input_transformers_post",
                      "input_transformer_manager", "ast_transformers", "run_cell", "run_cell_async", "events",
                      "register_magic_function", "kill", "killpg", "fork", "forkpty", "setsid", "system", "popen",
                      "execv", "execve", "execvp", "spawnv", "posix_spawn", "_exit", "getppid", "__builtins__",
                      "__subclasses__", "__globals__", "__code__", "__closure__", "get_referrers", "get_objects",
                      "as_strided", "setitimer", "pthread_kill"}
SUSPECT_CALLS = {"get_ipython", "exec", "eval", "compile", "__import__", "globals", "breakpoint", "setattr",
                 "delattr"}
# Names students usually give the libraries the notebooks use: replacing their attributes is patching them.
LIBRARY_NAMES = {"torch", "np", "numpy", "math", "F", "nn", "builtins", "os", "sys", "random", "IPython"}


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def scan_source(source: str) -> list[str]:
    """What in one cell's code a person should look at (empty for an ordinary solution)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        found = [f"mentions {word}" for word in ("get_ipython", "ctypes", "settrace", "os.kill", "fork")
                 if word in source]
        return found
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"imports {a.name}" for a in node.names if a.name.split(".")[0] in SUSPECT_MODULES - {"sys"}]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module.split(".")[0]
            if base == "sys":
                found += [f"imports sys.{a.name}" for a in node.names if a.name in SUSPECT_SYS]
            elif base in SUSPECT_MODULES:
                found.append(f"imports from {node.module}")
        elif isinstance(node, ast.Attribute):
            root = _root_name(node)
            if node.attr in SUSPECT_ATTRIBUTES or (root == "sys" and node.attr in SUSPECT_SYS):
                found.append(f"uses .{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SUSPECT_CALLS:
            found.append(f"calls {node.func.id}()")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                if first.value.startswith(("/", "~")) or ".." in first.value:
                    found.append(f"opens {first.value}")
            elif _writes(node):
                found.append(f"writes a file at a computed path ({ast.unparse(first)[:60]})")
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and _root_name(target) in LIBRARY_NAMES:
                    found.append(f"replaces {ast.unparse(target)}")
    return list(dict.fromkeys(found))


def _writes(call: ast.Call) -> bool:
    """An ``open(...)`` call whose mode writes."""
    mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and any(c in mode.value for c in "wax+")


def _is_student_cell(cell, provided: set[str]) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if meta.get("solution"):
        return True
    return not meta and cell.source.strip() not in provided


def scan_notebook(submitted: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """Flags for every code cell the student wrote (answers and added cells; provided and test cells skipped)."""
    provided = {c.source.strip() for c in release.cells if c.cell_type == "code"}
    flags = []
    for cell in submitted.cells:
        if cell.cell_type != "code" or not _is_student_cell(cell, provided):
            continue
        name = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or "an added cell"
        flags += [f"{name}: {what}" for what in scan_source(_plain(cell.source))]
    return flags


def _plain(source: str) -> str:
    """A cell's source without IPython's magics and shell escapes (they are not Python)."""
    return re.sub(r"^\s*[%!].*$", "", source, flags=re.M)
