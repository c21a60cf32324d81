"""Steps and wall time to solve CartPole-v1: the kit's reference DQN against Stable-Baselines3's DQN (rl-zoo).

    python -m bench.dqn_cartpole                 # 10 seeds, both agents, seed by seed
    python -m bench.dqn_cartpole --seeds 3 --kit-only

One protocol for both agents (helpers.dqn.evaluation.protocol_check): every 2,500 training steps, 20 greedy episodes;
when their mean return reaches 475, 100 more; "solved" at the first checkpoint whose 100-episode mean
reaches 475. Evaluation steps are not training steps, but their time is in the wall time. The kit runs the
notebook's reference solution (its get_action, training_step, exploration_schedule and hyperparameters; not
DQNConfig's defaults, which are the students' untuned starting values), for at most 30,000 steps; SB3 with the
rl-baselines3-zoo hyperparameters for CartPole-v1 and its budget of 50,000 steps. Both on the CPU with one torch thread.
Stable-Baselines3 is a benchmark-only extra (pip install stable-baselines3), not a requirement of the kit.
Prints a table, and as the last line one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from autograder.solutions import load_reference
from helpers.dqn.evaluation import protocol_check
from helpers.dqn.training import DQNConfig, train_dqn

ROOT = Path(__file__).resolve().parent.parent

OUT = ROOT / "build" / "dqn_bench"
KIT_BUDGET = 30_000
EVAL = DQNConfig()  # the protocol's settings: eval_every, eval_episodes, confirm_episodes, solve_threshold
# rl-baselines3-zoo, hyperparams/dqn.yml, CartPole-v1 ("Almost Tuned"), n_timesteps 5e4.
SB3_BUDGET = 50_000
SB3_HYPERPARAMETERS = dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1_000,
                           gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
                           exploration_fraction=0.16, exploration_final_eps=0.04,
                           policy_kwargs=dict(net_arch=[256, 256]))


def reference_config(reference) -> DQNConfig:
    """The reference solution's hyperparameters (the notebook's solution of TODO 3)."""
    return DQNConfig(**reference.hyperparameters)


def run_kit(seed: int, reference) -> dict:
    config = reference_config(reference).replace(seed=seed, steps=KIT_BUDGET, out_dir=str(OUT / f"kit_seed{seed}"),
                                                  progress=False, checkpoint_every=KIT_BUDGET)
    wall, cpu = time.perf_counter(), time.process_time()
    result = train_dqn(config, reference.get_action, reference.training_step,
                       epsilon_schedule=reference.exploration_schedule, resume=False)
    return {"solved_at": result.solved_at, "steps": result.steps, "seconds": time.perf_counter() - wall,
            "cpu_seconds": time.process_time() - cpu}


def run_sb3(seed: int) -> dict:
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    class Protocol(BaseCallback):
        """The kit's evaluation protocol, every eval_every training steps; stops SB3 once solved."""

        def __init__(self) -> None:
            super().__init__()
            self.solved_at: int | None = None

        def _on_step(self) -> bool:
            if self.num_timesteps % EVAL.eval_every:
                return True
            point = protocol_check(lambda obs: self.model.predict(obs, deterministic=True)[0], self.num_timesteps,
                                   EVAL.eval_episodes, EVAL.confirm_episodes, EVAL.solve_threshold)
            if point.solved:
                self.solved_at = self.num_timesteps
            return not point.solved

    wall, cpu = time.perf_counter(), time.process_time()
    model = DQN("MlpPolicy", "CartPole-v1", seed=seed, device="cpu", verbose=0, **SB3_HYPERPARAMETERS)
    callback = Protocol()
    model.learn(total_timesteps=SB3_BUDGET, callback=callback)
    return {"solved_at": callback.solved_at, "steps": model.num_timesteps, "seconds": time.perf_counter() - wall,
            "cpu_seconds": time.process_time() - cpu}


def median_steps(runs: list[dict]) -> float:
    """Median steps to solve, an unsolved run counting as infinitely many."""
    return statistics.median(r["solved_at"] if r["solved_at"] is not None else math.inf for r in runs)


def summary(runs: list[dict], budget: int) -> dict:
    return {"solved": sum(r["solved_at"] is not None for r in runs), "seeds": len(runs),
            "solved_within_30k": sum(r["solved_at"] is not None and r["solved_at"] <= 30_000 for r in runs),
            "median_steps": median_steps(runs), "median_seconds": statistics.median(r["seconds"] for r in runs),
            "max_seconds": max(r["seconds"] for r in runs),
            "median_cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs), "budget": budget,
            "per_seed": runs}


def finite(value):
    """``value`` with infinities and NaNs (an unsolved median) as None, for standard JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def fmt(run: dict | None) -> str:
    if run is None:
        return f"{'-':>8} {'-':>8} {'-':>8}"
    solved = f"{run['solved_at']:,}" if run["solved_at"] is not None else "unsolved"
    return f"{solved:>8} {run['seconds']:8.1f} {run['cpu_seconds']:8.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--kit-only", action="store_true")
    parser.add_argument("--sb3-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    np.seterr(all="ignore")
    want_sb3 = not args.kit_only
    if want_sb3:
        try:
            import stable_baselines3
        except ImportError:
            print("Stable-Baselines3 is not installed: `pip install stable-baselines3` to compare with it "
                  "(a benchmark-only extra). Rerun with --kit-only to measure the kit alone.", file=sys.stderr)
            return 2
        sb3_version = stable_baselines3.__version__
    reference = load_reference("dqn")
    load_before = os.getloadavg()
    print(f"CPU cores: {os.cpu_count()}, load average before: {load_before[0]:.2f}; torch {torch.__version__}, "
          f"1 thread" + (f"; stable-baselines3 {sb3_version}" if want_sb3 else ""))
    print(f"{'seed':>4} | {'kit steps':>8} {'wall s':>8} {'cpu s':>8} | {'SB3 steps':>8} {'wall s':>8} {'cpu s':>8}")
    kit, sb3 = [], []
    for seed in range(args.seeds):
        kit_run = None if args.sb3_only else run_kit(seed, reference)
        sb3_run = run_sb3(seed) if want_sb3 else None
        kit += [kit_run] if kit_run else []
        sb3 += [sb3_run] if sb3_run else []
        print(f"{seed:>4} | {fmt(kit_run)} | {fmt(sb3_run)}", flush=True)
    load_after = os.getloadavg()
    figures: dict = {"protocol": {"eval_every": EVAL.eval_every, "eval_episodes": EVAL.eval_episodes,
                                  "confirm_episodes": EVAL.confirm_episodes, "threshold": EVAL.solve_threshold},
                     "load_average_before": load_before[0], "load_average_after": load_after[0],
                     "cpu_cores": os.cpu_count()}
    if kit:
        figures["kit"] = summary(kit, KIT_BUDGET)
        figures["kit_config"] = {k: v for k, v in reference_config(reference).__dict__.items()
                                 if k not in ("out_dir", "progress")}
        k = figures["kit"]
        print(f"kit: solved {k['solved']}/{k['seeds']} within {KIT_BUDGET:,} steps, median {k['median_steps']:,} "
              f"steps, median wall {k['median_seconds']:.1f} s (max {k['max_seconds']:.1f} s), "
              f"median CPU {k['median_cpu_seconds']:.1f} s")
    if sb3:
        figures["sb3"] = summary(sb3, SB3_BUDGET)
        figures["sb3_hyperparameters"] = SB3_HYPERPARAMETERS
        s = figures["sb3"]
        print(f"SB3: solved {s['solved']}/{s['seeds']} within {SB3_BUDGET:,} steps ({s['solved_within_30k']} within "
              f"30,000), median {s['median_steps']:,} steps, median wall {s['median_seconds']:.1f} s, "
              f"median CPU {s['median_cpu_seconds']:.1f} s")
    if kit and sb3:
        ratios = {"steps": figures["kit"]["median_steps"] / figures["sb3"]["median_steps"],
                  "wall": figures["kit"]["median_seconds"] / figures["sb3"]["median_seconds"],
                  "cpu": figures["kit"]["median_cpu_seconds"] / figures["sb3"]["median_cpu_seconds"]}
        figures["kit_over_sb3"] = ratios
        print(f"kit / SB3 at the median: steps {ratios['steps']:.2f}, wall time {ratios['wall']:.2f}, "
              f"CPU time {ratios['cpu']:.2f}")
    print(f"load average after: {load_after[0]:.2f} (the machine is shared: wall times include contention; "
          "CPU times do not)")
    print(json.dumps(finite(figures), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
