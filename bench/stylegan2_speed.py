"""Images per second of the StyleGAN2 port: batched generation against a naive per-sample loop.

    python -m bench.stylegan2_speed [--batch 64] [--rounds 3] [--device cpu|cuda] [--threads N]

Generates ``--batch`` images from the bundled emoji generator (``data/stylegan2_emoji32.pt``; a randomly
initialised generator of the same architecture if the file is missing) and, with ``--large``, from a
256x256 generator of the official FFHQ-256 size (random weights), in three ways:

* ``loop``: one ``G(z_i)`` call per image, as a naive notebook loop does;
* ``batched``: one call for the whole batch (the default path: fused modulated convolutions, one grouped
  convolution over per-sample weights);
* ``batched_unfused``: one call with ``fused_modconv=False`` (activations scaled around one shared convolution).

All under ``torch.no_grad()`` with constant noise; rounds alternate the ways so that a busy machine slows all
alike, and each figure is the median over rounds. A GPU figure is added when CUDA is available (``--device``
picks one device only). Last line: one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from helpers.stylegan2.generator import BUNDLED_GENERATOR, Generator, load_generator
from helpers.stylegan2.training import StyleGAN2Config

ROOT = Path(__file__).resolve().parent.parent

FFHQ256_KWARGS = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3,
                      mapping_kwargs={"num_layers": 8},
                      synthesis_kwargs={"channel_base": 16384, "channel_max": 512, "conv_clamp": 256})


def emoji_generator() -> tuple[Generator, str]:
    if BUNDLED_GENERATOR.is_file():
        return load_generator(BUNDLED_GENERATOR), "bundled emoji32"
    torch.manual_seed(0)
    return Generator(**StyleGAN2Config().generator_kwargs()).eval(), "emoji32 (random weights)"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@torch.no_grad()
def images_per_second(G: Generator, z: torch.Tensor, way: str) -> float:
    device = z.device
    _sync(device)
    began = time.perf_counter()
    if way == "loop":
        for i in range(len(z)):
            G(z[i: i + 1], None, noise_mode="const")
    else:
        G(z, None, noise_mode="const", fused_modconv=(way == "batched"))
    _sync(device)
    return len(z) / (time.perf_counter() - began)


def bench(G: Generator, batch: int, rounds: int, device: torch.device) -> dict[str, float]:
    G = G.to(device).eval()
    z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(0)).to(device)
    ways = ("loop", "batched", "batched_unfused")
    for way in ways:  # warm-up: allocator, kernels, cuDNN autotuning
        images_per_second(G, z[: min(batch, 8)], way)
    figures: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(rounds):
        for way in ways:
            figures[way].append(images_per_second(G, z, way))
    return {way: statistics.median(values) for way, values in figures.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cpu, plus cuda if available)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--large", action="store_true", help="also time a 256x256 FFHQ-size generator")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device:
        devices = [torch.device(args.device)]
    else:
        devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    G_emoji, emoji_name = emoji_generator()
    models = [(emoji_name, G_emoji, args.batch)]
    if args.large:
        torch.manual_seed(0)
        models.append(("ffhq256-size (random weights)", Generator(**FFHQ256_KWARGS).eval(), max(args.batch // 8, 2)))
    results = []
    print(f"torch {torch.__version__}, CPU threads: {torch.get_num_threads()}, rounds: {args.rounds}")
    print(f"{'generator':<32}{'device':<8}{'batch':>6}{'loop img/s':>12}{'batched':>12}{'unfused':>12}{'speedup':>9}")
    for name, G, batch in models:
        for device in devices:
            figures = bench(G, batch, args.rounds, device)
            speedup = max(figures["batched"], figures["batched_unfused"]) / figures["loop"]
            results.append({"generator": name, "device": str(device), "batch": batch, **figures,
                            "speedup": speedup})
            print(f"{name:<32}{str(device):<8}{batch:>6}{figures['loop']:>12.1f}{figures['batched']:>12.1f}"
                  f"{figures['batched_unfused']:>12.1f}{speedup:>9.1f}")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "gpu": gpu,
                      "rounds": args.rounds, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
