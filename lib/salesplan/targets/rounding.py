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


def controlled_round(
    table: np.ndarray,
    col_totals: Sequence[int] | np.ndarray,
    row_low: Sequence[int] | np.ndarray,
    row_high: Sequence[int] | np.ndarray,
) -> np.ndarray | None:
    """Round a non-negative real table to whole numbers so that every column adds up to its whole-number
    total exactly and every row total stays within ``[row_low, row_high]`` (two-way "controlled rounding").

    Each entry becomes its value rounded down or up (``floor(y) + z`` with ``z`` 0 or 1; a whole entry stays
    as it is). Among the roundings that meet the totals the one closest to the table is taken::

        minimise   sum |Y - y|  =  sum frac(y) + sum z * (1 - 2 * frac(y))
        subject to sum_rows Y = col_totals,   row_low <= sum_cols Y <= row_high

    Ties go to the earlier position (row-major), so the result is deterministic. The constraints form a
    bipartite (transportation) matrix, which is totally unimodular, so the integer program is solved exactly
    at its linear relaxation. When the real table itself meets the totals (columns summing to
    ``col_totals``, rows within the bounds) a rounding always exists; otherwise ``None`` is returned.
    Returns an ``int64`` array shaped like ``table``.
    """
    y = np.asarray(table, dtype="float64")
    if y.ndim != 2:
        raise TargetInputError(f"controlled_round: expected a 2-D table, got {y.ndim} dimension(s)")
    if not np.all(np.isfinite(y)) or np.any(y < 0):
        raise TargetInputError("controlled_round: entries must be finite and >= 0")
    base = np.floor(y)
    frac = y - base
    base = base.astype("int64")
    need_col = np.asarray(col_totals, dtype="int64") - base.sum(axis=0)
    low = np.asarray(row_low, dtype="int64") - base.sum(axis=1)
    high = np.asarray(row_high, dtype="int64") - base.sum(axis=1)
    free = np.flatnonzero(frac.ravel() > 0)
    if not need_col.any():
        # No column may take an extra unit, so rounding every entry down is the only candidate.
        return base if np.all(low <= 0) and np.all(high >= 0) else None
    if free.size == 0 or np.any(need_col < 0) or np.any(high < 0):
        return None
    from scipy import optimize, sparse  # only needed here; keeps importing the package light

    n_rows, n_cols = y.shape
    rows, cols = np.divmod(free, n_cols)
    # Closest rounding first; a tie-break far below one unit prefers earlier positions.
    cost = 1 - 2 * frac.ravel()[free] + 1e-9 * np.arange(free.size) / free.size
    ones = np.ones(free.size)
    a = sparse.vstack(
        [
            sparse.csr_matrix((ones, (cols, np.arange(free.size))), shape=(n_cols, free.size)),
            sparse.csr_matrix((ones, (rows, np.arange(free.size))), shape=(n_rows, free.size)),
        ]
    )
    lb = np.concatenate([need_col, np.maximum(low, 0)]).astype("float64")
    ub = np.concatenate([need_col, high]).astype("float64")
    res = optimize.milp(
        cost,
        constraints=optimize.LinearConstraint(a, lb, ub),
        integrality=np.ones(free.size),
        bounds=optimize.Bounds(0, 1),
        options={"mip_rel_gap": 0.0},
    )
    if res.status != 0 or res.x is None:
        return None
    out = base.ravel().copy()
    out[free] += np.rint(res.x).astype("int64")
    return out.reshape(y.shape)
