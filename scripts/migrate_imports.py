"""Rewrite imports of the old flat ``helpers`` modules (before the package split) to their new homes.

``helpers/`` was seventeen flat modules; it is now :mod:`helpers.core` plus one package per assignment. This script
rewrites ``from helpers.<old module> import a, b`` (one line or parenthesised) into imports from the modules where
each name lives now, and old module paths in prose (``helpers.<old module>``, ``helpers/<old module>.py``), in the given
notebooks (every cell, outputs untouched, cell ids and metadata kept) and Python or text files. It is idempotent:
run it on a branch or a notebook written against the old layout.

    python scripts/migrate_imports.py notebooks/*.ipynb tests/*.py bench/*.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

# old module -> {new module (under helpers.): the names that moved there}
MOVES: dict[str, dict[str, tuple[str, ...]]] = {
    "augment": {
        "stylegan2.augment": ("_randint", "_uniform", "diff_augment", "parse_policy", "POLICIES", "random_color",
                              "random_cutout", "random_translation",),
    },
    "checkpoint": {
        "core.checkpoint": ("check_resumable", "config_differences", "load_checkpoint", "restore_rng_state",
                            "rng_state", "save_checkpoint",),
    },
    "dcgan": {
        "core.layers": ("_maybe_spectral_norm", "conv", "DCDiscriminator", "upconv",),
        "dcgan.losses": ("gradient_penalty",),
        "dcgan.models": ("sample_noise",),
    },
    "digit_classifier": {
        "image_labs.digit_classifier": ("_augment", "CACHED_WEIGHTS", "digit_quality", "DigitClassifier",
                                        "FEATURE_DIM", "frechet_distance", "load_digit_classifier", "main",
                                        "SHIPPED_WEIGHTS", "train_digit_classifier",),
    },
    "dqn": {
        "dqn.agent": ("DQNAgent", "exponential_epsilon", "linear_epsilon", "LOSSES", "QNetwork", "SCHEDULES",),
        "dqn.evaluation": ("Checkpoint", "CONFIRM_SEED", "EVAL_SEED", "evaluate", "Evaluation", "greedy_policy",
                           "has_local_screen", "make_env", "Policy", "protocol_check",),
        "dqn.memory": ("Batch", "ReplayMemory",),
        "dqn.plots": ("can_write_mp4", "moving_average", "play_cartpole", "plot_training", "record_episode",
                      "save_animation", "show_animation",),
        "dqn.training": ("_python_rng_state", "DQNConfig", "DQNResult", "GetAction", "notebook_config",
                         "RESUMABLE_FIELDS", "train_dqn", "TrainingStep",),
    },
    "emoji_data": {
        "core.emoji_data": ("_check_font", "_EXCLUDED_RANGES", "image_files", "_is_excluded", "_load_folder",
                            "_load_npz", "_to_tensor", "build_emoji_arrays", "DEFAULT_FONT_PATH", "DEFAULT_NPZ_PATH",
                            "emoji_codepoints", "emoji_name", "FONT_PACKAGE", "IMAGE_SUFFIXES", "load_emojis",
                            "render_emoji", "RENDER_SIZE", "split_indices", "SPLITS", "WHITE_LEVEL",),
        "core.samplers": ("TensorSampler",),
    },
    "gan_training": {
        "core.averaging": ("recalibrate_batchnorm", "update_ema",),
        "core.run": ("TrainResult",),
        "core.schedules": ("lr_scale",),
        "dcgan.training": ("_to_device", "DCGANConfig", "notebook_config",
                           "RESUMABLE_FIELDS", "train_dcgan", "TrainingIteration",),
    },
    "image_gan_data": {
        "core.emoji_data": ("_square",),
        "image_labs.data": ("_announce", "_emojis", "_NOT_FACES", "_pad_to", "_PEOPLE", "_socket_timeout",
                            "_torchvision_dataset", "_uint8_to_tensor", "CIFAR10_CLASSES", "DEFAULT_ROOT",
                            "DOWNLOAD_TIMEOUT_S", "emoji_face_names", "emoji_faces", "ImageData", "load_cifar10",
                            "load_digits", "load_faces", "load_image_folder", "MAX_DIGIT_IMAGES", "offline_digits",),
    },
    "image_gan_training": {
        "image_labs.training": ("epoch_batches", "generate", "ImageGANConfig", "lab_config", "NUM_FIXED_SAMPLES",
                                "RESUMABLE_FIELDS", "StepFn", "train_image_gan",),
    },
    "metrics": {
        "core.metrics": ("__all__", "_BINOMIAL_5", "_blur_matrix", "_center_", "_check_images", "_extract_patches",
                         "_generator", "_PyramidOps", "_sort_rows_", "_split_sizes", "_STREAM_DIRECTIONS",
                         "_STREAM_FAKE_PATCHES", "_STREAM_REAL_PATCHES", "_STREAM_SUBSAMPLE", "laplacian_pyramid",
                         "Normalize", "reconstruct_laplacian_pyramid", "sliced_wasserstein_distance", "SWDTracker",),
    },
    "plotting": {
        "core.plotting": ("image_grid", "plot_curves", "save_gif", "save_grid", "save_side_by_side", "show",),
    },
    "runtime": {
        "core.runtime": ("DATA_DIR", "fast_mode", "is_grading", "KIT_ROOT", "pick_device", "seed_everything",),
    },
    "stylegan2": {
        "stylegan2.generator": ("_ALLOWED_GLOBALS", "_check_activation", "_check_matrix", "_flat_state_dict",
                                "_load_storage", "_numpy_scalar", "_persistent_record", "ACTIVATIONS", "bias_act",
                                "BUNDLED_GENERATOR", "conv2d_resample", "FullyConnectedLayer", "Generator",
                                "load_bundled_generator", "load_generator", "load_official_pickle", "MappingNetwork",
                                "modulated_conv2d", "NOISE_MODES", "normalize_2nd_moment", "PersistentRecord",
                                "PlainDict", "RestrictedUnpickler", "save_generator", "setup_filter",
                                "SynthesisBlock", "SynthesisLayer", "SynthesisNetwork", "ToRGBLayer",
                                "UnsafePickleError", "upfirdn2d", "upsample2d",),
    },
    "stylegan2_tools": {
        "stylegan2.tools": ("_check_latents", "_check_styles", "style_mix", "style_mixing_grid",),
    },
    "stylegan2_training": {
        "stylegan2.discriminator": ("_lrelu", "Discriminator", "DiscriminatorBlock", "EqualConv2d", "EqualLinear",),
        "stylegan2.losses": ("generate_with_mixing", "path_length_penalty", "r1_penalty",),
        "stylegan2.training": ("_lazy_adam", "main", "RESUMABLE_FIELDS", "StyleGAN2Config", "StyleGAN2Result",
                               "train_stylegan2",),
    },
    "toy_gan": {
        "toy_gan.data": ("DatasetSampler", "DISTRIBUTIONS", "gaussian", "GaussianMixture", "grid", "GRID_STD",
                         "make_distribution", "mixture", "ring", "RING_RADIUS", "RING_STD",),
        "toy_gan.losses": ("r1_penalty_step",),
        "toy_gan.metrics": ("evaluate", "generate", "mode_metrics", "sample_moments",),
        "toy_gan.models": ("MLPDiscriminator", "MLPGenerator",),
        "toy_gan.plots": ("_discriminator_probability", "plot_frame", "plot_real_data",),
        "toy_gan.training": ("_frame_steps", "_train", "notebook_steps", "one_thread", "RESUMABLE_FIELDS",
                             "StepFunction", "ToyGANConfig", "ToyGANResult", "train_gan", "train_toy_gan",),
    },
    "writeup": {
        "core.notebook_format": ("cell_source", "CODE_MARKER_RE", "OUT_RE", "SOLUTION_LINE_RE"),
        "core.writeup": ("_clean_code", "_first_error", "_font", "_graded_id", "_notebooks_in", "BUILD_DIR",
                         "build_pdf", "colab_notebook", "DEFINITION_RE", "extract_code", "gather", "graded_code_cells",
                         "Listing", "main", "make_montages", "MONTAGE_FRAMES", "notebook_name", "overleaf_zip",
                         "prepare", "progress_montage", "read_notebook", "SERIES_RE", "TEMPLATE", "write_listings",
                         "writeup", "WRITEUP_NAME", "ZIP_NAME", "ZIP_SUFFIXES",),
    },
}
# old module -> {name: new module}
NAMES = {old: {name: new for new, names in moves.items() for name in names} for old, moves in MOVES.items()}
# Names that changed too: imported under the new name, bound to the old one.
RENAMED = {("emoji_data", "_image_files"): "image_files", ("writeup", "_source"): "cell_source",
           ("writeup", "MARKER_RE"): "CODE_MARKER_RE"}
for (_old, _name), _new_name in RENAMED.items():
    NAMES[_old][_name] = NAMES[_old][_new_name]
# Old modules that moved whole (their paths in prose and in ``import helpers.x`` lines).
MOVED = {old: next(iter(set(names.values()))) for old, names in NAMES.items() if len(set(names.values())) == 1}
# Split modules: where their main part went (for module paths in prose and file paths).
MAIN = {"gan_training": "dcgan.training", "stylegan2_training": "stylegan2.training", "emoji_data": "core.emoji_data",
        "dcgan": "dcgan.models", "dqn": "dqn.training", "toy_gan": "toy_gan.training"}
HELPERS = Path(__file__).resolve().parents[1] / "helpers"
SKIP = "# migrate_imports: skip"  # a file holding this line (one that shows old imports on purpose) is left alone
OLD = "|".join(sorted(NAMES, key=len, reverse=True))
IMPORT_RE = re.compile(rf"^(?P<indent>[ \t]*)from helpers\.(?P<old>{OLD}) import (?P<names>\([^)]*\)|[^\n]*)", re.M)


def _order(item: str) -> tuple[int, str]:
    """isort's order (as ruff applies it): CONSTANTS, then Classes, then functions."""
    name = item.split(" as ")[0].strip()
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def _imports(indent: str, old: str, names: str, width: int = 120) -> str:
    comment = ""
    if "#" in names and not names.startswith("("):
        names, comment = names.split("#", 1)
        comment = "  #" + comment.rstrip()
    items = [n.strip() for n in re.sub(r"#[^\n]*", "", names.strip("()")).replace("\n", ",").split(",") if n.strip()]
    by_module: dict[str, list[str]] = {}
    for item in items:
        name = item.split(" as ")[0].strip()
        if name in NAMES[old]:
            new = NAMES[old][name]
        elif (HELPERS / old / f"{name}.py").is_file():  # a module of the package the old module became
            new = old
        else:  # a name the old module had imported from another one (update_ema from stylegan2_training)
            homes = {moved[name] for moved in NAMES.values() if name in moved}
            if len(homes) != 1:
                raise SystemExit(f"helpers.{old} has no {name!r}: move this import by hand")
            new = homes.pop()
        if (old, name) in RENAMED:
            item = f"{RENAMED[old, name]} as {item.split(' as ')[-1].strip()}"
        by_module.setdefault(new, []).append(item)
    lines = []
    for module, listed in sorted(by_module.items()):
        line = f"{indent}from helpers.{module} import {', '.join(sorted(listed, key=_order))}{comment}"
        if len(line) > width:
            body = "".join(f"{indent}    {item},\n" for item in sorted(listed, key=_order))
            line = f"{indent}from helpers.{module} import ({comment}\n{body}{indent})"
        lines.append(line)
    return "\n".join(lines)


def _prose(text: str) -> str:
    def attribute(match: re.Match) -> str:
        old, name = match.group(1), match.group(2)
        return f"helpers.{NAMES[old][name]}.{name}" if name in NAMES[old] else match.group(0)

    text = re.sub(rf"\bhelpers\.({OLD})\.(\w+)", attribute, text)
    # A module path (not a package's own name: helpers.dcgan, helpers.dqn, ... are packages now).
    homes = {**MOVED, **MAIN}
    modules = "|".join(sorted((o for o in homes if homes[o].split(".")[0] != o), key=len, reverse=True))
    text = re.sub(rf"\bhelpers\.({modules})\b(?!\.)", lambda m: f"helpers.{homes[m.group(1)]}", text)
    text = re.sub(rf"\bhelpers/({OLD})\.py\b", lambda m: f"helpers/{homes[m.group(1)].replace('.', '/')}.py", text)
    return text


def rewrite(text: str) -> str:
    text = IMPORT_RE.sub(lambda m: _imports(m.group("indent"), m.group("old"), m.group("names")), text)
    return _prose(text)


def rewrite_file(path: Path) -> bool:
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text())
        changed = False
        for cell in nb["cells"]:
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            new = rewrite(source)
            if new != source:
                cell["source"] = new.splitlines(keepends=True)
                changed = True
        if changed:
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        return changed
    text = path.read_text()
    if SKIP in text:
        return False
    new = rewrite(text)
    if new != text:
        path.write_text(new)
    return new != text


def main(argv: list[str]) -> int:
    for name in argv:
        if rewrite_file(Path(name)):
            print(f"rewrote {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
