"""Convolutional GAN building blocks shared by the DCGAN assignment and the image labs: the strided
``conv`` and upsampling ``upconv`` layers, and the DCGAN discriminator."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm


def _maybe_spectral_norm(layer: nn.Module, enabled: bool) -> nn.Module:
    return _spectral_norm(layer) if enabled else layer


def conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 5,
    stride: int = 2,
    padding: int = 2,
    batch_norm: bool = True,
    spectral_norm: bool = False,
) -> nn.Sequential:
    """A strided convolution, optionally spectrally normalised and followed by BatchNorm.

    With the defaults a 5x5 kernel, stride 2 and padding 2 halve the spatial size.
    The convolution has no bias when BatchNorm follows (BatchNorm's shift replaces it).
    """
    layers: list[nn.Module] = [
        _maybe_spectral_norm(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=not batch_norm),
            spectral_norm,
        )
    ]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    return nn.Sequential(*layers)


def upconv(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 5,
    scale_factor: int = 2,
    padding: int = 2,
    batch_norm: bool = True,
    spectral_norm: bool = False,
) -> nn.Sequential:
    """Upsample (nearest) by ``scale_factor``, then a stride-1 convolution, optionally with BatchNorm.

    Upsample+conv avoids the checkerboard artefacts of transposed convolutions
    (Odena et al., 2016). With the defaults, the spatial size doubles.
    """
    layers: list[nn.Module] = []
    if scale_factor > 1:
        layers.append(nn.Upsample(scale_factor=scale_factor, mode="nearest"))
    layers.append(
        _maybe_spectral_norm(
            nn.Conv2d(in_channels, out_channels, kernel_size, 1, padding, bias=not batch_norm),
            spectral_norm,
        )
    )
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    return nn.Sequential(*layers)


class DCDiscriminator(nn.Module):
    """Convolutional discriminator: 3x32x32 -> 64x16x16 -> 128x8x8 -> 256x4x4 -> one score per image.

    The score is a raw real number (no sigmoid): the least-squares loss wants targets 1 (real) and 0 (fake),
    and the BCE loss of the image-GAN labs takes it as a logit. ``in_channels=1`` takes grey images.
    """

    def __init__(self, conv_dim: int = 64, spectral_norm: bool = False, in_channels: int = 3) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.conv1 = conv(in_channels, conv_dim, spectral_norm=spectral_norm)
        self.conv2 = conv(conv_dim, conv_dim * 2, spectral_norm=spectral_norm)
        self.conv3 = conv(conv_dim * 2, conv_dim * 4, spectral_norm=spectral_norm)
        # 4x4 -> 1x1: one score per image.
        self.conv4 = conv(conv_dim * 4, 1, kernel_size=4, stride=1, padding=0, batch_norm=False,
                          spectral_norm=spectral_norm)
        self.act = nn.ReLU()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Scores of shape (N,) for images of shape (N, in_channels, 32, 32)."""
        if images.dim() != 4 or images.shape[1] != self.in_channels:
            raise ValueError(f"DCDiscriminator expects images of shape (N, {self.in_channels}, H, W), "
                             f"got {tuple(images.shape)}")
        out = self.act(self.conv1(images))
        out = self.act(self.conv2(out))
        out = self.act(self.conv3(out))
        return self.conv4(out).reshape(images.shape[0])
