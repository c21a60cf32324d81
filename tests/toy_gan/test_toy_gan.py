"""The toy-GAN lab's helpers: samplers, models, metrics, the resumable training loop and the 1-D task."""

from __future__ import annotations

import math

import pytest
import torch

from autograder.solutions import load_reference
from helpers.toy_gan.data import (
    GRID_STD,
    RING_STD,
    GaussianMixture,
    gaussian,
    grid,
    make_distribution,
    mixture,
    ring,
)
from helpers.toy_gan.losses import r1_penalty_step
from helpers.toy_gan.metrics import generate, mode_metrics, sample_moments
from helpers.toy_gan.models import MLPDiscriminator, MLPGenerator
from helpers.toy_gan.training import ToyGANConfig, train_gan, train_toy_gan


@pytest.fixture(scope="module")
def toy_reference():
    """The source notebook's reference solutions (its training steps and iteration, mixture_4 and its two
    variances, HalfCircles): the kit's helpers hold none of them."""
    return load_reference("toy_gan")


def _samplers(ref) -> dict:
    return {"mixture_4": ref.mixture_4, "half_circles": ref.HalfCircles}


def _rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_gaussian_samplers_have_the_right_moments():
    one = gaussian(4.0, 1.25).sample(200_000, _rng())
    assert one.shape == (200_000, 1)
    assert abs(float(one.mean()) - 4.0) < 0.02 and abs(float(one.std()) - 1.25) < 0.02
    two = gaussian((1.0, -2.0), 0.5).sample(100_000, _rng(1))
    assert two.shape == (100_000, 2)
    assert torch.allclose(two.mean(0), torch.tensor([1.0, -2.0]), atol=0.01)
    assert torch.allclose(two.std(0), torch.tensor([0.5, 0.5]), atol=0.01)
    pair = mixture((-2.0, 2.0), 0.5).sample(100_000, _rng(2))
    assert abs(float((pair > 0).float().mean()) - 0.5) < 0.01, "two modes of equal weight"
    assert abs(float(pair[pair > 0].mean()) - 2.0) < 0.01 and abs(float(pair[pair > 0].std()) - 0.5) < 0.01


def test_mode_locations_and_variances(toy_reference):
    ref = toy_reference
    assert 0 < ref.MIXTURE_4_TIGHT <= 0.25 and ref.MIXTURE_4_WIDE >= 1.0
    tight = make_distribution("mixture_4", _samplers(ref), variance=ref.MIXTURE_4_TIGHT)
    wide = make_distribution("mixture_4", _samplers(ref), variance=2.0)
    expected = {(2.0, 2.0), (-2.0, 2.0), (-2.0, -2.0), (2.0, -2.0)}  # the modes: where a sampler's points gather
    assert {tuple(m.tolist()) for m in tight.modes} == expected == {tuple(m.tolist()) for m in wide.modes}
    assert math.isclose(tight.std, math.sqrt(ref.MIXTURE_4_TIGHT)) and math.isclose(wide.std, math.sqrt(2.0))
    points = wide.sample(200_000, _rng())
    assert abs(float(points[:, 0].var()) - (4.0 + 2.0)) < 0.1, "variance of x: 2^2 between modes + 2 within"
    eight = ring()
    assert eight.num_modes == 8 and eight.std == RING_STD
    assert torch.allclose(eight.modes.norm(dim=1), torch.ones(8))
    assert torch.allclose(eight.modes[2], torch.tensor([0.0, 1.0]), atol=1e-6), "angles 2 pi k / 8"
    squares = grid()
    assert squares.num_modes == 25 and squares.std == GRID_STD
    assert sorted(set(squares.modes[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    near = squares.sample(10_000, _rng())
    assert float(torch.cdist(near, squares.modes).min(1).values.max()) < 6 * GRID_STD


def test_half_circles_dataset(toy_reference):
    data = toy_reference.HalfCircles(20_000, seed=3)
    assert len(data) == 20_000 and data[0].shape == (2,)
    points = torch.stack([data[i] for i in range(len(data))])
    upper, lower = points[points[:, 0] < 0], points[points[:, 0] >= 0]  # the left half goes up, the right down
    assert abs(len(upper) / len(data) - 0.5) < 0.02
    assert float(upper[:, 1].mean()) > 5 and float(lower[:, 1].mean()) < -5, "left half up, right half down"
    radius_up = (upper - torch.tensor([0.0, 10.0])).norm(dim=1)
    radius_down = (lower - torch.tensor([0.0, -10.0])).norm(dim=1)
    for radius in (radius_up, radius_down):
        assert abs(float(radius.mean()) - 10.0) < 0.05 and abs(float(radius.std()) - 1.0) < 0.05
    first, again = toy_reference.HalfCircles(100, seed=1), toy_reference.HalfCircles(100, seed=1)
    assert all(torch.equal(first[i], again[i]) for i in range(100))
    sampler = make_distribution("half_circles", _samplers(toy_reference), num_samples=500)
    assert sampler.sample(64, _rng()).shape == (64, 2)


def test_bad_parameters_get_clear_errors(toy_reference):
    with pytest.raises(ValueError, match="unknown mode 'rings'"):
        make_distribution("rings")
    with pytest.raises(ValueError, match="variance must be positive"):
        make_distribution("mixture_4", _samplers(toy_reference), variance=0.0)
    # The students' two samplers are the only ones: a run of their modes must be given them.
    with pytest.raises(ValueError, match=r"needs your mixture_4 function: pass samplers=\{'mixture_4': \.\.\.\}"):
        make_distribution("mixture_4", variance=0.5)
    with pytest.raises(ValueError, match=r"needs your HalfCircles class: pass samplers=\{'half_circles': \.\.\.\}"):
        make_distribution("half_circles", {"mixture_4": toy_reference.mixture_4})
    with pytest.raises(ValueError, match="takes data=\\{'variance': ...\\} only"):
        ToyGANConfig(mode="mixture_4")
    with pytest.raises(ValueError, match="do not gather at a few centres"):
        make_distribution("mixture_4", {"mixture_4": lambda n, v, g=None: torch.randn(n, 2, generator=g)},
                          variance=0.5)
    assert ToyGANConfig(mode="half_circles").mode == "half_circles"  # checked without building the data
    with pytest.raises(ValueError, match="std must be positive"):
        gaussian(0.0, -1.0)
    with pytest.raises(ValueError, match="multiple of 4"):
        MLPDiscriminator(2, pack=4)(torch.zeros(6, 2))
    with pytest.raises(ValueError, match="d_steps must be at least 1"):
        ToyGANConfig(d_steps=0)
    with pytest.raises(ValueError, match="optimizer must be"):
        ToyGANConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="mode metrics need a Gaussian mixture"):
        mode_metrics(torch.zeros(3, 2), make_distribution("half_circles", _samplers(toy_reference), num_samples=10))
    with pytest.raises(ValueError, match=r"samples must have shape \(N, 2\)"):
        mode_metrics(torch.zeros(3, 1), ring())


def test_models_shapes_and_packing():
    G = MLPGenerator(noise_dim=3, data_dim=2, hidden=16, depth=2)
    assert G(torch.randn(10, 3)).shape == (10, 2)
    D = MLPDiscriminator(data_dim=2, hidden=16, depth=2)
    assert D(torch.randn(10, 2)).shape == (10,)
    packed = MLPDiscriminator(data_dim=2, hidden=16, depth=2, pack=4)
    x = torch.randn(12, 2)
    assert packed(x).shape == (3,)
    # Each logit depends on its own group of 4 points only.
    y = x.clone()
    y[5] += 1.0
    changed = packed(x) != packed(y)
    assert changed.tolist() == [False, True, False]


def test_mode_metrics_on_known_samples():
    eight = ring()
    perfect = mode_metrics(eight.sample(50_000, _rng()), eight)
    assert perfect["modes"] == perfect["modes_fair"] == perfect["num_modes"] == 8
    assert abs(perfect["hq_share"] - (1 - math.exp(-4.5))) < 0.003, "a perfect 2-D sampler: 98.9% within 3 std"
    # 100 points on mode 0, one on mode 1, one far away.
    points = torch.cat([eight.modes[:1].repeat(100, 1), eight.modes[1:2], torch.tensor([[0.0, 0.0]])])
    got = mode_metrics(points, eight)
    assert got["modes"] == 2, "a mode with one high-quality sample is captured"
    assert got["modes_fair"] == 1, "but it does not hold 20% of its fair share (102 / 8)"
    assert abs(got["hq_share"] - 101 / 102) < 1e-6
    # Just outside 3 std is not high quality.
    off = eight.modes[:1] + torch.tensor([[0.0, 3.01 * RING_STD]])
    assert mode_metrics(off, eight)["hq_share"] == 0.0
    assert sample_moments(torch.tensor([[1.0], [3.0]])) == (2.0, pytest.approx(math.sqrt(2.0)))


def test_r1_penalty_of_a_linear_discriminator():
    D = MLPDiscriminator(data_dim=2, hidden=4, depth=1)
    with torch.no_grad():
        D.net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [0.0, 0.0]]))
        D.net[0].bias.fill_(5.0)  # every unit active: D is linear here
        D.net[2].weight.copy_(torch.tensor([[1.0, 1.0, 0.0, 0.0]]))
    before = [p.detach().clone() for p in D.parameters()]
    penalty = r1_penalty_step(D, torch.optim.SGD(D.parameters(), lr=0.1), torch.ones(8, 2), gamma=2.0)
    assert float(penalty) == pytest.approx(0.5 * 2.0 * (1.0**2 + 2.0**2))  # grad_x D = (1, 2)
    assert any(not torch.equal(a, b) for a, b in zip(before, D.parameters())), "the penalty step updates D"


def _small(tmp_path, name: str, **changes) -> ToyGANConfig:
    base = ToyGANConfig(mode="ring", steps=12, batch_size=16, g_hidden=16, d_hidden=16, g_depth=2,
                        d_depth=2, log_every=3, num_frames=2, checkpoint_every=6, eval_samples=200,
                        out_dir=str(tmp_path / name), progress=False)
    return base.replace(**changes)


def test_a_run_saves_frames_curves_checkpoint_and_metrics(tmp_path, toy_reference):
    ref = toy_reference
    result = train_gan("ring", 2, 12, 16, iteration=ref.training_iteration, g_hidden=16, d_hidden=16,
                       log_every=3, num_frames=2, checkpoint_every=6, eval_samples=200, gif=True,
                       out_dir=str(tmp_path / "ring"), progress=False)
    out = result.out_dir
    assert [p.name for p in result.frame_paths] == ["frame-000000.png", "frame-000006.png", "frame-000012.png"]
    for name in ("losses.png", "d_outputs.png", "frames.gif", "checkpoint.pt"):
        assert (out / name).is_file(), name
    assert [s for s, _ in result.history["D_loss"]] == [3, 6, 9, 12]
    assert all(0 < v < 1 for _, v in result.history["D_real"] + result.history["D_fake"])
    assert [s for s, _ in result.history["modes"]] == [0, 6, 12]
    assert set(result.metrics) == {"modes", "modes_fair", "num_modes", "hq_share"}
    assert result.sample(10).shape == (10, 2)
    one_d = train_toy_gan(_small(tmp_path, "one_d", mode="gaussian", data={"mean": 3.0, "std": 0.5}),
                          ref.train_discriminator, ref.train_generator)
    assert {"mean", "std"} <= set(one_d.metrics) and len(one_d.frame_paths) == 3
    circles = train_toy_gan(_small(tmp_path, "circles", mode="half_circles", data={"num_samples": 300}, pack=2,
                                   r1_gamma=0.1, ema=0.9, spectral_norm=True),
                            ref.train_discriminator, ref.train_generator, samplers=_samplers(ref))
    assert circles.metrics == {} and len(circles.frame_paths) == 3


def test_an_interrupted_run_resumes_exactly(tmp_path, toy_reference):
    ref = toy_reference
    extras = {"pack": 2, "r1_gamma": 0.5, "ema": 0.9, "final_lr_fraction": 0.1, "d_steps": 2}
    straight = train_toy_gan(_small(tmp_path, "a", **extras), iteration=ref.training_iteration)
    calls = {"n": 0}

    def interrupted_after_8_steps(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 8:
            raise KeyboardInterrupt  # like a Colab disconnect: the last checkpoint is at step 6
        return ref.training_iteration(*args, **kwargs)

    with pytest.raises(KeyboardInterrupt):
        train_toy_gan(_small(tmp_path, "b", **extras), iteration=interrupted_after_8_steps)
    resumed = train_toy_gan(_small(tmp_path, "b", **extras), iteration=ref.training_iteration)
    for (name, a), (_, b) in zip(straight.generator.state_dict().items(), resumed.generator.state_dict().items()):
        assert torch.equal(a, b), f"generator weight {name} differs after resuming"
    for (name, a), (_, b) in zip(straight.discriminator.state_dict().items(),
                                 resumed.discriminator.state_dict().items()):
        assert torch.equal(a, b), f"discriminator weight {name} differs after resuming"
    assert straight.history["D_loss"] == resumed.history["D_loss"]
    assert straight.metrics == resumed.metrics


def test_a_finished_run_returns_from_its_checkpoint_and_another_config_is_refused(tmp_path, toy_reference):
    ref = toy_reference
    config = _small(tmp_path, "done")
    first = train_toy_gan(config, ref.train_discriminator, ref.train_generator)

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished run must not train again")

    again = train_toy_gan(config, must_not_train, must_not_train)
    assert again.history == first.history
    assert torch.equal(generate(again.generator, 5), generate(first.generator, 5))
    with pytest.raises(ValueError, match="lr: checkpoint has"):
        train_toy_gan(config.replace(lr=0.5), ref.train_discriminator, ref.train_generator)
    longer = train_toy_gan(config.replace(steps=15), ref.train_discriminator, ref.train_generator)
    assert longer.history["D_loss"][:4] == first.history["D_loss"] and longer.history["D_loss"][-1][0] == 15
    decayed = config.replace(final_lr_fraction=0.5, out_dir=str(tmp_path / "decayed"))
    train_toy_gan(decayed, ref.train_discriminator, ref.train_generator)
    with pytest.raises(ValueError, match="steps: checkpoint has 12"):
        train_toy_gan(decayed.replace(steps=15), ref.train_discriminator, ref.train_generator)
    restarted = train_toy_gan(config.replace(lr=0.5), ref.train_discriminator, ref.train_generator, resume=False)
    assert restarted.config.lr == 0.5


def test_same_seed_same_run_and_the_plain_config_is_the_plain_gan(tmp_path, toy_reference):
    ref = toy_reference
    a = train_toy_gan(_small(tmp_path, "s1"), ref.train_discriminator, ref.train_generator)
    b = train_toy_gan(_small(tmp_path, "s2"), ref.train_discriminator, ref.train_generator)
    assert a.history["G_loss"] == b.history["G_loss"]
    plain = ToyGANConfig()
    assert (plain.pack, plain.r1_gamma, plain.spectral_norm, plain.ema) == (1, 0.0, False, 0.0)
    assert isinstance(make_distribution(plain.mode, **plain.data), GaussianMixture)


@pytest.mark.slow
def test_the_1d_task_meets_the_issue_accuracy(tmp_path, toy_reference):
    """Plain gradient descent learns N(mean, std): 500 samples within 0.1 std of the mean and 10% of the std."""
    for mean, std in [(4.0, 1.25), (0.0, 1.0), (-3.0, 2.0)]:
        config = ToyGANConfig.gaussian_1d(mean, std, out_dir=str(tmp_path / f"g{mean}"), num_frames=0,
                                          eval_samples=500, progress=False)
        assert config.optimizer == "sgd" and config.seed == 42
        result = train_toy_gan(config, toy_reference.train_discriminator, toy_reference.train_generator)
        got_mean, got_std = result.metrics["mean"], result.metrics["std"]
        assert abs(got_mean - mean) <= 0.1 * std, f"N({mean}, {std}): generated mean {got_mean:.3f}"
        assert abs(got_std - std) <= 0.1 * std, f"N({mean}, {std}): generated std {got_std:.3f}"


def test_a_students_samplers_feed_the_run(tmp_path, toy_reference):
    """``samplers``: the students' mixture_4 (n, variance, generator) and HalfCircles class are what a run uses."""
    calls = []

    def own_mixture_4(n, variance, generator=None):
        calls.append((n, variance))
        return toy_reference.mixture_4(n, variance, generator).numpy()  # a NumPy array is turned into a tensor

    data = make_distribution("mixture_4", {"mixture_4": own_mixture_4}, variance=0.5)
    assert data.sample(7).shape == (7, 2) and data.sample(7).dtype == torch.float32 and calls[-1] == (7, 0.5)
    assert len(data.modes) == 4 and math.isclose(data.std, math.sqrt(0.5))
    with pytest.raises(ValueError, match=r"returned shape \(1024, 1\) for n=1024, expected \(1024, 2\)"):
        make_distribution("mixture_4", {"mixture_4": lambda n, v, g=None: torch.zeros(n, 1)}, variance=0.5)
    one_short = make_distribution(
        "mixture_4", {"mixture_4": lambda n, v, g=None: own_mixture_4(max(n - 1, 1024), v, g)}, variance=0.5)
    with pytest.raises(ValueError, match=r"returned shape \(1024, 2\) for n=3"):
        one_short.sample(3)

    class OwnHalfCircles(toy_reference.HalfCircles):
        made = []

        def __init__(self, num_samples=10_000, seed=0):
            OwnHalfCircles.made.append(num_samples)
            super().__init__(num_samples, seed)

    own_circles = make_distribution("half_circles", {"half_circles": OwnHalfCircles}, num_samples=40)
    assert own_circles.sample(5).shape == (5, 2)
    assert OwnHalfCircles.made == [40]
    with pytest.raises(ValueError, match="only mixture_4 and half_circles"):
        make_distribution("ring", {"ring": ring})
    calls.clear()
    result = train_toy_gan(_small(tmp_path, "own", mode="mixture_4", data={"variance": 0.5}),
                           toy_reference.train_discriminator, toy_reference.train_generator,
                           samplers={"mixture_4": own_mixture_4})
    assert calls[0] == (1024, 1e-12), "the modes: where the sampler's points gather as the variance goes to 0"
    assert calls.count((16, 0.5)) == 12 and {v for _, v in calls[1:]} == {0.5}  # the batches (and the frames' points)
    assert result.metrics["num_modes"] == 4


def test_a_students_iteration_is_what_runs(tmp_path, toy_reference):
    """``iteration``: called once per generator step with both optimizers, the batch samplers and d_steps; with R1
    every D optimizer step is followed by the penalty step. Given only the two steps, a run does one D update per
    G update, the same run as the reference iteration's, and refuses more."""
    ref = toy_reference
    seen = []

    def iteration(D, G, d_optimizer, g_optimizer, sample_real, sample_noise, d_steps=1):
        seen.append(d_steps)
        return ref.training_iteration(D, G, d_optimizer, g_optimizer, sample_real, sample_noise, d_steps)

    extras = {"d_steps": 2, "r1_gamma": 0.5, "pack": 2}
    train_toy_gan(_small(tmp_path, "mine", **extras), iteration=iteration)
    assert seen == [2] * 12
    one = {"r1_gamma": 0.5, "pack": 2}
    mine = train_toy_gan(_small(tmp_path, "one_mine", **one), iteration=ref.training_iteration)
    kit = train_toy_gan(_small(tmp_path, "one_kit", **one), ref.train_discriminator, ref.train_generator)
    assert mine.history == kit.history
    with pytest.raises(ValueError, match="d_steps=2: pass the training iteration"):
        train_toy_gan(_small(tmp_path, "two_steps", d_steps=2), ref.train_discriminator, ref.train_generator)
    with pytest.raises(TypeError, match="return \\(d_loss, g_loss\\)"):
        train_toy_gan(_small(tmp_path, "bad"), iteration=lambda *args: None)
    with pytest.raises(TypeError, match="needs iteration"):
        train_toy_gan(_small(tmp_path, "none"))
