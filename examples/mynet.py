"""A user's own model, as `sparsebench train --model examples.mynet:small --input-shape 1,28,28`
and `sparsebench shapes --model examples.mynet:small --input-shape 1,28,28` take it (run from the
repository root: the working directory is importable)."""

from torch import nn


def small() -> nn.Module:
    """A small MNIST-size CNN: a 3x3, a 3x3 stride 2, a 1x1, a depthwise 3x3 (no scheme holds it:
    listed as refused, kept dense in training) and a linear classifier."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 1), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1, groups=64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
