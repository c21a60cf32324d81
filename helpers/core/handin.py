"""Check before you hand in: the student's own notebook, as the grader will see it.

The last cell of every notebook calls :func:`check_before_handing_in`. It reads the *saved* notebook (what the
student uploads; on Colab, the notebook open in the session) and prints a short checklist with what to fix:
every answer written, every visible test run and passing, the grading metadata of every graded cell intact,
and the figures the writeup needs saved. It never runs the hidden tests (the student has none) and needs no
network.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from helpers.core import notebook_format as fmt
from helpers.core.runtime import KIT_ROOT, is_grading
from helpers.core.writeup import TEMPLATE, colab_notebook

CODE_STUBS = ("raise NotImplementedError", "YOUR CODE HERE")
TEXT_STUB = "YOUR ANSWER HERE"
# Figures the writeup makes itself from a run's frames, not the notebook.
MADE_BY_WRITEUP = re.compile(r"_over_training\.png$")
# An optional answer cell (the toy lab's NumPy GAN) says so in a comment line of its own, and has no points.
OPTIONAL_RE = re.compile(r"^\s*#.*\boptional\b", re.I | re.M)


@dataclass
class Item:
    """One line of the checklist."""

    ok: bool
    what: str
    fix: str = ""

    def __str__(self) -> str:
        line = f"  [{'x' if self.ok else ' '}] {self.what}"
        return line if self.ok or not self.fix else f"{line}\n        -> {self.fix}"


def find_notebook(name: str, folder: Path | None = None) -> tuple[dict | None, str]:
    """The saved notebook ``name`` and where it was found: Colab's open notebook, Jupyter's session, the folder."""
    from_colab = colab_notebook()
    if from_colab is not None:
        return from_colab, "the notebook open in Colab"
    folder = Path(folder or Path.cwd())
    candidates = [os.environ.get("JPY_SESSION_NAME", ""), str(folder / f"{name}.ipynb")]
    candidates += [str(p) for p in sorted(folder.glob("*.ipynb"), key=lambda p: -p.stat().st_mtime)]
    for candidate in candidates:
        path = Path(candidate)
        if not candidate or path.suffix != ".ipynb" or not path.is_file():
            continue
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if _belongs_to(nb, name):
            age = (time.time() - path.stat().st_mtime) / 60
            return nb, f"{path.name} (saved {age:.0f} min ago)"
    return None, ""


def _belongs_to(nb: dict, name: str) -> bool:
    """Whether a notebook is the kit's notebook ``name`` (its OUT folder says so)."""
    sources = (fmt.cell_source(c) for c in nb.get("cells", []) if c.get("cell_type") == "code")
    return any(m.group(1) == name for text in sources for m in [fmt.OUT_RE.search(text)] if m)


def is_optional(cell: dict) -> bool:
    """Whether an answer cell is optional: no points, and a comment line of it says "optional"."""
    return not fmt.nbgrader_metadata(cell).get("points") and bool(OPTIONAL_RE.search(fmt.cell_source(cell)))


def _graded_id(cell: dict) -> str | None:
    found = fmt.MARKER_RE.search(fmt.cell_source(cell))
    return fmt.grade_id(cell) or (found.group(1) if found else None)


def _expected_ids(name: str) -> list[str]:
    """The graded cells the course's notebook has (from the kit's or the bundle's copy), in order."""
    path = KIT_ROOT / "notebooks" / f"{name}.ipynb"
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [gid for gid in (_graded_id(c) for c in nb["cells"] if fmt.cell_role(c) or fmt.MARKER_RE.search(
        fmt.cell_source(c))) if gid]


def figures_needed(name: str, template: Path = TEMPLATE) -> list[str]:
    """The figures of notebook ``name`` that the writeup template shows (``outputs/<name>/...``)."""
    text = template.read_text(encoding="utf-8") if template.is_file() else ""
    found = re.findall(rf"\{{({re.escape(fmt.out_folder(name))}/[^}}]+\.(?:png|jpg|pdf|gif))\}}", text)
    return [f for f in dict.fromkeys(found) if not MADE_BY_WRITEUP.search(f)]


def check_notebook(nb: dict, name: str, run_dir: Path | None = None) -> list[Item]:
    """The checklist for a saved notebook ``nb`` of the kit's notebook ``name`` (figures under ``run_dir``)."""
    cells = nb.get("cells", [])
    graded = [(c, _graded_id(c)) for c in cells if _graded_id(c)]
    items = []

    answers = [(c, gid) for c, gid in graded if (fmt.cell_role(c) == fmt.ANSWER or
               (not fmt.is_test_id(gid) and fmt.cell_role(c) != fmt.TEST)) and not is_optional(c)]
    empty = [gid for c, gid in answers
             if any(stub in fmt.cell_source(c) for stub in (CODE_STUBS if c.get("cell_type") == "code"
                                                            else (TEXT_STUB,)))]
    items.append(Item(not empty, f"every answer written ({len(answers) - len(empty)} of {len(answers)})",
                      f"still to do: {', '.join(empty)}"))

    tests = [(c, gid) for c, gid in graded if c.get("cell_type") == "code" and fmt.is_test_id(gid)]
    not_run = [gid for c, gid in tests if c.get("execution_count") is None and not c.get("outputs")]
    failing = []
    for cell, gid in tests:
        error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        if error:
            failing.append(f"{gid} ({error.get('ename', 'Error')}: {str(error.get('evalue', ''))[:80]})")
    items.append(Item(not not_run and not failing, f"every visible test run and passing ({len(tests)} tests)",
                      "; ".join(filter(None, [f"fails: {', '.join(failing)}" if failing else "",
                                              f"not run: {', '.join(not_run)} (run all, then save)"
                                              if not_run else ""]))))

    ids = [gid for _, gid in graded]
    duplicated = sorted({gid for gid in ids if ids.count(gid) > 1})
    expected = _expected_ids(name)
    lost = [gid for gid in expected if gid not in ids]
    unmarked = [gid for c, gid in graded if not fmt.grade_id(c)]
    problems = [f"cells appear twice: {', '.join(duplicated)} (delete the copies)" if duplicated else "",
                f"cells missing or unrecognisable: {', '.join(lost)} (copy them back from the release notebook, "
                "with their first line `#| kit: ...`)" if lost else "",
                f"grading metadata stripped from {', '.join(unmarked)} (the grader restores it from the "
                "`#| kit:` line: keep that line)" if unmarked else ""]
    items.append(Item(not duplicated and not lost, "every graded cell recognisable by the grader",
                      "; ".join(p for p in problems if p)))

    run_dir = Path(run_dir or Path.cwd())
    needed = figures_needed(name)
    # A TeX macro in a path (the digit lab's \labdigit, the student's digit) matches any folder name.
    missing = [f for f in needed if not any(p.is_file() for p in run_dir.glob(re.sub(r"\\[A-Za-z]+", "*", f)))]
    items.append(Item(not missing, f"the writeup's figures saved ({len(needed) - len(missing)} of {len(needed)})",
                      f"missing: {', '.join(missing[:4])}" + (f" and {len(missing) - 4} more" if len(missing) > 4
                                                              else "") + " (run the cells that make them)"))
    return items


def check_before_handing_in(name: str, notebook: str | Path | None = None, run_dir: str | Path | None = None,
                            ) -> bool:
    """Print the hand-in checklist of notebook ``name``; True when nothing is left to fix.

    ``notebook`` is the saved file (default: found as :func:`find_notebook` says); ``run_dir`` holds ``outputs/``.
    """
    if is_grading():
        print("(the hand-in check is skipped while grading)")
        return True
    if notebook is not None:
        nb, where = json.loads(Path(notebook).read_text(encoding="utf-8")), str(notebook)
    else:
        nb, where = find_notebook(name, Path(run_dir) if run_dir else None)
    if nb is None:
        print(f"Save this notebook first (as {name}.ipynb in this folder), then run this cell again.")
        return False
    items = check_notebook(nb, name, Path(run_dir) if run_dir else None)
    print(f"Before you hand in {where}:")
    print("\n".join(str(item) for item in items))
    ready = all(item.ok for item in items)
    print("Ready to hand in: the notebook and your writeup PDF." if ready else
          "Fix what is marked [ ], save, and run this cell again.")
    return ready
