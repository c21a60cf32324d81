"""Tests of the shipped emoji dataset, its builder, the loaders and TensorSampler."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.core.emoji_data import DEFAULT_FONT_PATH, DEFAULT_NPZ_PATH, build_emoji_arrays, load_emojis, split_indices
from helpers.core.samplers import TensorSampler

needs_font = pytest.mark.skipif(
    not DEFAULT_FONT_PATH.is_file(), reason="fonts-noto-color-emoji not installed"
)
SPLITS = ("train", "test")


@pytest.fixture(scope="module")
def npz() -> dict[str, np.ndarray]:
    with np.load(DEFAULT_NPZ_PATH) as data:
        return {k: data[k] for k in data.files}


# --- the shipped npz ------------------------------------------------------------------------


def test_npz_keys_shapes_dtypes(npz: dict[str, np.ndarray]) -> None:
    for split in SPLITS:
        n = len(npz[f"{split}_codepoints"])
        assert npz[f"{split}_codepoints"].dtype == np.int32
        for size in (32, 64):
            arr = npz[f"{split}_{size}"]
            assert arr.dtype == np.uint8
            assert arr.shape == (n, size, size, 3)
    n_train, n_test = len(npz["train_codepoints"]), len(npz["test_codepoints"])
    assert n_train > 1000
    assert n_test == round(0.1 * (n_train + n_test))


def test_npz_splits_disjoint_sorted_and_emoji_only(npz: dict[str, np.ndarray]) -> None:
    train, test = npz["train_codepoints"], npz["test_codepoints"]
    assert set(train.tolist()).isdisjoint(test.tolist())
    assert (np.diff(train) > 0).all() and (np.diff(test) > 0).all()
    cps = np.concatenate([train, test])
    assert (cps >= 0xA9).all()  # no ASCII, digits, '#', '*'
    assert not ((cps >= 0x1F1E6) & (cps <= 0x1F1FF)).any()  # regional indicators
    assert not ((cps >= 0x1F3FB) & (cps <= 0x1F3FF)).any()  # skin-tone modifiers
    assert not ((cps >= 0xFE00) & (cps <= 0xFE0F)).any()  # variation selectors
    assert 0x1F600 in cps  # grinning face


def test_npz_split_is_the_seeded_split(npz: dict[str, np.ndarray]) -> None:
    every = np.sort(np.concatenate([npz["train_codepoints"], npz["test_codepoints"]]))
    train_idx, test_idx = split_indices(len(every), 0.1, seed=0)
    np.testing.assert_array_equal(every[train_idx], npz["train_codepoints"])
    np.testing.assert_array_equal(every[test_idx], npz["test_codepoints"])


def test_images_are_not_blank_and_differ(npz: dict[str, np.ndarray]) -> None:
    for split in SPLITS:
        imgs = npz[f"{split}_32"].astype(np.float32)
        mean_img = imgs.mean(axis=0)
        assert mean_img.min() < 200  # the mean image is not all white
        assert (imgs.reshape(len(imgs), -1).min(axis=1) < 200).all()  # every image has ink
        assert imgs[:, 0, 0].mean() > 200  # corners are mostly the white background
        assert imgs.std(axis=0).mean() > 20  # images differ from one another
        flat = npz[f"{split}_64"].reshape(len(imgs), -1)
        assert len(np.unique(flat, axis=0)) == len(flat)


@needs_font
def test_rebuilding_a_subset_is_identical(npz: dict[str, np.ndarray]) -> None:
    first = build_emoji_arrays(limit=40)
    second = build_emoji_arrays(limit=40)
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    shipped = {int(cp): (split, i) for split in SPLITS for i, cp in enumerate(npz[f"{split}_codepoints"])}
    for split in SPLITS:
        for i, cp in enumerate(first[f"{split}_codepoints"]):
            src_split, j = shipped[int(cp)]
            for size in (32, 64):
                np.testing.assert_array_equal(first[f"{split}_{size}"][i], npz[f"{src_split}_{size}"][j])


def test_build_reports_missing_font(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="fonts-noto-color-emoji"):
        build_emoji_arrays(font_path=tmp_path / "nope.ttf", limit=1)


# --- load_emojis from the npz -------------------------------------------------------------------


@pytest.mark.parametrize("size", [32, 64, 16, 48])
@pytest.mark.parametrize("split", SPLITS)
def test_load_emojis_shape_range(npz: dict[str, np.ndarray], split: str, size: int) -> None:
    x = load_emojis(split, image_size=size)
    assert x.shape == (len(npz[f"{split}_codepoints"]), 3, size, size)
    assert x.dtype == torch.float32 and x.device.type == "cpu"
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert x.max() == 1.0  # white background
    assert x.mean() < 0.9


def test_load_emojis_matches_npz_pixels(npz: dict[str, np.ndarray]) -> None:
    x = load_emojis("test", 32, source=DEFAULT_NPZ_PATH)
    expected = torch.from_numpy(npz["test_32"]).permute(0, 3, 1, 2).float() / 127.5 - 1
    torch.testing.assert_close(x, expected)


def test_load_emojis_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        load_emojis("validation")
    with pytest.raises(ValueError, match="image_size"):
        load_emojis("train", image_size=0)
    with pytest.raises(ValueError, match="does not exist"):
        load_emojis(source=tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="does not exist"):
        load_emojis(source=tmp_path / "emojis" / "Apple")
    (tmp_path / "emojis" / "Apple").mkdir(parents=True)
    with pytest.raises(ValueError, match="no .png/.jpg"):
        load_emojis(source=tmp_path / "emojis" / "Apple")
    with pytest.raises(ValueError, match="Test_Apple"):
        load_emojis("test", source=tmp_path / "emojis" / "Apple")


# --- load_emojis from an assignment-style folder ------------------------------------------------


def _write_rgba(path: Path, color: tuple[int, int, int], size: int = 20) -> None:
    """A square of ``color`` in the middle of a transparent image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    im.paste(Image.new("RGBA", (size // 2, size // 2), (*color, 255)), (size // 4, size // 4))
    im.save(path)


def test_load_emojis_from_folder_layout(tmp_path: Path) -> None:
    root = tmp_path / "emojis"
    _write_rgba(root / "Apple" / "a.png", (255, 0, 0))
    _write_rgba(root / "Apple" / "faces" / "b.png", (0, 255, 0))
    _write_rgba(root / "Apple" / "faces" / "deeper" / "c.png", (0, 0, 255))
    Image.new("RGB", (12, 12), (0, 0, 0)).save(root / "Apple" / "faces" / "d.jpg")
    (root / "Apple" / "notes.txt").write_text("not an image")
    _write_rgba(root / "Test_Apple" / "x" / "e.png", (255, 255, 0))

    train = load_emojis("train", image_size=16, source=root / "Apple")
    test = load_emojis("test", image_size=16, source=str(root / "Apple"))
    assert train.shape == (4, 3, 16, 16) and test.shape == (1, 3, 16, 16)
    assert train.dtype == torch.float32
    assert train.min() >= -1 and train.max() <= 1
    # Sorted by path: a.png (red), faces/b.png (green), faces/d.jpg (black), faces/deeper/c.png (blue).
    centres = train[:, :, 8, 8]
    torch.testing.assert_close(centres[0], torch.tensor([1.0, -1.0, -1.0]))
    torch.testing.assert_close(centres[1], torch.tensor([-1.0, 1.0, -1.0]))
    torch.testing.assert_close(centres[3], torch.tensor([-1.0, -1.0, 1.0]))
    assert train[2].max() < -0.9  # the all-black jpg
    # Transparent corners are composited on white.
    torch.testing.assert_close(train[[0, 1, 3], :, 0, 0], torch.ones(3, 3))
    torch.testing.assert_close(test[0, :, 8, 8], torch.tensor([1.0, 1.0, -1.0]))


# --- TensorSampler ------------------------------------------------------------------------------


def _devices() -> list[str]:
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", _devices())
def test_sampler_is_seeded_and_on_device(device: str) -> None:
    data = torch.arange(50, dtype=torch.float32).reshape(50, 1).expand(50, 3)
    a, b, c = (TensorSampler(data, seed=s, device=device) for s in (7, 7, 8))
    assert len(a) == 50 and a.device.type == device and a.data.device.type == device
    batches_a = [a.sample(10) for _ in range(3)]
    batches_b = [b.sample(10) for _ in range(3)]
    for x, y in zip(batches_a, batches_b):
        assert x.device.type == device and x.shape == (10, 3)
        torch.testing.assert_close(x, y)
        assert len(torch.unique(x[:, 0])) == 10  # distinct items within a batch
    assert not torch.equal(batches_a[0], c.sample(10))
    assert not torch.equal(batches_a[0], batches_a[1])
    a.reset()
    torch.testing.assert_close(a.sample(10), batches_a[0])


def test_sampler_leaves_global_rng_alone_and_checks_batch_size() -> None:
    sampler = TensorSampler(torch.zeros(5, 2), seed=0)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    sampler.sample(5)
    torch.testing.assert_close(torch.rand(3), expected)
    with pytest.raises(ValueError, match="batch_size"):
        sampler.sample(6)
    with pytest.raises(ValueError):
        TensorSampler(torch.zeros(0, 2))


def test_sampler_on_real_data() -> None:
    sampler = TensorSampler(load_emojis("train", 32), seed=0)
    batch = sampler.sample(64)
    assert batch.shape == (64, 3, 32, 32) and batch.dtype == torch.float32
