"""Face lab: two realistic bugs (a sigmoid on the discriminator's logits, an interpolation path that misses its
end); no correct variant yet."""

from __future__ import annotations

from autograder.quality import mutant

AUTO_TESTS = {"test_face_models": 3, "test_train_step": 2, "test_interpolation": 2}
MANUAL_POINTS = 3

MUTANTS = {
    "sigmoid_on_scores": mutant("face_models", "return self.last(out).reshape(images.shape[0])",
                                "return torch.sigmoid(self.last(out)).reshape(images.shape[0])", "test_face_models",
                                kind="sigmoid on the logits"),
    "path_misses_the_end": mutant("interpolation", "torch.linspace(0, 1, steps, dtype=z0.dtype, device=z0.device)",
                                  "torch.arange(steps, dtype=z0.dtype, device=z0.device) / steps",
                                  "test_interpolation", kind="the path stops short of the second code"),
}
VARIANTS: dict = {}
