"""No answer of any TODO in ``helpers/`` (which the student bundle ships whole): neither a solution region's or
hidden test's distinctive lines, nor a definition of a name that a notebook's answer cell defines.

Reads files only (fast): every source notebook's answer cells, and every Python file under ``helpers/``.
"""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from autograder.config import load_config
from autograder.solutions import is_solution_cell
from helpers.core.runtime import KIT_ROOT

CONFIG = load_config()
HELPERS = KIT_ROOT / "helpers"
REGION_RE = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)
DEF_RE = re.compile(r"^([ \t]*)(?:async\s+)?(?:def|class)\s+(\w+)", re.M)
# Lines too generic to be an answer (the same as tests/test_grading.py's GENERIC_LINES), and, per notebook, lines
# of a solution that a helper holds as something generic. Each needs its reason.
GENERIC_LINES = {"device = next(G.parameters()).device", "self.net = nn.Sequential("}
ALLOWED_LINES = {
    # A substring of the kit's own loop's shuffle_rng (seeding a generator from the config).
    ("lab_mnist_digit", "rng = torch.Generator().manual_seed(config.seed)"): "helpers/image_labs/training.py",
}
# Names an answer cell defines that helpers/ defines too, as something else. Each needs its reason.
ALLOWED_CLASHES = {
    # The toy lab's optional exercise is a NumPy train_gan(mean, std, epochs, seed); helpers/toy_gan/training.py's
    # train_gan(mode, d_steps, steps, batch_size, ...) is the kit's PyTorch run (it takes the students' steps).
    ("toy_gan", "train_gan"): "helpers/toy_gan/training.py",
    # The digit lab's TODOs are image MLPs (noise to 1 x 28 x 28 in [-1, 1] with tanh; images to one logit) and
    # its epoch loop train_gan(G, D, ...); the toy lab's given MLPGenerator / MLPDiscriminator map 2-D points
    # (ReLU, linear output, PacGAN packing) and its train_gan is the toy run above.
    ("lab_mnist_digit", "MLPGenerator"): "helpers/toy_gan/models.py",
    ("lab_mnist_digit", "MLPDiscriminator"): "helpers/toy_gan/models.py",
    ("lab_mnist_digit", "train_gan"): "helpers/toy_gan/training.py",
}


def _notebooks() -> list[tuple[str, nbformat.NotebookNode]]:
    return [(name, nbformat.read(CONFIG.source_notebook(name), 4)) for name in CONFIG.assignments]


def _snippets(nb: nbformat.NotebookNode) -> list[str]:
    """The substantial lines of every solution region and hidden test, less those the release shows anyway (in the
    instructions, or in code outside the regions)."""
    released = "\n".join(REGION_RE.sub("", cell.source) for cell in nb.cells)
    return [line.strip() for cell in nb.cells if cell.cell_type == "code"
            for _, region in REGION_RE.findall(cell.source) for line in region.splitlines()
            if len(line.strip()) >= 24 and not line.strip().startswith("#") and line.strip() not in GENERIC_LINES
            and line.strip() not in released]


def _defined(tree: ast.AST, nested: bool) -> set[str]:
    """Functions and classes ``tree`` defines (at any depth when ``nested``, else at its top level) and the
    top-level names it assigns."""
    nodes = ast.walk(tree) if nested else ast.iter_child_nodes(tree)
    names = {n.name for n in nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    for node in ast.iter_child_nodes(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        for target in targets:
            names |= {t.id for t in ast.walk(target) if isinstance(t, ast.Name)}
    return names


def _answer_names(nb: nbformat.NotebookNode) -> set[str]:
    """What the students' answer cells define: their top-level functions, classes and variables, and every function
    or class inside a solution region (not dunder methods, which a helper class may share)."""
    names: set[str] = set()
    for cell in nb.cells:
        if not is_solution_cell(cell):
            continue
        names |= _defined(ast.parse(cell.source), nested=False)
        for _, region in REGION_RE.findall(cell.source):  # the region's own definitions, not their methods
            found = DEF_RE.findall(region)
            base = min((len(indent) for indent, _ in found), default=0)
            names |= {n for indent, n in found if len(indent) == base and not n.startswith("__")}
    return names


def _helper_files() -> dict[str, tuple[str, set[str]]]:
    files = {}
    for path in sorted(HELPERS.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        files[str(path.relative_to(KIT_ROOT))] = (text, _defined(ast.parse(text), nested=True))
    return files


@pytest.fixture(scope="module")
def helper_files():
    return _helper_files()


@pytest.mark.parametrize("name, nb", _notebooks(), ids=lambda v: v if isinstance(v, str) else "")
def test_no_helper_holds_a_line_of_a_solution_or_hidden_test(name, nb, helper_files):
    snippets = _snippets(nb)
    assert snippets, f"{name}: no solution region found"
    leaked = {path: [s for s in snippets if s in text and ALLOWED_LINES.get((name, s)) != path]
              for path, (text, _) in helper_files.items()}
    leaked = {path: lines for path, lines in leaked.items() if lines}
    assert not leaked, f"{name}: helpers/ holds solution lines (students receive helpers/): {leaked}"


@pytest.mark.parametrize("name, nb", _notebooks(), ids=lambda v: v if isinstance(v, str) else "")
def test_no_helper_defines_what_a_student_s_answer_defines(name, nb, helper_files):
    answers = _answer_names(nb)
    assert answers, f"{name}: no answer cell defines anything"
    clashes = {(path, n) for path, (_, defined) in helper_files.items() for n in answers & defined
               if ALLOWED_CLASHES.get((name, n)) != path}
    assert not clashes, (f"{name}: helpers/ defines names of the students' answers (the reference would ship "
                         f"with the bundle; if a clash is a different thing, allow it in ALLOWED_CLASHES): "
                         f"{sorted(clashes)}")


def test_the_allowed_clashes_are_still_needed(helper_files):
    for (name, n), path in ALLOWED_CLASHES.items():
        assert n in _answer_names(nbformat.read(CONFIG.source_notebook(name), 4)), (name, n)
        assert n in helper_files[path][1], (path, n)
    for (name, line), path in ALLOWED_LINES.items():
        assert line in _snippets(nbformat.read(CONFIG.source_notebook(name), 4)), (name, line)
        assert line in helper_files[path][0], (path, line)


def test_it_catches_the_toy_lab_s_old_leak():
    """The leak this test was written for: a helper module defining the reference mixture_4 and its variances."""
    nb = nbformat.read(CONFIG.source_notebook("toy_gan"), 4)
    old = "MIXTURE_4_TIGHT, MIXTURE_4_WIDE = 0.02, 2.0\n\ndef mixture_4(variance=MIXTURE_4_TIGHT):\n    pass\n"
    assert {"mixture_4", "MIXTURE_4_TIGHT", "MIXTURE_4_WIDE", "HalfCircles"} <= _answer_names(nb)
    assert {"mixture_4", "MIXTURE_4_TIGHT", "MIXTURE_4_WIDE"} <= _answer_names(nb) & _defined(ast.parse(old), True)
