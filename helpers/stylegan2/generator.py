"""A small, readable StyleGAN2 generator in plain PyTorch, compatible with NVIDIA's stylegan2-ada-pytorch.

The classes keep the official names, constructor arguments, attribute and parameter names and call
signatures, so that the state dict of an official ``Generator`` loads into :class:`Generator` and gives
the same images (to float32 precision) for the same latents, truncation, noise mode and mixed styles:

* :class:`MappingNetwork`: z (normalised by its second moment), optionally concatenated with an embedded
  class label, goes through fully connected layers with equalized learning rate (weights stored at unit
  scale and multiplied by ``lr_multiplier / sqrt(fan_in)`` at run time) to w; a running average ``w_avg``
  of w is tracked while training and used for the truncation trick.
* :class:`SynthesisNetwork`: a learned 4x4 constant, then one :class:`SynthesisBlock` per resolution. Each
  block has modulated 3x3 convolutions (the style scales the input channels of the weights, then each
  output channel is demodulated to unit norm), per-pixel noise with a learned strength, bias, leaky ReLU
  and clamping, and a ToRGB layer whose images are summed over resolutions ('skip' architecture), the
  coarser one upsampled with the [1, 3, 3, 1] FIR filter. Every conv and ToRGB layer takes its own w, so
  there are ``num_ws = 2 * log2(resolution) - 2`` of them.

Differences from the official code: everything runs in float32 (the official code may use float16 for
the highest resolutions on GPUs, ``num_fp16_res``, which is accepted and ignored), there are no custom
CUDA kernels, and ``noise_mode`` defaults to ``'const'`` (deterministic images) instead of ``'random'``.

:func:`load_official_pickle` reads an official ``.pkl`` snapshot without NVIDIA's code: a restricted
unpickler turns the persistent-object records into plain data and refuses any other global, so no code
from the file runs. :func:`load_bundled_generator` loads the small emoji generator shipped in ``data/``.
"""

from __future__ import annotations

import collections
import copy
import io
import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers.core.runtime import DATA_DIR

BUNDLED_GENERATOR = DATA_DIR / "stylegan2_emoji32.pt"
NOISE_MODES = ("random", "const", "none")


# Activation functions and the gains that keep the activations' scale (as in the official bias_act).
ACTIVATIONS = {
    "linear": (lambda x: x, 1.0),
    "relu": (F.relu, math.sqrt(2)),
    "lrelu": (lambda x: F.leaky_relu(x, 0.2), math.sqrt(2)),
    "tanh": (torch.tanh, 1.0),
    "sigmoid": (torch.sigmoid, 1.0),
    "elu": (F.elu, 1.0),
    "selu": (F.selu, 1.0),
    "softplus": (F.softplus, 1.0),
    "swish": (lambda x: torch.sigmoid(x) * x, math.sqrt(2)),
}


def setup_filter(taps: list[float] | tuple[float, ...] = (1, 3, 3, 1)) -> torch.Tensor:
    """The 2-D FIR filter ``outer(taps, taps)`` normalised to sum 1 (the official ``resample_filter`` buffer)."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, padding: tuple[int, int, int, int] = (0, 0, 0, 0),
              gain: float = 1.0) -> torch.Tensor:
    """Upsample ``x`` by inserting ``up - 1`` zeros after each pixel, pad (x0, x1, y0, y1), filter with ``f``.

    The filter (2-D, applied to each channel) is scaled by ``gain``; it is symmetric here, so
    convolution and correlation agree. Negative padding crops.
    """
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    px0, px1, py0, py1 = padding
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]
    weight = (f * gain).to(x.dtype).flip([0, 1])
    weight = weight[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, weight, groups=c)


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """Upsample by ``up`` with the FIR filter ``f``; the output is exactly ``up`` times larger."""
    fw = f.shape[-1]
    p0, p1 = (fw + up - 1) // 2, (fw - up) // 2
    return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up**2)


def conv2d_resample(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None = None, up: int = 1,
                    padding: int = 0, groups: int = 1) -> torch.Tensor:
    """Convolution (PyTorch's correlation) with ``w``, optionally upsampling by ``up`` with the FIR filter ``f``.

    Upsampling is a stride-``up`` transposed convolution followed by the FIR filter, so that the output
    is ``up`` times larger than the input (with ``padding = kernel_size // 2``).
    """
    if up == 1:
        return F.conv2d(x, w, padding=padding, groups=groups)
    out_channels, in_per_group, kh, kw = w.shape
    # Transposed convolutions want the weight as (in, out / groups, kh, kw).
    w = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
    w = w.reshape(groups * in_per_group, out_channels // groups, kh, kw)
    fw = f.shape[-1]
    p0 = padding + (fw + up - 1) // 2 - (kw - 1)
    p1 = padding + (fw - up) // 2 - (kw - up)
    x = F.conv_transpose2d(x, w, stride=up, groups=groups)
    return upfirdn2d(x, f, padding=(p0, p1, p0, p1), gain=up**2)


def bias_act(x: torch.Tensor, b: torch.Tensor | None, activation: str = "linear", gain: float | None = None,
             clamp: float | None = None) -> torch.Tensor:
    """Add the bias (per channel, dim 1), apply the activation, scale by ``gain`` (its default gain), clamp."""
    func, default_gain = ACTIVATIONS[activation]
    if b is not None:
        x = x + b.reshape([-1 if i == 1 else 1 for i in range(x.ndim)])
    x = func(x)
    gain = default_gain if gain is None else gain
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale each vector to unit root mean square."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    fused_modconv: bool = True,
) -> torch.Tensor:
    """The StyleGAN2 convolution: weights scaled per input channel by ``styles`` (N, I), then demodulated.

    Demodulation divides each sample's output channel by the L2 norm of its modulated weights, which
    replaces AdaIN's instance normalisation. ``fused_modconv=True`` builds one weight per sample and runs
    a grouped convolution; ``False`` scales the activations before and after one shared convolution
    instead (the same result, cheaper for large batches while training). ``noise`` is added last.
    """
    batch_size = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    w = dcoefs = None
    if demodulate or fused_modconv:
        w = weight.unsqueeze(0) * styles.reshape(batch_size, 1, -1, 1, 1)  # (N, O, I, kh, kw)
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # (N, O)
    if not fused_modconv:
        x = x * styles.reshape(batch_size, -1, 1, 1)
        x = conv2d_resample(x, weight, resample_filter, up=up, padding=padding)
        if demodulate:
            x = x * dcoefs.reshape(batch_size, -1, 1, 1)
        return x + noise if noise is not None else x
    if demodulate:
        w = w * dcoefs.reshape(batch_size, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])  # the batch becomes groups of channels
    x = conv2d_resample(x, w.reshape(-1, in_channels, kh, kw), resample_filter, up=up, padding=padding,
                        groups=batch_size)
    x = x.reshape(batch_size, -1, *x.shape[2:])
    return x + noise if noise is not None else x


def _check_activation(activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")


class FullyConnectedLayer(nn.Module):
    """A linear layer with equalized learning rate: weights stored at unit scale, scaled at run time."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        _check_activation(activation)
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain if self.bias is not None else None
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, self.activation)


class MappingNetwork(nn.Module):
    """z (and the class label c) -> w, broadcast to ``num_ws`` copies, with the truncation trick."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int | None, num_layers: int = 8,
                 embed_features: int | None = None, layer_features: int | None = None, activation: str = "lrelu",
                 lr_multiplier: float = 0.01, w_avg_beta: float | None = 0.995) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        embed_features = 0 if c_dim == 0 else (w_dim if embed_features is None else embed_features)
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            setattr(self, f"fc{idx}", FullyConnectedLayer(features[idx], features[idx + 1], activation=activation,
                                                         lr_multiplier=lr_multiplier))
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, skip_w_avg_update: bool = False) -> torch.Tensor:
        """ws of shape (N, num_ws, w_dim) (or (N, w_dim) when ``num_ws`` is None).

        Truncation moves w towards ``w_avg``: ``w_avg + truncation_psi * (w - w_avg)``, for the first
        ``truncation_cutoff`` ws only when it is given. In training mode ``w_avg`` is updated.
        """
        x = None
        if self.z_dim > 0:
            _check_matrix(z, self.z_dim, "z")
            x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            _check_matrix(c, self.c_dim, "c")
            if x is not None and c.shape[0] != x.shape[0]:
                raise ValueError(f"z and c have different batch sizes: {x.shape[0]} and {c.shape[0]}")
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if self.w_avg_beta is not None and self.training and not skip_w_avg_update:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            if self.w_avg_beta is None:
                raise ValueError("truncation needs w_avg, which this mapping network does not track")
            if self.num_ws is None or truncation_cutoff is None:
                x = self.w_avg.lerp(x, truncation_psi)
            else:
                x[:, :truncation_cutoff] = self.w_avg.lerp(x[:, :truncation_cutoff], truncation_psi)
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution (optionally upsampling by 2), noise, bias, activation, clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, kernel_size: int = 3,
                 up: int = 1, use_noise: bool = True, activation: str = "lrelu",
                 resample_filter: list[float] | tuple[float, ...] = (1, 3, 3, 1), conv_clamp: float | None = None,
                 channels_last: bool = False) -> None:
        super().__init__()
        _check_activation(activation)
        self.resolution, self.up, self.use_noise = resolution, up, use_noise
        self.activation, self.conv_clamp = activation, conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.act_gain = ACTIVATIONS[activation][1]
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random", fused_modconv: bool = True,
                gain: float = 1) -> torch.Tensor:
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        styles = self.affine(w)
        noise = None
        if self.use_noise and noise_mode == "random":
            noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device)
            noise = noise * self.noise_strength
        if self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        x = modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up, padding=self.padding,
                             resample_filter=self.resample_filter, fused_modconv=fused_modconv)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, self.activation, gain=self.act_gain * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 convolution to RGB, without demodulation."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, kernel_size: int = 1,
                 conv_clamp: float | None = None, channels_last: bool = False) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool = True) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused_modconv=fused_modconv)
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: (constant input or 2x upsampling conv), conv, ToRGB added to the upsampled image."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 is_last: bool, architecture: str = "skip",
                 resample_filter: list[float] | tuple[float, ...] = (1, 3, 3, 1), conv_clamp: float | None = None,
                 use_fp16: bool = False, fp16_channels_last: bool = False, **layer_kwargs: Any) -> None:
        if architecture not in ("orig", "skip"):
            raise ValueError(f"this port supports the generator architectures 'orig' and 'skip', "
                             f"got {architecture!r}")
        super().__init__()
        self.in_channels, self.w_dim, self.resolution = in_channels, w_dim, resolution
        self.img_channels, self.is_last, self.architecture = img_channels, is_last, architecture
        self.use_fp16 = use_fp16  # recorded for compatibility; this port always computes in float32
        self.channels_last = False
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.num_conv = 0
        self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim=w_dim, resolution=resolution, up=2,
                                        resample_filter=resample_filter, conv_clamp=conv_clamp, **layer_kwargs)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim=w_dim, resolution=resolution,
                                    conv_clamp=conv_clamp, **layer_kwargs)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor, force_fp32: bool = False,
                fused_modconv: bool | None = None, **layer_kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        w_iter = iter(ws.unbind(dim=1))
        if fused_modconv is None:
            fused_modconv = not self.training  # as the official code does in float32
        if self.in_channels == 0:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = self.conv1(x, next(w_iter), fused_modconv=fused_modconv, **layer_kwargs)
        else:
            x = self.conv0(x, next(w_iter), fused_modconv=fused_modconv, **layer_kwargs)
            x = self.conv1(x, next(w_iter), fused_modconv=fused_modconv, **layer_kwargs)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.is_last or self.architecture == "skip":
            y = self.torgb(x, next(w_iter), fused_modconv=fused_modconv)
            img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> images (N, img_channels, img_resolution, img_resolution), roughly in [-1, 1]."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, num_fp16_res: int = 0, **block_kwargs: Any) -> None:
        if img_resolution < 4 or img_resolution & (img_resolution - 1):
            raise ValueError(f"img_resolution must be a power of two of at least 4, got {img_resolution}")
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.img_resolution_log2 = int(math.log2(img_resolution))
        self.block_resolutions = [2**i for i in range(2, self.img_resolution_log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = max(2 ** (self.img_resolution_log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            is_last = res == img_resolution
            block = SynthesisBlock(channels[res // 2] if res > 4 else 0, channels[res], w_dim=w_dim, resolution=res,
                                   img_channels=img_channels, is_last=is_last, use_fp16=res >= fp16_resolution,
                                   **block_kwargs)
            self.num_ws += block.num_conv + (block.num_torgb if is_last else 0)
            setattr(self, f"b{res}", block)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", **block_kwargs: Any) -> torch.Tensor:
        """Images from ws; ``noise_mode`` is 'const' (stored noise), 'random' (fresh noise) or 'none'."""
        if not isinstance(ws, torch.Tensor) or ws.ndim != 3 or tuple(ws.shape[1:]) != (self.num_ws, self.w_dim):
            shape = tuple(ws.shape) if isinstance(ws, torch.Tensor) else type(ws).__name__
            raise ValueError(f"ws must have shape (N, {self.num_ws}, {self.w_dim}), got {shape}")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            # Consecutive blocks share a w: a block's ToRGB uses the same w as the next block's first conv.
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            x, img = block(x, img, block_ws, noise_mode=noise_mode, **block_kwargs)
            w_idx += block.num_conv
        return img


class Generator(nn.Module):
    """The StyleGAN2 generator: ``G(z, c, truncation_psi=1, truncation_cutoff=None, noise_mode='const')``.

    ``z``: (N, z_dim) latents, ``c``: (N, c_dim) labels (``None`` or an empty tensor when ``c_dim == 0``).
    ``G.mapping(z, c, truncation_psi, truncation_cutoff)`` gives ws (N, num_ws, w_dim) and
    ``G.synthesis(ws, noise_mode)`` the images (N, img_channels, img_resolution, img_resolution).
    """

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, img_resolution: int, img_channels: int,
                 mapping_kwargs: dict[str, Any] | None = None, synthesis_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        for name, value in (("z_dim", z_dim), ("w_dim", w_dim), ("img_channels", img_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Generator {name} must be a positive int, got {value!r}")
        if not isinstance(c_dim, int) or c_dim < 0:
            raise ValueError(f"Generator c_dim must be a non-negative int, got {c_dim!r}")
        mapping_kwargs, synthesis_kwargs = dict(mapping_kwargs or {}), dict(synthesis_kwargs or {})
        # The constructor arguments, to save next to a state dict (see save_generator).
        self.init_kwargs = copy.deepcopy(dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
                                              img_channels=img_channels, mapping_kwargs=mapping_kwargs,
                                              synthesis_kwargs=synthesis_kwargs))
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                                          **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping_kwargs)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, **synthesis_kwargs: Any) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, **synthesis_kwargs)


def _check_matrix(x: Any, dim: int, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (N, {dim}), got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{name} must have shape (N, {dim}), got {tuple(x.shape)}")


def save_generator(G: Generator, path: str | Path) -> Path:
    """Save ``G``'s constructor arguments and state dict (float32) in one small ``torch.save`` file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().float() for k, v in G.state_dict().items()}
    torch.save({"init_kwargs": G.init_kwargs, "state_dict": state}, path)
    return path


def load_generator(path: str | Path, device: torch.device | str | None = None) -> Generator:
    """Load a file written by :func:`save_generator` (no code runs: ``weights_only`` loading), in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no generator file at {path}")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or set(saved) != {"init_kwargs", "state_dict"}:
        raise ValueError(f"{path} is not a generator saved by helpers.stylegan2.generator.save_generator")
    G = Generator(**saved["init_kwargs"])
    G.load_state_dict(saved["state_dict"])
    return G.eval().requires_grad_(False).to(device or "cpu")


def load_bundled_generator(device: torch.device | str | None = None) -> Generator:
    """The small 32x32 emoji generator shipped with the kit (trained by ``helpers.stylegan2.training``)."""
    return load_generator(BUNDLED_GENERATOR, device)


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle refers to a global that :func:`load_official_pickle` does not allow."""


@dataclass
class PersistentRecord:
    """Plain-data stand-in for one of NVIDIA's persistent objects (a module whose source travels with it)."""

    class_name: str
    state: dict[str, Any]


def _persistent_record(meta: dict[str, Any]) -> PersistentRecord:
    # The record's source code (meta["module_src"]) is ignored: it is never imported or executed.
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise pickle.UnpicklingError("malformed persistent-object record in the pickle")
    return PersistentRecord(str(meta.get("class_name")), meta["state"])


def _load_storage(data: bytes) -> Any:
    # A tensor storage saved with torch.save: load it with torch's own restricted unpickler.
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _numpy_scalar(dtype: np.dtype, data: bytes | str) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafePickleError(f"refusing a numpy scalar of dtype {dtype!r}")
    if isinstance(data, str):  # pickles written by Python 2 era code store the bytes as latin-1 text
        data = data.encode("latin-1")
    return np.frombuffer(data, dtype=dtype)[0]


class PlainDict(dict):
    """Stands in for ``dnnlib.util.EasyDict`` (a dict with attribute access) when reading pickles."""


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_record,
    ("dnnlib.util", "EasyDict"): PlainDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): np.dtype,
    # Pickle protocols below 4 (Python 3.7) write a set as a call of builtins.set.
    ("builtins", "set"): set,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the few globals an official snapshot needs, to harmless stand-ins."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load global {module}.{name}: an official StyleGAN2-ADA snapshot does not need it, "
                "and loading it could run code from the file") from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"refusing persistent id {pid!r}")


def _flat_state_dict(record: PersistentRecord, prefix: str = "") -> dict[str, torch.Tensor]:
    """Parameters and persistent buffers of a record and its children, under their state-dict names."""
    state = record.state
    skip = set(state.get("_non_persistent_buffers_set") or ())
    tensors: dict[str, torch.Tensor] = {}
    for kind in ("_parameters", "_buffers"):
        for name, value in (state.get(kind) or {}).items():
            if value is not None and name not in skip:
                tensors[prefix + name] = value.detach() if isinstance(value, torch.Tensor) else value
    for name, child in (state.get("_modules") or {}).items():
        if isinstance(child, PersistentRecord):
            tensors |= _flat_state_dict(child, f"{prefix}{name}.")
        elif child is not None:
            raise ValueError(f"unexpected submodule {prefix}{name} of type {type(child).__name__} in the pickle")
    return tensors


def load_official_pickle(path: str | Path, key: str = "G_ema", device: torch.device | str | None = None,
                         ) -> Generator:
    """Load the generator of an official stylegan2-ada-pytorch ``.pkl`` snapshot into this port (eval mode).

    The file is read with :class:`RestrictedUnpickler`, so nothing from it is imported or executed; the
    generator is rebuilt from its recorded constructor arguments and its weights. ``key`` picks the network
    in the snapshot (``'G_ema'``, the averaged generator, as NVIDIA's ``generate.py`` uses, or ``'G'``).

    Raises:
        FileNotFoundError: no file at ``path``.
        UnsafePickleError: the pickle refers to a global outside the short allowed list.
        ValueError: the file is not a snapshot with a ``Generator`` under ``key``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no StyleGAN2-ADA pickle at {path}")
    with open(path, "rb") as file:
        snapshot = RestrictedUnpickler(file).load()
    if not isinstance(snapshot, dict) or key not in snapshot:
        found = sorted(snapshot) if isinstance(snapshot, dict) else type(snapshot).__name__
        raise ValueError(f"{path} has no {key!r} network (found {found})")
    record = snapshot[key]
    if not isinstance(record, PersistentRecord) or record.class_name != "Generator":
        name = record.class_name if isinstance(record, PersistentRecord) else type(record).__name__
        raise ValueError(f"{path}[{key!r}] is a {name}, not a StyleGAN2 Generator")
    args = tuple(record.state.get("_init_args") or ())
    kwargs = dict(record.state.get("_init_kwargs") or {})
    kwargs = {k: dict(v) if isinstance(v, dict) else v for k, v in kwargs.items()}
    try:
        G = Generator(*args, **kwargs)
    except TypeError as exc:
        raise ValueError(f"{path}[{key!r}] cannot be rebuilt from its recorded arguments "
                         f"{args} {kwargs}: {exc}") from exc
    G.load_state_dict(_flat_state_dict(record))
    return G.eval().requires_grad_(False).to(device or "cpu")
