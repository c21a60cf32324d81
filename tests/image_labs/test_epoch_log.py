"""The logging helper of the students' epoch loop: the history, files and result of the provided loop."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from torch import nn

from helpers.image_labs.epoch_log import EpochLogger
from helpers.image_labs.training import ImageGANConfig


def _run(logger: EpochLogger, epochs: int, steps_per_epoch: int) -> None:
    step = 0
    for epoch in range(1, epochs + 1):
        for _ in range(steps_per_epoch):
            step += 1
            logger.log_step(step, {"d_loss": torch.tensor(float(step)), "g_loss": 2.0 * step,
                                   "d_x": torch.tensor([0.75]), "d_g_z": torch.tensor(0.25)})
        samples = torch.rand(64, 1, 8, 8) * 2 - 1 if logger.wants_samples(epoch) else None
        logger.end_epoch(epoch, samples)


def test_it_records_steps_and_epochs_and_saves_what_the_provided_loop_saves(tmp_path, capsys):
    (tmp_path / "run" / "samples").mkdir(parents=True)
    (tmp_path / "run" / "samples" / "epoch-0099.png").write_bytes(b"stale")  # an earlier, longer run's grid
    logger = EpochLogger(tmp_path / "run", epochs=4, sample_epochs=(1, 3), log_every=2, progress=False)
    _run(logger, epochs=4, steps_per_epoch=3)
    result = logger.finish(nn.Linear(1, 1), nn.Linear(1, 2))
    assert [s for s, _ in result.history["d_loss"]] == list(range(1, 13))
    assert result.history["g_loss"][4] == (5, 10.0)
    assert result.history["epoch_d_loss"] == [(1, 2.0), (2, 5.0), (3, 8.0), (4, 11.0)]
    assert result.history["epoch_d_x"][0] == (1, 0.75)
    assert [p.name for p in result.sample_paths] == ["epoch-0001.png", "epoch-0003.png", "epoch-0004.png"]
    assert not (tmp_path / "run" / "samples" / "epoch-0099.png").exists()
    with Image.open(result.sample_paths[0]) as grid:
        assert grid.size == (8 * 10 + 2, 8 * 10 + 2)  # 8 x 8 images of 8 pixels, 2-pixel padding
    for name in ("losses.png", "epoch_losses.png", "scores.png", "samples.gif"):
        assert (result.out_dir / name).is_file(), name
    assert result.out_dir == tmp_path / "run" and result.seconds >= 0
    assert logger.steps_logged == 12 and logger.epochs_ended == [1, 2, 3, 4]
    printed = capsys.readouterr().out
    assert "epoch    2/4: d_loss 5.0000" in printed and "epoch    4/4" in printed and "epoch    1/4" not in printed


def test_it_takes_its_settings_from_a_config(tmp_path):
    config = ImageGANConfig(epochs=7, sample_epochs=(2,), log_every=3, out_dir=str(tmp_path / "c"), progress=False)
    logger = EpochLogger.from_config(config)
    assert (logger.epochs, logger.sample_epochs, logger.log_every) == (7, (2,), 3)
    assert [e for e in range(1, 8) if logger.wants_samples(e)] == [2, 7]
    assert EpochLogger.from_config(config, epochs=2).epochs == 2


def test_it_refuses_what_the_loop_got_wrong(tmp_path):
    logger = EpochLogger(tmp_path, epochs=2, sample_epochs=(1,), progress=False)
    with pytest.raises(ValueError, match="without a logged step"):
        logger.end_epoch(1, torch.zeros(4, 1, 8, 8))
    with pytest.raises(TypeError, match="dict"):
        logger.log_step(1, torch.tensor(1.0))
    with pytest.raises(ValueError, match="one number"):
        logger.log_step(1, {"d_loss": torch.ones(3)})
    logger.log_step(1, {"d_loss": torch.tensor(1.0)})
    with pytest.raises(ValueError, match="wants a sample grid"):
        logger.end_epoch(1)
    with pytest.raises(ValueError, match="end_epoch"):
        logger.finish(nn.Linear(1, 1), nn.Linear(1, 1))
    logger.end_epoch(1, torch.zeros(4, 1, 8, 8))
    logger.log_step(2, {"d_loss": torch.tensor(1.0)})
    logger.end_epoch(2, torch.zeros(4, 1, 8, 8))
    assert [p.name for p in logger.finish(nn.Linear(1, 1), nn.Linear(1, 1)).sample_paths] == \
        ["epoch-0001.png", "epoch-0002.png"]
    with pytest.raises(ValueError, match="epochs"):
        EpochLogger(tmp_path, epochs=0)
