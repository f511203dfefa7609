"""Method registry: every method's ops (reference + kernel), see registry.py."""

from .registry import Case, Comparison, Op, Paper, all_ops, assert_agree, get, methods, register

__all__ = ["Case", "Comparison", "Op", "Paper", "all_ops", "assert_agree", "get", "methods", "register"]
