"""DCGAN: realistic one-line (or few-line) bugs in the answers, and correct variants."""

from __future__ import annotations

from autograder.quality import mutant, variant

AUTO_TESTS = {"test_generator": 2, "test_discriminator_step": 3, "test_generator_step": 2,
              "test_training_iteration": 2}
MANUAL_POINTS = 6
GEN, STEP = "generator", "training_step"
T_GEN, T_D, T_G, T_IT = AUTO_TESTS

MUTANTS = {
    # TODO 1: the generator
    "no_tanh": mutant(GEN, "return torch.tanh(self.stage4(out))", "return self.stage4(out)", T_GEN,
                      kind="missing output activation"),
    "sigmoid_output": mutant(GEN, "return torch.tanh(self.stage4(out))", "return torch.sigmoid(self.stage4(out))",
                             T_GEN, kind="output range (0, 1) instead of (-1, 1)"),
    "batchnorm_on_output": mutant(GEN, "self.stage4 = upconv(conv_dim, 3, batch_norm=False,",
                                  "self.stage4 = upconv(conv_dim, 3, batch_norm=True,", T_GEN,
                                  kind="BatchNorm on the output stage"),
    "no_relu_in_stage2": mutant(GEN, "out = torch.relu(self.stage2(out))", "out = self.stage2(out)", T_GEN,
                                kind="activation missing in one stage"),
    "leaky_relu_in_stage3": mutant(GEN, "out = torch.relu(self.stage3(out))",
                                   "out = nn.functional.leaky_relu(self.stage3(out), 0.2)", T_GEN,
                                   kind="wrong activation in one stage"),
    "spectral_norm_not_forwarded_to_stage4": mutant(
        GEN, "self.stage4 = upconv(conv_dim, 3, batch_norm=False, spectral_norm=spectral_norm)",
        "self.stage4 = upconv(conv_dim, 3, batch_norm=False)", T_GEN, kind="argument not forwarded"),
    "relu_before_batchnorm": mutant(
        GEN, "self.stage2 = upconv(conv_dim * 4, conv_dim * 2, spectral_norm=spectral_norm)",
        "self.stage2 = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(conv_dim * 4, conv_dim * 2, 5, "
        "padding=2), nn.ReLU(), nn.BatchNorm2d(conv_dim * 2))", T_GEN,
        more=[(GEN, "out = torch.relu(self.stage2(out))", "out = self.stage2(out)")],
        kind="activation before BatchNorm"),
    # TODO 2: the discriminator step
    "no_detach_in_d_step": mutant(STEP, "fakes = G(noise).detach()", "fakes = G(noise)", T_D,
                                  kind="detach missing"),
    "wrong_fake_target": mutant(STEP, "0.5 * (D(fakes) ** 2).mean()", "0.5 * ((D(fakes) - 1) ** 2).mean()", T_D,
                                kind="wrong target"),
    "missing_half_factor": mutant(STEP, "d_real_loss = 0.5 * ((D(real_images) - 1) ** 2).mean()",
                                  "d_real_loss = ((D(real_images) - 1) ** 2).mean()", T_D, kind="wrong constant"),
    "no_zero_grad_in_d_step": mutant(STEP, "    d_optimizer.zero_grad()\n", "", T_D, kind="zero_grad missing"),
    "sum_reduction_in_d_step": mutant(STEP, "d_fake_loss = 0.5 * (D(fakes) ** 2).mean()",
                                      "d_fake_loss = 0.5 * (D(fakes) ** 2).sum()", T_D, kind="wrong reduction"),
    "penalty_at_real_points_only": mutant(STEP, "gradient_penalty(D, real_images, fakes, gp_weight)",
                                          "gradient_penalty(D, real_images, real_images, gp_weight)", T_D,
                                          kind="gradient penalty at the wrong points"),
    "penalty_weight_ignored": mutant(STEP, "gradient_penalty(D, real_images, fakes, gp_weight)",
                                     "gradient_penalty(D, real_images, fakes)", T_D, kind="argument not forwarded"),
    "penalty_in_returned_real_loss": mutant(STEP, "return d_real_loss.detach(), d_fake_loss.detach()",
                                            "return (loss - d_fake_loss).detach(), d_fake_loss.detach()", T_D,
                                            kind="wrong return value"),
    "d_losses_as_floats": mutant(STEP, "return d_real_loss.detach(), d_fake_loss.detach()",
                                 "return d_real_loss.item(), d_fake_loss.item()", T_D, kind="return type"),
    # TODO 2: the generator step
    "detached_fakes_in_g_step": mutant(STEP, "g_loss = ((D(G(noise)) - 1) ** 2).mean()",
                                       "g_loss = ((D(G(noise).detach()) - 1) ** 2).mean()", T_G,
                                       kind="detach in the wrong place"),
    "no_zero_grad_in_g_step": mutant(STEP, "    g_optimizer.zero_grad()\n", "", T_G, kind="zero_grad missing"),
    "half_factor_in_g_loss": mutant(STEP, "g_loss = ((D(G(noise)) - 1) ** 2).mean()",
                                    "g_loss = 0.5 * ((D(G(noise)) - 1) ** 2).mean()", T_G, kind="wrong constant"),
    "g_pushes_fakes_to_zero": mutant(STEP, "g_loss = ((D(G(noise)) - 1) ** 2).mean()",
                                     "g_loss = (D(G(noise)) ** 2).mean()", T_G, kind="wrong target"),
    # TODO 2: the training iteration
    "same_real_batch_each_d_step": mutant(
        STEP, "discriminator_step(D, G, d_optimizer, sample_real(), sample_noise(), gp_weight)",
        "discriminator_step(D, G, d_optimizer, real, sample_noise(), gp_weight)", T_IT,
        more=[(STEP, "    for _ in range(d_train_iters):\n",
               "    real = sample_real()\n    for _ in range(d_train_iters):\n")],
        kind="fresh batch not drawn"),
    "g_step_also_updates_d": mutant(STEP, "    g_loss = generator_step(D, G, g_optimizer, sample_noise())\n",
                                    "    g_loss = generator_step(D, G, g_optimizer, sample_noise())\n"
                                    "    d_optimizer.step()\n", T_IT, kind="extra optimizer step"),
    "gp_weight_not_forwarded": mutant(
        STEP, "discriminator_step(D, G, d_optimizer, sample_real(), sample_noise(), gp_weight)",
        "discriminator_step(D, G, d_optimizer, sample_real(), sample_noise())", T_IT,
        kind="argument not forwarded by the caller"),
    "g_step_reuses_d_noise": mutant(
        STEP, "discriminator_step(D, G, d_optimizer, sample_real(), sample_noise(), gp_weight)",
        "discriminator_step(D, G, d_optimizer, sample_real(), noise, gp_weight)", T_IT,
        more=[(STEP, "    for _ in range(d_train_iters):\n",
               "    for _ in range(d_train_iters):\n        noise = sample_noise()\n"),
              (STEP, "generator_step(D, G, g_optimizer, sample_noise())", "generator_step(D, G, g_optimizer, noise)")],
        kind="fresh noise not drawn"),
    "losses_swapped_in_dict": mutant(STEP, 'return {"D_real": d_real_loss, "D_fake": d_fake_loss, "G": g_loss}',
                                     'return {"D_real": d_fake_loss, "D_fake": d_real_loss, "G": g_loss}', T_IT,
                                     kind="wrong return value"),
    "first_d_losses_returned": mutant(
        STEP, "        d_real_loss, d_fake_loss = discriminator_step(",
        "        losses = discriminator_step(", T_IT,
        more=[(STEP, "    g_loss = generator_step(",
               "        if _ == 0:\n            d_real_loss, d_fake_loss = losses\n    g_loss = generator_step(")],
        kind="off by one: the first D step's losses"),
}

VARIANTS = {
    "functional_relu_and_linear_stage1": variant(
        GEN, "self.stage1 = upconv(noise_size, conv_dim * 4, scale_factor=4, spectral_norm=spectral_norm)",
        "self.fc = nn.Linear(noise_size, conv_dim * 4 * 4 * 4)\n"
        "        if spectral_norm:\n            self.fc = nn.utils.parametrizations.spectral_norm(self.fc)\n"
        "        self.bn1 = nn.BatchNorm2d(conv_dim * 4)",
        more=[(GEN, "out = z.reshape(z.shape[0], -1, 1, 1)\n        out = torch.relu(self.stage1(out))",
               "out = self.fc(z).view(-1, self.conv_dim * 4, 4, 4)\n"
               "        out = nn.functional.relu(self.bn1(out))")],
        kind="nn.Linear reshaped for stage 1, F.relu"),
    "sequential_stages": variant(
        GEN, "self.stage4 = upconv(conv_dim, 3, batch_norm=False, spectral_norm=spectral_norm)",
        "self.stage4 = upconv(conv_dim, 3, batch_norm=False, spectral_norm=spectral_norm)\n"
        "        self.body = nn.Sequential(self.stage1, nn.ReLU(), self.stage2, nn.ReLU(), self.stage3, nn.ReLU(),"
        " self.stage4, nn.Tanh())",
        more=[(GEN, "out = z.reshape(z.shape[0], -1, 1, 1)\n", "return self.body(z.view(len(z), -1, 1, 1))\n")],
        kind="one nn.Sequential with nn.ReLU/nn.Tanh modules"),
    "no_grad_fakes_and_mse": variant(
        STEP, "fakes = G(noise).detach()", "with torch.no_grad():\n        fakes = G(noise)",
        more=[(STEP, "d_real_loss = 0.5 * ((D(real_images) - 1) ** 2).mean()",
               "scores_real = D(real_images)\n"
               "    d_real_loss = 0.5 * nn.functional.mse_loss(scores_real, torch.ones_like(scores_real))"),
              (STEP, "g_loss = ((D(G(noise)) - 1) ** 2).mean()",
               "scores = D(G(noise))\n    g_loss = torch.mean((scores - 1) ** 2)")],
        kind="no_grad instead of detach, mse_loss"),
    "iteration_with_named_batches": variant(
        STEP, "        d_real_loss, d_fake_loss = discriminator_step(D, G, d_optimizer, sample_real(), sample_noise(), "
        "gp_weight)",
        "        real_batch, noise_batch = sample_real(), sample_noise()\n"
        "        d_real_loss, d_fake_loss = discriminator_step(D, G, d_optimizer, real_batch, noise_batch,\n"
        "                                                      gp_weight=gp_weight)",
        more=[(STEP, "    for _ in range(d_train_iters):", "    for step in range(1, d_train_iters + 1):"),
              (STEP, 'return {"D_real": d_real_loss, "D_fake": d_fake_loss, "G": g_loss}',
               'losses = dict(D_real=d_real_loss, D_fake=d_fake_loss)\n    losses["G"] = g_loss\n    return losses')],
        kind="other loop and names, keyword argument"),
    "penalty_added_always": variant(
        STEP, "    if gp_weight > 0:\n        loss = loss + gradient_penalty(D, real_images, fakes, gp_weight)\n",
        "    if gp_weight:\n        loss = loss + gp_weight * gradient_penalty(D, real_images, fakes)\n",
        kind="truthiness, the weight applied outside"),
    # Stage 1 as a 1x1 convolution to 16 * 4 * conv_dim channels with BatchNorm2d over them, reshaped after the
    # ReLU (the same function as Linear + BatchNorm1d; one of the original assignment's public solutions).
    "conv1x1_stage1_batchnorm2d": variant(
        GEN, "self.stage1 = upconv(noise_size, conv_dim * 4, scale_factor=4, spectral_norm=spectral_norm)",
        "self.linear_bn = conv(noise_size, conv_dim * 4 * 4 * 4, kernel_size=1, stride=1, padding=0,\n"
        "                              spectral_norm=spectral_norm)",
        more=[(GEN, "out = z.reshape(z.shape[0], -1, 1, 1)\n        out = torch.relu(self.stage1(out))",
               "out = self.linear_bn(z.unsqueeze(2).unsqueeze(3))\n"
               "        out = torch.relu(out.view(-1, self.conv_dim * 4, 4, 4))")],
        kind="1x1 conv + BatchNorm2d(16*4*conv_dim) stage 1, reshaped after the ReLU"),
    # Every layer written out: nn.Conv2d without bias before a BatchNorm, F.interpolate rather than nn.Upsample,
    # the older hook-based nn.utils.spectral_norm, a Linear + BatchNorm1d first stage.
    "explicit_layers_interpolate": variant(
        GEN, "        self.stage1 = upconv(noise_size, conv_dim * 4, scale_factor=4, spectral_norm=spectral_norm)\n"
        "        self.stage2 = upconv(conv_dim * 4, conv_dim * 2, spectral_norm=spectral_norm)\n"
        "        self.stage3 = upconv(conv_dim * 2, conv_dim, spectral_norm=spectral_norm)\n"
        "        self.stage4 = upconv(conv_dim, 3, batch_norm=False, spectral_norm=spectral_norm)\n",
        "        sn = nn.utils.spectral_norm if spectral_norm else (lambda layer: layer)\n"
        "        self.fc = sn(nn.Linear(noise_size, conv_dim * 4 * 16, bias=False))\n"
        "        self.bn0 = nn.BatchNorm1d(conv_dim * 4 * 16)\n"
        "        self.conv1 = sn(nn.Conv2d(conv_dim * 4, conv_dim * 2, 5, padding=2, bias=False))\n"
        "        self.bn1 = nn.BatchNorm2d(conv_dim * 2)\n"
        "        self.conv2 = sn(nn.Conv2d(conv_dim * 2, conv_dim, 5, padding=2, bias=False))\n"
        "        self.bn2 = nn.BatchNorm2d(conv_dim)\n"
        "        self.conv3 = sn(nn.Conv2d(conv_dim, 3, 5, padding=2))\n",
        more=[(GEN, "        out = z.reshape(z.shape[0], -1, 1, 1)\n"
               "        out = torch.relu(self.stage1(out))\n"
               "        out = torch.relu(self.stage2(out))\n"
               "        out = torch.relu(self.stage3(out))\n"
               "        return torch.tanh(self.stage4(out))\n",
               "        up = nn.functional.interpolate\n"
               "        out = nn.functional.relu(self.bn0(self.fc(z))).view(len(z), -1, 4, 4)\n"
               "        out = nn.functional.relu(self.bn1(self.conv1(up(out, scale_factor=2))))\n"
               "        out = nn.functional.relu(self.bn2(self.conv2(up(out, scale_factor=2, mode=\"nearest\"))))\n"
               "        return torch.tanh(self.conv3(up(out, size=(32, 32))))\n")],
        kind="explicit Conv2d(bias=False)/BatchNorm layers, F.interpolate, nn.utils.spectral_norm, Linear+BN1d"),
    "mse_loss_everywhere": variant(
        STEP, "d_real_loss = 0.5 * ((D(real_images) - 1) ** 2).mean()\n    d_fake_loss = 0.5 * (D(fakes) ** 2).mean()",
        "mse = nn.MSELoss()\n"
        "    real_scores, fake_scores = D(real_images), D(fakes)\n"
        "    d_real_loss = mse(real_scores, torch.ones_like(real_scores)) / 2\n"
        "    d_fake_loss = mse(fake_scores, torch.zeros_like(fake_scores)) / 2",
        more=[(STEP, "g_loss = ((D(G(noise)) - 1) ** 2).mean()",
               "scores = D(G(noise))\n    g_loss = nn.functional.mse_loss(scores, torch.ones_like(scores))")],
        kind="nn.MSELoss / F.mse_loss with ones_like/zeros_like targets"),
}
