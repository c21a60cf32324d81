"""The DQN assignment on CartPole-v1: replay memory, agent, evaluation protocol, training loop, plots and videos.

Imports only itself and :mod:`helpers.core`.
"""
