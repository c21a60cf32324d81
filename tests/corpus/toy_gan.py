"""Toy GAN lab: realistic one-line (or few-line) bugs in the two training steps, and correct variants."""

from __future__ import annotations

from tests.corpus.common import mutant, variant

AUTO_TESTS = {"test_train_discriminator": 3, "test_train_generator": 2}
MANUAL_POINTS = 7
STEPS = "training_steps"
T_D, T_G = AUTO_TESTS
D_LOSS = ("loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))\n"
          "            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))")
G_LOSS = "loss = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))"

MUTANTS = {
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
}

VARIANTS = {
    "softplus_and_no_grad": variant(
        STEPS, D_LOSS, "loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
        more=[(STEPS, "fake = G(noise).detach()  # no gradient flows into G",
               "with torch.no_grad():\n        fake = G(noise)"),
              (STEPS, G_LOSS, "loss = F.softplus(-fake_logits).mean()")],
        kind="softplus, no_grad instead of detach"),
    "logsigmoid": variant(
        STEPS, D_LOSS, "loss = -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()",
        more=[(STEPS, G_LOSS, "loss = -F.logsigmoid(fake_logits).mean()")], kind="logsigmoid"),
    "bce_module_and_set_to_none": variant(
        STEPS, D_LOSS,
        "bce = nn.BCEWithLogitsLoss()\n"
        "    loss = bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))",
        more=[(STEPS, "    d_optimizer.zero_grad()\n", "    d_optimizer.zero_grad(set_to_none=True)\n"),
              (STEPS, "    return loss.detach()\n\n\ndef train_generator", "    return loss\n\n\ndef train_generator")],
        kind="nn.BCEWithLogitsLoss, set_to_none, loss not detached"),
    "one_pass_chunked": variant(
        STEPS, "real_logits, fake_logits = D(real), D(fake)",
        "real_logits, fake_logits = D(torch.cat([real, fake])).chunk(2)", kind="one forward pass, chunk(2)"),
    "zero_grad_after_step": variant(
        STEPS, "    g_optimizer.zero_grad()\n    fake_logits", "    G.zero_grad()\n    fake_logits",
        kind="G.zero_grad() clears the same gradients"),
}
