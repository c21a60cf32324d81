"""A GAN from scratch in NumPy on a 1-D Gaussian, trained with plain gradient descent (the lab's optional exercise).

The generator is affine, ``G(z) = w z + b`` with ``z ~ N(0, 1)``: it can represent every 1-D Gaussian exactly. The
discriminator is a one-hidden-layer tanh network with a logit output, ``l(x) = v . tanh(a x + c) + d``; it must
bend (a linear logit cannot tell two Gaussians of the same mean apart, so it could not fix the std). Both play the
original GAN game with the non-saturating generator loss, written from the logits with a numerically stable
softplus, and every gradient is derived by hand. Plain gradient descent (no momentum, no Adam), one D step then
one G step per epoch, each on a fresh batch, with learning rates that decay linearly to ``final_lr_fraction``.

Measured (500 samples from ``default_rng(0)`` noise, seeds 0, 1, 2 and 42, 5,000 epochs, about 0.6 s a run):
N(4, 1.25), N(0, 1) and N(-3, 2) are all learnt to within 0.1 std of the mean and 10% of the std (the worst: std
1.213 for N(4, 1.25)); ``tests/toy_gan/test_numpy_gan.py`` checks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Generator = Callable[[np.ndarray], np.ndarray]


def sigmoid(t: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large negative ``t``."""
    return np.exp(-np.logaddexp(0.0, -t))


def softplus(t: np.ndarray) -> np.ndarray:
    """log(1 + e^t), stable for large ``|t|``: -log sigmoid(l) = softplus(-l), -log(1 - sigmoid(l)) = softplus(l)."""
    return np.logaddexp(0.0, t)


@dataclass
class MLPDiscriminator1D:
    """``l(x) = v . tanh(a x + c) + d``: the logit of "real" for each point of a 1-D batch."""

    a: np.ndarray
    c: np.ndarray
    v: np.ndarray
    d: float = 0.0

    @classmethod
    def init(cls, hidden: int, rng: np.random.Generator) -> MLPDiscriminator1D:
        return cls(rng.normal(0.0, 1.0, hidden), rng.normal(0.0, 1.0, hidden),
                   rng.normal(0.0, 1.0 / np.sqrt(hidden), hidden))

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The hidden activations (N x hidden) and the logits (N,)."""
        h = np.tanh(np.outer(x, self.a) + self.c)
        return h, h @ self.v + self.d

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[1]

    def backward(self, x: np.ndarray, h: np.ndarray, grad_logits: np.ndarray) -> tuple[dict, np.ndarray]:
        """Gradients of a loss with respect to the parameters and to the input ``x``, given dloss/dlogits."""
        grad_pre = np.outer(grad_logits, self.v) * (1.0 - h**2)  # through tanh
        params = {"a": grad_pre.T @ x, "c": grad_pre.sum(0), "v": h.T @ grad_logits, "d": float(grad_logits.sum())}
        return params, grad_pre @ self.a

    def step(self, grads: dict, lr: float) -> None:
        self.a = self.a - lr * grads["a"]
        self.c = self.c - lr * grads["c"]
        self.v = self.v - lr * grads["v"]
        self.d = self.d - lr * grads["d"]


def discriminator_loss(real_logits: np.ndarray, fake_logits: np.ndarray) -> float:
    """L_D = -mean log D(x) - mean log(1 - D(G(z))), from the logits."""
    return float(softplus(-real_logits).mean() + softplus(fake_logits).mean())


def generator_loss(fake_logits: np.ndarray) -> float:
    """The non-saturating L_G = -mean log D(G(z)), from the logits."""
    return float(softplus(-fake_logits).mean())


def train_gan(mean: float, std: float, epochs: int = 5000, seed: int = 42, batch_size: int = 128, hidden: int = 16,
              d_lr: float = 0.05, g_lr: float = 0.02, final_lr_fraction: float = 0.02,
              history: list[tuple[float, float, float, float]] | None = None) -> Generator:
    """Train a GAN on N(mean, std^2) with plain gradient descent; returns the generator ``z -> w z + b``.

    ``epochs`` iterations of one discriminator step and one generator step, each on a fresh batch of
    ``batch_size`` real points and noise drawn from ``numpy.random.default_rng(seed)`` (the same seed, the same
    generator). When ``history`` is a list, ``(L_D, L_G, w, b)`` is appended to it every epoch.
    """
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    if epochs < 1 or batch_size < 1 or hidden < 1:
        raise ValueError(f"epochs, batch_size and hidden must be at least 1, got {epochs}, {batch_size}, {hidden}")
    rng = np.random.default_rng(seed)
    w, b = 1.0, 0.0
    D = MLPDiscriminator1D.init(hidden, rng)
    for epoch in range(epochs):
        scale = 1.0 - (1.0 - final_lr_fraction) * epoch / epochs
        # Discriminator step: descend L_D (the fakes are constants here: no gradient reaches w and b).
        real = mean + std * rng.standard_normal(batch_size)
        fake = w * rng.standard_normal(batch_size) + b
        h_real, l_real = D.forward(real)
        h_fake, l_fake = D.forward(fake)
        d_loss = discriminator_loss(l_real, l_fake)
        g_real, _ = D.backward(real, h_real, -sigmoid(-l_real) / batch_size)  # d softplus(-l)/dl = -sigmoid(-l)
        g_fake, _ = D.backward(fake, h_fake, sigmoid(l_fake) / batch_size)  # d softplus(l)/dl = sigmoid(l)
        D.step({k: g_real[k] + g_fake[k] for k in g_real}, d_lr * scale)
        # Generator step: descend L_G through D (whose parameters stay as they are) to x = w z + b.
        z = rng.standard_normal(batch_size)
        fake = w * z + b
        h_fake, l_fake = D.forward(fake)
        _, grad_x = D.backward(fake, h_fake, -sigmoid(-l_fake) / batch_size)
        w, b = w - g_lr * scale * float(grad_x @ z), b - g_lr * scale * float(grad_x.sum())
        if history is not None:
            history.append((d_loss, generator_loss(l_fake), w, b))

    def generator(z: np.ndarray) -> np.ndarray:
        return w * np.asarray(z, dtype=float) + b

    return generator
