"""Time per DCGAN training iteration: the kit's loop against a faithful re-creation of the original loop.

    python -m bench.dcgan_speed [--iters 60] [--rounds 3] [--device cpu|cuda]

The original loop (as in the assignment's starter code): the emojis as PNG files in an ImageFolder, a DataLoader
with per-batch PIL decoding and transforms (Resize, ToTensor, Normalize), batch 32, a fresh iterator each epoch,
the batch moved to the device every step, the losses read back with ``.item()`` every iteration, contiguous
memory format. The kit's loop is ``helpers.dcgan.training.train_dcgan`` itself, timed as a whole call (model set-up,
checkpoint and plots included, which only counts against the kit), with the data as one tensor on the device
and channels-last convolutions. Both train the same generator (the source notebook's reference) and the same
discriminator with the original hyperparameters. Rounds alternate the two so that a busy machine slows both
alike; the figure per loop is its median over rounds. Last line: one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import datasets, transforms

from autograder.solutions import load_reference
from helpers.core.emoji_data import load_emojis
from helpers.core.layers import DCDiscriminator
from helpers.core.runtime import pick_device
from helpers.dcgan.training import DCGANConfig, train_dcgan

ROOT = Path(__file__).resolve().parent.parent


def write_image_folder(root: Path) -> Path:
    """The training emojis as 64x64 PNG files in the original layout (``emojis/Apple/*.png``)."""
    folder = root / "emojis" / "Apple"
    folder.mkdir(parents=True)
    images = np.load(ROOT / "data" / "emojis.npz")["train_64"]
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:05d}.png")
    return root / "emojis"


class OriginalLoop:
    """The starter code's training loop, one iteration at a time (same maths as the kit's reference)."""

    def __init__(self, make_generator, image_root: Path, config: DCGANConfig, device: torch.device) -> None:
        transform = transforms.Compose([transforms.Resize(config.image_size), transforms.ToTensor(),
                                        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
        dataset = datasets.ImageFolder(str(image_root), transform)
        self.loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, shuffle=True,
                                                  num_workers=0, drop_last=True)
        self.batches = iter(self.loader)
        self.config, self.device = config, device
        self.G = make_generator(noise_size=config.noise_size, conv_dim=config.g_conv_dim).to(device)
        self.D = DCDiscriminator(conv_dim=config.d_conv_dim).to(device)
        betas = (config.beta1, config.beta2)
        self.g_opt = torch.optim.Adam(self.G.parameters(), config.lr, betas)
        self.d_opt = torch.optim.Adam(self.D.parameters(), config.lr * 2.0, betas)
        self.losses: list[tuple[float, float, float]] = []

    def _real_batch(self) -> torch.Tensor:
        try:
            images, _ = next(self.batches)
        except StopIteration:  # a new epoch: a new iterator, as the starter code does
            self.batches = iter(self.loader)
            images, _ = next(self.batches)
        return images.to(self.device)

    def _noise(self) -> torch.Tensor:
        noise = torch.rand(self.config.batch_size, self.config.noise_size) * 2 - 1
        return noise.to(self.device).unsqueeze(2).unsqueeze(3)

    def step(self) -> None:
        for _ in range(self.config.d_train_iters):
            self.d_opt.zero_grad()
            real = self._real_batch()
            d_real_loss = 0.5 * torch.mean((self.D(real) - 1) ** 2)
            fake = self.G(self._noise())
            d_fake_loss = 0.5 * torch.mean(self.D(fake.detach()) ** 2)
            (d_real_loss + d_fake_loss).backward()
            self.d_opt.step()
        self.g_opt.zero_grad()
        g_loss = torch.mean((self.D(self.G(self._noise())) - 1) ** 2)
        g_loss.backward()
        self.g_opt.step()
        self.losses.append((d_real_loss.item(), d_fake_loss.item(), g_loss.item()))


def time_original(loop: OriginalLoop, iters: int, device: torch.device) -> float:
    began = time.perf_counter()
    for _ in range(iters):
        loop.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - began) / iters


def time_kit(ref, train: torch.Tensor, config: DCGANConfig, out_dir: Path, device: torch.device) -> float:
    began = time.perf_counter()
    train_dcgan(config.replace(out_dir=str(out_dir)), ref.DCGenerator, ref.training_iteration, train, resume=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - began) / config.steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=60, help="iterations per timed block")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = pick_device(args.device)
    ref = load_reference("dcgan")
    config = DCGANConfig(steps=args.iters, sample_every=10**9, checkpoint_every=10**9, progress=False,
                         device=str(device))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        original = OriginalLoop(ref.DCGenerator, write_image_folder(tmp / "data"), config, device)
        train = load_emojis("train")
        time_original(original, 5, device)  # warm-up: allocator, kernels, first epoch iterator
        time_kit(ref, train, config.replace(steps=5), tmp / "warmup", device)
        rows = []
        for round_ in range(args.rounds):
            rows.append({"round": round_ + 1, "original_s": time_original(original, args.iters, device),
                         "kit_s": time_kit(ref, train, config, tmp / f"kit{round_}", device)})
    original_s = statistics.median(r["original_s"] for r in rows)
    kit_s = statistics.median(r["kit_s"] for r in rows)
    print(f"device: {device}, torch threads: {torch.get_num_threads()}, {args.iters} iterations x "
          f"{args.rounds} rounds, batch {config.batch_size}")
    print(f"{'round':<8}{'original s/iter':>18}{'kit s/iter':>14}{'ratio':>8}")
    for r in rows:
        print(f"{r['round']:<8}{r['original_s']:>18.4f}{r['kit_s']:>14.4f}{r['original_s'] / r['kit_s']:>8.2f}")
    print(f"{'median':<8}{original_s:>18.4f}{kit_s:>14.4f}{original_s / kit_s:>8.2f}")
    print(f"20,000 iterations: original {original_s * 20000 / 60:.1f} min, kit {kit_s * 20000 / 60:.1f} min")
    print(json.dumps({"device": str(device), "threads": torch.get_num_threads(), "iters_per_round": args.iters,
                      "rounds": args.rounds, "original_s_per_iter": original_s, "kit_s_per_iter": kit_s,
                      "speedup": original_s / kit_s, "kit_minutes_20k": kit_s * 20000 / 60,
                      "original_minutes_20k": original_s * 20000 / 60}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
