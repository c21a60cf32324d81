"""DQN: realistic one-line (or few-line) bugs in the answers and hyperparameters, and correct variants."""

from __future__ import annotations

from autograder.quality import mutant, variant

AUTO_TESTS = {"test_get_action": 2, "test_td_loss": 3, "test_optimizer_step": 2, "test_exploration": 1}
MANUAL_POINTS = 4  # answer_two_networks 1, answer_exploration 3
ACT, STEP, EXPL = "get_action", "training_step", "exploration"
T_ACT, T_TD, T_OPT, T_EXPL = AUTO_TESTS
UPDATE = {T_TD, T_OPT}  # both test training_step: its update may cost either
NO_GRAD_TARGET = ("    with torch.no_grad():\n"
                  "        next_q_values = agent.target_net(batch.next_states).max(dim=1).values\n"
                  "        targets = batch.rewards + gamma * (1 - batch.terminated) * next_q_values\n")
HYPER = ("hyperparameters = dict(hidden_sizes=(128, 128), lr=1e-3, batch_size=128, gamma=0.99, buffer_size=50_000,\n"
         "                       learning_starts=1_000, target_update=\"soft\", tau=0.02, total_steps=30_000)")

MUTANTS = {
    # TODO 1: epsilon-greedy
    "never_explores": mutant(ACT, "if random.random() < epsilon:", "if False:", T_ACT, kind="exploration missing"),
    "explores_when_it_should_exploit": mutant(ACT, "if random.random() < epsilon:", "if random.random() > epsilon:",
                                              T_ACT, kind="comparison inverted"),
    "greedy_is_argmin": mutant(ACT, "q_values.argmax(dim=1)", "q_values.argmin(dim=1)", T_ACT, kind="wrong sign"),
    "greedy_with_gradients": mutant(ACT, "    with torch.no_grad():\n        q_values = agent.policy_net",
                                    "    if True:\n        q_values = agent.policy_net", T_ACT,
                                    kind="no_grad missing"),
    "acts_with_target_net": mutant(ACT, "q_values = agent.policy_net(state.unsqueeze(0))",
                                   "q_values = agent.target_net(state.unsqueeze(0))", T_ACT,
                                   kind="wrong network"),
    "random_action_off_by_one": mutant(ACT, "random.randrange(agent.n_actions)",
                                       "random.randrange(agent.n_actions - 1)", T_ACT, kind="off by one"),
    "two_actions_hard_coded": mutant(ACT, "random.randrange(agent.n_actions)", "random.randrange(2)", T_ACT,
                                     kind="constant instead of the argument"),
    "returns_a_tensor": mutant(ACT, "return int(q_values.argmax(dim=1).item())", "return q_values.argmax(dim=1)",
                               T_ACT, kind="return type"),
    "random_action_never_greedy": mutant(
        ACT, "        return random.randrange(agent.n_actions)\n",
        "        with torch.no_grad():\n"
        "            best = int(agent.policy_net(state.unsqueeze(0)).argmax())\n"
        "        return random.choice([a for a in range(agent.n_actions) if a != best])\n", T_ACT,
        kind="random actions exclude the greedy one"),
    # TODO 2: the TD loss and the update
    "target_from_policy_net": mutant(STEP, "agent.target_net(batch.next_states)", "agent.policy_net(batch.next_states)",
                                     T_TD, kind="wrong network"),
    "no_terminal_mask": mutant(STEP, "gamma * (1 - batch.terminated) * next_q_values", "gamma * next_q_values", T_TD,
                               kind="done mask missing"),
    "inverted_terminal_mask": mutant(STEP, "gamma * (1 - batch.terminated) * next_q_values",
                                     "gamma * batch.terminated * next_q_values", T_TD,
                                     kind="done mask inverted"),
    "gradient_into_target": mutant(
        STEP, NO_GRAD_TARGET, NO_GRAD_TARGET.replace("    with torch.no_grad():\n", "").replace("        ", "    "),
        T_TD, kind="no_grad missing"),
    "q_values_of_shape_b1": mutant(STEP, ".gather(1, batch.actions.unsqueeze(1)).squeeze(1)",
                                   ".gather(1, batch.actions.unsqueeze(1))", T_TD, kind="tensor shape"),
    "gamma_hard_coded": mutant(STEP, "batch.rewards + gamma * (1", "batch.rewards + 0.99 * (1", T_TD,
                               kind="argument not used"),
    "double_q_learning_target": mutant(
        STEP, "next_q_values = agent.target_net(batch.next_states).max(dim=1).values",
        "best = agent.policy_net(batch.next_states).argmax(dim=1, keepdim=True)\n"
        "        next_q_values = agent.target_net(batch.next_states).gather(1, best).squeeze(1)", T_TD,
        kind="Double DQN target: Part 4 states the task's target (the max of target_net, no gradient), so it loses"
             " test_td_loss's points with a message naming it"),
    "reward_left_out": mutant(STEP, "targets = batch.rewards + gamma", "targets = gamma", T_TD, kind="term missing"),
    "no_zero_grad": mutant(STEP, "    agent.optimizer.zero_grad()\n", "", T_OPT, kind="zero_grad missing"),
    "no_optimizer_step": mutant(STEP, "    agent.optimizer.step()\n", "", T_OPT, UPDATE, kind="step missing"),
    "zero_grad_after_backward": mutant(STEP, "    agent.optimizer.zero_grad()\n    loss.backward()\n",
                                       "    loss.backward()\n    agent.optimizer.zero_grad()\n", T_OPT, UPDATE,
                                       kind="wrong order"),
    "target_copied_in_step": mutant(STEP, "    agent.optimizer.step()\n",
                                    "    agent.optimizer.step()\n"
                                    "    agent.target_net.load_state_dict(agent.policy_net.state_dict())\n",
                                    T_OPT, UPDATE, kind="target network updated in the step"),
    # TODO 3: the exploration schedule and hyperparameters that cannot learn CartPole
    "epsilon_never_decays": mutant(EXPL, "return linear_epsilon(step, start=1.0, end=0.05, decay_steps=3_000)",
                                   "return 1.0", T_EXPL, kind="schedule"),
    "learning_never_starts": mutant(EXPL, "learning_starts=1_000", "learning_starts=50_000", T_EXPL,
                                    kind="hyperparameters that cannot learn"),
    "gamma_typo": mutant(EXPL, "gamma=0.99", "gamma=0.09", T_EXPL, kind="hyperparameters that cannot learn"),
    "frozen_target_network": mutant(EXPL, "tau=0.02", "tau=0.00002", T_EXPL, kind="hyperparameters that cannot learn"),
    "adam_lr_like_sgd": mutant(EXPL, "lr=1e-3", "lr=0.1", T_EXPL, kind="hyperparameters that cannot learn"),
    "too_few_steps": mutant(EXPL, "total_steps=30_000", "total_steps=3_000", T_EXPL,
                            kind="hyperparameters that cannot learn"),
    "defaults_and_own_schedule": mutant(
        EXPL, "return linear_epsilon(step, start=1.0, end=0.05, decay_steps=3_000)",
        "return max(0.1, 1.0 - 0.9 * step / 5_000)", T_EXPL,
        more=[(EXPL, HYPER, "hyperparameters = {}  # DQNConfig's defaults")],
        kind="DQNConfig's defaults (the first guess, which does not learn), a schedule written by hand"),
    "starting_values_kept": mutant(EXPL, HYPER, "hyperparameters = dict(STARTING_VALUES)", T_EXPL,
                                   kind="the untuned starting values handed in"),
}

VARIANTS = {
    "mse_and_indexing": variant(
        STEP, "agent.policy_net(batch.states).gather(1, batch.actions.unsqueeze(1)).squeeze(1)",
        "agent.policy_net(batch.states)[torch.arange(len(batch.actions)), batch.actions]",
        more=[(STEP, "loss = agent.loss_fn(q_values, targets)", "loss = F.mse_loss(q_values, targets)")],
        kind="indexing, plain MSE"),
    "max_as_amax_and_float_mask": variant(
        STEP, ".max(dim=1).values", ".amax(dim=1)",
        more=[(STEP, "(1 - batch.terminated)", "(1.0 - batch.terminated.float())")], kind="amax, float mask"),
    "numpy_random_and_no_unsqueeze": variant(
        ACT, "if random.random() < epsilon:\n        return random.randrange(agent.n_actions)",
        "if np.random.rand() < epsilon:\n        return int(np.random.randint(agent.n_actions))",
        more=[(ACT, "q_values = agent.policy_net(state.unsqueeze(0))\n    return int(q_values.argmax(dim=1).item())",
               "q_values = agent.policy_net(state)\n    return int(torch.argmax(q_values))")],
        kind="numpy's generator, a 1-D forward pass"),
    "hard_updates_and_exponential_schedule": variant(
        EXPL, "return linear_epsilon(step, start=1.0, end=0.05, decay_steps=3_000)",
        "return exponential_epsilon(step, start=1.0, end=0.02, decay_steps=2_000)",
        more=[(EXPL, HYPER, "hyperparameters = dict(hidden_sizes=(64, 64), lr=5e-4, batch_size=64, gamma=0.99,\n"
               "                       buffer_size=20_000, learning_starts=500, target_update=\"hard\",\n"
               "                       target_update_every=500, total_steps=50_000)")],
        kind="other hyperparameters that learn"),
    "starting_values_updated": variant(
        EXPL, HYPER, "hyperparameters = dict(STARTING_VALUES, hidden_sizes=(64, 64), lr=1e-3, batch_size=64,\n"
        "                       gamma=0.99, learning_starts=1_000, target_update_every=500)",
        kind="the starting values, some of them changed"),
    # The target as Part 4 states it, written as students do: detach() instead of no_grad, max(1)[0], a
    # boolean mask for the terminal states.
    "detached_target_and_where": variant(
        STEP, NO_GRAD_TARGET,
        "    next_q_values = agent.target_net(batch.next_states).detach().max(1)[0]\n"
        "    next_q_values = torch.where(batch.terminated.bool(), torch.zeros_like(next_q_values), next_q_values)\n"
        "    targets = batch.rewards + gamma * next_q_values\n",
        kind="detach(), max(1)[0], torch.where mask"),
}
