"""The kit's configuration (``kit.toml``), the paths everything else uses, and every setting declared once.

:data:`SETTINGS` is the one table of the instructor's settings (as nbgrader's traitlets declare theirs): each with
its name, type, default, help, ``kit.toml`` key and the environment variable that overrides it, where any.
:class:`KitConfig` is built from it, :func:`load_config` reads ``kit.toml`` through it, and the other modules take
their defaults from :func:`default`. :data:`ENVIRONMENT` is the table of every other ``KIT_*`` environment variable
(who reads it, its default, what it does); the README's table is :func:`environment_table` (a test keeps them equal).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KIT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = KIT_ROOT / "notebooks"


@dataclass(frozen=True)
class Setting:
    """One instructor setting: a field of :class:`KitConfig`."""

    name: str  # the KitConfig field
    type: type  # int, str, tuple (of str), dict (of str to str); None allowed where the default is None
    default: Any  # dataclasses.MISSING: required in kit.toml
    help: str
    key: str | None = None  # "section.key" in kit.toml
    env: str | None = None  # an environment variable that overrides kit.toml


REQUIRED = dataclasses.MISSING

SETTINGS: tuple[Setting, ...] = (
    Setting("course_id", str, REQUIRED, "The course's id (nbgrader's CourseDirectory.course_id).", "course.id"),
    Setting("assignments", tuple, REQUIRED, "The graded notebooks, in order; each is notebooks/<name>.ipynb with "
            "its corpus tests/corpus/<name>.py.", "course.assignments"),
    Setting("bundle_url", str, REQUIRED, "Where the student bundle is published; the release writes it into every "
            "release notebook's first cell (a .zip URL or a git repository).", "course.bundle_url"),
    Setting("colab_base", str, REQUIRED, "Where the release notebooks are published on GitHub, for the Open in "
            "Colab badges.", "course.colab_base"),
    Setting("notebooks_dir", str, str(NOTEBOOKS_DIR), "The folder of the source notebooks; relative to kit.toml's "
            "folder (the kit's notebooks/ when not given).", "course.notebooks_dir"),
    Setting("cell_timeout_s", int, 120, "Seconds a grading kernel may spend on one cell (nbgrader's default is "
            "30).", "grading.cell_timeout_s"),
    Setting("notebook_timeout_s", int, 900, "Seconds one submitted notebook may take to grade.",
            "grading.notebook_timeout_s"),
    Setting("memory_limit_mb", int, 6144, "Memory (data segment, MiB) of one grading kernel.",
            "grading.memory_limit_mb"),
    Setting("max_output_chars", int, 200_000, "Characters of output a graded cell keeps; the rest is cut.",
            "grading.max_output_chars"),
    Setting("max_output_image_chars", int, 5_000_000, "Characters of images (base64) a graded cell's stored output "
            "keeps besides its text (an honest figure cell holds up to about 1 MB); the rest is cut.",
            "grading.max_output_image_chars"),
    Setting("process_limit", int, 256, "Processes and threads one grading sandbox may run at once, all together "
            "(a cgroup's pids.max; without a cgroup, a per-user rlimit that root ignores).",
            "grading.process_limit"),
    Setting("disk_quota_mb", int, 1024, "MiB one grading sandbox may write, all files together (a private tmpfs "
            "holding its /tmp and working folder; it counts as memory too).", "grading.disk_quota_mb"),
    Setting("submission_pattern", str, None, "A regular expression with named groups (student_id, ...) telling "
            "the student of a submitted file; none: the layout is recognised.", "submissions.pattern"),
    Setting("canvas_assignment_ids", dict, {}, "Notebook -> Canvas assignment id, for the Canvas CSV's column "
            "headers.", "export.canvas_assignment_ids"),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def default(name: str) -> Any:
    """The declared default of setting ``name`` (for modules that run without a :class:`KitConfig`)."""
    value = _BY_NAME[name].default
    if value is REQUIRED:
        raise KeyError(f"setting {name!r} has no default: kit.toml must give it")
    return value


def _field_type(setting: Setting) -> Any:
    kind = {tuple: tuple[str, ...], dict: tuple[tuple[str, str], ...]}.get(setting.type, setting.type)
    return kind | None if setting.default is None else kind


def _field(setting: Setting) -> Any:
    if setting.default is REQUIRED:
        return dataclasses.field()
    return dataclasses.field(default=_convert(setting, setting.default))


def _convert(setting: Setting, value: Any) -> Any:
    """``value`` (from kit.toml, the environment or the table) as :class:`KitConfig` holds it (hashable)."""
    if value is None or (value == "" and setting.default is None):
        return None
    if setting.type is tuple:
        return tuple(str(v) for v in (value.split(",") if isinstance(value, str) else value))
    if setting.type is dict:
        return tuple((str(k), str(v)) for k, v in dict(value).items())
    return setting.type(value)


def _source_notebook(self, assignment: str) -> Path:
    """The nbgrader source notebook (with solutions and hidden tests) of ``assignment``."""
    if assignment not in self.assignments:
        raise ValueError(f"unknown assignment {assignment!r}; kit.toml lists {list(self.assignments)}")
    return Path(self.notebooks_dir) / f"{assignment}.ipynb"


# Settings an instructor sets once: one field per entry of SETTINGS, in its order.
KitConfig = dataclasses.make_dataclass(
    "KitConfig", [(s.name, _field_type(s), _field(s)) for s in SETTINGS], frozen=True,
    namespace={"source_notebook": _source_notebook, "__doc__": "Settings an instructor sets once (SETTINGS).",
               "__module__": __name__})


def load_config(path: str | Path = KIT_ROOT / "kit.toml") -> KitConfig:
    """Read ``kit.toml`` (then each setting's environment variable, where it has one), with a clear error for a
    missing file or required setting."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"kit configuration not found: {path}")
    data = tomllib.loads(path.read_text())
    values = {}
    for setting in SETTINGS:
        section, key = setting.key.split(".")
        value = data.get(section, {}).get(key, REQUIRED)
        if setting.env and os.environ.get(setting.env):
            value = os.environ[setting.env]
        if value is REQUIRED:
            if setting.default is REQUIRED:
                raise ValueError(f"{path} lacks the setting {key!r} (in [{section}])")
            continue
        values[setting.name] = _convert(setting, value)
    values["notebooks_dir"] = str(path.parent.resolve() / values.get("notebooks_dir", NOTEBOOKS_DIR))
    return KitConfig(**values)


@dataclass(frozen=True)
class EnvVar:
    """An environment variable the kit reads (other than a setting's override)."""

    name: str
    default: str
    help: str
    read_by: str


ENVIRONMENT: tuple[EnvVar, ...] = (
    EnvVar("KIT_FAST", "unset", "1: fast mode (runs shortened as when grading); `make all` executes the notebooks "
           "with it.", "helpers.core.runtime, autograder.execute"),
    EnvVar("KIT_CORPUS", "unset", "full: the suite grades every mutant through the real grader and predicts every "
           "one in process (else a sample).", "tests/corpus/common.py"),
    EnvVar("KIT_BUNDLE_URL", "the release's BUNDLE_URL", "Where a notebook's setup cell downloads the bundle from "
           "(outside a checkout).", "the setup cell"),
    EnvVar("KIT_BUNDLE_DIR", "~/gan-rl-kit", "Where the setup cell unpacks the bundle.", "the setup cell"),
    EnvVar("KIT_OUTPUTS_ROOT", "unset", "A folder outputs/ is linked to (kept there across runtimes); never while "
           "grading.", "the setup cell"),
    EnvVar("KIT_DRIVE_MOUNT", "/content/drive", "Where Google Drive is mounted for KEEP_OUTPUTS_ON_DRIVE.",
           "the setup cell"),
    EnvVar("KIT_TIME_SLICE", "unset", "Steps of every training run to time after a warm-up one; the run then "
           "stops (bench/student_time.py sets it in its kernels).", "bench/timing.py"),
    EnvVar("KIT_TIME_LOG", "unset", "The JSON-lines file each sliced run appends its pace to.", "bench/timing.py"),
    EnvVar("KIT_SANDBOX_ISOLATE", "1", "0: grade without the namespaces (a machine without user namespaces); "
           "the kernel guards stay.", "autograder.sandbox"),
    EnvVar("KIT_SANDBOX_MEMORY_BYTES", "memory_limit_mb", "Set by the grader: a kernel's memory limit.",
           "autograder.sandbox"),
    EnvVar("KIT_SANDBOX_MAX_OUTPUT", "max_output_chars", "Set by the grader: characters a cell's output keeps.",
           "autograder.sandbox"),
    EnvVar("KIT_SANDBOX_PROCESSES", "process_limit", "Set by the grader: processes a sandbox may run at once.",
           "autograder.sandbox"),
    EnvVar("KIT_SANDBOX_DISK_BYTES", "disk_quota_mb", "Set by the grader: bytes a sandbox may write (its tmpfs).",
           "autograder.sandbox"),
    EnvVar("KIT_SANDBOX_CGROUP", "1", "0: no cgroup of the sandbox's own (per-process limits instead).",
           "autograder.sandbox"),
    EnvVar("KIT_SANDBOX_HIDE", "set by the grader", "Paths hidden from the kernel (course folder, submissions).",
           "autograder.sandbox"),
    EnvVar("KIT_SANDBOX_BLANK", "set by the grader", "Files shown empty to the kernel (the gradebook).",
           "autograder.sandbox"),
    EnvVar("KIT_SANDBOX_WRITABLE", "set by the grader", "Folders that stay writable (the kernel's sockets).",
           "autograder.sandbox"),
    EnvVar("KIT_SANDBOX_PIDS", "set by the grader", "Where the launcher records the kernel's PID, to kill its "
           "namespace.", "autograder.sandbox, autograder.grade"),
    EnvVar("KIT_SANDBOX_STATUS", "set by the launcher", "What isolation and limits the kernel got (the grader's "
           "probe reads it).", "autograder.sandbox"),
)


def environment_table() -> str:
    """The README's table of every environment variable: the settings' overrides and :data:`ENVIRONMENT`."""
    rows = ["| Variable | Default | What it does | Read by |", "|---|---|---|---|"]
    for setting in SETTINGS:
        if setting.env:
            rows.append(f"| `{setting.env}` | kit.toml `{setting.key}` | {setting.help} | autograder.config |")
    rows += [f"| `{v.name}` | {v.default} | {v.help} | {v.read_by} |" for v in ENVIRONMENT]
    return "\n".join(rows)
