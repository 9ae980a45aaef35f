"""Choosing frames: the SMART networks, the frame-choosing methods, the expensive head, checkpoints,
scoring stored features, training, serving on new videos, and exports of what was chosen."""
