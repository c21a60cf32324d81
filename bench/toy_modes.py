"""Mode collapse on the literature's toy data: the plain GAN beside the kit's best recipe, ten seeds each.

    python -m bench.toy_modes                       # ring of 8 and grid of 25, plain and best, seeds 0-9
    python -m bench.toy_modes --datasets ring --recipes best --seeds 3 --workers 2

Settings of VEEGAN / PacGAN: a ring of 8 Gaussians (radius 1, std 0.01) and a 5x5 grid of 25 Gaussians at
{-4, -2, 0, 2, 4}^2 (std 0.05); 2,500 samples per run; a sample is high quality (HQ) if within 3 std of its nearest
mode; a mode is captured if it has at least one HQ sample (also reported: modes with at least 20% of their fair
share). Both recipes use the notebook's reference training steps and the same networks and number of steps.

Each run's figures are kept in build/toy_modes/<dataset>_<recipe>_<seed>.json, so an interrupted bench resumes
(a file made with another configuration is run again). Every run uses one torch thread; CPU seconds are the
process's own, wall seconds include waiting for a busy machine. Prints a table, and as the last line one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from autograder.solutions import load_reference
from helpers.toy_gan.training import ToyGANConfig, train_toy_gan

ROOT = Path(__file__).resolve().parent.parent

OUT = ROOT / "build" / "toy_modes"
DATASETS = ("ring", "grid")
# As the issue quotes PacGAN (Lin et al., 2018): modes captured (mean over trials) and HQ share in %.
LITERATURE = {("ring", "vanilla GAN"): ("6.3", "98.2"), ("ring", "best packing"): ("7.8-7.9", "about 94-96"),
              ("grid", "vanilla GAN"): ("17.3", "94.8"), ("grid", "best packing"): ("24.8", "about 94-96")}
TARGET_HQ = 0.95


def recipe(name: str, dataset: str, seed: int, steps: int | None) -> ToyGANConfig:
    """The best recipe, or the plain GAN with the same networks, batch and number of steps."""
    best = ToyGANConfig.best(mode=dataset, seed=seed, num_frames=0, progress=False, gif=False,
                             out_dir=str(OUT / "runs" / f"{dataset}_{name}_{seed}"))
    if steps:
        best = best.replace(steps=steps)
    if name == "best":
        return best
    if name == "plain":
        return best.replace(pack=1, r1_gamma=0.0, spectral_norm=False, ema=0.0, final_lr_fraction=1.0)
    raise ValueError(f"unknown recipe {name!r}: 'plain' or 'best'")


def run_one(name: str, dataset: str, seed: int, steps: int | None) -> dict:
    """Train one run (or read its saved figures) and return them."""
    config = recipe(name, dataset, seed, steps)
    saved = OUT / f"{dataset}_{name}_{seed}.json"
    settings = json.loads(json.dumps(dataclasses.asdict(config)))
    if saved.exists():
        figures = json.loads(saved.read_text())
        if figures.get("config") == settings:
            return figures
    torch.set_num_threads(1)
    ref = load_reference("toy_gan")
    cpu, wall = time.process_time(), time.perf_counter()
    result = train_toy_gan(config, iteration=ref.training_iteration, resume=False)
    figures = {"dataset": dataset, "recipe": name, "seed": seed, **result.metrics,
               "cpu_seconds": time.process_time() - cpu, "wall_seconds": time.perf_counter() - wall,
               "config": settings}
    OUT.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(figures))
    return figures


def summary(runs: list[dict]) -> dict:
    modes = [r["modes"] for r in runs]
    hq = [r["hq_share"] for r in runs]
    return {"seeds": len(runs), "num_modes": runs[0]["num_modes"], "modes_mean": statistics.mean(modes),
            "modes_min": min(modes), "modes_fair_mean": statistics.mean(r["modes_fair"] for r in runs),
            "hq_mean": statistics.mean(hq), "hq_min": min(hq),
            "seeds_all_modes_hq95": sum(r["modes"] == r["num_modes"] and r["hq_share"] >= TARGET_HQ for r in runs),
            "cpu_seconds_mean": statistics.mean(r["cpu_seconds"] for r in runs),
            "wall_seconds_mean": statistics.mean(r["wall_seconds"] for r in runs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--recipes", nargs="+", default=["plain", "best"], choices=["plain", "best"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=None, help="override the recipe's number of steps")
    parser.add_argument("--workers", type=int, default=1, help="runs at a time, one CPU thread each")
    args = parser.parse_args()

    load_before = os.getloadavg()
    jobs = [(name, dataset, seed, args.steps) for dataset in args.datasets for name in args.recipes
            for seed in range(args.seeds)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(run_one, *zip(*jobs)))
    load_after = os.getloadavg()

    table = {f"{d}/{n}": summary([r for r in results if r["dataset"] == d and r["recipe"] == n])
             for d in args.datasets for n in args.recipes}
    print(f"{'data/recipe':>12} {'seeds':>5} {'modes':>11} {'min':>4} {'fair':>5} {'HQ %':>6} {'min HQ':>6} "
          f"{'all+95%':>7} {'CPU s':>6} {'wall s':>6}")
    for key, s in table.items():
        print(f"{key:>12} {s['seeds']:>5} {s['modes_mean']:>6.1f}/{s['num_modes']:<4} {s['modes_min']:>4} "
              f"{s['modes_fair_mean']:>5.1f} {100 * s['hq_mean']:>6.1f} {100 * s['hq_min']:>6.1f} "
              f"{s['seeds_all_modes_hq95']:>4}/{s['seeds']:<2} {s['cpu_seconds_mean']:>6.0f} "
              f"{s['wall_seconds_mean']:>6.0f}")
    for (dataset, method), (modes, hq) in LITERATURE.items():
        if dataset in args.datasets:
            print(f"{'PacGAN paper':>12}: {dataset} {method}: {modes}/{8 if dataset == 'ring' else 25} modes, {hq}% HQ")
    print(f"load average (1 min) before/after: {load_before[0]:.1f}/{load_after[0]:.1f} on {os.cpu_count()} cores: "
          "wall seconds include waiting for other jobs")
    print(json.dumps({"table": table, "target_hq": TARGET_HQ, "workers": args.workers,
                      "load_average": [load_before[0], load_after[0]], "cpu_count": os.cpu_count(),
                      "runs": [{k: v for k, v in r.items() if k != "config"} for r in results]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
