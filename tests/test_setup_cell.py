"""The notebooks' first cell (autograder/setup_cell.py): finding the kit, and keeping outputs/ on Google Drive."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from autograder.config import KIT_ROOT
from autograder.setup_cell import SETUP_CELL
from helpers.core.checkpoint import load_checkpoint

# A stand-in for Colab's google.colab.drive: mount() makes the folder Drive would show.
FAKE_COLAB = textwrap.dedent("""
    import os, sys, types
    google, colab, drive = (types.ModuleType(n) for n in ("google", "google.colab", "google.colab.drive"))
    def mount(path):
        os.makedirs(os.path.join(path, "MyDrive"), exist_ok=True)
        print("MOUNTED", path)
    drive.mount, colab.drive, google.colab = mount, drive, colab
    sys.modules.update({"google": google, "google.colab": colab, "google.colab.drive": drive})
""")


def _run_setup(cwd: Path, env: dict, on_colab: bool = False, keep: bool = False) -> str:
    cell = SETUP_CELL.replace("KEEP_OUTPUTS_ON_DRIVE = False", f"KEEP_OUTPUTS_ON_DRIVE = {keep}")
    code = (FAKE_COLAB if on_colab else "") + cell + "\nimport helpers; print('HELPERS', helpers.__file__)\n"
    base = {k: v for k, v in os.environ.items() if k not in ("NBGRADER_EXECUTION", "KIT_OUTPUTS_ROOT")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env={**base, "PYTHONPATH": str(KIT_ROOT), **env},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_outputs_move_to_the_kept_folder_and_a_rerun_finds_them(tmp_path):
    runtime, kept = tmp_path / "content", tmp_path / "drive-stand-in" / "outputs"
    (runtime / "outputs" / "dcgan").mkdir(parents=True)
    (runtime / "outputs" / "dcgan" / "checkpoint.pt").write_bytes(b"weights")
    out = _run_setup(runtime, {"KIT_OUTPUTS_ROOT": str(kept)})
    assert f"HELPERS {KIT_ROOT}" in out and "outputs/ is kept in" in out
    assert (runtime / "outputs").is_symlink() and (kept / "dcgan" / "checkpoint.pt").read_bytes() == b"weights"
    # A recycled runtime: a new, empty folder; the same setting finds the checkpoint again.
    recycled = tmp_path / "content-after-recycle"
    recycled.mkdir()
    _run_setup(recycled, {"KIT_OUTPUTS_ROOT": str(kept)})
    assert (recycled / "outputs" / "dcgan" / "checkpoint.pt").read_bytes() == b"weights"
    _run_setup(recycled, {"KIT_OUTPUTS_ROOT": str(kept)})  # running the cell twice changes nothing
    assert (recycled / "outputs").resolve() == kept.resolve()


def test_keep_outputs_on_drive_mounts_drive_on_colab_only(tmp_path):
    runtime, mount = tmp_path / "content", tmp_path / "drive"
    runtime.mkdir()
    out = _run_setup(runtime, {"KIT_DRIVE_MOUNT": str(mount)}, on_colab=True, keep=True)
    assert f"MOUNTED {mount}" in out
    assert (runtime / "outputs").resolve() == (mount / "MyDrive" / "gan-rl-kit" / "outputs").resolve()
    local = tmp_path / "laptop"
    local.mkdir()
    out = _run_setup(local, {}, keep=True)
    assert "is for Colab" in out and not (local / "outputs").exists()


def test_grading_never_follows_the_setting(tmp_path):
    runtime = tmp_path / "graded"
    runtime.mkdir()
    out = _run_setup(runtime, {"KIT_OUTPUTS_ROOT": str(tmp_path / "elsewhere"), "NBGRADER_EXECUTION": "autograde"},
                     on_colab=True, keep=True)
    assert "MOUNTED" not in out and not (runtime / "outputs").exists()


TRAIN = textwrap.dedent("""
    import sys, time
    from autograder.solutions import load_reference
    from helpers.core.emoji_data import load_emojis
    from helpers.dcgan.training import DCGANConfig, train_dcgan
    ref = load_reference("dcgan")
    config = DCGANConfig.fast(steps=STEPS, sample_every=1000, checkpoint_every=3, g_conv_dim=8, d_conv_dim=8,
                              batch_size=8, out_dir="outputs/dcgan/vanilla", progress=True)
    result = train_dcgan(config, ref.DCGenerator, ref.training_iteration, load_emojis("train")[:64])
    print("DONE", result.history["G"][-1][0], flush=True)
""")


def test_a_run_killed_on_a_recycled_runtime_resumes_from_the_kept_outputs(tmp_path):
    """Colab's runtime is recycled mid-run: the new one, with the same setting, resumes from the checkpoint."""
    kept = tmp_path / "drive-stand-in" / "outputs"
    first, second = tmp_path / "content", tmp_path / "content-after-recycle"
    first.mkdir()
    second.mkdir()
    base = {k: v for k, v in os.environ.items() if k not in ("NBGRADER_EXECUTION", "KIT_FAST")}
    env = {**base, "PYTHONPATH": str(KIT_ROOT), "KIT_OUTPUTS_ROOT": str(kept), "OMP_NUM_THREADS": "1"}
    slow = SETUP_CELL + TRAIN.replace("STEPS", "10_000")
    proc = subprocess.Popen([sys.executable, "-c", slow], cwd=first, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    checkpoint = kept / "dcgan" / "vanilla" / "checkpoint.pt"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    proc.kill()  # the runtime disconnects for good
    proc.communicate()
    time.sleep(0.5)
    done = load_checkpoint(checkpoint)["iteration"]
    assert done >= 3
    again = SETUP_CELL + TRAIN.replace("STEPS", str(done + 3))
    resumed = subprocess.run([sys.executable, "-c", again], cwd=second, env=env, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    text = resumed.stdout + resumed.stderr
    assert f"resuming after {done:,}" in text and f"DONE {done + 3}" in text
