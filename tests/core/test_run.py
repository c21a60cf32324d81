"""The shared run bookkeeping (helpers/core/run.py), the renamed configuration fields and the fast-mode policy."""

from __future__ import annotations

import dataclasses

import pytest

from autograder.solutions import load_reference
from helpers.core.checkpoint import config_differences
from helpers.core.run import Run
from helpers.core.runtime import fast_config, shortened
from helpers.dcgan.training import DCGANConfig
from helpers.dcgan.training import notebook_config as dcgan_notebook_config
from helpers.dqn.training import DQNConfig
from helpers.dqn.training import notebook_config as dqn_notebook_config
from helpers.image_labs.training import ImageGANConfig, lab_config
from helpers.stylegan2.training import StyleGAN2Config
from helpers.toy_gan.training import ToyGANConfig, notebook_steps, train_toy_gan

CONFIGS = (DCGANConfig, StyleGAN2Config, ToyGANConfig, DQNConfig, ImageGANConfig)


@dataclasses.dataclass
class _Config:
    steps: int = 10
    every: int = 3
    lr: float = 0.1
    out_dir: str = "run"
    progress: bool = False


@pytest.fixture
def not_fast(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("KIT_FAST", raising=False)


@pytest.fixture
def grading(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")


def test_a_run_counts_its_steps_and_says_when_periodic_work_is_due(tmp_path):
    run = Run(_Config(out_dir=str(tmp_path)), length=10)
    assert run.resume() is None and run.start == 0
    assert list(run.steps()) == list(range(1, 11))
    assert [s for s in range(1, 11) if run.due(s, 3)] == [3, 6, 9, 10], "the last step is always due"


def test_a_run_resumes_from_its_checkpoint_and_refuses_another_configuration(tmp_path):
    config = _Config(out_dir=str(tmp_path))
    Run(config, 10, counter="iteration").save(4, weights=[1, 2])
    run = Run(config.__class__(**{**dataclasses.asdict(config), "steps": 20}), 20, counter="iteration",
              resumable=("steps",))
    state = run.resume()
    assert state["weights"] == [1, 2] and state["iteration"] == 4 and run.start == 4
    assert list(run.steps()) == list(range(5, 21))
    with pytest.raises(ValueError, match="lr: checkpoint has 0.1, config has 0.2"):
        Run(dataclasses.replace(config, lr=0.2), 10, counter="iteration").resume()


def test_every_config_speaks_the_same_vocabulary():
    for cls in CONFIGS:
        names = {f.name for f in dataclasses.fields(cls)}
        length = "epochs" if cls is ImageGANConfig else "steps"
        assert length in names and "checkpoint_every" in names and "out_dir" in names, cls.__name__
        assert not names & {"train_iters", "num_steps", "total_steps", "r1_interval", "pl_interval"}, cls.__name__
        assert length in cls.FAST_LIMITS, f"{cls.__name__}: fast mode must bound the run's length"


def test_old_field_names_are_still_accepted():
    assert ToyGANConfig(num_steps=7).steps == 7 and ToyGANConfig().replace(num_steps=9).steps == 9
    assert DQNConfig(total_steps=800).steps == 800 and DQNConfig().replace(total_steps=700).steps == 700
    assert DQNConfig(steps=900).total_steps == 900 and "total_steps" not in dataclasses.asdict(DQNConfig())
    assert DCGANConfig(train_iters=5).steps == 5
    old = StyleGAN2Config(train_iters=3, r1_interval=4, pl_interval=2)
    assert (old.steps, old.r1_every, old.pl_every) == (3, 4, 2)
    with pytest.raises(TypeError, match="old name"):
        DQNConfig(total_steps=800, steps=900)
    # A checkpoint written before the rename still matches its configuration.
    saved = {**dataclasses.asdict(ToyGANConfig(steps=12)), "num_steps": 12}
    del saved["steps"]
    assert config_differences(saved, ToyGANConfig(steps=12)) == []


def test_shortening_caps_lengths_and_intervals_and_is_idempotent():
    long = DQNConfig(steps=50_000, eval_every=100, lr=3e-4)
    short = shortened(long)
    assert short.steps == 600 and short.eval_every == 100 and short.lr == 3e-4, "caps, never lengthens"
    assert shortened(short) == short
    lab = shortened(ImageGANConfig(epochs=300, steps_per_epoch=None, batch_size=64, sample_epochs=(1, 5)))
    assert (lab.epochs, lab.steps_per_epoch, lab.batch_size, lab.sample_epochs) == (2, 2, 16, (1,))
    assert shortened(DCGANConfig.cpu_preset()).lr_decay_start == 1.0


def test_fast_mode_is_off_outside_grading(not_fast):
    config = DCGANConfig(steps=123)
    assert fast_config(config) is config
    assert dcgan_notebook_config(steps=4000).steps == 4000 and notebook_steps(3000) == 3000


def test_nothing_a_cell_passes_lengthens_a_graded_run(grading):
    assert dcgan_notebook_config(steps=4000, sample_every=1000, checkpoint_every=1000).steps == 2
    assert dcgan_notebook_config(steps=4000).checkpoint_every == 2
    assert dqn_notebook_config(steps=50_000).steps == 600
    assert lab_config(epochs=300, steps_per_epoch=1000).epochs == 2
    assert notebook_steps(16_000) == 40
    for cls in CONFIGS:
        config = fast_config(cls())
        assert all(getattr(config, k) <= v for k, v in cls.FAST_LIMITS.items()), cls.__name__


def test_a_loop_shortens_a_hand_built_config_while_grading(grading, tmp_path):
    ref = load_reference("toy_gan")
    config = ToyGANConfig(mode="ring", steps=5000, batch_size=16, g_hidden=8, d_hidden=8, log_every=1,
                          num_frames=0, eval_samples=50, out_dir=str(tmp_path / "run"), progress=False)
    result = train_toy_gan(config, ref.train_discriminator, ref.train_generator)
    assert result.history["G_loss"][-1][0] == 40 and result.config.steps == 40


def test_the_step_timer_reports_once_after_the_warm_up_step():
    from helpers.core.run import StepTimer, estimate_line

    # The end of each step; the first step (warm-up, here 9 s) is not timed: timing starts when it ends.
    clock = iter([9.0, 9.5, 10.0, 10.5, 11.0, 11.5, 12.0, 12.5])
    timer = StepTimer(todo=100, clock=lambda: next(clock))
    timer.MIN_SECONDS = 1.0
    reports = [timer.tick() for _ in range(8)]
    assert reports == [None, None, None, 0.5, None, None, None, None]
    line = estimate_line("DCGAN vanilla", 95, "iteration", 0.5)
    assert line.startswith("DCGAN vanilla: 95 iterations to go, about 48 s on this machine (0.5 s each")
    assert "about 17 min" in estimate_line("x", 2000, "step", 0.5)
    assert "about 2.8 h" in estimate_line("x", 20000, "step", 0.5)


def test_a_timing_slice_stops_the_run_early_and_logs_its_pace(tmp_path, monkeypatch):
    """bench/timing.py wraps Run from outside the student library (as in bench/student_time.py's kernels)."""
    import json

    from bench.timing import install
    from helpers.core.run import Run

    monkeypatch.setattr(Run, "steps", Run.steps)  # put back after the test
    monkeypatch.setattr(Run, "due", Run.due)
    install()
    monkeypatch.delenv("KIT_FAST", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    log = tmp_path / "timing.jsonl"
    monkeypatch.setenv("KIT_TIME_SLICE", "4")
    monkeypatch.setenv("KIT_TIME_LOG", str(log))

    @dataclasses.dataclass
    class Config:
        out_dir: str
        progress: bool = False

    run = Run(Config(str(tmp_path / "run")), length=1000, counter="step", desc="toy")
    steps = list(run.steps())
    assert steps == [1, 2, 3, 4, 5, 6], "the warm-up step, four timed ones, one for the periodic work"
    assert [s for s in steps if run.due(s, 100)] == [6], "the last step does the periodic work (samples ...)"
    record = json.loads(log.read_text())
    assert record["desc"] == "toy" and record["todo"] == 1000 and record["seconds_per_step"] >= 0
    epochs = Run(Config(str(tmp_path / "run2")), length=30, counter="epoch", desc="lab")
    assert list(epochs.steps()) == [1], "an epoch-based run times one epoch"
    monkeypatch.setenv("KIT_FAST", "1")
    assert len(list(Run(Config(str(tmp_path / "run3")), length=7, desc="fast").steps())) == 7
