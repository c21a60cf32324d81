"""Time to quality: the CPU preset against the original recipe, measured by the sliced Wasserstein distance.

    python bench/dcgan_quality.py --stage original   # once: the original recipe, 20,000 iterations (resumable)
    python bench/dcgan_quality.py                    # the CPU preset until it reaches the original's final SWD

The original run's history is kept in build/bench/dcgan_original/ (its checkpoint resumes an interrupted run).
Prints a table, and as the last line one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.solutions import load_reference  # noqa: E402
from helpers.checkpoint import load_checkpoint  # noqa: E402
from helpers.emoji_data import load_emojis  # noqa: E402
from helpers.gan_training import DCGANConfig, train_dcgan  # noqa: E402

OUT = ROOT / "build" / "bench"


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
        print(f"original recipe: {config.train_iters} iterations, {seconds:.0f} s, final SWD {final[1]:.2f}")
        print(json.dumps({"original_iters": config.train_iters, "original_seconds": seconds,
                          "original_final_swd": final[1], "original_swd": figures["history"]["swd"]}))
        return 0

    original_ckpt = OUT / "dcgan_original" / "checkpoint.pt"
    if not original_ckpt.exists():
        print("run `python bench/dcgan_quality.py --stage original` first", file=sys.stderr)
        return 2
    state = load_checkpoint(original_ckpt)
    original_swd = state["history"]["swd"]
    target = original_swd[-1][1]
    original_seconds = json.loads((OUT / "dcgan_original" / "timing.json").read_text())["seconds"]
    config = DCGANConfig.cpu_preset(out_dir=str(OUT / "dcgan_preset"))
    figures = run(config)
    timing = figures["seconds_this_call"] / config.train_iters
    reached = next(((it, v) for it, v in figures["history"]["swd"] if v <= target), None)
    preset_seconds = reached[0] * timing if reached else None
    print(f"{'recipe':<16}{'iterations':>12}{'seconds':>10}{'final SWD':>12}")
    print(f"{'original':<16}{state['iteration']:>12}{original_seconds:>10.0f}{target:>12.2f}")
    print(f"{'cpu_preset':<16}{config.train_iters:>12}{figures['seconds_this_call']:>10.0f}"
          f"{figures['history']['swd'][-1][1]:>12.2f}")
    print(f"preset reaches the original's final SWD at iteration {reached[0] if reached else 'never'}")
    print(json.dumps({"target_swd": target, "original_seconds": original_seconds,
                      "preset_iters_to_target": reached[0] if reached else None,
                      "preset_seconds_to_target": preset_seconds,
                      "speedup": original_seconds / preset_seconds if preset_seconds else None,
                      "preset_swd": figures["history"]["swd"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
