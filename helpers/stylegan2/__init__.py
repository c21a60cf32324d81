"""The StyleGAN2 assignment: the generator port, style-mixing tools, and the kit's training script
(``python -m helpers.stylegan2.training``). Imports only itself and :mod:`helpers.core`.
"""
