"""Toy GAN lab: realistic one-line (or few-line) bugs in the samplers, the two training steps and the training
iteration, and correct variants."""

from __future__ import annotations

from autograder.quality import mutant, variant

AUTO_TESTS = {"test_mixture_4": 2, "test_mixture_4_variances": 1, "test_half_circles": 2,
              "test_train_discriminator": 3, "test_train_generator": 2, "test_training_iteration": 2}
MANUAL_POINTS = 8
MIX, CIRCLES, STEPS, ITERATION = "mixture_4", "half_circles", "training_steps", "training_iteration"
T_MIX, T_VAR, T_CIRCLES, T_D, T_G, T_IT = AUTO_TESTS
CENTRES = "centres = torch.tensor([[2.0, 2.0], [-2.0, 2.0], [-2.0, -2.0], [2.0, -2.0]])"
SAMPLE = "return centres[which] + math.sqrt(variance) * noise"
D_CALL = "d_loss = train_discriminator(D, G, d_optimizer, real, noise)"
G_CALL = "g_loss = train_generator(D, G, g_optimizer, sample_noise())"
LOOP = "    for _ in range(d_steps):\n"
D_LOSS = ("loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))\n"
          "            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))")
G_LOSS = "loss = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))"

MUTANTS = {
    # mixture_4
    "std_is_the_variance": mutant(MIX, SAMPLE, "return centres[which] + variance * noise", T_MIX,
                                  kind="wrong variance (variance used as the std)"),
    "means_at_plus_minus_1": mutant(MIX, CENTRES, "centres = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], "
                                    "[1.0, -1.0]])", T_MIX, kind="wrong means"),
    "three_modes_drawn": mutant(MIX, "torch.randint(0, 4, (n,), generator=generator)",
                                "torch.randint(0, 3, (n,), generator=generator)", T_MIX,
                                kind="randint's upper bound is exclusive"),
    "one_mode_per_batch": mutant(MIX, "torch.randint(0, 4, (n,), generator=generator)",
                                 "torch.randint(0, 4, (1,), generator=generator).repeat(n)", T_MIX,
                                 kind="one mode for the whole batch"),
    "returns_numpy": mutant(MIX, SAMPLE, "return (centres[which] + math.sqrt(variance) * noise).numpy()", T_MIX,
                            kind="returns numpy, not a tensor"),
    "generator_ignored": mutant(MIX, "noise = torch.randn(n, 2, generator=generator)", "noise = torch.randn(n, 2)",
                                T_MIX, kind="the seeded generator not used"),
    "same_noise_on_both_axes": mutant(MIX, "noise = torch.randn(n, 2, generator=generator)",
                                      "noise = torch.randn(n, 1, generator=generator)", T_MIX,
                                      kind="one noise value for both coordinates"),
    "tight_and_wide_swapped": mutant(MIX, "MIXTURE_4_TIGHT = 0.02", "MIXTURE_4_TIGHT = 2.0", T_VAR,
                                     more=[(MIX, "MIXTURE_4_WIDE = 2.0", "MIXTURE_4_WIDE = 0.02")],
                                     kind="variances swapped"),
    "wide_not_overlapping": mutant(MIX, "MIXTURE_4_WIDE = 2.0", "MIXTURE_4_WIDE = 0.5", T_VAR,
                                   kind="a wide variance whose modes do not overlap"),
    # HalfCircles
    "len_off_by_one": mutant(CIRCLES, "return self.data.shape[0]", "return self.data.shape[0] - 1", T_CIRCLES,
                             kind="__len__ off by one"),
    "item_as_numpy": mutant(CIRCLES, "return self.data[index]", "return self.data[index].numpy()", T_CIRCLES,
                            kind="returns numpy, not a tensor"),
    "left_half_down": mutant(CIRCLES, "10.0, -10.0)", "-10.0, 10.0)", T_CIRCLES, kind="shift of the wrong sign"),
    "theta_over_half_a_turn": mutant(CIRCLES, "theta = 2 * math.pi * torch.rand(", "theta = math.pi * torch.rand(",
                                     T_CIRCLES, kind="theta ~ U(0, pi)"),
    "no_radial_noise": mutant(CIRCLES, "radius = 10 + torch.randn(num_samples, generator=seeded)",
                              "radius = torch.full((num_samples,), 10.0)", T_CIRCLES, kind="r missing"),
    "new_point_every_item": mutant(
        CIRCLES, "return self.data[index]",
        "theta = 2 * math.pi * torch.rand(1).item()\n"
        "        radius = 10 + torch.randn(1).item()\n"
        "        shift = 10.0 if math.pi / 2 <= theta <= 3 * math.pi / 2 else -10.0\n"
        "        return torch.tensor([radius * math.cos(theta), radius * math.sin(theta) + shift])",
        T_CIRCLES, kind="__getitem__ draws a new random point (index ignored)"),
    "seed_ignored": mutant(CIRCLES, "seeded = torch.Generator().manual_seed(seed)", "seeded = torch.Generator()",
                           T_CIRCLES, kind="seed ignored"),
    "point_and_label": mutant(CIRCLES, "return self.data[index]", "return self.data[index], 0", T_CIRCLES,
                              kind="returns (point, label)"),
    # train_discriminator
    "no_detach_in_d_step": mutant(STEPS, "fake = G(noise).detach()  # no gradient flows into G", "fake = G(noise)", T_D,
                                  kind="detach missing"),
    "unstable_log_sigmoid_in_d_step": mutant(
        STEPS, D_LOSS,
        "loss = -torch.log(torch.sigmoid(real_logits)).mean() - torch.log(1 - torch.sigmoid(fake_logits)).mean()",
        T_D, kind="numerically unstable loss"),
    "no_zero_grad_in_d_step": mutant(STEPS, "    d_optimizer.zero_grad()\n", "", T_D, kind="zero_grad missing"),
    "swapped_d_targets": mutant(STEPS, D_LOSS, D_LOSS.replace("ones_like(real", "zeros_like(real")
                                .replace("zeros_like(fake", "ones_like(fake"), T_D, kind="wrong targets"),
    "mean_of_the_two_terms": mutant(STEPS, D_LOSS, D_LOSS.replace("loss = (", "loss = 0.5 * ("), T_D,
                                    kind="wrong constant"),
    "hard_coded_targets_in_d_step": mutant(STEPS, "torch.ones_like(real_logits)", "torch.ones(len(real))", T_D,
                                           kind="targets sized by the points, not the logits"),
    "bce_on_sigmoid_in_d_step": mutant(
        STEPS, D_LOSS,
        "loss = (F.binary_cross_entropy(torch.sigmoid(real_logits), torch.ones_like(real_logits))\n"
        "            + F.binary_cross_entropy(torch.sigmoid(fake_logits), torch.zeros_like(fake_logits)))",
        T_D, kind="numerically unstable loss"),
    "sum_reduction_in_d_step": mutant(
        STEPS, "F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))",
        "F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits), reduction=\"sum\")", T_D,
        kind="wrong reduction"),
    "label_smoothing": mutant(STEPS, "torch.ones_like(real_logits)", "0.9 * torch.ones_like(real_logits)", T_D,
                              kind="a trick the handout does not ask for"),
    "step_before_backward_in_d_step": mutant(STEPS, "    loss.backward()\n    d_optimizer.step()\n",
                                             "    d_optimizer.step()\n    loss.backward()\n", T_D,
                                             kind="wrong order"),
    "one_pass_split_by_points": mutant(
        STEPS, "real_logits, fake_logits = D(real), D(fake)",
        "logits = D(torch.cat([real, fake]))\n    real_logits, fake_logits = logits[:len(real)], logits[len(real):]",
        T_D, kind="shape: a packed D returns fewer logits than points"),
    "one_bce_over_both_batches": mutant(
        STEPS, D_LOSS,
        "logits = torch.cat([real_logits, fake_logits])\n"
        "    targets = torch.cat([torch.ones_like(real_logits), torch.zeros_like(fake_logits)])\n"
        "    loss = F.binary_cross_entropy_with_logits(logits, targets)", T_D, kind="wrong reduction"),
    # train_generator
    "saturating_g_loss": mutant(
        STEPS, G_LOSS, "loss = -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))", T_G,
        kind="saturating loss"),
    "detached_fakes_in_g_step": mutant(STEPS, "fake_logits = D(G(noise))", "fake_logits = D(G(noise).detach())", T_G,
                                       kind="detach in the wrong place"),
    "hard_coded_targets_in_g_step": mutant(
        STEPS, "torch.ones_like(fake_logits))\n    loss.backward()\n    g_optimizer.step()",
        "torch.ones(len(noise)))\n    loss.backward()\n    g_optimizer.step()", T_G,
        kind="targets sized by the points, not the logits"),
    "no_zero_grad_in_g_step": mutant(STEPS, "    g_optimizer.zero_grad()\n", "", T_G, kind="zero_grad missing"),
    "zeros_target_in_g_step": mutant(STEPS, G_LOSS, G_LOSS.replace("ones_like", "zeros_like"), T_G,
                                     kind="wrong target"),
    "unstable_log_sigmoid_in_g_step": mutant(STEPS, G_LOSS, "loss = -torch.log(torch.sigmoid(fake_logits)).mean()",
                                             T_G, kind="numerically unstable loss"),
    "zero_grad_of_d_in_g_step": mutant(STEPS, "    g_optimizer.zero_grad()\n", "    D.zero_grad()\n", T_G,
                                       kind="zero_grad of the wrong model"),
    # training_iteration (graded with the reference steps: a step bug costs only the step's test)
    "one_d_step_too_few": mutant(ITERATION, LOOP, "    for _ in range(d_steps - 1):\n", T_IT,
                                 kind="D steps counted wrongly"),
    "d_steps_ignored": mutant(ITERATION, LOOP, "    for _ in range(1):\n", T_IT, kind="d_steps ignored"),
    "g_step_inside_the_d_loop": mutant(ITERATION, "    " + G_CALL, "        " + G_CALL, T_IT,
                                       kind="G updated inside the D loop"),
    "g_step_first": mutant(ITERATION, "    " + G_CALL + "\n    return", "    return", T_IT,
                           more=[(ITERATION, LOOP, "    " + G_CALL + "\n" + LOOP)], kind="G updated before D"),
    "one_real_batch_for_all_d_steps": mutant(
        ITERATION, LOOP + "        real, noise = sample_real(), sample_noise()\n",
        "    real = sample_real()\n" + LOOP + "        noise = sample_noise()\n", T_IT, kind="real batch reused"),
    "g_step_reuses_the_d_noise": mutant(ITERATION, G_CALL, "g_loss = train_generator(D, G, g_optimizer, noise)", T_IT,
                                        kind="noise reused"),
    "g_step_with_the_d_optimizer": mutant(ITERATION, G_CALL,
                                          "g_loss = train_generator(D, G, d_optimizer, sample_noise())", T_IT,
                                          kind="wrong optimizer"),
    "returns_the_first_d_loss": mutant(
        ITERATION, LOOP, "    d_losses = []\n" + LOOP,
        T_IT, more=[(ITERATION, D_CALL, D_CALL + "\n        d_losses.append(d_loss)"),
                    (ITERATION, "return d_loss, g_loss", "return d_losses[0], g_loss")],
        kind="not the last D step's loss"),
    "losses_swapped": mutant(ITERATION, "return d_loss, g_loss", "return g_loss, d_loss", T_IT,
                             kind="return order"),
}

# Each correct submission rewrites several answers (the real grader grades every variant in make test, so the
# samplers' and the iteration's variants ride along with the training steps' ones).
MIX_SIGNS = [(MIX, CENTRES + "\n    which = torch.randint(0, 4, (n,), generator=generator)",
              "signs = torch.randint(0, 2, (n, 2), generator=generator) * 2 - 1  # one of the 4 corners, uniformly"),
             (MIX, SAMPLE, "return 2.0 * signs + variance ** 0.5 * noise")]
MIX_MULTINOMIAL = [(MIX, CENTRES + "\n    which = torch.randint(0, 4, (n,), generator=generator)",
                    "centres = torch.tensor([[-2.0, -2.0], [2.0, -2.0], [2.0, 2.0], [-2.0, 2.0]],\n"
                    "                           dtype=torch.float64)\n"
                    "    which = torch.multinomial(torch.ones(4), n, replacement=True, generator=generator)"),
                   (MIX, "noise = torch.randn(n, 2, generator=generator)",
                    "noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)"),
                   (MIX, "MIXTURE_4_TIGHT = 0.02", "MIXTURE_4_TIGHT = 0.05"),
                   (MIX, "MIXTURE_4_WIDE = 2.0", "MIXTURE_4_WIDE = 1")]
CIRCLES_NUMPY_LAZY = [
    (CIRCLES,
     "seeded = torch.Generator().manual_seed(seed)\n"
     "        theta = 2 * math.pi * torch.rand(num_samples, generator=seeded)\n"
     "        radius = 10 + torch.randn(num_samples, generator=seeded)\n"
     "        shift = torch.where((theta >= math.pi / 2) & (theta <= 3 * math.pi / 2), 10.0, -10.0)\n"
     "        self.data = torch.stack([radius * torch.cos(theta), radius * torch.sin(theta) + shift], dim=1)",
     "rng = np.random.default_rng(seed)\n"
     "        self.theta = rng.uniform(0, 2 * np.pi, num_samples)\n"
     "        self.r = rng.normal(0, 1, num_samples)\n"
     "        self.data = self.theta"),
    (CIRCLES, "return self.data[index]",
     "theta, r = self.theta[index], self.r[index]\n"
     "        y = (10 + r) * np.sin(theta) + (10 if np.cos(theta) <= 0 else -10)\n"
     "        return torch.tensor([(10 + r) * np.cos(theta), y], dtype=torch.float32)")]
CIRCLES_MASK = [(CIRCLES, "shift = torch.where((theta >= math.pi / 2) & (theta <= 3 * math.pi / 2), 10.0, -10.0)",
                 "shift = torch.full_like(theta, -10.0)\n        shift[torch.cos(theta) <= 0] = 10.0"),
                (CIRCLES, "return self.data.shape[0]", "return len(self.data)")]
ITERATION_WHILE = [
    (ITERATION, LOOP + "        real, noise = sample_real(), sample_noise()\n        " + D_CALL + "\n",
     "    done = 0\n    while done < d_steps:\n"
     "        d_loss = train_discriminator(D, G, d_optimizer, real=sample_real(), noise=sample_noise())\n"
     "        done += 1\n"),
    (ITERATION, G_CALL, "noise = sample_noise()\n    g_loss = train_generator(D, G, g_optimizer, noise=noise)")]
ITERATION_LIST = [(ITERATION, LOOP, "    d_losses = []\n" + LOOP),
                  (ITERATION, D_CALL, D_CALL + "\n        d_losses.append(d_loss.item())"),
                  (ITERATION, "return d_loss, g_loss", "return torch.tensor(d_losses[-1]), g_loss")]

VARIANTS = {
    "softplus_and_no_grad": variant(
        STEPS, D_LOSS, "loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
        more=[(STEPS, "fake = G(noise).detach()  # no gradient flows into G",
               "with torch.no_grad():\n        fake = G(noise)"),
              (STEPS, G_LOSS, "loss = F.softplus(-fake_logits).mean()"), *MIX_SIGNS, *ITERATION_WHILE],
        kind="softplus, no_grad instead of detach; mixture_4 corners from random signs; a while loop, keywords"),
    "logsigmoid": variant(
        STEPS, D_LOSS, "loss = -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()",
        more=[(STEPS, G_LOSS, "loss = -F.logsigmoid(fake_logits).mean()"), *MIX_MULTINOMIAL, *CIRCLES_NUMPY_LAZY],
        kind="logsigmoid; mixture_4 in another mode order, multinomial, float64, other variances; HalfCircles "
             "with NumPy, points computed in __getitem__"),
    "bce_module_and_set_to_none": variant(
        STEPS, D_LOSS,
        "bce = nn.BCEWithLogitsLoss()\n"
        "    loss = bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))",
        more=[(STEPS, "    d_optimizer.zero_grad()\n", "    d_optimizer.zero_grad(set_to_none=True)\n"),
              (STEPS, "    return loss.detach()\n\n\ndef train_generator", "    return loss\n\n\ndef train_generator"),
              *ITERATION_LIST],
        kind="nn.BCEWithLogitsLoss, set_to_none, loss not detached; the D losses collected in a list"),
    "one_pass_chunked": variant(
        STEPS, "real_logits, fake_logits = D(real), D(fake)",
        "real_logits, fake_logits = D(torch.cat([real, fake])).chunk(2)", more=CIRCLES_MASK,
        kind="one forward pass, chunk(2); HalfCircles' shift by a mask on cos(theta)"),
    "zero_grad_after_step": variant(
        STEPS, "    g_optimizer.zero_grad()\n    fake_logits", "    G.zero_grad()\n    fake_logits",
        kind="G.zero_grad() clears the same gradients"),
}
