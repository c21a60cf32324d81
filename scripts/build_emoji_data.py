"""Rebuild ``data/emojis.npz`` from the Noto Color Emoji font.

Usage::

    .venv/bin/python scripts/build_emoji_data.py [--font PATH] [--out PATH] [--limit N]

Needs the Debian/Ubuntu package ``fonts-noto-color-emoji``. The output is deterministic for a
given font file and Pillow version: emojis sorted by code point, 10% held out with seed 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

KIT_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    """Build the arrays, save them with ``np.savez_compressed`` and print counts and file size."""
    if str(KIT_ROOT) not in sys.path:
        sys.path.insert(0, str(KIT_ROOT))
    from helpers.core.emoji_data import DEFAULT_FONT_PATH, DEFAULT_NPZ_PATH, build_emoji_arrays

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--font", type=Path, default=DEFAULT_FONT_PATH, help="NotoColorEmoji.ttf")
    parser.add_argument("--out", type=Path, default=DEFAULT_NPZ_PATH, help="output .npz")
    parser.add_argument("--limit", type=int, default=None, help="only the first N code points (testing)")
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    try:
        arrays = build_emoji_arrays(
            font_path=args.font, test_fraction=args.test_fraction, seed=args.seed, limit=args.limit
        )
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)

    n_train, n_test = len(arrays["train_codepoints"]), len(arrays["test_codepoints"])
    print(f"font: {args.font}")
    print(f"emojis: {n_train + n_test} total, {n_train} train, {n_test} test")
    for key, arr in arrays.items():
        print(f"  {key:18s} {arr.dtype!s:8s} {arr.shape}")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
