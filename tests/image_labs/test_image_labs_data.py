"""The image-GAN labs' loaders, on small local data: MNIST files the test writes, mocked CIFAR-10, image folders,
and the offline fallbacks. Nothing here touches the network (``download=False`` or a mocked dataset class)."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.datasets
from PIL import Image

from helpers.core.runtime import KIT_ROOT
from helpers.image_labs.data import (
    CIFAR10_CLASSES,
    emoji_face_names,
    load_cifar10,
    load_digits,
    load_faces,
    load_image_folder,
    offline_digits,
)


def _write_mnist(root: Path, count: int = 12) -> np.ndarray:
    """Tiny MNIST in torchvision's raw IDX layout (root/MNIST/raw); returns the labels."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    labels = np.arange(count, dtype=np.uint8) % 10
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, count, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, count) + labels.tobytes())
    return labels


def _write_images(folder: Path, count: int, size: tuple[int, int], suffix: str = ".png", rgba: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    for i in range(count):
        channels = 4 if rgba else 3
        array = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
        Image.fromarray(array, "RGBA" if rgba else "RGB").save(folder / f"img{i:03d}{suffix}")


def test_offline_digits_look_like_mnist(tmp_path, capsys):
    data = load_digits(root=tmp_path, download=False)
    assert data.source == "sklearn-digits"
    assert "offline" in data.description and "scikit-learn" in capsys.readouterr().out
    assert data.images.shape[1:] == (1, 28, 28) and data.images.dtype == torch.float32
    assert len(data) == len(data.labels) and 1400 < len(data) < 1500  # the 80% split of 1,797
    assert float(data.images.min()) == -1.0 and 0.9 < float(data.images.max()) <= 1.0
    # MNIST's layout: a 20x20 digit in a 28x28 frame of background.
    border = torch.ones(28, 28, dtype=torch.bool)
    border[4:24, 4:24] = False
    assert torch.all(data.images[:, 0, border] == -1.0)
    assert set(data.labels.tolist()) == set(range(10))
    test = load_digits(root=tmp_path, download=False, train=False, verbose=False)
    assert len(test) + len(data) == 1797


def test_one_digit_at_most_max_images_and_32_pixels(tmp_path):
    sevens = load_digits(digit=7, root=tmp_path, download=False, verbose=False)
    assert torch.all(sevens.labels == 7) and 100 < len(sevens) < 200
    few = load_digits(digit=7, max_images=10, image_size=32, root=tmp_path, download=False, verbose=False)
    assert few.images.shape == (10, 1, 32, 32)
    assert torch.equal(few.images[:, :, 2:30, 2:30], sevens.images[:10]) and torch.all(few.images[:, :, :2] == -1)


@pytest.mark.parametrize("digit", [10, -1, "3", True, 2.0])
def test_bad_digit_is_refused(tmp_path, digit):
    with pytest.raises(ValueError, match="digit"):
        load_digits(digit=digit, root=tmp_path, download=False)


def test_bad_size_and_count_are_refused(tmp_path):
    with pytest.raises(ValueError, match="image_size"):
        load_digits(image_size=64, root=tmp_path, download=False)
    with pytest.raises(ValueError, match="max_images"):
        load_digits(max_images=0, root=tmp_path, download=False)


def test_mnist_files_on_disk_are_used(tmp_path):
    labels = _write_mnist(tmp_path)
    data = load_digits(root=tmp_path, download=False, verbose=False)
    assert data.source == "mnist" and "MNIST" in data.description
    assert data.images.shape == (12, 1, 28, 28) and data.labels.tolist() == labels.tolist()
    threes = load_digits(digit=3, root=tmp_path, download=False, verbose=False)
    assert threes.labels.tolist() == [3]


def test_a_failed_download_falls_back_to_the_offline_digits(tmp_path, monkeypatch):
    def unreachable(**kwargs):
        assert kwargs["download"] is True
        raise URLError("no network")

    monkeypatch.setattr(torchvision.datasets, "MNIST", unreachable)
    data = load_digits(digit=1, root=tmp_path, verbose=False)
    assert data.source == "sklearn-digits" and "URLError" in data.description


class _FakeCIFAR10:
    def __init__(self, root, train, download):
        self.data = np.full((20, 32, 32, 3), 255 if train else 0, dtype=np.uint8)
        self.targets = [i % 10 for i in range(20)]


def test_cifar10_from_torchvision(tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", _FakeCIFAR10)
    data = load_cifar10(root=tmp_path, verbose=False)
    assert data.source == "cifar10" and data.images.shape == (20, 3, 32, 32)
    assert torch.all(data.images == 1.0)
    horses = load_cifar10(classes=("horse", "cat"), root=tmp_path, verbose=False)
    assert sorted(set(horses.labels.tolist())) == [CIFAR10_CLASSES.index("cat"), CIFAR10_CLASSES.index("horse")]
    assert len(load_cifar10(max_images=5, root=tmp_path, verbose=False)) == 5
    with pytest.raises(ValueError, match="unknown CIFAR-10 classes"):
        load_cifar10(classes=("unicorn",), root=tmp_path)


def test_cifar10_falls_back_to_a_folder_then_to_the_emojis(tmp_path):
    _write_images(tmp_path / "images" / "cats", 3, (40, 30))
    _write_images(tmp_path / "images" / "dogs", 2, (32, 32), rgba=True)
    data = load_cifar10(folder=tmp_path / "images", root=tmp_path / "none", download=False, verbose=False)
    assert data.source == "folder" and data.images.shape == (5, 3, 32, 32)
    assert data.labels.tolist() == [0, 0, 0, 1, 1]
    assert -1.0 <= float(data.images.min()) and float(data.images.max()) <= 1.0
    emojis = load_cifar10(root=tmp_path / "none", download=False, verbose=False, max_images=50)
    assert emojis.source == "emoji" and emojis.images.shape == (50, 3, 32, 32) and emojis.labels is None


def test_image_folder_crops_to_the_centre_and_reports_problems(tmp_path):
    folder = tmp_path / "wide"
    folder.mkdir()
    array = np.zeros((20, 60, 3), dtype=np.uint8)
    array[:, 20:40] = 255  # only the centred square is white
    Image.fromarray(array).save(folder / "a.png")
    images, labels, names = load_image_folder(folder, 16)
    assert labels is None and names == [] and torch.all(images > 0.9)
    squeezed, _, _ = load_image_folder(folder, 16, crop=False)
    assert float(squeezed.mean()) < 0
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .png"):
        load_image_folder(tmp_path / "empty", 16)
    with pytest.raises(FileNotFoundError, match="missing"):
        load_image_folder(tmp_path / "missing", 16)


def test_faces_from_a_folder_from_celeba_and_from_the_emojis(tmp_path):
    _write_images(tmp_path / "faces", 4, (178, 218), suffix=".jpg")
    data = load_faces(tmp_path / "faces", verbose=False)
    assert data.source == "folder" and data.images.shape == (4, 3, 64, 64)
    celeba = tmp_path / "root" / "celeba" / "img_align_celeba"
    _write_images(celeba, 3, (178, 218), suffix=".jpg")
    assert load_faces(root=tmp_path / "root", image_size=32, verbose=False).images.shape == (3, 3, 32, 32)
    emojis = load_faces(root=tmp_path / "none", verbose=False)
    assert emojis.source == "emoji-faces" and emojis.images.shape[1:] == (3, 64, 64) and len(emojis) > 100
    with pytest.raises(FileNotFoundError):
        load_faces(tmp_path / "no_such_folder", verbose=False)


def test_emoji_faces_are_smileys_and_people():
    names = ["GRINNING FACE", "FACE WITH COWBOY HAT", "WOMAN", "OLDER MAN", "DOG FACE", "CLOCK FACE ONE OCLOCK",
             "SUN WITH FACE", "CAT FACE", "FACE PALM", "PERSON WITH POUTING FACE", "PIZZA", "MAN DANCING"]
    assert emoji_face_names(names) == ["GRINNING FACE", "FACE WITH COWBOY HAT", "WOMAN", "OLDER MAN"]


def test_offline_digit_splits_are_disjoint_and_stable():
    train, _ = offline_digits(train=True)
    again, _ = offline_digits(train=True)
    test, _ = offline_digits(train=False)
    assert torch.equal(train, again)
    flat_train = {tuple(x.flatten().tolist()) for x in train[:200]}
    assert not any(tuple(x.flatten().tolist()) in flat_train for x in test[:200])


def test_offline_without_a_copy_torchvision_is_not_imported(tmp_path):
    """A graded run (downloads off, no copy on disk) never pays torchvision's import (it loads torch's compiler)."""
    code = ("import sys\nfrom helpers.image_labs.data import load_cifar10, load_digits\n"
            f"d = load_digits(digit=2, root={str(tmp_path)!r}, download=False, verbose=False)\n"
            f"c = load_cifar10(root={str(tmp_path)!r}, download=False, verbose=False, max_images=4)\n"
            "print(d.source, c.source, 'torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=KIT_ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["sklearn-digits", "emoji", "False"]
