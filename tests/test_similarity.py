"""Near-identical solutions: planted copies (renamed, reordered, reformatted) are listed, independent correct
solutions of the same cells are not (fast: no nbgrader)."""

from __future__ import annotations

import re

import nbformat

from autograder.config import load_config
from autograder.similarity import compare, reference_answers, statements

SOURCE = nbformat.read(load_config().source_notebook("dcgan"), as_version=4)
REFERENCE = reference_answers(SOURCE)
PROVIDED = {gid: re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "# YOUR CODE HERE\nraise NotImplementedError()",
                        cell.source, flags=re.S)
            for gid, cell in ((c.metadata["nbgrader"]["grade_id"], c) for c in SOURCE.cells
                              if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution"))}
HEAD = "class DCGenerator(nn.Module):\n    def __init__(self, noise_size: int = 100, conv_dim: int = 32, " \
       "spectral_norm: bool = False) -> None:\n        super().__init__()\n"

# Independent correct solutions, each written its own way.
ANN = {
    "generator": HEAD + """        self.conv_dim = conv_dim
        self.blocks = nn.ModuleList([
            upconv(noise_size, 4 * conv_dim, scale_factor=4, spectral_norm=spectral_norm),
            upconv(4 * conv_dim, 2 * conv_dim, spectral_norm=spectral_norm),
            upconv(2 * conv_dim, conv_dim, spectral_norm=spectral_norm),
        ])
        self.to_rgb = upconv(conv_dim, 3, batch_norm=False, spectral_norm=spectral_norm)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = z.view(len(z), -1, 1, 1)
        for block in self.blocks:
            h = F.relu(block(h))
        return self.to_rgb(h).tanh()
""",
    "training_step": """def discriminator_step(D, G, d_optimizer, real_images, noise, gp_weight=0.0):
    with torch.no_grad():
        generated = G(noise)
    d_optimizer.zero_grad()
    real_term = torch.mean(torch.square(D(real_images) - 1)) / 2
    fake_term = torch.mean(torch.square(D(generated))) / 2
    total = real_term + fake_term
    if gp_weight:
        total += gradient_penalty(D, real_images, generated, gp_weight)
    total.backward()
    d_optimizer.step()
    return real_term.detach(), fake_term.detach()


def generator_step(D, G, g_optimizer, noise):
    g_optimizer.zero_grad()
    scores = D(G(noise))
    loss = torch.mean(torch.square(scores - 1))
    loss.backward()
    g_optimizer.step()
    return loss.detach()


def training_iteration(G, D, g_optimizer, d_optimizer, sample_real, sample_noise, d_train_iters=1, gp_weight=0.0):
    results = {}
    for step in range(d_train_iters):
        results["D_real"], results["D_fake"] = discriminator_step(D, G, d_optimizer, sample_real(),
                                                                  sample_noise(), gp_weight)
    results["G"] = generator_step(D, G, g_optimizer, sample_noise())
    return results
""",
}
BEN = {
    "generator": HEAD + """        self.conv_dim = conv_dim
        sn = spectral_norm
        self.l1 = upconv(noise_size, conv_dim * 4, scale_factor=4, spectral_norm=sn)
        self.l2 = upconv(conv_dim * 4, conv_dim * 2, spectral_norm=sn)
        self.l3 = upconv(conv_dim * 2, conv_dim, spectral_norm=sn)
        self.out_layer = upconv(conv_dim, 3, batch_norm=False, spectral_norm=sn)
        self.act = nn.ReLU()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z[:, :, None, None] if z.dim() == 2 else z
        x = self.act(self.l1(x))
        x = self.act(self.l2(x))
        x = self.act(self.l3(x))
        return torch.tanh(self.out_layer(x))
""",
    "training_step": """def discriminator_step(D, G, d_optimizer, real_images, noise, gp_weight=0.0):
    fake_images = G(noise).detach()
    mse = nn.MSELoss()
    out_real, out_fake = D(real_images), D(fake_images)
    loss_real = 0.5 * mse(out_real, torch.ones_like(out_real))
    loss_fake = 0.5 * mse(out_fake, torch.zeros_like(out_fake))
    d_optimizer.zero_grad()
    loss = loss_real + loss_fake
    if gp_weight > 0:
        loss = loss + gradient_penalty(D, real_images, fake_images, gp_weight)
    loss.backward()
    d_optimizer.step()
    return loss_real.item() * torch.ones(()), loss_fake.detach()


def generator_step(D, G, g_optimizer, noise):
    out = D(G(noise))
    g_loss = F.mse_loss(out, torch.ones_like(out))
    g_optimizer.zero_grad()
    g_loss.backward()
    g_optimizer.step()
    return g_loss.detach()


def training_iteration(G, D, g_optimizer, d_optimizer, sample_real, sample_noise, d_train_iters=1, gp_weight=0.0):
    losses = [discriminator_step(D, G, d_optimizer, sample_real(), sample_noise(), gp_weight)
              for _ in range(d_train_iters)]
    g = generator_step(D, G, g_optimizer, sample_noise())
    return {"D_real": losses[-1][0], "D_fake": losses[-1][1], "G": g}
""",
}
CHO = {
    "generator": HEAD + """        self.conv_dim = conv_dim
        widths = [noise_size, conv_dim * 4, conv_dim * 2, conv_dim]
        self.body = nn.Sequential(*[
            nn.Sequential(upconv(w_in, w_out, scale_factor=4 if i == 0 else 2, spectral_norm=spectral_norm), nn.ReLU())
            for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:]))
        ])
        self.head = nn.Sequential(upconv(conv_dim, 3, batch_norm=False, spectral_norm=spectral_norm), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(z.reshape(z.size(0), z.size(1), 1, 1)))
""",
    "training_step": """def lsgan(scores, target):
    return 0.5 * ((scores - target) ** 2).mean()


def discriminator_step(D, G, d_optimizer, real_images, noise, gp_weight=0.0):
    d_optimizer.zero_grad(set_to_none=True)
    fake = G(noise).detach()
    parts = (lsgan(D(real_images), 1.0), lsgan(D(fake), 0.0))
    objective = sum(parts)
    if gp_weight > 0:
        objective = objective + gradient_penalty(D, real_images, fake, gp_weight)
    objective.backward()
    d_optimizer.step()
    return tuple(p.detach() for p in parts)


def generator_step(D, G, g_optimizer, noise):
    g_optimizer.zero_grad(set_to_none=True)
    objective = 2 * lsgan(D(G(noise)), 1.0)
    objective.backward()
    g_optimizer.step()
    return objective.detach()


def training_iteration(G, D, g_optimizer, d_optimizer, sample_real, sample_noise, d_train_iters=1, gp_weight=0.0):
    k = 0
    while k < d_train_iters:
        d_real, d_fake = discriminator_step(D, G, d_optimizer, sample_real(), sample_noise(), gp_weight)
        k += 1
    return {"D_real": d_real, "D_fake": d_fake, "G": generator_step(D, G, g_optimizer, sample_noise())}
""",
}


def renamed(cells: dict[str, str]) -> dict[str, str]:
    """A copy with every local name changed, comments added and the layout changed."""
    swaps = {"generated": "fake_batch", "real_term": "lr", "fake_term": "lf", "total": "objective_d", "scores": "s",
             "loss": "gen_loss", "results": "out_dict", "step": "i", "blocks": "stages", "to_rgb": "final", "h": "x",
             "block": "layer"}
    out = {}
    for gid, text in cells.items():
        for old, new in swaps.items():
            text = re.sub(rf"\b{old}\b", new, text)
        text = text.replace("d_optimizer.step()", "d_optimizer.step()  # update D")
        text = text.replace("    return ", "    # done\n    return ")
        out[gid] = text
    return out


def reordered(cells: dict[str, str]) -> dict[str, str]:
    """A copy with the functions of each cell in the reverse order, a docstring and blank lines added."""
    out = dict(cells)
    functions = re.split(r"\n\n\n(?=def )", cells["training_step"].strip())
    out["training_step"] = "\n\n\n\n".join(reversed(functions)).replace(
        "def generator_step(D, G, g_optimizer, noise):\n",
        "def generator_step(D, G, g_optimizer, noise):\n    \"\"\"One G step.\"\"\"\n\n") + "\n"
    return out


def test_normalising_ignores_names_comments_formatting_and_order():
    a = statements("def f(x):\n    # hi\n    y = x+1\n    return y", "def f(x):\n    pass")
    b = statements("def f(x):\n    '''doc'''\n    total   =   x + 1  # sum\n    return total", "def f(x):\n    pass")
    assert a == b and a[0][:3] == ["def", "f", "("]


def test_planted_pairs_are_listed_and_independent_solutions_are_not():
    submissions = {"ann": ANN, "ben": BEN, "cho": CHO, "reference": REFERENCE,
                   "dan": renamed(ANN), "eve": reordered(CHO), "untouched": dict(PROVIDED), "fay": renamed(REFERENCE)}
    pairs = compare(submissions, PROVIDED, REFERENCE)
    listed = {tuple(p["students"]): p["similarity"] for p in pairs}
    assert set(listed) == {("ann", "dan"), ("cho", "eve")}, pairs
    assert all(score >= 0.8 for score in listed.values()), listed


def test_only_pairs_with_the_batch_are_listed():
    submissions = {"ann": ANN, "dan": renamed(ANN), "cho": CHO, "eve": reordered(CHO)}
    pairs = compare(submissions, PROVIDED, REFERENCE, only={"eve"})
    assert [p["students"] for p in pairs] == [["cho", "eve"]]
