"""Exact rounding: split a whole-number total into whole-number parts that add up to it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


class TargetInputError(ValueError):
    """A target-setting input breaks a rule (the message names what, where and the rule)."""


def largest_remainder(values: Sequence[float] | np.ndarray | pd.Series, total: int) -> np.ndarray:
    """Split the whole number ``total`` in proportion to ``values`` into whole numbers that sum to ``total``.

    Formula (Hamilton / largest-remainder method)::

        quota_i = total * values_i / sum(values)
        part_i  = floor(quota_i) + 1 for the (total - sum(floor(quota))) largest remainders quota_i - floor(quota_i)

    Ties in the remainder go to the earlier position, so the result is deterministic.
    When every weight is zero the total is split evenly (earlier positions take the spare units),
    so a parent never loses its amount because its children have no history.

    ``values`` must be finite and non-negative, ``total`` a non-negative whole number.
    Returns an ``int64`` array the length of ``values``.
    """
    weights = np.asarray(values, dtype="float64").reshape(-1)
    if isinstance(total, float | np.floating) and not float(total).is_integer():
        raise TargetInputError(f"largest_remainder: total must be a whole number, got {total!r}")
    total = int(total)
    if total < 0:
        raise TargetInputError(f"largest_remainder: total must be >= 0, got {total}")
    n = weights.size
    if n == 0:
        if total != 0:
            raise TargetInputError(f"largest_remainder: cannot split {total} over zero parts")
        return np.zeros(0, dtype="int64")
    if not np.all(np.isfinite(weights)):
        bad = int(np.flatnonzero(~np.isfinite(weights))[0])
        raise TargetInputError(
            f"largest_remainder: weight at position {bad} is {weights[bad]!r}; weights must be finite"
        )
    if np.any(weights < 0):
        bad = int(np.flatnonzero(weights < 0)[0])
        raise TargetInputError(f"largest_remainder: weight at position {bad} is {weights[bad]!r}; weights must be >= 0")
    weight_sum = weights.sum()
    if weight_sum <= 0:
        weights = np.ones(n)
        weight_sum = float(n)
    quotas = weights / weight_sum * total
    floors = np.floor(quotas)
    # Floating error may push a quota a hair past a whole number; never exceed the total.
    floors = np.minimum(floors, total).astype("int64")
    # floor(q) <= q for every part, so the floors never exceed the total and 0 <= spare <= n.
    spare = total - int(floors.sum())
    remainders = quotas - floors
    # Sort by remainder descending, then by position ascending (stable tie-break).
    order = np.lexsort((np.arange(n), -remainders))
    parts = floors.copy()
    parts[order[:spare]] += 1
    return parts
