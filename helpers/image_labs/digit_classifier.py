"""A small digit classifier trained by the kit (offline) to score generated digits.

It gives two numbers for a batch of generated digits:

* the **target rate**: the share of samples the classifier reads as the target digit (with a confidence
  above a threshold), "does it look like a 7?";
* the **Frechet distance** between the classifier's 32-d penultimate features of the samples and of real
  digits (the FID recipe of Heusel et al., 2017, with this network in place of Inception); lower is better.

The network is trained on scikit-learn's handwritten digits in MNIST's layout
(:func:`helpers.image_labs.data.offline_digits`), with small random shifts, rotations and scalings so that it
also reads MNIST digits. Its weights ship as ``data/digit_classifier.pt`` (rebuilt with
``python -m helpers.image_labs.digit_classifier``); without that file it trains on first use (a minute on a CPU) and
caches the weights under ``build/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from helpers.core.runtime import DATA_DIR, KIT_ROOT, seed_everything
from helpers.image_labs.data import offline_digits

SHIPPED_WEIGHTS = DATA_DIR / "digit_classifier.pt"
CACHED_WEIGHTS = KIT_ROOT / "build" / "digit_classifier.pt"
FEATURE_DIM = 32


class DigitClassifier(nn.Module):
    """1x28x28 digits in [-1, 1] -> 10 logits; :meth:`features` gives the 32-d layer before them.

    32x32 inputs (digits padded for the DCGAN layers) are centre-cropped to 28x28.
    """

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16 x 14 x 14
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32 x 7 x 7
            nn.Flatten(), nn.Linear(32 * 7 * 7, FEATURE_DIM), nn.ReLU(),
        )
        self.head = nn.Linear(FEATURE_DIM, 10)

    @staticmethod
    def _prepare(images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != 1 or images.shape[-2:] not in ((28, 28), (32, 32)):
            raise ValueError(f"expected grey digits of shape (N, 1, 28, 28) or (N, 1, 32, 32), "
                             f"got {tuple(images.shape)}")
        return images[..., 2:30, 2:30] if images.shape[-1] == 32 else images

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The (N, 32) penultimate features."""
        return self.body(self._prepare(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The (N, 10) logits."""
        return self.head(self.features(images))


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random shifts (up to 2 px), rotations (up to 12 degrees) and scalings (0.85-1.15) of a batch."""
    n = images.shape[0]
    angle = (torch.rand(n, generator=generator) * 2 - 1) * (12 * torch.pi / 180)
    scale = 0.85 + 0.3 * torch.rand(n, generator=generator)
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * (2 / 14)  # 2 px in [-1, 1] coordinates
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    # Pad with the background value (-1): shift into [0, 2], sample with zero padding, shift back.
    return F.grid_sample(images + 1, grid, align_corners=False) - 1


def train_digit_classifier(epochs: int = 40, seed: int = 0, progress: bool = True,
                           ) -> tuple[DigitClassifier, float]:
    """Train a :class:`DigitClassifier` on the offline digits; returns it (in eval mode) and its test accuracy."""
    generator = seed_everything(seed)
    train_x, train_y = offline_digits(train=True)
    test_x, test_y = offline_digits(train=False)
    model = DigitClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    for _ in tqdm(range(epochs), desc="digit classifier", disable=not progress):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        for batch in order.split(64):
            loss = F.cross_entropy(model(_augment(train_x[batch], generator)), train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
    model.eval()
    with torch.no_grad():
        accuracy = float((model(test_x).argmax(1) == test_y).float().mean())
    return model, accuracy


def load_digit_classifier(path: str | Path | None = None, device: torch.device | str | None = None,
                          progress: bool = True) -> DigitClassifier:
    """The kit's classifier in eval mode: from ``path``, else the shipped weights, else trained and cached."""
    candidates = [Path(path)] if path is not None else [SHIPPED_WEIGHTS, CACHED_WEIGHTS]
    model = DigitClassifier()
    for candidate in candidates:
        if candidate.is_file():
            model.load_state_dict(torch.load(candidate, map_location="cpu", weights_only=True))
            break
    else:
        if path is not None:
            raise FileNotFoundError(f"no digit classifier weights at {path}")
        model, _ = train_digit_classifier(progress=progress)
        CACHED_WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), CACHED_WEIGHTS)
    return model.eval().to(device or "cpu")


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (rows are samples).

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)``, computed in float64 with symmetric
    eigendecompositions (no scipy needed).
    """
    if features_a.dim() != 2 or features_b.dim() != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"expected two (N, D) feature sets with the same D, got {tuple(features_a.shape)} "
                         f"and {tuple(features_b.shape)}")
    if min(len(features_a), len(features_b)) < 2:
        raise ValueError("each feature set needs at least 2 samples")
    a, b = features_a.double().cpu(), features_b.double().cpu()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    values, vectors = torch.linalg.eigh(cov_a)
    sqrt_a = vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T
    middle = sqrt_a @ cov_b @ sqrt_a
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum()
    return float((mu_a - mu_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * trace_sqrt)


@torch.no_grad()
def digit_quality(
    fake_images: torch.Tensor,
    real_images: torch.Tensor,
    target_digit: int | None = None,
    classifier: DigitClassifier | None = None,
    confidence: float = 0.5,
    batch_size: int = 500,
) -> dict[str, float]:
    """Quality numbers for generated digits (grey, 28x28 or 32x32, in [-1, 1]) against real ones.

    Returns ``frechet`` (Frechet distance of the classifier's features, lower is better), ``confidence``
    (mean top-class probability) and, with ``target_digit``, ``target_rate``: the share of fakes the classifier
    reads as that digit with probability above ``confidence``.
    """
    if target_digit is not None and not 0 <= target_digit <= 9:
        raise ValueError(f"target_digit must be from 0 to 9, got {target_digit!r}")
    model = classifier if classifier is not None else load_digit_classifier(progress=False)
    device = next(model.parameters()).device

    def run(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = torch.cat([model.features(chunk.to(device).float()) for chunk in images.split(batch_size)])
        return feats, model.head(feats).softmax(1)

    fake_feats, fake_probs = run(fake_images)
    real_feats, _ = run(real_images)
    result = {"frechet": frechet_distance(real_feats, fake_feats),
              "confidence": float(fake_probs.max(1).values.mean())}
    if target_digit is not None:
        result["target_rate"] = float((fake_probs[:, target_digit] > confidence).float().mean())
    return result


def main() -> None:
    """Train the classifier and write the shipped weights (``python -m helpers.image_labs.digit_classifier [path]``)."""
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else SHIPPED_WEIGHTS
    model, accuracy = train_digit_classifier()
    # float16 halves the file; the weights are cast back to float32 on loading.
    torch.save({k: v.half() for k, v in model.state_dict().items()}, target)
    print(f"test accuracy on the held-out offline digits: {accuracy:.4f}; weights written to {target}")


if __name__ == "__main__":
    main()
