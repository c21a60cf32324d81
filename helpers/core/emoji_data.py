"""Offline emoji image dataset: building it from Noto Color Emoji, loading it (shared by the DCGAN, the StyleGAN2
assignment and the face lab).

The kit ships ``data/emojis.npz``, rendered from Debian's ``fonts-noto-color-emoji`` by
``scripts/build_emoji_data.py`` (which calls :func:`build_emoji_arrays`). Notebooks call
:func:`load_emojis` to get a whole split as one float tensor in ``[-1, 1]`` and draw training
batches from it with :class:`helpers.core.samplers.TensorSampler`, which keeps the data on the training device.

The npz holds, for each split ``train`` / ``test``:

* ``<split>_32`` and ``<split>_64``: ``uint8`` arrays ``N x H x W x 3`` (RGB on white);
* ``<split>_codepoints``: ``int32`` Unicode code points, one per image, sorted;
* ``<split>_names``: the Unicode character names (``"U+XXXXX"`` where Python does not know it).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from helpers.core.runtime import DATA_DIR

DEFAULT_FONT_PATH = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
DEFAULT_NPZ_PATH = DATA_DIR / "emojis.npz"
FONT_PACKAGE = "fonts-noto-color-emoji"
#: Pixel size at which Noto Color Emoji has its colour bitmap strike (136 x 128 glyphs).
RENDER_SIZE = 109
#: A render whose every channel value is at least this is treated as empty (all white).
WHITE_LEVEL = 250
SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


# Code points in the font's cmap that are not stand-alone emoji pictures.
_EXCLUDED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x00A8),  # ASCII, controls, space, digits, '#', '*'
    (0x200D, 0x200D),  # zero width joiner
    (0x20E3, 0x20E3),  # combining enclosing keycap
    (0xE000, 0xF8FF),  # private use area
    (0xFE00, 0xFE0F),  # variation selectors
    (0x1F1E6, 0x1F1FF),  # regional indicator letters (flags are pairs of them)
    (0x1F3FB, 0x1F3FF),  # skin-tone modifiers
    (0xE0000, 0xE007F),  # tag characters (subdivision flags)
    (0xE0100, 0xE01EF),  # variation selectors supplement
    (0xF0000, 0x10FFFF),  # supplementary private use areas (Noto keeps some flags there)
)


def _check_font(font_path: str | Path) -> Path:
    path = Path(font_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Emoji font not found at {path}. Install the Debian/Ubuntu package {FONT_PACKAGE} "
            f"(apt-get install {FONT_PACKAGE}) or pass font_path= pointing at NotoColorEmoji.ttf."
        )
    return path


def _is_excluded(codepoint: int) -> bool:
    return any(lo <= codepoint <= hi for lo, hi in _EXCLUDED_RANGES)


def emoji_codepoints(font_path: str | Path = DEFAULT_FONT_PATH) -> list[int]:
    """The sorted single code points of the font's cmap that are candidate emoji pictures.

    Everything the font maps is kept except ASCII (digits, ``#``, ``*``, space), joiners and the
    keycap combiner, variation selectors, regional indicators, skin-tone modifiers, tag
    characters and private-use code points. Renders that come out empty are dropped later, in
    :func:`build_emoji_arrays`.
    """
    from fontTools.ttLib import TTFont

    path = _check_font(font_path)
    with TTFont(str(path), lazy=True) as font:
        cmap = font.getBestCmap()
    return sorted(cp for cp in cmap if not _is_excluded(cp))


def emoji_name(codepoint: int) -> str:
    """The Unicode name of ``codepoint``, or ``"U+XXXX"`` if this Python does not know it."""
    return unicodedata.name(chr(codepoint), f"U+{codepoint:04X}")


def render_emoji(
    codepoint: int, font: ImageFont.FreeTypeFont, sizes: tuple[int, ...] = (32, 64)
) -> dict[int, np.ndarray] | None:
    """Render one code point and return ``{size: uint8 array size x size x 3}``, or None if empty.

    The glyph is drawn in colour on a transparent RGBA canvas, cropped to its alpha bounding
    box, padded to a centred square, composited on white, and resized with LANCZOS from the
    high-resolution render to each size independently.
    """
    char = chr(codepoint)
    left, top, right, bottom = font.getbbox(char)
    margin = 8
    width, height = right - left + 2 * margin, bottom - top + 2 * margin
    if width <= 2 * margin or height <= 2 * margin:
        return None
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((margin - left, margin - top), char, font=font, embedded_color=True)
    box = canvas.getchannel("A").getbbox()
    if box is None:
        return None
    glyph = canvas.crop(box)
    side = max(glyph.size)
    square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    square.paste(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    rgb = on_white(square)
    if np.asarray(rgb).min() >= WHITE_LEVEL:
        return None
    return {s: np.asarray(rgb.resize((s, s), Image.Resampling.LANCZOS), dtype=np.uint8) for s in sizes}


def split_indices(n: int, test_fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic held-out split of ``range(n)``: sorted ``(train_idx, test_idx)``.

    ``round(n * test_fraction)`` indices (at least one when ``n >= 2`` and the fraction is
    positive) are drawn with ``numpy.random.default_rng(seed)``.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    n_test = round(n * test_fraction)
    if test_fraction > 0 and n >= 2:
        n_test = max(n_test, 1)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def build_emoji_arrays(
    font_path: str | Path = DEFAULT_FONT_PATH,
    sizes: tuple[int, ...] = (32, 64),
    test_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
) -> dict[str, np.ndarray]:
    """Render every emoji of the font and split it into train and test arrays.

    Args:
        font_path: the Noto Color Emoji TTF (Debian package ``fonts-noto-color-emoji``).
        sizes: output side lengths; each is resized from the high-resolution render.
        test_fraction: share of emojis held out for the test split.
        seed: seed of the held-out split.
        limit: render only the first ``limit`` candidate code points (for quick tests).

    Returns:
        ``{"train_<size>", "test_<size>"}`` uint8 ``N x size x size x 3`` arrays,
        ``train_codepoints`` / ``test_codepoints`` (int32, ascending) and
        ``train_names`` / ``test_names`` (unicode strings).
    """
    path = _check_font(font_path)
    sizes = tuple(int(s) for s in sizes)
    codepoints = emoji_codepoints(path)
    if limit is not None:
        codepoints = codepoints[:limit]
    font = ImageFont.truetype(str(path), RENDER_SIZE)
    kept: list[int] = []
    images: dict[int, list[np.ndarray]] = {s: [] for s in sizes}
    for cp in codepoints:
        rendered = render_emoji(cp, font, sizes)
        if rendered is None:
            continue
        kept.append(cp)
        for s in sizes:
            images[s].append(rendered[s])
    if not kept:
        raise ValueError(f"No emoji could be rendered from {path}")

    all_cps = np.asarray(kept, dtype=np.int32)
    all_names = np.asarray([emoji_name(cp) for cp in kept])
    train_idx, test_idx = split_indices(len(kept), test_fraction, seed)
    out: dict[str, np.ndarray] = {}
    for split, idx in (("train", train_idx), ("test", test_idx)):
        for s in sizes:
            out[f"{split}_{s}"] = np.stack(images[s])[idx]
        out[f"{split}_codepoints"] = all_cps[idx]
        out[f"{split}_names"] = all_names[idx]
    return out


def _to_tensor(images: np.ndarray, device: torch.device | str | None) -> torch.Tensor:
    """uint8 ``N x H x W x 3`` -> float ``N x 3 x H x W`` in ``[-1, 1]`` on ``device``."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device or "cpu")
    return x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous()


def _load_npz(path: Path, split: str, image_size: int) -> np.ndarray | torch.Tensor:
    if not path.is_file():
        raise ValueError(
            f"Emoji data file {path} does not exist; rebuild it with "
            "`python scripts/build_emoji_data.py` or pass source= an emoji folder"
        )
    with np.load(path) as data:
        key = f"{split}_{image_size}"
        if key in data.files:
            return data[key]
        base_key = f"{split}_64"
        if base_key not in data.files:
            raise ValueError(f"{path} has neither {key!r} nor {base_key!r} (it has {sorted(data.files)})")
        base = data[base_key]
    # Other sizes: resize the 64 x 64 images with antialiasing (in float, values in [-1, 1]).
    x = _to_tensor(base, "cpu")
    x = F.interpolate(x, size=(image_size, image_size), mode="bicubic", antialias=True, align_corners=False)
    return x.clamp_(-1.0, 1.0)


def on_white(image: Image.Image) -> Image.Image:
    """``image`` as RGB, its transparent parts composited on white."""
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")


def _square(image: Image.Image) -> Image.Image:
    """The centred square crop of an image."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side))


def read_images(files: list[Path], image_size: int, crop: bool = False) -> np.ndarray:
    """The image ``files`` as one ``uint8`` array ``N x S x S x 3``: RGB on white, each first cropped to its
    centred square with ``crop`` (else squeezed), resized to ``image_size`` (Lanczos)."""
    arrays = []
    for path in files:
        with Image.open(path) as im:
            rgb = on_white(im)
        rgb = _square(rgb) if crop else rgb
        arrays.append(np.asarray(rgb.resize((image_size, image_size), Image.Resampling.LANCZOS), dtype=np.uint8))
    return np.stack(arrays)


def image_files(folder: Path) -> list[Path]:
    """All png/jpg images under ``folder`` (recursively, sorted), skipping hidden paths."""
    files = [
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(files)


def _load_folder(folder: Path, image_size: int) -> np.ndarray:
    if not folder.exists():
        raise ValueError(f"Emoji folder {folder} does not exist")
    if not folder.is_dir():
        raise ValueError(f"Emoji source {folder} is neither a folder nor an .npz file")
    files = image_files(folder)
    if not files:
        raise ValueError(f"Emoji folder {folder} contains no .png/.jpg images")
    return read_images(files, image_size)


def load_emojis(
    split: str = "train",
    image_size: int = 32,
    source: str | Path | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Load a whole emoji split as one float tensor ``N x 3 x image_size x image_size`` in ``[-1, 1]``.

    Args:
        split: ``"train"`` or ``"test"`` (the held-out 10%).
        image_size: side length. 32 and 64 come straight from the npz; other sizes are resized
            from the 64 x 64 images with antialiasing.
        source: ``None`` for the shipped ``data/emojis.npz``; a path to another npz of the same
            layout; or a folder in the original assignment's layout ``emojis/<Style>`` (e.g.
            ``emojis/Apple``) whose images, possibly in nested subfolders, are the train split,
            with the test split in the sibling folder ``emojis/Test_<Style>``. Folder images are
            composited on white and resized to ``image_size`` x ``image_size``.
        device: where the tensor lives (default CPU).

    Raises:
        ValueError: for an unknown split, a bad size, a missing file or folder, or a folder
            without images.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive int, got {image_size!r}")
    path = DEFAULT_NPZ_PATH if source is None else Path(source).expanduser()

    if path.suffix.lower() == ".npz":
        arr = _load_npz(path, split, image_size)
    else:
        folder = path if split == "train" else path.parent / f"Test_{path.name}"
        arr = _load_folder(folder, image_size)

    if isinstance(arr, torch.Tensor):
        return arr.to(device or "cpu")
    return _to_tensor(arr, device)
