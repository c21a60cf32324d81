"""Near-identical solutions, for a person to look at: pairs of submissions whose answer code is the same up to names,
comments, formatting and the order of functions. Nothing is decided here: the grade report lists the pairs with a
similarity figure.

How (in the spirit of MOSS's fingerprints): each code answer cell is parsed, docstrings and comments dropped
(``ast.unparse`` also fixes the formatting), and every name the student binds (variables, arguments, functions,
``self.<attribute>``) that the release cell does not already name is renamed by its order of first use within its
top-level statement. Each top-level statement gives its ``K``-token shingles, so reordering functions or classes
changes nothing. Shingles of the provided code (the release cell), of the reference solution (the source notebook)
and those that more than half of the submissions share (at least 3) are not evidence and are dropped. The figure is
the Jaccard index of two submissions' remaining shingles; a pair is listed from ``THRESHOLD`` on, when both have at
least ``MIN_SHINGLES`` of their own.
"""

from __future__ import annotations

import ast
import builtins
import itertools
import keyword
import math
import re
from pathlib import Path

import nbformat

K = 10
THRESHOLD = 0.5
MIN_SHINGLES = 12
TOKEN_RE = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|[^\w\s]")
STUB_RE = re.compile(r"^\s*(#.*|raise NotImplementedError\(\)\s*)$", re.M)
KEEP_ALWAYS = set(keyword.kwlist) | set(dir(builtins)) | {"self", "cls"}


def _identifiers(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_]\w*", text))


def _drop_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the code binds: assignment and loop targets, arguments, definitions, imports-as, self attributes."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias) and node.asname:
            bound.add(node.asname)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and \
                isinstance(node.value, ast.Name) and node.value.id == "self":
            bound.add(node.attr)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def statements(source: str, provided: str = "") -> list[list[str]]:
    """The normalised tokens of each top-level statement of ``source`` (see the module doc)."""
    code = STUB_RE.sub("", source)
    keep = KEEP_ALWAYS | _identifiers(STUB_RE.sub("", provided))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return [TOKEN_RE.findall(re.sub(r"#[^\n]*", "", code))]
    _drop_docstrings(tree)
    rename = _bound_names(tree) - keep
    out = []
    for stmt in tree.body:
        names: dict[str, str] = {}
        tokens = []
        for token in TOKEN_RE.findall(ast.unparse(stmt)):
            if token in rename:
                token = names.setdefault(token, f"v{len(names)}")
            tokens.append(token)
        out.append(tokens)
    return out


def shingles(source: str, provided: str = "", label: str = "") -> set[int]:
    """Hashes of the ``K``-token shingles of every top-level statement (a short statement is one shingle)."""
    found = set()
    for tokens in statements(source, provided):
        if not tokens:
            continue
        grams = [tokens[i:i + K] for i in range(max(1, len(tokens) - K + 1))]
        found |= {hash((label, *gram)) for gram in grams}
    return found


def answer_cells(nb: nbformat.NotebookNode) -> dict[str, str]:
    """The code answer cells of a notebook, by grade id."""
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def reference_answers(source_nb: nbformat.NotebookNode) -> dict[str, str]:
    """The reference solution's answer cells, without nbgrader's solution markers."""
    return {gid: re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", "", text, flags=re.M)
            for gid, text in answer_cells(source_nb).items()}


def compare(submissions: dict[str, dict[str, str]], provided: dict[str, str], reference: dict[str, str],
            threshold: float = THRESHOLD, only: set[str] | None = None) -> list[dict]:
    """Pairs of students whose answers (grade id -> code) are near-identical, most similar first.

    ``only``: list just the pairs with at least one of these students.
    """
    base = set()
    for gid, text in provided.items():
        base |= shingles(text, text, gid)
    for gid, text in reference.items():
        base |= shingles(text, provided.get(gid, ""), gid)
    prints = {student: set().union(*(shingles(cells.get(gid, ""), provided.get(gid, ""), gid) for gid in provided))
              - base for student, cells in submissions.items()}
    counts: dict[int, int] = {}
    for found in prints.values():
        for h in found:
            counts[h] = counts.get(h, 0) + 1
    common_at = max(3, math.ceil(len(prints) / 2))
    common = {h for h, n in counts.items() if n >= common_at}
    prints = {student: found - common for student, found in prints.items()}
    pairs = []
    for a, b in itertools.combinations(sorted(prints), 2):
        if only is not None and a not in only and b not in only:
            continue
        pa, pb = prints[a], prints[b]
        if min(len(pa), len(pb)) < max(1, MIN_SHINGLES):
            continue
        score = len(pa & pb) / len(pa | pb)
        if score >= threshold:
            pairs.append({"students": [a, b], "similarity": round(score, 3), "shared": len(pa & pb)})
    return sorted(pairs, key=lambda p: -p["similarity"])


def similar_submissions(root: Path, batch: set[tuple[str, str]], config=None,
                        threshold: float = THRESHOLD) -> list[dict]:
    """Near-identical pairs among the course's submitted notebooks (``root/submitted``) of the assignments in
    ``batch`` ({(student, assignment)}), each pair with at least one student of the batch."""
    pairs = []
    for assignment in sorted({a for _, a in batch}):
        release_path = root / "release" / assignment / f"{assignment}.ipynb"
        source_path = root / "source" / assignment / f"{assignment}.ipynb"
        if not release_path.is_file() or not source_path.is_file():
            continue
        provided = answer_cells(nbformat.read(release_path, as_version=4))
        reference = reference_answers(nbformat.read(source_path, as_version=4))
        submissions = {}
        for path in sorted((root / "submitted").glob(f"*/{assignment}/{assignment}.ipynb")):
            try:
                submissions[path.parent.parent.name] = answer_cells(nbformat.read(path, as_version=4))
            except Exception:  # noqa: BLE001 (an unreadable notebook has nothing to compare)
                continue
        only = {s for s, a in batch if a == assignment}
        for pair in compare(submissions, provided, reference, threshold, only):
            pairs.append({"assignment": assignment, **pair})
    return pairs


def format_report(pairs: list[dict]) -> str:
    """Readable lines for the grade report."""
    if not pairs:
        return "similar submissions: none above the threshold"
    lines = [f"similar submissions (for a person to look at; similarity of the answer code, {THRESHOLD:g} and up):"]
    lines += [f"  {p['assignment']}: {p['students'][0]} ~ {p['students'][1]}: {p['similarity']:.2f}" for p in pairs]
    return "\n".join(lines)
