"""Plots, videos and human play for the DQN assignment."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from helpers.dqn.agent import DQNAgent
from helpers.dqn.evaluation import Policy, greedy_policy, has_local_screen, make_env


def moving_average(values: Sequence[float], window: int = 20) -> np.ndarray:
    """The mean of the last ``window`` values at each position (fewer at the start)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return values
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, values.size + 1), window)
    return (sums[1:] - sums[np.arange(1, values.size + 1) - counts]) / counts


def plot_training(history: dict[str, list], path: str | Path, threshold: float = 475.0, window: int = 20) -> Path:
    """Four panels: episode returns with their moving average and the evaluations, the loss, and epsilon."""
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(11, 7), dpi=100)
    (ax_ret, ax_eval), (ax_loss, ax_eps) = fig.subplots(2, 2)
    if history["return"]:
        steps, returns = zip(*history["return"])
        ax_ret.plot(steps, returns, alpha=0.35, label="episode return")
        ax_ret.plot(steps, moving_average(returns, window), label=f"moving average ({window} episodes)")
    ax_ret.set(title="Training episodes", xlabel="environment step", ylabel="return")
    if history["eval"]:
        steps = [e["step"] for e in history["eval"]]
        ax_eval.errorbar(steps, [e["mean"] for e in history["eval"]], yerr=[e["std"] for e in history["eval"]],
                         marker="o", capsize=3, label="greedy evaluation")
    ax_eval.axhline(threshold, color="gray", linestyle="--", label=f"solved ({threshold:g})")
    ax_eval.set(title="Greedy evaluation (mean ± std)", xlabel="environment step", ylabel="return")
    if history["loss"]:
        ax_loss.plot(*zip(*history["loss"]))
    ax_loss.set(title="Training loss", xlabel="environment step", ylabel="loss")
    if history["epsilon"]:
        ax_eps.plot(*zip(*history["epsilon"]))
    ax_eps.set(title="Exploration rate", xlabel="environment step", ylabel="epsilon", ylim=(0, 1.05))
    for ax in (ax_ret, ax_eval, ax_loss, ax_eps):
        ax.grid(alpha=0.3)
    for ax in (ax_ret, ax_eval):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    return path


def record_episode(policy: DQNAgent | Policy, env_id: str = "CartPole-v1", seed: int = 0,
                   max_steps: int = 500) -> tuple[list[np.ndarray], float]:
    """Play one greedy episode with ``rgb_array`` rendering: its frames and its return."""
    act = greedy_policy(policy) if isinstance(policy, DQNAgent) else policy
    env = make_env(env_id, render_mode="rgb_array")
    observation, _ = env.reset(seed=seed)
    frames, total = [env.render()], 0.0
    for _ in range(max_steps):
        action = int(np.asarray(act(observation[None]))[0])
        observation, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        frames.append(env.render())
        if terminated or truncated:
            break
    env.close()
    return frames, total


def save_animation(frames: Sequence[np.ndarray], path: str | Path, fps: int = 25, every: int = 2,
                   scale: float = 0.5) -> Path:
    """Save frames as an animated GIF (or an MP4 when ``path`` ends in .mp4 and imageio-ffmpeg is installed).

    Every ``every``-th frame is kept, shrunk by ``scale``, to keep the file small.
    """
    from PIL import Image

    if not frames:
        raise ValueError("save_animation needs at least one frame")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = list(frames[::every])
    images = [Image.fromarray(np.asarray(f)) for f in kept]
    if scale != 1:
        size = (max(1, int(images[0].width * scale)), max(1, int(images[0].height * scale)))
        images = [im.resize(size, Image.BILINEAR) for im in images]
    if path.suffix.lower() == ".mp4":
        if not can_write_mp4():
            raise ValueError(f"cannot write {path}: MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg); "
                             "use a .gif path instead")
        import imageio.v2 as imageio

        # Video encoders want even sizes.
        even = [np.asarray(im)[: im.height // 2 * 2, : im.width // 2 * 2] for im in images]
        imageio.mimwrite(path, even, fps=max(1, fps // every), macro_block_size=1)
        return path
    duration = int(1000 * every / fps)
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration, loop=0)
    return path


def can_write_mp4() -> bool:
    """True when imageio and its ffmpeg plugin are installed."""
    try:
        import imageio  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def show_animation(path: str | Path, width: int | None = 300):
    """An inline display object for a saved GIF or MP4 (embedded in the notebook: works on Colab and offline)."""
    from IPython.display import Image, Video

    path = Path(path)
    if path.suffix.lower() == ".mp4":
        return Video(str(path), embed=True, width=width)
    return Image(filename=str(path), width=width)


def play_cartpole(fps: int = 15, seed: int | None = 0) -> list[float] | None:
    """Play CartPole yourself in a pygame window: hold A (or Left) to push left, D (or Right) to push right.

    CartPole has no "do nothing" action: with no key pressed the cart is pushed left. The game runs at
    ``fps`` steps per second (the simulation's own rate is 50) and restarts when the pole falls; close the
    window or press Escape to stop. Returns the returns of the finished episodes, or None (with a message)
    when there is no local screen (Colab, a server).
    """
    if not has_local_screen():
        print("Human play needs a local screen (a pygame window): it does not work on Colab or a headless "
              "server. Run this notebook on your own computer to play.")
        return None
    try:
        import pygame
        from gymnasium.utils.play import play
    except ImportError:
        print("Human play needs pygame: pip install 'gymnasium[classic-control]'")
        return None
    returns, current = [], [0.0]

    def record(obs, next_obs, action, reward, terminated, truncated, info) -> None:
        current[0] += float(reward)
        if terminated or truncated:
            returns.append(current[0])
            print(f"episode {len(returns)}: return {current[0]:.0f}")
            current[0] = 0.0

    keys = {(ord("a"),): 0, (ord("d"),): 1, (pygame.K_LEFT,): 0, (pygame.K_RIGHT,): 1}
    play(make_env("CartPole-v1", render_mode="rgb_array"), fps=fps, keys_to_action=keys, noop=0,
         callback=record, seed=seed)
    return returns
