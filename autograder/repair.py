"""Repair a submitted notebook before nbgrader sees it: restore graded cells' metadata, drop duplicates, fix order.

Editors (Colab included) may strip cell metadata, students duplicate or move cells, and files get renamed. nbgrader
then scores 0 silently or aborts. Here every graded cell of the release is found again in the submission, by (in
this order) its nbgrader ``grade_id``, the ``kit:`` marker the release writes into each graded cell, its cell id,
or, for read-only cells, its content; its metadata is restored from the release, copies are removed, missing cells
are put back from the release, and graded cells are put back in release order (each carrying along the student's
own cells that followed it). Test cells are restored by nbgrader itself from the gradebook (OverwriteCells), so
a submission cannot weaken them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from helpers.core.notebook_format import BEGIN_SOLUTION, END_SOLUTION, MARKER_RE, cell_source, grade_id, marker_line


class SubmissionError(ValueError):
    """A file that cannot be graded at all (not a notebook)."""


def add_markers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Put a ``kit:`` marker line on top of every graded cell (answers and tests) of a source notebook."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not (meta.get("solution") or meta.get("grade")) or MARKER_RE.search(cell.source):
            continue
        marker = marker_line(cell.cell_type, meta["grade_id"])
        if cell.cell_type == "markdown" and BEGIN_SOLUTION not in cell.source:
            # A markdown answer is replaced whole by the release; a solution region keeps the marker outside it.
            cell.source = f"{marker}\n{BEGIN_SOLUTION}\n{cell.source}\n{END_SOLUTION}"
        else:
            cell.source = f"{marker}\n{cell.source}"
    return nb


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def read_notebook_json(path: Path) -> dict:
    """The submission as a JSON dict, or :class:`SubmissionError` naming what is wrong with the file."""
    raw = path.read_bytes()
    if not raw.strip():
        raise SubmissionError(f"{path.name} is empty")
    try:
        nb = json.loads(raw.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        raise SubmissionError(f"{path.name} is not a notebook (invalid JSON: {exc.msg} at line {exc.lineno})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise SubmissionError(f"{path.name} is not a notebook (no list of cells)")
    return nb


@dataclass
class Matching:
    """Which submission cell holds which release cell."""

    by_grade_id: dict[str, int] = field(default_factory=dict)
    duplicates: list[tuple[str, int]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.by_grade_id)


def match_cells(submission: dict, release: nbformat.NotebookNode) -> Matching:
    """Match the release's graded and read-only cells to submission cells."""
    graded = {c.metadata["nbgrader"]["grade_id"]: c for c in release.cells if "nbgrader" in c.metadata}
    by_cell_id = {c.get("id"): gid for gid, c in graded.items() if c.get("id")}
    by_content = {_normalise(c.source): gid for gid, c in graded.items()
                  if c.metadata["nbgrader"].get("locked") and not c.metadata["nbgrader"].get("solution")}
    claims: dict[str, list[int]] = {}
    for index, cell in enumerate(submission["cells"]):
        if not isinstance(cell, dict):
            continue
        source = cell_source(cell)
        marker = MARKER_RE.search(source)
        candidates = [grade_id(cell), marker.group(1) if marker else None, by_cell_id.get(cell.get("id")),
                      by_content.get(_normalise(source))]
        gid = next((g for g in candidates if g in graded), None)
        if gid is not None:
            claims.setdefault(gid, []).append(index)
    matching = Matching()
    for gid, indices in claims.items():
        meta = graded[gid].metadata["nbgrader"]
        # Of several copies of an answer cell, the last one is the student's latest; read-only cells are ours.
        keep = indices[-1] if meta.get("solution") else indices[0]
        matching.by_grade_id[gid] = keep
        matching.duplicates += [(gid, i) for i in indices if i != keep]
    return matching


def repair_notebook(submission: dict, release: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """The submission with its graded cells restored as in the release; and what was repaired, one line each."""
    log: list[str] = []
    matching = match_cells(submission, release)
    release_order = [c.metadata["nbgrader"]["grade_id"] for c in release.cells if "nbgrader" in c.metadata]
    release_cells = {c.metadata["nbgrader"]["grade_id"]: c for c in release.cells if "nbgrader" in c.metadata}
    cells = [c for c in submission["cells"] if isinstance(c, dict)]
    if len(cells) != len(submission["cells"]):
        log.append("dropped cells that were not JSON objects")

    duplicate_of = dict((i, gid) for gid, i in matching.duplicates)
    groups: list[tuple[float, list[dict]]] = [(-1.0, [])]  # (release position, cells); leading cells first
    for index, cell in enumerate(submission["cells"]):
        if not isinstance(cell, dict):
            continue
        cell = copy.deepcopy(cell)
        cell.setdefault("metadata", {})
        if index in duplicate_of:
            gid = duplicate_of[index]
            if release_cells[gid].metadata["nbgrader"].get("solution"):
                cell["metadata"].pop("nbgrader", None)  # an older copy of an answer: kept, but not graded
                cell["source"] = MARKER_RE.sub("", cell_source(cell), count=1).lstrip("\n")
                groups[-1][1].append(cell)
                log.append(f"duplicate of graded cell '{gid}' kept as an ungraded cell")
            else:
                log.append(f"duplicate of read-only cell '{gid}' removed")
            continue
        gid = next((g for g, i in matching.by_grade_id.items() if i == index), None)
        if gid is None:
            if "nbgrader" in cell["metadata"]:
                cell["metadata"].pop("nbgrader")  # metadata of a cell the release does not have
                log.append(f"cell {index}: unknown nbgrader metadata removed")
            groups[-1][1].append(cell)
            continue
        expected = release_cells[gid]
        if cell["metadata"].get("nbgrader") != dict(expected.metadata["nbgrader"]):
            log.append(f"cell '{gid}': nbgrader metadata restored")
        cell["metadata"]["nbgrader"] = copy.deepcopy(dict(expected.metadata["nbgrader"]))
        if cell.get("cell_type") != expected.cell_type:
            log.append(f"cell '{gid}': cell type restored to {expected.cell_type}")
            cell["cell_type"] = expected.cell_type
        groups.append((float(release_order.index(gid)), [cell]))

    for gid in release_order:
        if gid not in matching.by_grade_id:
            position = release_order.index(gid)
            groups.append((position - 0.5 if position else -0.5, [copy.deepcopy(dict(release_cells[gid]))]))
            log.append(f"cell '{gid}' missing: restored from the release")
    order_before = [g[0] for g in groups]
    groups.sort(key=lambda g: g[0])
    if [g[0] for g in groups] != order_before and matching.count == len(release_order):
        log.append("graded cells put back in release order")

    repaired = nbformat.v4.new_notebook(metadata=copy.deepcopy(dict(release.metadata)))
    for _, group in groups:
        for cell in group:
            kind = cell.get("cell_type")
            source = cell_source(cell)
            meta = cell.get("metadata", {})
            if kind == "code":
                new = nbformat.v4.new_code_cell(source, metadata=meta)
            elif kind == "markdown":
                new = nbformat.v4.new_markdown_cell(source, metadata=meta)
            else:
                new = nbformat.v4.new_raw_cell(source, metadata=meta)
            repaired.cells.append(new)
    return repaired, log


def repair_file(path: Path, release: Path, target: Path) -> list[str]:
    """Read the submission at ``path``, repair it against the release notebook, write it to ``target``."""
    repaired, log = repair_notebook(read_notebook_json(path), nbformat.read(release, as_version=4))
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(repaired, target)
    return log
