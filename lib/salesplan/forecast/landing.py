"""Year-end landing, its interval and the probability of meeting the annual target.

For a series with actual sales ``A_1 .. A_m`` in the months of the year closed so far and a
forecast for the ``r = 12 - m`` remaining months:

    landing        = YTD + sum(forecast_{m+1..12}),            YTD = A_1 + ... + A_m
    landing path p = YTD + sum(path_p[m+1..12])                 (sample paths, months correlated)
    P(hit)         = share of paths with landing path >= target
    gap            = target - landing                           (> 0: short of target)
    run rate       = (target - YTD) / r                         (needed per remaining month)

The landing interval is the quantiles of the path sums. Months are correlated (a level
that is too high is too high every month), so the interval is *not* the sum of monthly
intervals, nor their root-sum-square; the engine's error model
(:mod:`salesplan.forecast.engine`) supplies the correlation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from salesplan.forecast.engine import SeriesForecast


def landing_samples(
    fit: SeriesForecast,
    ytd: float,
    remaining: int,
    n_paths: int = 2000,
    seed: int | np.random.Generator | None = 0,
    shift: np.ndarray | None = None,
) -> np.ndarray:
    """Simulated year-end totals: ``ytd + sum of the first `remaining` months of each path``.

    ``shift`` (length >= ``remaining``) moves every path by a fixed amount per month, used
    when a reconciled or blended point forecast replaces the series' own.
    """
    if remaining < 0:
        raise ValueError(f"remaining months must be >= 0, got {remaining}")
    if remaining == 0:
        return np.full(n_paths, float(ytd))
    if remaining > len(fit.mean):
        raise ValueError(f"series {fit.unique_id!r}: {remaining} months remain but the forecast covers {len(fit.mean)}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    paths = fit.paths(n_paths, rng)[:, :remaining]
    if shift is not None:
        paths = paths + np.asarray(shift, dtype=float)[None, :remaining]
    return float(ytd) + paths.sum(axis=1)


def prob_hit(samples: np.ndarray, target: float | Sequence[float]) -> np.ndarray | float:
    """P(total >= target), the share of simulated totals at or above each target."""
    s = np.asarray(samples, dtype=float)
    t = np.asarray(target, dtype=float)
    out = (s[None, :] >= t.reshape(-1, 1)).mean(axis=1)
    return float(out[0]) if t.ndim == 0 else out


def landing_summary(
    samples: np.ndarray,
    point: float,
    ytd: float,
    target: float,
    remaining: int,
    levels: Sequence[int] = (80, 95),
) -> dict[str, float]:
    """Landing figures for one series: landing, interval bounds, P(hit), gap and run rate.

    ``gap = target - landing``; ``run_rate_needed = (target - ytd) / remaining`` (NaN when no
    month remains).
    """
    out: dict[str, float] = {"ytd": float(ytd), "landing": float(point)}
    for lv in levels:
        lo, hi = np.quantile(samples, [0.5 - lv / 200, 0.5 + lv / 200])
        out[f"lo_{lv}"] = float(lo)
        out[f"hi_{lv}"] = float(hi)
    out["target"] = float(target)
    out["p_hit"] = float(prob_hit(samples, target)) if np.isfinite(target) else float("nan")
    out["gap"] = float(target - point)
    out["run_rate_needed"] = float((target - ytd) / remaining) if remaining > 0 else float("nan")
    return out


def brier_score(p: np.ndarray, outcome: np.ndarray) -> float:
    """Mean squared difference between predicted probabilities and 0/1 outcomes."""
    p = np.asarray(p, dtype=float)
    o = np.asarray(outcome, dtype=float)
    return float(np.mean((p - o) ** 2))


def reliability_table(p: np.ndarray, outcome: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed hit rate in probability deciles (``[0, .1), ..., [.9, 1]``).

    Columns ``bin, cases, predicted, observed, difference`` (observed - predicted, points).
    """
    p = np.asarray(p, dtype=float)
    o = np.asarray(outcome, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1], right=False), 0, bins - 1)
    rows = []
    for b in range(bins):
        sel = idx == b
        n = int(sel.sum())
        pred = float(p[sel].mean()) if n else float("nan")
        obs = float(o[sel].mean()) if n else float("nan")
        rows.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "cases": n,
                "predicted": pred,
                "observed": obs,
                "difference": 100 * (obs - pred) if n else float("nan"),
            }
        )
    return pd.DataFrame(rows)
