"""The image-GAN labs' epoch loop: files, per-step and per-epoch logs, exact resumption, fast mode."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.core.checkpoint import load_checkpoint
from helpers.core.layers import DCDiscriminator
from helpers.image_labs.training import ImageGANConfig, epoch_batches, generate, lab_config, train_image_gan

SHAPE = (1, 16, 16)


def _models(z_dim: int = 4) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(z_dim, 256), nn.Tanh(), nn.Unflatten(1, SHAPE))
    D = nn.Sequential(nn.Flatten(), nn.Linear(256, 1), nn.Flatten(0))
    return G, D


def _step(G, D, g_opt, d_opt, real, noise, step):
    fakes = G(noise)
    d_opt.zero_grad()
    real_scores, fake_scores = D(real), D(fakes.detach())
    d_loss = F.binary_cross_entropy_with_logits(real_scores, torch.ones_like(real_scores)) + \
        F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores))
    d_loss.backward()
    d_opt.step()
    g_opt.zero_grad()
    scores = D(fakes)
    g_loss = F.binary_cross_entropy_with_logits(scores, torch.ones_like(scores))
    g_loss.backward()
    g_opt.step()
    return {"d_loss": d_loss, "g_loss": g_loss, "d_x": torch.sigmoid(real_scores).mean(),
            "d_g_z": torch.sigmoid(fake_scores).mean()}


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(40, *SHAPE, generator=torch.Generator().manual_seed(0)) * 2 - 1


def _config(tmp_path, **changes) -> ImageGANConfig:
    base = ImageGANConfig(z_dim=4, batch_size=8, epochs=4, sample_epochs=(1, 3), checkpoint_every=2,
                          out_dir=str(tmp_path / "run"), progress=False, device="cpu")
    return base.replace(**changes)


def test_a_run_logs_every_step_and_epoch_and_saves_its_figures(tmp_path, images, capsys):
    G, D = _models()
    result = train_image_gan(_config(tmp_path), G, D, _step, images, test_images=images[:8],
                             swd_kwargs={"patch_size": 3, "min_resolution": 8, "num_projections": 16})
    steps = 4 * (40 // 8)
    assert [s for s, _ in result.history["d_loss"]] == list(range(1, steps + 1))
    assert set(result.history) >= {"d_x", "d_g_z", "epoch_d_loss", "epoch_g_loss", "epoch_d_x", "swd"}
    per_epoch = result.history["epoch_d_loss"]
    assert [e for e, _ in per_epoch] == [1, 2, 3, 4]
    first_epoch = [v for s, v in result.history["d_loss"] if s <= 5]
    assert per_epoch[0][1] == pytest.approx(sum(first_epoch) / 5)
    assert all(0 < v < 1 for _, v in result.history["d_x"])
    assert [e for e, _ in result.history["swd"]] == [2, 4]
    assert [p.name for p in result.sample_paths] == ["epoch-0001.png", "epoch-0003.png", "epoch-0004.png"]
    for name in ("losses.png", "epoch_losses.png", "scores.png", "swd.png", "samples.gif", "checkpoint.pt"):
        assert (result.out_dir / name).is_file(), name
    printed = capsys.readouterr().out
    assert "epoch    4/4: d_loss" in printed and "d_g_z" in printed


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, images):
    G, D = _models()
    whole = train_image_gan(_config(tmp_path / "a"), G, D, _step, images)
    G, D = _models()
    train_image_gan(_config(tmp_path / "b", epochs=2), G, D, _step, images)
    G, D = _models()  # fresh models: the checkpoint supplies the trained weights
    resumed = train_image_gan(_config(tmp_path / "b"), G, D, _step, images)
    for p, q in zip(whole.generator.parameters(), resumed.generator.parameters()):
        assert torch.equal(p, q)
    assert whole.history["g_loss"] == resumed.history["g_loss"]
    assert load_checkpoint(tmp_path / "b" / "run" / "checkpoint.pt")["epoch"] == 4
    # A finished run returns at once; another configuration is refused.
    again = train_image_gan(_config(tmp_path / "b"), *_models(), _step, images)
    assert again.history["g_loss"] == whole.history["g_loss"]
    with pytest.raises(ValueError, match="lr"):
        train_image_gan(_config(tmp_path / "b", lr=1e-3), *_models(), _step, images)
    wider = nn.Sequential(nn.Linear(4, 256), nn.Tanh(), nn.Linear(256, 256), nn.Unflatten(1, SHAPE))
    with pytest.raises(ValueError, match="other models"):
        train_image_gan(_config(tmp_path / "b"), wider, _models()[1], _step, images)


def test_epoch_batches_are_shuffled_passes():
    gen = torch.Generator().manual_seed(0)
    batches = epoch_batches(10, 4, gen)
    assert [len(b) for b in batches] == [4, 4]
    assert len(set(torch.cat(batches).tolist())) == 8
    assert [len(b) for b in epoch_batches(3, 64, gen)] == [3]  # fewer images than a batch
    long = epoch_batches(10, 4, gen, steps=5)
    assert len(long) == 5 and all(len(b) == 4 for b in long)


def test_bad_settings_are_refused(tmp_path, images):
    with pytest.raises(ValueError, match="epochs"):
        ImageGANConfig(epochs=0)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        ImageGANConfig(steps_per_epoch=0)
    with pytest.raises(ValueError, match="train_images"):
        train_image_gan(_config(tmp_path), *_models(), _step, images[0])


def test_lab_config_is_short_in_fast_mode(monkeypatch):
    monkeypatch.setenv("KIT_FAST", "1")
    fast = lab_config(epochs=300, out_dir="x", batch_size=64, lr=1e-3)
    assert fast.epochs == 2 and fast.steps_per_epoch == 2 and fast.out_dir == "x" and fast.lr == 1e-3
    monkeypatch.setenv("KIT_FAST", "0")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert lab_config(epochs=300).epochs == 300


def test_generate_is_seeded_and_keeps_the_mode(images):
    G, _ = _models()
    G.train()
    a, b = generate(G, 7, 4, seed=3), generate(G, 7, 4, seed=3)
    assert a.shape == (7, *SHAPE) and torch.equal(a, b) and G.training
    assert not torch.equal(a, generate(G, 7, 4, seed=4))


def test_the_dc_discriminator_takes_grey_images():
    D = DCDiscriminator(conv_dim=8, in_channels=1)
    assert D(torch.randn(3, 1, 32, 32)).shape == (3,)
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        D(torch.randn(3, 3, 32, 32))


def test_side_by_side_figure(tmp_path):
    from PIL import Image

    from helpers.core.plotting import save_side_by_side

    path = save_side_by_side(torch.rand(16, 1, 8, 8) * 2 - 1, torch.zeros(16, 3, 8, 8), tmp_path / "a" / "b.png",
                             nrow=4)
    with Image.open(path) as image:
        assert image.size == (1000, 540)
