"""The toy GAN lab: 1-D and 2-D real data, MLP networks, mode metrics, the training loop and its pictures.

Imports only itself and :mod:`helpers.core`.
"""
