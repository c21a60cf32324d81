"""The DCGAN pieces given to students: layers, discriminator, noise and gradient penalty."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from helpers.core.layers import DCDiscriminator, conv, upconv
from helpers.dcgan.losses import gradient_penalty
from helpers.dcgan.models import sample_noise


def test_conv_halves_and_upconv_doubles_the_size():
    x = torch.randn(2, 8, 16, 16)
    assert conv(8, 4)(x).shape == (2, 4, 8, 8)
    assert upconv(8, 4)(x).shape == (2, 4, 32, 32)
    assert upconv(8, 4, scale_factor=4)(torch.randn(2, 8, 1, 1)).shape == (2, 4, 4, 4)


def test_batch_norm_and_bias_options():
    with_bn = upconv(8, 4)
    without = upconv(8, 4, batch_norm=False)
    assert isinstance(with_bn[-1], nn.BatchNorm2d) and with_bn[1].bias is None
    assert not any(isinstance(m, nn.BatchNorm2d) for m in without) and without[1].bias is not None
    assert isinstance(upconv(8, 4)[0], nn.Upsample)


def test_spectral_norm_uses_parametrizations():
    layer = conv(3, 4, spectral_norm=True)[0]
    assert parametrize.is_parametrized(layer, "weight")
    assert not parametrize.is_parametrized(conv(3, 4)[0])
    # After a few power iterations the largest singular value of the weight is about 1.
    for _ in range(20):
        layer(torch.randn(1, 3, 8, 8))
    sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2)
    assert abs(float(sigma) - 1.0) < 0.05


def test_discriminator_shapes_and_architecture():
    D = DCDiscriminator()
    shapes = []
    for block in (D.conv1, D.conv2, D.conv3):
        block.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:])))
    scores = D(torch.randn(5, 3, 32, 32))
    assert scores.shape == (5,)
    assert shapes == [(64, 16, 16), (128, 8, 8), (256, 4, 4)]
    assert DCDiscriminator(conv_dim=8, spectral_norm=True)(torch.randn(2, 3, 32, 32)).shape == (2,)


def test_discriminator_rejects_wrong_input():
    with pytest.raises(ValueError, match="shape"):
        DCDiscriminator()(torch.randn(2, 1, 32, 32))


def test_noise_is_uniform_in_the_open_interval_and_seeded():
    z = sample_noise(4000, 10, generator=torch.Generator().manual_seed(0))
    assert z.shape == (4000, 10)
    assert float(z.min()) >= -1 and float(z.max()) < 1
    assert abs(float(z.mean())) < 0.02 and abs(float(z.var()) - 1 / 3) < 0.02
    again = sample_noise(4000, 10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(z, again)


def test_gradient_penalty_of_a_linear_critic_is_its_weight_norm():
    # For D(x) = <w, x> the input gradient is w everywhere, so the penalty is weight * ||w||.
    D = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 1), nn.Flatten(0))
    real, fake = torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4)
    gp = gradient_penalty(D, real, fake, weight=2.5)
    assert torch.isclose(gp, 2.5 * D[1].weight.norm(), atol=1e-5)
    gp.backward()  # the penalty trains the critic: gradients reach its weights
    assert D[1].weight.grad is not None and float(D[1].weight.grad.abs().sum()) > 0


def test_gradient_penalty_rejects_mismatched_batches():
    D = DCDiscriminator(conv_dim=4)
    with pytest.raises(ValueError, match="differ in shape"):
        gradient_penalty(D, torch.randn(2, 3, 32, 32), torch.randn(3, 3, 32, 32))
