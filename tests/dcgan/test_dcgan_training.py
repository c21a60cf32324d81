"""The DCGAN training loop: outputs, exact resumption, and clear errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from helpers.core.averaging import recalibrate_batchnorm
from helpers.core.checkpoint import load_checkpoint, save_checkpoint
from helpers.core.run import StepTimer
from helpers.dcgan.training import DCGANConfig, describe_recipe, notebook_config, recipe_for, train_dcgan


def _config(tmp_path, **changes) -> DCGANConfig:
    base = DCGANConfig.fast(out_dir=str(tmp_path / "run"), progress=False, g_conv_dim=8, d_conv_dim=8,
                            batch_size=8, steps=8, sample_every=4, checkpoint_every=4)
    return base.replace(**changes)


def test_a_run_saves_samples_curves_checkpoint_and_metric(tmp_path, dcgan_reference, emojis):
    train, test = emojis
    result = train_dcgan(_config(tmp_path), dcgan_reference.DCGenerator, dcgan_reference.training_iteration,
                         train, test)
    out = result.out_dir
    assert [p.name for p in result.sample_paths] == ["sample-000004.png", "sample-000008.png"]
    for name in ("losses.png", "swd.png", "samples.gif", "checkpoint.pt"):
        assert (out / name).is_file(), name
    assert [it for it, _ in result.history["G"]] == list(range(1, 9))
    assert [it for it, _ in result.history["swd"]] == [4, 8]
    assert all(v > 0 for _, v in result.history["swd"])
    assert result.samples_at(5).name == "sample-000004.png"


def test_an_interrupted_run_resumes_exactly(tmp_path, dcgan_reference, emojis):
    train, test = emojis
    ref = dcgan_reference
    straight = train_dcgan(_config(tmp_path, out_dir=str(tmp_path / "a")), ref.DCGenerator,
                           ref.training_iteration, train, test)
    # "Interrupted" after 4 iterations (the last checkpoint), then run again with the full length.
    train_dcgan(_config(tmp_path, out_dir=str(tmp_path / "b"), steps=4), ref.DCGenerator,
                ref.training_iteration, train, test)
    resumed = train_dcgan(_config(tmp_path, out_dir=str(tmp_path / "b")), ref.DCGenerator,
                          ref.training_iteration, train, test)
    for (name, a), (_, b) in zip(straight.generator.state_dict().items(), resumed.generator.state_dict().items()):
        assert torch.equal(a, b), f"generator weight {name} differs after resuming"
    assert straight.history == resumed.history


def test_a_finished_run_returns_at_once_from_its_checkpoint(tmp_path, dcgan_reference, emojis):
    train, test = emojis
    cfg = _config(tmp_path)
    first = train_dcgan(cfg, dcgan_reference.DCGenerator, dcgan_reference.training_iteration, train, test)

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished run must not train again")

    again = train_dcgan(cfg, dcgan_reference.DCGenerator, must_not_train, train, test)
    assert again.history == first.history


def test_resuming_with_another_configuration_is_refused(tmp_path, dcgan_reference, emojis):
    train, test = emojis
    train_dcgan(_config(tmp_path), dcgan_reference.DCGenerator, dcgan_reference.training_iteration, train, test)
    with pytest.raises(ValueError, match="lr: checkpoint has"):
        train_dcgan(_config(tmp_path, lr=1e-3), dcgan_reference.DCGenerator, dcgan_reference.training_iteration,
                    train, test)


def test_bad_inputs_get_clear_errors(tmp_path, dcgan_reference):
    with pytest.raises(ValueError, match="train_images must have shape"):
        train_dcgan(_config(tmp_path), dcgan_reference.DCGenerator, dcgan_reference.training_iteration,
                    torch.zeros(10, 3, 64, 64))
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        DCGANConfig(batch_size=0)
    with pytest.raises(ValueError, match="32x32"):
        DCGANConfig(image_size=64)


def test_checkpoints_are_written_atomically_and_corruption_is_reported(tmp_path):
    path = save_checkpoint({"x": torch.arange(3)}, tmp_path / "c.pt")
    assert torch.equal(load_checkpoint(path)["x"], torch.arange(3))
    assert not list(tmp_path.glob("*.tmp"))
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not be read"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_notebook_config_is_short_when_grading(monkeypatch):
    monkeypatch.delenv("KIT_FAST", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert notebook_config("full").steps == 20000
    assert notebook_config("cpu_preset").steps == DCGANConfig.cpu_preset().steps == 4000
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    fast = notebook_config(gradient_penalty=True)
    assert fast.steps < 50 and fast.gradient_penalty
    # The original assignment's options are all there.
    names = {f.name for f in dataclasses.fields(DCGANConfig)}
    assert {"image_size", "g_conv_dim", "d_conv_dim", "noise_size", "steps", "lr", "beta1", "beta2",
            "batch_size", "sample_every", "checkpoint_every", "gradient_penalty", "spectral_norm",
            "d_train_iters"} <= names


def test_a_random_state_from_another_device_reseeds_deterministically():
    # A checkpoint made on a GPU holds a CUDA generator state (16 bytes) that a CPU generator cannot take.
    from helpers.core.checkpoint import restore_rng_state

    foreign = {"torch": torch.get_rng_state(), "cuda": None, "generators": [torch.arange(16, dtype=torch.uint8)]}
    first, second = torch.Generator(), torch.Generator()
    restore_rng_state(foreign, first)
    restore_rng_state(foreign, second)
    assert torch.equal(torch.rand(5, generator=first), torch.rand(5, generator=second))
    native = torch.Generator().manual_seed(3)
    restore_rng_state({"torch": torch.get_rng_state(), "generators": [native.get_state()]}, first)
    assert torch.equal(torch.rand(5, generator=first), torch.rand(5, generator=native))


def test_ema_generator_is_sampled_saved_and_resumed(tmp_path, dcgan_reference, emojis):
    train, test = emojis
    config = DCGANConfig.fast(out_dir=str(tmp_path / "ema"), ema_decay=0.9, steps=6, checkpoint_every=3,
                              device="cpu", progress=False)
    train_dcgan(config.replace(steps=3), dcgan_reference.DCGenerator,
                              dcgan_reference.training_iteration, train, test)
    resumed = train_dcgan(config, dcgan_reference.DCGenerator, dcgan_reference.training_iteration, train, test)
    straight = train_dcgan(config.replace(out_dir=str(tmp_path / "straight")), dcgan_reference.DCGenerator,
                           dcgan_reference.training_iteration, train, test)
    state = load_checkpoint(tmp_path / "ema" / "checkpoint.pt")
    assert "G_ema" in state and not resumed.generator.training
    for a, b in zip(resumed.generator.state_dict().values(), straight.generator.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)
    # The average trails the trained weights: it is not a copy of G.
    trained = {k: v for k, v in state["G"].items() if v.is_floating_point()}
    assert any(not torch.allclose(trained[k], v) for k, v in state["G_ema"].items() if k in trained)


def test_recalibrated_batchnorm_statistics_are_the_exact_average_over_the_batches():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    model[1].running_mean.fill_(7.0)  # stale statistics, as copied from another network
    batches = [torch.randn(16, 3) + i for i in range(3)]
    recalibrate_batchnorm(model, batches)
    with torch.no_grad():
        features = [model[0](b) for b in batches]
    expected_mean = torch.stack([f.mean(0) for f in features]).mean(0)
    expected_var = torch.stack([f.var(0) for f in features]).mean(0)  # unbiased per batch, as BatchNorm keeps
    assert torch.allclose(model[1].running_mean, expected_mean, atol=1e-5)
    assert torch.allclose(model[1].running_var, expected_var, atol=1e-5)
    assert not model.training and model[1].momentum == 0.1, "left in eval mode with its momentum restored"


def test_a_checkpoint_from_before_a_new_field_still_resumes():
    from helpers.core.checkpoint import config_differences

    saved = dataclasses.asdict(DCGANConfig())
    del saved["ema_decay"]
    assert config_differences(saved, DCGANConfig()) == []
    assert config_differences(saved, DCGANConfig(ema_decay=0.5))


def test_learning_rate_schedule_is_constant_then_linear_to_zero():
    from helpers.core.schedules import lr_scale

    assert [lr_scale(s, 10, 1.0) for s in range(10)] == [1.0] * 10
    assert [lr_scale(s, 10, 0.5) for s in range(10)] == [1.0] * 5 + [1.0, 0.8, 0.6, 0.4, 0.2]
    assert lr_scale(0, 4, 0.0) == 1.0 and lr_scale(3, 4, 0.0) == 0.25
    with pytest.raises(ValueError, match="lr_decay_start"):
        DCGANConfig(lr_decay_start=1.5)


def test_learning_rates_decay_in_the_loop_and_a_decayed_run_cannot_be_lengthened(tmp_path, dcgan_reference,
                                                                                  emojis):
    train, test = emojis
    seen: list[tuple[float, float]] = []

    def spy(G, D, g_opt, d_opt, *args):
        seen.append((g_opt.param_groups[0]["lr"], d_opt.param_groups[0]["lr"]))
        return dcgan_reference.training_iteration(G, D, g_opt, d_opt, *args)

    config = _config(tmp_path, lr=1e-3, d_lr_multiplier=2.0, lr_decay_start=0.5)
    train_dcgan(config, dcgan_reference.DCGenerator, spy, train, test)
    factors = [1, 1, 1, 1, 1, 0.75, 0.5, 0.25]
    assert [g for g, _ in seen] == pytest.approx([1e-3 * f for f in factors])
    assert [d for _, d in seen] == pytest.approx([2e-3 * f for f in factors])
    # Under a decaying schedule 16 iterations are not 8 more of the same run.
    with pytest.raises(ValueError, match="steps"):
        train_dcgan(config.replace(steps=16), dcgan_reference.DCGenerator, spy, train, test)


def test_the_recipe_follows_the_device_unless_the_student_says_otherwise(monkeypatch):
    monkeypatch.delenv("KIT_FAST", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert notebook_config("auto", device="cpu").steps == 4000
    assert notebook_config("full", device="cpu").steps == 20000
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert recipe_for("auto") == "full" and recipe_for("cpu_preset") == "cpu_preset"
    assert "original recipe on a GPU, 20,000 iterations" in describe_recipe("auto", runs=5)
    with pytest.raises(ValueError, match="unknown recipe 'fastest'"):
        notebook_config("fastest")


def test_a_run_says_how_long_it_will_take_here(tmp_path, dcgan_reference, emojis, capsys, monkeypatch):
    train, test = emojis
    monkeypatch.setattr(StepTimer, "MIN_SECONDS", 0.0)
    train_dcgan(_config(tmp_path, progress=True), dcgan_reference.DCGenerator, dcgan_reference.training_iteration,
                train, test)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "DCGAN run: 8 iterations; timing the first ones" in text
    assert "iterations to go, about" in text and "on this CPU" in text
