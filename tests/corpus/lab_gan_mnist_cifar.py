"""MNIST/CIFAR lab: two realistic bugs (a smoothed generator target, BatchNorm on the generator's output) and one
correct vanilla GAN of another design (BatchNorm, (N, 1) scores) that keeps full marks."""

from __future__ import annotations

from autograder.quality import mutant, variant

AUTO_TESTS = {"test_vanilla": 2, "test_dc_generator": 2, "test_gan_step": 3}
MANUAL_POINTS = 2

MUTANTS = {
    "smoothed_g_target": mutant(
        "gan_step", "g_loss = F.binary_cross_entropy_with_logits(scores, torch.ones_like(scores))",
        "g_loss = F.binary_cross_entropy_with_logits(scores, torch.full_like(scores, real_label))", "test_gan_step",
        kind="label smoothing on the generator's target"),
    "batchnorm_on_output": mutant("dc_generator", "upconv(conv_dim, channels, batch_norm=False)",
                                  "upconv(conv_dim, channels)", "test_dc_generator",
                                  kind="BatchNorm before the output's tanh"),
}

VARIANTS = {
    "vanilla_batchnorm_column_scores": variant(
        "vanilla",
        "            nn.Linear(z_dim, hidden), nn.LeakyReLU(0.2),\n"
        "            nn.Linear(hidden, 2 * hidden), nn.LeakyReLU(0.2),\n"
        "            nn.Linear(2 * hidden, channels * height * width), nn.Tanh(),",
        "            nn.Linear(z_dim, 4 * hidden), nn.BatchNorm1d(4 * hidden), nn.ReLU(),\n"
        "            nn.Linear(4 * hidden, channels * height * width), nn.Tanh(),",
        kind="another generator design, (N, 1) scores",
        more=[("vanilla", "return self.net(images).reshape(images.shape[0])", "return self.net(images)")]),
}
