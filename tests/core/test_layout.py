"""The library's layout: a shared core, and one package per assignment that imports only itself and the core; and
the harness is driven by kit.toml: a tiny eighth notebook added to a temporary kit.toml is picked up by the notebook
invariants, the hand-in check, the corpus, the grading test's parametrisation, the layout and the leak check, with
no list edited."""
# migrate_imports: skip (this file shows old imports on purpose)

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import nbformat

import helpers
from autograder.config import load_config

HELPERS = Path(helpers.__file__).resolve().parent
HELPERS_IMPORT = re.compile(r"^\s*(?:from|import)\s+helpers\.(\w+)", re.M)


def notebook_packages(config, name: str) -> set[str]:
    """The helpers packages besides ``core`` that notebook ``name`` imports (its own package)."""
    nb = nbformat.read(config.source_notebook(name), 4)
    return {m for c in nb.cells if c.cell_type == "code" for m in HELPERS_IMPORT.findall(c.source)} - {"core"}


def layout_problems(config, helpers_dirs: list[Path]) -> list[str]:
    """What is wrong with the packages in ``helpers_dirs`` (the ``helpers`` package's path) for the notebooks
    ``config`` lists: each notebook imports one package of its own besides the core, and there is no other package
    and no flat module."""
    problems, used = [], set()
    for name in config.assignments:
        own = notebook_packages(config, name)
        if len(own) != 1:
            problems.append(f"{name} imports {sorted(own) or 'no'} helpers packages besides core (one of its own)")
        used |= own
    packages = {p.name for d in helpers_dirs for p in Path(d).iterdir() if (p / "__init__.py").is_file()}
    if packages != {"core", *used}:
        problems.append(f"packages {sorted(packages)}; the notebooks use {sorted({'core', *used})}")
    flat = [p.name for d in helpers_dirs for p in Path(d).glob("*.py") if p.name != "__init__.py"]
    if flat:
        problems.append(f"flat modules beside the packages: {flat}")
    return problems


def _helpers_imports(path: Path) -> set[str]:
    """Every ``helpers...`` module the file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "helpers":
            found |= {node.module} if node.module != "helpers" else {f"helpers.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "helpers"}
    return found


def test_the_packages_are_the_core_and_the_assignments():
    assert not layout_problems(load_config(), [HELPERS]), layout_problems(load_config(), [HELPERS])


def test_an_assignment_imports_only_itself_and_the_core():
    wrong = []
    for path in sorted(HELPERS.rglob("*.py")):
        package = path.relative_to(HELPERS).parts[0] if path.parent != HELPERS else "core"
        allowed = {"core", package}
        for module in _helpers_imports(path):
            if module.split(".")[1] not in allowed:
                wrong.append(f"{path.relative_to(HELPERS.parent)} imports {module}")
    assert not wrong, "\n".join(wrong)


TINY = "lab_tiny"
TINY_CORPUS = """
from tests.corpus.common import mutant

AUTO_TESTS = {"test_add_one": 1}
MANUAL_POINTS = 0
MUTANTS = {"adds_two": mutant("add_one", "return x + ONE", "return x + 2 * ONE", "test_add_one", kind="off by one"),
           "subtracts": mutant("add_one", "return x + ONE", "return x - ONE", "test_add_one", kind="wrong sign")}
VARIANTS = {}
"""


def _tiny_notebook() -> nbformat.NotebookNode:
    """The smallest graded notebook the kit's conventions allow: setup cell, imports (its package), one answer, its
    test, the hand-in check."""
    from autograder.setup_cell import SETUP_CELL
    from tests.tiny_course import graded_cell as graded

    v4 = nbformat.v4

    imports = graded(f'from helpers.{TINY} import ONE\n\nOUT = "outputs/{TINY}"', "imports", locked=True)
    imports.metadata["tags"] = ["imports"]
    cells = [v4.new_markdown_cell("# A tiny lab"), graded(SETUP_CELL.rstrip("\n"), "setup", locked=True), imports,
             graded("def add_one(x):\n    ### BEGIN SOLUTION\n    return x + ONE\n    ### END SOLUTION", "add_one",
                    solution=True),
             graded("# Tests for add_one (1 point)\nassert add_one(1) == 2", "test_add_one", grade=True, locked=True,
                    points=1),
             v4.new_code_cell(f'from helpers.core.handin import check_before_handing_in\n\n'
                              f'ready = check_before_handing_in("{TINY}")')]
    return v4.new_notebook(cells=cells)


def test_an_eighth_notebook_is_picked_up_from_kit_toml_alone(tmp_path, monkeypatch):
    """The README's steps for adding a graded notebook, on a temporary tree: the notebook, its package, its corpus,
    one line in kit.toml; every kit.toml-driven check then covers it."""
    from tests.core import test_leaks
    from tests.core.test_handin import ends_with_the_check
    from tests.core.test_notebook_format import notebook_problems
    from tests.corpus.common import check, corpus_module_name, corpus_of, predict_scores
    from tests.test_grading import grading_params
    from tests.tiny_course import kit_toml_listing

    real = load_config()
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in real.assignments:
        (notebooks / f"{name}.ipynb").symlink_to(real.source_notebook(name))
    nbformat.write(_tiny_notebook(), notebooks / f"{TINY}.ipynb")
    package = tmp_path / "helpers" / TINY
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""The tiny lab\'s package."""\n\nONE = 1\n')
    monkeypatch.setattr(helpers, "__path__", [*helpers.__path__, str(tmp_path / "helpers")])
    (tmp_path / "corpus.py").write_text(TINY_CORPUS)
    spec = importlib.util.spec_from_file_location(f"tests.corpus.{TINY}", tmp_path / "corpus.py")
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    monkeypatch.setitem(sys.modules, corpus_module_name(TINY), corpus)  # where corpus_of looks first
    # The one line a new notebook adds; and this tree's own notebooks folder (the real kit.toml needs no such line).
    (tmp_path / "kit.toml").write_text(kit_toml_listing([*real.assignments, TINY]))
    config = load_config(tmp_path / "kit.toml")

    assert config.assignments == (*real.assignments, TINY)
    path = config.source_notebook(TINY)
    assert path == notebooks / f"{TINY}.ipynb" and not notebook_problems(path), notebook_problems(path)
    assert ends_with_the_check(path)
    assert corpus_of(TINY) is corpus
    assert not layout_problems(config, [HELPERS, tmp_path / "helpers"]), layout_problems(config, [HELPERS,
                                                                                                  tmp_path / "helpers"])
    assert layout_problems(load_config(), [HELPERS, tmp_path / "helpers"]), "a package no notebook uses is refused"
    ids = {p.id for p in grading_params(config)}
    # one mutant per targeted test cell in the suite (all with KIT_CORPUS=full)
    assert f"{TINY}-adds_two" in ids and ids > {p.id for p in grading_params(real)}
    # The corpus as the grading test and test_corpus consume it: the reference keeps its point, each mutant loses it.
    scores = predict_scores(TINY, corpus, config)
    found = check(scores, corpus.AUTO_TESTS, corpus.MUTANTS, corpus.VARIANTS)
    assert not found["false_failures"] and not found["wrong"] and len(found["killed"]) == 2, found
    # The leak check reads its notebooks from kit.toml too.
    monkeypatch.setattr(test_leaks, "CONFIG", config)
    test_leaks.corpus.cache_clear()
    try:
        regions, units, _ = test_leaks.corpus()
        assert (TINY, "add_one") in regions and f"{TINY} visible test_add_one" in units
    finally:
        test_leaks.corpus.cache_clear()


def _migrate():
    import importlib.util

    spec = importlib.util.spec_from_file_location("migrate_imports", HELPERS.parent / "scripts" / "migrate_imports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_old_imports_are_rewritten_to_the_new_homes_and_every_new_home_exists():
    migrate = _migrate()
    old = ("from helpers.gan_training import DCGANConfig, update_ema\n"
           "from helpers.toy_gan import (\n    RING_STD,\n    train_gan,\n)\n"
           "from helpers.emoji_data import _image_files\n"
           "see helpers.emoji_data.load_emojis and helpers/stylegan2_training.py\n")
    new = migrate.rewrite(old)
    assert new == ("from helpers.core.averaging import update_ema\n"
                   "from helpers.dcgan.training import DCGANConfig\n"
                   "from helpers.toy_gan.data import RING_STD\n"
                   "from helpers.toy_gan.training import train_gan\n"
                   "from helpers.core.emoji_data import image_files as _image_files\n"
                   "see helpers.core.emoji_data.load_emojis and helpers/stylegan2/training.py\n")
    assert migrate.rewrite(new) == new, "idempotent"
    assert migrate.rewrite("from helpers.dqn import plots\n") == "from helpers.dqn import plots\n", "a new module"
    for moves in migrate.MOVES.values():
        for module, names in moves.items():
            path = HELPERS / (module.replace(".", "/") + ".py")
            text = path.read_text()
            missing = [n for n in names if f"def {n}(" not in text and f"class {n}" not in text and f"{n} =" not in text
                       and f"{n}, " not in text and f"{n}:" not in text]
            assert not missing, f"{module}: {missing}"
