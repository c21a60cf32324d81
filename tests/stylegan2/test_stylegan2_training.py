"""The StyleGAN2 training script: a tiny run, exact resumption, losses and clear errors."""

from __future__ import annotations

import pytest
import torch

from helpers.core.averaging import update_ema
from helpers.stylegan2.discriminator import Discriminator
from helpers.stylegan2.generator import load_generator
from helpers.stylegan2.losses import r1_penalty
from helpers.stylegan2.training import StyleGAN2Config, train_stylegan2


def _images(n: int = 24, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _config(tmp_path, name: str, **changes) -> StyleGAN2Config:
    settings = dict(image_size=16, out_dir=str(tmp_path / name), progress=False, pl_weight=2.0, device="cpu")
    return StyleGAN2Config.fast(**(settings | changes))


def test_a_tiny_run_writes_samples_metrics_and_a_loadable_generator(tmp_path):
    result = train_stylegan2(_config(tmp_path, "run"), _images(), test_images=_images(8, seed=1))
    assert [p.name for p in result.sample_paths] == ["sample-000002.png", "sample-000004.png"]
    assert [it for it, _ in result.history["swd"]] == [2, 4]
    assert len(result.history["D"]) == 4 and len(result.history["R1"]) == 2
    assert (result.out_dir / "losses.png").is_file() and (result.out_dir / "swd.png").is_file()
    G = load_generator(result.generator_path)
    z = torch.randn(3, G.z_dim)
    with torch.no_grad():
        assert torch.equal(G(z), result.G_ema(z))
        assert not torch.equal(result.G_ema(z), result.G(z)), "G_ema is an average, not a copy of G"
    assert G(z).shape == (3, 3, 16, 16)


def test_an_interrupted_run_resumes_exactly(tmp_path):
    images = _images()
    whole = train_stylegan2(_config(tmp_path, "whole"), images)
    train_stylegan2(_config(tmp_path, "parts", steps=2), images)
    resumed = train_stylegan2(_config(tmp_path, "parts"), images)
    for (name, a), b in zip(whole.G_ema.state_dict().items(), resumed.G_ema.state_dict().values()):
        assert torch.equal(a, b), name
    for a, b in zip(whole.D.parameters(), resumed.D.parameters()):
        assert torch.equal(a, b)
    assert whole.history["D"] == resumed.history["D"]


def test_resuming_with_another_configuration_is_refused(tmp_path):
    train_stylegan2(_config(tmp_path, "run", steps=2), _images())
    with pytest.raises(ValueError, match="another configuration.*g_lr"):
        train_stylegan2(_config(tmp_path, "run", g_lr=0.01), _images())


def test_bad_settings_and_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="batch_size"):
        StyleGAN2Config(batch_size=0)
    with pytest.raises(ValueError, match="image_size"):
        StyleGAN2Config(image_size=24)
    with pytest.raises(ValueError, match="style_mixing_prob"):
        StyleGAN2Config(style_mixing_prob=1.5)
    with pytest.raises(ValueError, match="unknown augmentation 'zoom'"):
        StyleGAN2Config(augment="color,zoom")
    with pytest.raises(ValueError, match=r"train_images must have shape \(N, 3, 16, 16\)"):
        train_stylegan2(_config(tmp_path, "bad"), _images(size=32))
    with pytest.raises(ValueError, match="Discriminator expects"):
        Discriminator(16, 256, 16)(torch.zeros(2, 3, 32, 32))


def test_r1_penalty_and_ema():
    torch.manual_seed(0)
    D = Discriminator(16, 256, 16)
    penalty = r1_penalty(D, _images(4))
    assert penalty.shape == (4,) and bool((penalty > 0).all())
    penalty.mean().backward()
    assert D.from_rgb.weight.grad is not None, "the penalty trains D"
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = a.weight.detach().clone()
    update_ema(a, b, beta=0.75)
    assert torch.allclose(a.weight, 0.75 * before + 0.25 * b.weight)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_run_trains_and_resumes_on_a_gpu(tmp_path):
    images = _images()
    train_stylegan2(_config(tmp_path, "gpu", steps=2, device="cuda"), images)
    resumed = train_stylegan2(_config(tmp_path, "gpu", device="cuda"), images)
    assert [it for it, _ in resumed.history["D"]] == [1, 2, 3, 4]
    assert next(resumed.G_ema.parameters()).is_cuda
