"""Time to quality: the CPU preset against the original recipe, measured by the sliced Wasserstein distance.

    python -m bench.dcgan_quality --stage original   # once: the original recipe, 20,000 iterations (resumable)
    python -m bench.dcgan_quality                    # the CPU preset until it reaches the original's final SWD

The original run's history is kept in build/bench/dcgan_original/ (its checkpoint resumes an interrupted run).
The recorded preset run (bench/results/dcgan_quality.json) used one torch thread (OMP_NUM_THREADS=1): with more
threads the floating-point path, and so the curve, differs a little.
Prints a table, and as the last line one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from autograder.solutions import load_reference
from helpers.core.checkpoint import load_checkpoint
from helpers.core.emoji_data import load_emojis
from helpers.dcgan.training import DCGANConfig, train_dcgan

ROOT = Path(__file__).resolve().parent.parent

OUT = ROOT / "build" / "bench"
TIMING_ITERS = 500  # iterations of each recipe timed back to back on this machine for the wall-time ratio
# The original recipe's curve, recorded once with `--stage original` (see the file for where it ran).
RECORDED = ROOT / "bench" / "results" / "dcgan_original.json"


def run(config: DCGANConfig) -> dict:
    ref = load_reference("dcgan")
    began = time.perf_counter()
    result = train_dcgan(config, ref.DCGenerator, ref.training_iteration, load_emojis("train"), load_emojis("test"))
    return {"history": result.history, "seconds_this_call": time.perf_counter() - began}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["original", "preset"], default="preset")
    args = parser.parse_args()
    if args.stage == "original":
        config = DCGANConfig(out_dir=str(OUT / "dcgan_original"), checkpoint_every=1000)
        figures = run(config)
        timing_file = OUT / "dcgan_original" / "timing.json"
        previous = json.loads(timing_file.read_text()) if timing_file.exists() else {"seconds": 0.0}
        seconds = previous["seconds"] + figures["seconds_this_call"]
        timing_file.write_text(json.dumps({"seconds": seconds}))
        final = figures["history"]["swd"][-1]
        print(f"original recipe: {config.steps} iterations, {seconds:.0f} s, final SWD {final[1]:.2f}")
        print(json.dumps({"original_iters": config.steps, "original_seconds": seconds,
                          "original_final_swd": final[1], "original_swd": figures["history"]["swd"]}))
        return 0

    original_ckpt = OUT / "dcgan_original" / "checkpoint.pt"
    local = load_checkpoint(original_ckpt) if original_ckpt.exists() else None
    if local and local["iteration"] >= DCGANConfig().steps or not RECORDED.exists():
        if local is None:
            print("run `python -m bench.dcgan_quality --stage original` first", file=sys.stderr)
            return 2
        original_iters, original_swd, source = local["iteration"], local["history"]["swd"], str(original_ckpt)
    else:  # the run recorded once (on a GPU): see its "where" and "command"
        recorded = json.loads(RECORDED.read_text())
        original_iters, original_swd = recorded["iterations"], [tuple(p) for p in recorded["swd"]]
        source = f"{RECORDED.relative_to(ROOT)} ({recorded['where']})"
    complete = original_iters >= DCGANConfig().steps
    target = smoothed(original_swd)[-1][1]  # the original's final SWD (mean of its last checkpoints)
    print(f"original recipe: {source}")

    config = DCGANConfig.cpu_preset(out_dir=str(OUT / "dcgan_preset"))
    figures = run(config)
    preset_curve = smoothed(figures["history"]["swd"])
    reached = next((it for it, v in preset_curve if v <= target), None)
    # The preset's iterations cost a little more (the moving average of G, its BatchNorm calibration, more
    # frequent samples and SWD checkpoints): time both recipes here, back to back, for the wall-time ratio.
    cost = {name: seconds_per_iteration(recipe) for name, recipe in
            (("original", DCGANConfig()), ("cpu_preset", config))}
    speedup = original_iters * cost["original"] / (reached * cost["cpu_preset"]) if reached else None
    print(f"{'recipe':<12}{'iterations':>12}{'SWD (smoothed)':>16}")
    for it, v in smoothed(original_swd):
        print(f"{'original':<12}{it:>12}{v:>16.1f}")
    for it, v in preset_curve:
        print(f"{'cpu_preset':<12}{it:>12}{v:>16.1f}")
    if not complete:
        print(f"NOTE: the original run is incomplete ({original_iters} of {DCGANConfig().steps} iterations): "
              "resume it with --stage original; the target below is its SWD so far")
    print(f"seconds per iteration here ({TIMING_ITERS} timed of each, sampling and SWD included): original "
          f"{cost['original']:.3f}, cpu_preset {cost['cpu_preset']:.3f}")
    print(f"target SWD {target:.1f}: the preset reaches it at iteration {reached or 'never'} "
          f"({reached * cost['cpu_preset'] if reached else float('nan'):.0f} s here); the original needed "
          f"{original_iters} iterations ({original_iters * cost['original']:.0f} s here): wall-time speedup "
          f"{speedup or float('nan'):.1f}x (target 5x)")
    print(json.dumps({"target_swd": target, "original_iters": original_iters, "original_complete": complete,
                      "original_swd": original_swd, "original_source": source, "preset_iters_to_target": reached,
                      "original_s_per_iter": cost["original"], "preset_s_per_iter": cost["cpu_preset"],
                      "original_seconds": original_iters * cost["original"],
                      "preset_seconds_to_target": reached * cost["cpu_preset"] if reached else None,
                      "speedup": speedup, "preset_swd": figures["history"]["swd"]}))
    return 0


def seconds_per_iteration(config: DCGANConfig, iters: int = TIMING_ITERS) -> float:
    """Wall seconds per iteration of ``config``'s training loop on this machine, its sample grids and SWD
    checkpoints included (a short run in a temporary folder)."""
    with tempfile.TemporaryDirectory() as tmp:
        return run(config.replace(steps=iters, out_dir=tmp, progress=False))["seconds_this_call"] / iters


def smoothed(curve: list[tuple[int, float]], window: int = 3) -> list[tuple[int, float]]:
    """SWD averaged over the last ``window`` checkpoints (one estimate from 138 test emojis is noisy)."""
    out = []
    for i, (iteration, _) in enumerate(curve):
        recent = [v for _, v in curve[max(0, i - window + 1):i + 1]]
        out.append((iteration, sum(recent) / len(recent)))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
