"""Settings are declared once (autograder.config.SETTINGS, ENVIRONMENT): kit.toml holds only declared settings,
every ``KIT_*`` environment variable the kit reads is declared, and the README's table is the declared one."""

from __future__ import annotations

import dataclasses
import re
import tomllib

import pytest

from autograder import config as kit_config

ROOT = kit_config.KIT_ROOT
# Quoted KIT_* names that are not environment variables.
NOT_VARIABLES = {"KIT_ROOT": "a Python name (helpers.__all__)", "KIT_PWNED": "what a hostile test submission sets"}
QUOTED = re.compile(r"""["'](KIT_[A-Z0-9_]+)["']""")


def test_kit_toml_holds_only_declared_settings_and_every_required_one():
    data = tomllib.loads((ROOT / "kit.toml").read_text())
    keys = {f"{section}.{key}" for section, values in data.items() for key in values}
    declared = {s.key for s in kit_config.SETTINGS}
    assert keys <= declared, f"undeclared settings in kit.toml: {keys - declared} (add them to SETTINGS)"
    required = {s.key for s in kit_config.SETTINGS if s.default is kit_config.REQUIRED}
    assert required <= keys


def test_load_config_reads_every_setting_and_names_a_missing_one(tmp_path):
    loaded = kit_config.load_config()
    assert [f.name for f in dataclasses.fields(loaded)] == [s.name for s in kit_config.SETTINGS]
    assert kit_config.default("cell_timeout_s") == kit_config.KitConfig.__dataclass_fields__["cell_timeout_s"].default
    (tmp_path / "kit.toml").write_text('[course]\nid = "c"\nassignments = ["a"]\nbundle_url = "u"\n'
                                       '[grading]\ncell_timeout_s = 7\n')
    with pytest.raises(ValueError, match="colab_base"):
        kit_config.load_config(tmp_path / "kit.toml")
    (tmp_path / "kit.toml").write_text((tmp_path / "kit.toml").read_text().replace("[grading]", 'colab_base = "b"\n'
                                                                                   "[grading]"))
    small = kit_config.load_config(tmp_path / "kit.toml")
    assert small.cell_timeout_s == 7 and small.assignments == ("a",)
    assert small.memory_limit_mb == kit_config.default("memory_limit_mb")
    assert small.source_notebook("a") == kit_config.NOTEBOOKS_DIR / "a.ipynb"


def test_every_environment_variable_the_kit_reads_is_declared():
    read = set()
    for folder in ("autograder", "helpers", "bench", "scripts", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            read |= set(QUOTED.findall(path.read_text(encoding="utf-8")))
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        read |= set(QUOTED.findall(path.read_text(encoding="utf-8").replace('\\"', '"')))
    declared = {v.name for v in kit_config.ENVIRONMENT} | {s.env for s in kit_config.SETTINGS if s.env}
    undeclared = read - declared - set(NOT_VARIABLES)
    assert not undeclared, f"declare these in autograder.config.ENVIRONMENT: {sorted(undeclared)}"
    assert "KIT_FAST" in read and "KIT_SANDBOX_PIDS" in read, "the scan finds what the kit reads"


def test_the_readme_s_table_is_the_declared_one():
    readme = (ROOT / "README.md").read_text()
    assert kit_config.environment_table() in readme, \
        "paste autograder.config.environment_table() into the README's table of environment variables"
