"""The three image-GAN labs (``lab_mnist_digit``, ``lab_gan_mnist_cifar``, ``lab_face_gan``): their data sets,
the epoch-based training loop and the digit classifier that scores generated digits.

Imports only itself and :mod:`helpers.core`.
"""
