"""MEST's own claim comparisons (Method.claim_measures), filled in below."""

from __future__ import annotations

MEASURES: dict = {}
