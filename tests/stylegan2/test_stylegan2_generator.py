"""The StyleGAN2 port against NVIDIA's own outputs (fixture), and its loaders and errors."""

from __future__ import annotations

import os
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.stylegan2.generator import (
    Generator,
    UnsafePickleError,
    load_generator,
    load_official_pickle,
    save_generator,
    setup_filter,
    upsample2d,
)

FIXTURE = Path(__file__).parent / "fixtures" / "stylegan2-ada"
SNAPSHOT = FIXTURE / "snapshot.pkl"
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def official():
    return load_official_pickle(SNAPSHOT)


@pytest.fixture(scope="module")
def expected():
    with np.load(FIXTURE / "expected.npz") as data:
        return {k: data[k] for k in data.files}


def _max_diff(got: torch.Tensor, want: np.ndarray) -> float:
    assert tuple(got.shape) == want.shape
    return float(np.abs(got.detach().numpy() - want).max())


def _small_generator(seed: int = 0, **changes) -> Generator:
    torch.manual_seed(seed)
    kwargs = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
                  synthesis_kwargs={"channel_base": 128, "channel_max": 16, "conv_clamp": 256})
    return Generator(**(kwargs | changes)).eval()


def test_the_snapshot_loads_with_its_recorded_architecture(official):
    assert (official.z_dim, official.c_dim, official.w_dim, official.num_ws) == (64, 0, 64, 8)
    assert official.img_resolution == 32 and not official.training
    assert official.synthesis.b32.conv1.weight.shape == (32, 32, 3, 3)  # channel_base / 32
    assert float(official.synthesis.b8.conv0.noise_strength) != 0  # the fixture's noise strengths are not zero


@pytest.mark.parametrize("psi", ["1.0", "0.7", "0.0"])
def test_images_match_the_official_generator(official, expected, psi):
    z, c = torch.from_numpy(expected["z"]), torch.from_numpy(expected["c"])
    with torch.no_grad():
        got = official(z, c, truncation_psi=float(psi), noise_mode="const")
    assert _max_diff(got, expected[f"img_psi{psi}"]) < TOLERANCE


def test_mapping_truncation_cutoff_and_mixing_match(official, expected):
    z, c = torch.from_numpy(expected["z"]), torch.from_numpy(expected["c"])
    with torch.no_grad():
        assert _max_diff(official.mapping(z, c, truncation_psi=0.7), expected["ws_psi0.7"]) < TOLERANCE
        got = official(z, c, truncation_psi=0.5, truncation_cutoff=2, noise_mode="const")
        assert _max_diff(got, expected["img_cutoff2_psi0.5"]) < TOLERANCE
        # Rebuild the mixed ws as the fixture did (psi 0.7): row 0 takes row 1's ws at mixed_cols.
        ws = official.mapping(z, c, truncation_psi=0.7)
        cols = torch.from_numpy(expected["mixed_cols"]).long()
        mixed = ws.clone()
        mixed[0, cols] = ws[1, cols]
        assert _max_diff(mixed, expected["mixed_ws"]) < TOLERANCE
        got = official.synthesis(torch.from_numpy(expected["mixed_ws"]), noise_mode="const")
        assert _max_diff(got, expected["img_mixed"]) < TOLERANCE


def test_random_noise_draws_in_the_official_order(official, expected):
    z, c = torch.from_numpy(expected["z"]), torch.from_numpy(expected["c"])
    torch.manual_seed(123)
    with torch.no_grad():
        got = official(z, c, noise_mode="random")
    assert _max_diff(got, expected["img_random_noise_seed123"]) < TOLERANCE
    assert _max_diff(got, expected["img_psi1.0"]) > 1e-3  # the noise does change the images


def test_training_mode_unfused_convolutions_agree_with_the_fused_ones(official, expected):
    z = torch.from_numpy(expected["z"])
    G = load_official_pickle(SNAPSHOT).train().requires_grad_(True)
    w_avg = G.mapping.w_avg.clone()
    got = G(z, None, noise_mode="const")
    assert _max_diff(got, expected["img_psi1.0"]) < TOLERANCE
    assert not torch.equal(G.mapping.w_avg, w_avg), "training mode tracks w_avg"
    got.square().mean().backward()
    assert G.synthesis.b32.conv1.weight.grad is not None and G.mapping.fc0.weight.grad is not None


def test_state_dict_round_trip(official, tmp_path, expected):
    path = save_generator(official, tmp_path / "g.pt")
    loaded = load_generator(path)
    assert loaded.init_kwargs == official.init_kwargs
    assert list(loaded.state_dict()) == list(official.state_dict())
    for name, tensor in official.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    z = torch.from_numpy(expected["z"])
    with torch.no_grad():
        assert torch.equal(loaded(z), official(z))
    # The official names: these keys are what NVIDIA's Generator.state_dict() has.
    keys = set(official.state_dict())
    assert {"mapping.w_avg", "mapping.fc0.weight", "synthesis.b4.const", "synthesis.b4.resample_filter",
            "synthesis.b8.conv0.noise_const", "synthesis.b8.conv0.noise_strength", "synthesis.b8.conv0.affine.bias",
            "synthesis.b32.torgb.weight"} <= keys


def test_the_generator_follows_the_official_shapes():
    for res in (4, 8, 16, 64):
        G = _small_generator(img_resolution=res, synthesis_kwargs={"channel_base": 64, "channel_max": 8})
        assert G.num_ws == 2 * int(np.log2(res)) - 2
        assert G(torch.randn(2, 8)).shape == (2, 3, res, res)
    orig = _small_generator(synthesis_kwargs={"channel_base": 64, "channel_max": 8, "architecture": "orig"})
    assert orig.num_ws == 6 and not hasattr(orig.synthesis.b8, "torgb")
    assert orig(torch.randn(2, 8)).shape == (2, 3, 16, 16)


def test_truncation_and_class_conditioning():
    G = _small_generator(c_dim=3)
    G.mapping.w_avg.copy_(torch.randn(8))
    z = torch.randn(4, 8)
    c = torch.eye(3)[[0, 1, 2, 0]]
    with torch.no_grad():
        at_avg = G(z, c, truncation_psi=0)
        assert torch.allclose(at_avg, at_avg[:1].expand_as(at_avg), atol=1e-6), "psi=0 gives w_avg's image"
        ws = G.mapping(z, c)
        assert not torch.allclose(ws[0], ws[3]), "different latents, different ws"
        same_z = G.mapping(z[:1].repeat(2, 1), torch.eye(3)[:2])
        assert not torch.allclose(same_z[0], same_z[1]), "the label changes w"
        assert torch.allclose(G.mapping(z, c, truncation_psi=0.5, truncation_cutoff=8), G.mapping(z, c, 0.5))


def test_fir_upsampling_keeps_a_constant_image_constant():
    x = torch.ones(1, 2, 4, 4)
    up = upsample2d(x, setup_filter([1, 3, 3, 1]))
    assert up.shape == (1, 2, 8, 8)
    assert torch.allclose(up[..., 2:-2, 2:-2], torch.ones(1, 2, 4, 4))


def test_bad_inputs_raise_clear_errors(tmp_path):
    G = _small_generator()
    with pytest.raises(ValueError, match=r"z must have shape \(N, 8\)"):
        G(torch.randn(2, 7))
    with pytest.raises(ValueError, match="z must be a torch.Tensor"):
        G(np.zeros((2, 8)))
    with pytest.raises(ValueError, match=r"ws must have shape \(N, 6, 8\)"):
        G.synthesis(torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match="noise_mode"):
        G(torch.randn(2, 8), noise_mode="fixed")
    with pytest.raises(ValueError, match="c must be a torch.Tensor"):
        _small_generator(c_dim=3)(torch.randn(2, 8))
    with pytest.raises(ValueError, match="img_resolution"):
        _small_generator(img_resolution=24)
    with pytest.raises(ValueError, match="architecture"):
        _small_generator(synthesis_kwargs={"architecture": "resnet"})
    with pytest.raises(FileNotFoundError, match="no StyleGAN2-ADA pickle"):
        load_official_pickle(tmp_path / "missing.pkl")
    with pytest.raises(ValueError, match="has no 'G_best' network"):
        load_official_pickle(SNAPSHOT, key="G_best")
    with pytest.raises(FileNotFoundError):
        load_generator(tmp_path / "missing.pt")


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps({"G_ema": _Exploit(marker)}))
    with pytest.raises(UnsafePickleError, match=r"refusing to load global (posix|nt|os)\.system"):
        load_official_pickle(bad)
    assert not marker.exists()
    evil = tmp_path / "eval.pkl"
    evil.write_bytes(pickle.dumps({"G_ema": (eval, ("1 + 1",))}))
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        load_official_pickle(evil)


def test_the_source_code_inside_a_persistent_record_is_never_run(tmp_path, monkeypatch):
    # Write a pickle the way NVIDIA's persistence module does, with code in module_src.
    fake = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # never called by the restricted loader
        raise AssertionError

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    fake._reconstruct_persistent_obj = _reconstruct_persistent_obj
    monkeypatch.setitem(sys.modules, "torch_utils", types.ModuleType("torch_utils"))
    monkeypatch.setitem(sys.modules, "torch_utils.persistence", fake)
    marker = tmp_path / "ran"

    class Record:
        def __reduce__(self):
            meta = dict(type="class", version=6, module_src=f"open({str(marker)!r}, 'w')", class_name="Generator",
                        state={"_init_args": (), "_init_kwargs": {}, "_parameters": {}, "_buffers": {},
                               "_modules": {}})
            return (_reconstruct_persistent_obj, (meta,))

    path = tmp_path / "record.pkl"
    path.write_bytes(pickle.dumps({"G_ema": Record()}))
    with pytest.raises(ValueError, match="cannot be rebuilt"):  # the record has no constructor arguments
        load_official_pickle(path)
    assert not marker.exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cpu_and_gpu_agree(official, expected):
    z = torch.from_numpy(expected["z"])
    G_gpu = load_official_pickle(SNAPSHOT, device="cuda")
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # TF32 convolutions would round to 10-bit mantissas
    with torch.no_grad():
        for psi in (1.0, 0.7):
            cpu = official(z, None, truncation_psi=psi)
            gpu = G_gpu(z.cuda(), None, truncation_psi=psi).cpu()
            assert float((cpu - gpu).abs().max()) < 1e-4
        G_gpu.train()
        gpu = G_gpu(z.cuda(), None).cpu()  # the unfused training path
    torch.backends.cudnn.allow_tf32 = tf32
    assert _max_diff(gpu, expected["img_psi1.0"]) < 1e-4
