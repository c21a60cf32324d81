"""The library's layout: a shared core, and one package per assignment that imports only itself and the core."""
# migrate_imports: skip (this file shows old imports on purpose)

from __future__ import annotations

import ast
from pathlib import Path

import helpers

HELPERS = Path(helpers.__file__).resolve().parent
ASSIGNMENTS = ("dcgan", "stylegan2", "dqn", "toy_gan", "image_labs")


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
    packages = {p.name for p in HELPERS.iterdir() if (p / "__init__.py").is_file()}
    assert packages == {"core", *ASSIGNMENTS}
    assert not [p.name for p in HELPERS.glob("*.py") if p.name != "__init__.py"], "no flat modules beside the packages"


def test_an_assignment_imports_only_itself_and_the_core():
    wrong = []
    for path in sorted(HELPERS.rglob("*.py")):
        package = path.relative_to(HELPERS).parts[0] if path.parent != HELPERS else "core"
        allowed = {"core", package}
        for module in _helpers_imports(path):
            if module.split(".")[1] not in allowed:
                wrong.append(f"{path.relative_to(HELPERS.parent)} imports {module}")
    assert not wrong, "\n".join(wrong)


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
