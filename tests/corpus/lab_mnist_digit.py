"""Digit lab: realistic bugs in the students' MLPs, the BCE step and the epoch loop, and correct variants (other
MLP designs, other ways to write the loop) that must keep full marks."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from autograder.quality import mutant, variant

AUTO_TESTS = {"test_digit": 1, "test_models": 2, "test_bce_step": 3, "test_train_loop": 3}
MANUAL_POINTS = 3
MODELS, STEP, LOOP = "models", "bce_step", "train_loop"
T_DIGIT, T_MODELS, T_STEP, T_LOOP = AUTO_TESTS
G_LAST = "nn.Linear(1024, 28 * 28), nn.Tanh(),"
D_LAST = "            nn.Linear(256, 1),\n"
G_OUT = "return self.net(z).reshape(z.shape[0], 1, 28, 28)"
STEP_CALL = "values = step_fn(G, D, g_optimizer, d_optimizer, real, noise, step)"
SEEDED = "rng = torch.Generator().manual_seed(config.seed)"
NOISE = "noise = torch.randn(len(batch), config.z_dim, generator=rng)"

MUTANTS = {
    # the networks
    "g_sigmoid": mutant(MODELS, G_LAST, "nn.Linear(1024, 28 * 28), nn.Sigmoid(),", T_MODELS,
                        kind="generator output in (0, 1) for data in [-1, 1]"),
    "g_no_tanh": mutant(MODELS, G_LAST, "nn.Linear(1024, 28 * 28),", T_MODELS, kind="generator output unbounded"),
    "d_sigmoid": mutant(MODELS, D_LAST, "            nn.Linear(256, 1), nn.Sigmoid(),\n", T_MODELS,
                        kind="sigmoid on the logits"),
    "d_relu_last": mutant(MODELS, D_LAST, "            nn.Linear(256, 1), nn.ReLU(),\n", T_MODELS,
                          kind="a ReLU after the last layer: no negative logits"),
    "z_dim_hard_coded": mutant(MODELS, "nn.Linear(z_dim, 256)", "nn.Linear(100, 256)", T_MODELS,
                               kind="z_dim hard-coded"),
    "g_detached": mutant(MODELS, G_OUT, "return self.net(z).detach().reshape(z.shape[0], 1, 28, 28)", T_MODELS,
                         kind="detach in the generator's forward"),
    "g_flat_images": mutant(MODELS, G_OUT, "return self.net(z)", T_MODELS, kind="images not reshaped"),
    # the BCE step
    "fake_label_one": mutant(STEP, "binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores))",
                             "binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores))", T_STEP,
                             kind="fakes labelled real in the D loss"),
    "g_scored_by_old_d": mutant(STEP, "    scores = D(fakes)\n", "    scores = fake_scores\n", T_STEP,
                                kind="G's loss from the scores before D's update (and detached fakes)"),
    # the epoch loop
    "no_shuffle": mutant(LOOP, "order = torch.randperm(len(images), generator=rng)",
                         "order = torch.arange(len(images))", T_LOOP, kind="the same order every epoch"),
    "one_batch_reused": mutant(LOOP, "real = images[batch.to(images.device)]", "real = images[:batch_size]", T_LOOP,
                               kind="the first batch at every step"),
    "new_noise_for_samples": mutant(LOOP, "samples = G(fixed_noise)",
                                    "samples = G(torch.randn(64, config.z_dim, device=images.device))", T_LOOP,
                                    kind="samples from new noise each epoch"),
    "fixed_noise_redrawn": mutant(LOOP, "        samples = None\n",
                                  "        samples = None\n        fixed_noise = torch.randn(64, config.z_dim, "
                                  "generator=rng).to(images.device)\n",
                                  T_LOOP, kind="the fixed noise drawn again each epoch"),
    "stays_in_eval_mode": mutant(LOOP, "                samples = G(fixed_noise)\n            G.train()",
                                 "                samples = G(fixed_noise)", T_LOOP,
                                 kind="G left in eval mode after sampling"),
    "adam_every_step": mutant(LOOP, STEP_CALL,
                              "values = step_fn(G, D, torch.optim.Adam(G.parameters(), lr=config.lr, "
                              "betas=(config.beta1, config.beta2)), d_optimizer, real, noise, step)", T_LOOP,
                              kind="a new optimiser at every step"),
    "optimisers_swapped": mutant(LOOP, STEP_CALL, "values = step_fn(G, D, d_optimizer, g_optimizer, real, noise, step)",
                                 T_LOOP, kind="G's optimiser passed as D's"),
    "lr_not_from_config": mutant(LOOP, "Adam(G.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))",
                                 "Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))", T_LOOP,
                                 kind="hyperparameters hard-coded"),
    "seed_ignored": mutant(LOOP, SEEDED, "rng = torch.Generator().manual_seed(0)", T_LOOP,
                           kind="config.seed not used"),
    "unseeded": mutant(LOOP, SEEDED, "rng = torch.default_generator", T_LOOP, kind="the global RNG, never seeded"),
    "step_restarts_each_epoch": mutant(LOOP, "    step = 0\n    for epoch in range(1, config.epochs + 1):\n",
                                       "    for epoch in range(1, config.epochs + 1):\n        step = 0\n", T_LOOP,
                                       kind="the step count restarts every epoch"),
    "uniform_noise": mutant(LOOP, NOISE, "noise = torch.rand(len(batch), config.z_dim, generator=rng)", T_LOOP,
                            kind="uniform noise (torch.rand)"),
    "nothing_logged": mutant(LOOP, "            logger.log_step(step, values)\n", "", T_LOOP,
                             kind="the helper not called"),
}

_MODELS_BN_NARROW = '''class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int = 100) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, 128), nn.BatchNorm1d(128), nn.ReLU(),
                                 nn.Linear(128, 256), nn.BatchNorm1d(256), nn.ReLU(),
                                 nn.Linear(256, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.fc1(images.view(images.size(0), -1)), 0.2)
        return self.fc2(x)  # (N, 1)
'''
_MODELS_WIDE_SN = '''class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int = 100) -> None:
        super().__init__()
        layers, width = [], z_dim
        for out in (512, 512, 1024):
            layers += [nn.Linear(width, out), nn.LeakyReLU(0.2)]
            width = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 28 * 28)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.head(self.body(z))).view(-1, 1, 28, 28)


class MLPDiscriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        self.net = nn.Sequential(nn.Flatten(), sn(nn.Linear(784, 1024)), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                                 sn(nn.Linear(1024, 512)), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                                 sn(nn.Linear(512, 256)), nn.LeakyReLU(0.2), nn.Linear(256, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).squeeze(1)
'''
_MODELS_SHALLOW = '''class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int = 100) -> None:
        super().__init__()
        self.fc = nn.Linear(z_dim, 1024)
        self.out = nn.Linear(1024, 784)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.out(F.leaky_relu(self.fc(z), 0.2))).reshape(len(z), 1, 28, 28)


class MLPDiscriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 1024), nn.ELU(), nn.Dropout(0.5), nn.Linear(1024, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images.flatten(1)).flatten()
'''
_LOOP_DATALOADER = '''def train_gan(G, D, step_fn, images, config, logger):
    from torch.utils.data import DataLoader, TensorDataset
    betas = (config.beta1, config.beta2)
    opt_g = torch.optim.Adam(G.parameters(), config.lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), config.lr, betas=betas)
    gen = torch.Generator()
    gen.manual_seed(config.seed)
    loader = DataLoader(TensorDataset(images), batch_size=config.batch_size, shuffle=True, drop_last=True,
                        generator=gen)
    fixed = torch.randn(64, config.z_dim, generator=gen).to(images.device)
    step = 0
    for epoch in range(config.epochs):
        for (real,) in loader:
            step += 1
            z = torch.randn(real.shape[0], config.z_dim, generator=gen).to(images.device)
            logger.log_step(step, step_fn(G, D, opt_g, opt_d, real, z, step))
        with torch.no_grad():
            G.eval()
            grid = G(fixed)
            G.train()
        logger.end_epoch(epoch + 1, grid)
'''
_LOOP_GLOBAL_SEED = '''def train_gan(G, D, step_fn, images, config, logger):
    torch.manual_seed(config.seed)
    g_opt = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
    d_opt = torch.optim.Adam(D.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
    fixed_noise = torch.randn(64, config.z_dim, device=images.device)
    n, step = images.shape[0], 0
    for epoch in range(1, config.epochs + 1):
        perm = torch.randperm(n, device=images.device)
        for start in range(0, n, config.batch_size):  # keeps the last, smaller batch
            idx = perm[start:start + config.batch_size]
            step += 1
            z = torch.randn(len(idx), config.z_dim, device=images.device)
            logger.log_step(step, step_fn(G, D, g_opt, d_opt, images[idx], z, step))
        if logger.wants_samples(epoch):
            G.eval()
            with torch.no_grad():
                s = G(fixed_noise)
            G.train()
            logger.end_epoch(epoch, s)
        else:
            logger.end_epoch(epoch)
'''


def _reference(grade_id: str) -> str:
    """The source notebook's answer, as a filled-in submission holds it (without the solution markers)."""
    source = nbformat.read(Path(__file__).resolve().parents[2] / "notebooks" / "lab_mnist_digit.ipynb", 4)
    text = next(c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", "", text, flags=re.M)


VARIANTS = {
    "batchnorm_narrow_and_dataloader": variant(
        MODELS, _reference(MODELS), _MODELS_BN_NARROW, more=[(LOOP, _reference(LOOP), _LOOP_DATALOADER)],
        kind="G with BatchNorm and ReLU, two layers each, D returns (N, 1); the loop over a seeded DataLoader"),
    "wide_spectral_norm_and_global_seed": variant(
        MODELS, _reference(MODELS), _MODELS_WIDE_SN, more=[(LOOP, _reference(LOOP), _LOOP_GLOBAL_SEED)],
        kind="a deeper, wider G; D with spectral norm, squeeze(1); the loop seeds the global RNG, keeps the last "
             "small batch, samples only when wanted"),
    "shallow": variant(MODELS, _reference(MODELS), _MODELS_SHALLOW,
                       kind="one hidden layer each, ELU and dropout 0.5 in D, flatten()"),
}
