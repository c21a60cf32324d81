"""The DCGAN assignment: the noise and loss helpers given to students, and the training loop.

Imports only itself and :mod:`helpers.core` (the layers and the discriminator live in :mod:`helpers.core.layers`,
shared with the image labs).
"""
