"""What every assignment shares: runtime and seeding, checkpoints and run bookkeeping, weight averaging,
schedules, samplers, layers, image grids and plots, metrics, the emoji data, notebook conventions, the writeup.

Nothing here imports an assignment package.
"""
