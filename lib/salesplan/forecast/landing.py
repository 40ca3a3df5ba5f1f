"""Year-end landing, its interval and the probability of meeting the annual target.

For a series with actual sales ``A_1 .. A_m`` in the months of the year closed so far and a
forecast for the ``r = 12 - m`` remaining months:

    landing        = YTD + sum(forecast_{m+1..12}),            YTD = A_1 + ... + A_m
    landing path p = YTD + sum(path_p[m+1..12])                 (sample paths, months correlated)
    P(hit)         = P(landing path >= target)
    gap            = landing - target                           (< 0: short of target)
    run rate       = (target - YTD) / r                         (needed per remaining month)

Months are correlated (a level that is too high is too high every month), so the spread of
the landing is *not* the sum of monthly intervals, nor their root-sum-square: it is
``sqrt(1' Cov 1)`` over the remaining months, with the covariance of the engine's error
model (:mod:`salesplan.forecast.engine`). The engine's sample paths are
``mean + e * sqrt(df / chi2_df)`` with ``e ~ N(0, Cov)``, so the sum of their remaining
months is exactly Student t: :func:`landing_distribution` gives that distribution in closed
form, and the interval and P(hit) are read from it rather than counted over a finite set of
paths (whose share would move by up to a point with the random seed). :func:`landing_samples`
draws the paths themselves; a test checks that the two agree.

Recalibrated P(hit): the simulated probability is only as good as the forecast's location,
and a forecast that extrapolates trends which then fade is optimistic. :func:`hit_backtest`
builds (P(hit), met?) pairs from the series' own past (engine refitted 12 and 24 months
back, plans = previous year x factors) and :func:`fit_hit_calibration` learns the beta map

    logit q = a + b ln P(hit) - c ln(1 - P(hit))

from them, applied on top of the simulation (measured: benchmarks/README.md).

Feasible landings: a series that has never been negative (``SeriesForecast.lower = 0``) cannot
sell less than nothing in the remaining months, so its year-end total cannot fall below the
YTD actual. Its landing distribution is the Student t above *censored* at ``floor = ytd``
(the mass below sits at the floor): every quantile is ``max(q, ytd)``, and

    P(hit) = 1                              when target <= ytd (already reached)
           = P(t total >= target)           otherwise,

so the band and P(hit) come from one distribution. The recalibration is applied only where
the outcome is still open (target above the floor) and only to series at least as long as
the shortest history it was learned from (``HitCalibration.min_months``): a shorter series
(a product launched 17 months ago) lies outside its evidence and keeps the model's P(hit),
which its wide, honest band (:func:`salesplan.forecast.engine.short_series_floor`) makes
near a coin-flip when the target sits inside the band.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from salesplan.forecast.backends import fit_series_on
from salesplan.forecast.engine import DEFAULT_LEVELS, SeriesForecast, forecast_defaults, validate_series


@dataclass(frozen=True)
class LandingDistribution:
    """Distribution of one series' year-end total: Student t with ``df`` degrees of freedom,
    location ``loc`` and scale ``scale`` (``scale = 0``: the year is closed, the total is known),
    censored at ``floor`` (the lowest total possible: the YTD actual for a series that cannot
    go negative, ``-inf`` otherwise).

    ``prob_at_least(target) = P(total >= target)``: 1 where ``target <= floor``;
    ``quantile(q)``: the total not exceeded with probability ``q``, ``max(t quantile, floor)``.
    """

    loc: float
    scale: float
    df: float
    floor: float = float("-inf")

    def _std(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=float) - self.loc) / self.scale

    def prob_at_least(self, target: float | Sequence[float]) -> np.ndarray | float:
        t = np.asarray(target, dtype=float)
        if self.scale <= 0:
            out = (max(self.loc, self.floor) >= t).astype(float)
        elif np.isfinite(self.df):
            out = stats.t.sf(self._std(t), self.df)
        else:
            out = stats.norm.sf(self._std(t))
        # Censored at the floor: a target at or below it is already reached.
        out = np.where(t <= self.floor, 1.0, out)
        return float(out) if t.ndim == 0 else np.asarray(out, dtype=float)

    def quantile(self, q: float | Sequence[float]) -> np.ndarray | float:
        qa = np.asarray(q, dtype=float)
        if self.scale <= 0:
            out = np.full(qa.shape, self.loc)
        else:
            z = stats.t.ppf(qa, self.df) if np.isfinite(self.df) else stats.norm.ppf(qa)
            out = self.loc + self.scale * z
        out = np.maximum(out, self.floor)
        return float(out) if qa.ndim == 0 else np.asarray(out, dtype=float)


def _check_remaining(fit: SeriesForecast, remaining: int) -> None:
    if remaining < 0:
        raise ValueError(f"remaining months must be >= 0, got {remaining}")
    if remaining > len(fit.mean):
        raise ValueError(f"series {fit.unique_id!r}: {remaining} months remain but the forecast covers {len(fit.mean)}")


def landing_distribution(
    fit: SeriesForecast,
    ytd: float,
    remaining: int,
    shift: np.ndarray | None = None,
) -> LandingDistribution:
    """The year-end total ``ytd + sum of the first `remaining` months`` of the fit's paths, in closed form.

        loc   = ytd + sum(mean[:r] + shift[:r])
        scale = sqrt(1' Cov[:r, :r] 1)          (every covariance between the months counted)
        df    = the fit's degrees of freedom
        floor = ytd + r * fit.lower             (= ytd for a series never negative; else -inf)

    ``shift`` (length >= ``remaining``) moves the forecast by a fixed amount per month, used
    when a reconciled or blended point forecast replaces the series' own.
    """
    _check_remaining(fit, remaining)
    r = int(remaining)
    floor = float(ytd) + r * float(fit.lower) if np.isfinite(fit.lower) else float("-inf")
    if r == 0:
        return LandingDistribution(float(ytd), 0.0, float(fit.df), float(ytd))
    loc = float(ytd) + float(np.sum(fit.mean[:r]))
    if shift is not None:
        loc += float(np.sum(np.asarray(shift, dtype=float)[:r]))
    scale = float(np.sqrt(max(float(np.sum(fit.cov[:r, :r])), 0.0)))
    return LandingDistribution(loc, scale, float(fit.df), floor)


def landing_samples(
    fit: SeriesForecast,
    ytd: float,
    remaining: int,
    n_paths: int = 2000,
    seed: int | np.random.Generator | None = 0,
    shift: np.ndarray | None = None,
) -> np.ndarray:
    """Simulated year-end totals: ``ytd + sum of the first `remaining` months of each path``,
    censored at ``ytd + remaining * fit.lower`` (the draws :func:`landing_distribution`
    describes exactly).

    ``shift`` (length >= ``remaining``) moves every path by a fixed amount per month, used
    when a reconciled or blended point forecast replaces the series' own.
    """
    _check_remaining(fit, remaining)
    if remaining == 0:
        return np.full(n_paths, float(ytd))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    paths = fit.paths(n_paths, rng)[:, :remaining]
    if shift is not None:
        paths = paths + np.asarray(shift, dtype=float)[None, :remaining]
    return np.maximum(float(ytd) + paths.sum(axis=1), float(ytd) + remaining * float(fit.lower))


def prob_hit(samples: np.ndarray, target: float | Sequence[float]) -> np.ndarray | float:
    """P(total >= target) read from simulated totals: the share at or above each target."""
    s = np.asarray(samples, dtype=float)
    t = np.asarray(target, dtype=float)
    out = (s[None, :] >= t.reshape(-1, 1)).mean(axis=1)
    return float(out[0]) if t.ndim == 0 else out


def plan_hit_probability(
    fit: SeriesForecast,
    ytd: float,
    remaining: int,
    plans: Sequence[float],
    *,
    n_paths: int | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """P(year total >= plan) for each of ``plans``: from :func:`landing_distribution`, or,
    with ``n_paths``, the share of that many :func:`landing_samples` paths drawn with ``rng``
    (to measure what reading the probability from a finite sample adds)."""
    if n_paths is None:
        return np.atleast_1d(landing_distribution(fit, ytd, remaining).prob_at_least(plans))
    return np.atleast_1d(prob_hit(landing_samples(fit, ytd, remaining, n_paths=n_paths, seed=rng), plans))


def landing_summary(
    dist: LandingDistribution,
    point: float,
    ytd: float,
    target: float,
    remaining: int,
    levels: Sequence[int] = DEFAULT_LEVELS,
) -> dict[str, float]:
    """Landing figures for one series: landing, interval bounds, P(hit), gap and run rate.

    Interval ``lo_L, hi_L``: the ``0.5 -/+ L/200`` quantiles of ``dist``; ``p_hit = P(total >=
    target)``; ``gap = landing - target`` (negative = short, the sign used everywhere); ``run_rate_needed = (target - ytd) / remaining``
    (NaN when no month remains). The landing is ``max(point, dist.floor)``: never below what a
    series that cannot go negative has already booked.
    """
    point = max(float(point), dist.floor)
    out: dict[str, float] = {"ytd": float(ytd), "landing": float(point)}
    for lv in levels:
        lo, hi = dist.quantile([0.5 - lv / 200, 0.5 + lv / 200])
        out[f"lo_{lv}"] = float(lo)
        out[f"hi_{lv}"] = float(hi)
    out["target"] = float(target)
    out["p_hit"] = float(dist.prob_at_least(target)) if np.isfinite(target) else float("nan")
    out["gap"] = float(point - target)
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


def worst_decile(p: np.ndarray, outcome: np.ndarray, min_cases: int = 100, bins: int = 10) -> float:
    """Largest ``|observed - predicted|`` (points) over the deciles of
    :func:`reliability_table` holding at least ``min_cases`` cases (NaN if none does)."""
    rel = reliability_table(p, outcome, bins)
    diff = rel.loc[rel["cases"] >= min_cases, "difference"].abs()
    return float(diff.max()) if len(diff) else float("nan")


def reliability_noise_floor(
    p: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    tolerance: float = 5.0,
    min_cases: int = 100,
    draws: int = 1000,
    seed: int | np.random.Generator | None = 0,
    observed: float | None = None,
) -> dict[str, float]:
    """How far from the diagonal a *perfectly calibrated* forecaster's reliability table lands
    by chance, for these predictions and this many cases.

    Each draw makes outcomes that the predictions ``p`` describe exactly and scores them
    with :func:`worst_decile`. Cases sharing a ``groups`` value are one outcome measured
    against several thresholds (one series' year total against several plans): they share
    one uniform draw ``u``, and case ``i`` counts as hit when ``u < p_i``, so a series that
    misses a low plan cannot meet a higher one. Without ``groups`` every case is drawn on
    its own. Returns ``share_within`` (share of draws whose worst decile is within
    ``tolerance`` points), ``median_worst`` and ``p90_worst``; with ``observed`` (a worst
    decile actually measured) also ``share_worse``, the share of draws at least that far
    off: how often calibration this good fails to look better by chance alone. Real
    outcomes add calendar shocks shared across series, so the true floor is, if anything,
    higher.
    """
    p = np.asarray(p, dtype=float)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if groups is None:
        codes, n_groups = np.arange(len(p)), len(p)
    else:
        codes, uniques = pd.factorize(pd.Series(groups))
        n_groups = len(uniques)
    worst = np.array([worst_decile(p, rng.random(n_groups)[codes] < p, min_cases) for _ in range(int(draws))])
    out = {
        "share_within": float(np.mean(worst <= tolerance)),
        "median_worst": float(np.median(worst)),
        "p90_worst": float(np.quantile(worst, 0.9)),
    }
    if observed is not None:
        out["share_worse"] = float(np.mean(worst >= observed))
    return out


# --------------------------------------------------------------------------------------
# Calibrating P(hit) on the series' own past


# Before taking logits, probabilities are clipped to this distance from 0 and 1: a t tail
# far beyond anything 36 origins of errors can vouch for (P = 1e-9, say) would otherwise get
# the leverage of an extreme log in the fit. It is half a path in 2,000, so sampled and
# closed-form probabilities are treated alike.
_P_EPS = 0.00025


@dataclass(frozen=True)
class HitCalibration:
    """Monotone map from the simulated P(hit) to the hit rate observed in backtests.

    ``method="beta"``: ``q = expit(intercept + slope * ln(p) - slope_miss * ln(1 - p))``;
    ``method="logistic"``: the same with ``slope_miss = slope``, i.e.
    ``q = expit(intercept + slope * logit(p))`` (p clipped to ``[_P_EPS, 1 - _P_EPS]``
    in both). ``method="isotonic"``: piecewise linear through
    ``(knots_p, knots_q)``, flat beyond the end knots. ``method="identity"``: ``q = p``
    (too few backtest cases to learn from). ``n_cases``: backtest cases it was learned from.
    ``min_months``: the shortest history (months fitted) among those cases; :meth:`applies_to`
    says whether a series is long enough for the map to speak for it.
    """

    method: str = "identity"
    intercept: float = 0.0
    slope: float = 1.0
    slope_miss: float | None = None  # beta map only; None = the logistic map (= slope)
    knots_p: np.ndarray = field(default_factory=lambda: np.array([]))
    knots_q: np.ndarray = field(default_factory=lambda: np.array([]))
    n_cases: int = 0
    min_months: int = 0

    def applies_to(self, months: int) -> bool:
        """Whether the map applies to a series with ``months`` months of history: at least
        ``min_months``, the shortest history it was learned from. A shorter series lies outside
        the backtest's evidence (its band is wide because little is known); it keeps the
        model's own P(hit), so the map cannot turn that near coin-flip into a confident one."""
        return int(months) >= int(self.min_months)

    def __call__(self, p: np.ndarray | float) -> np.ndarray | float:
        arr = np.asarray(p, dtype=float)
        if self.method in ("logistic", "beta"):
            pc = np.clip(arr, _P_EPS, 1 - _P_EPS)
            miss = self.slope if self.slope_miss is None else self.slope_miss
            out = special.expit(self.intercept + self.slope * np.log(pc) - miss * np.log1p(-pc))
        elif self.method == "isotonic" and len(self.knots_p):
            out = np.interp(arr, self.knots_p, self.knots_q)
        else:
            out = arr
        out = np.clip(out, 0.0, 1.0)
        return float(out) if arr.ndim == 0 else out


def _isotonic_blocks(p: np.ndarray, o: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Isotonic regression of the outcomes ``o`` on the predictions ``p`` (scikit-learn's
    ``IsotonicRegression``, pool-adjacent-violators), as blocks of pooled cases.

    Returns ``(hit_rate, cases, mean_p)`` per block, in increasing order of ``p``: a block
    is a run of cases sharing one fitted value (cases with equal ``p`` always share one),
    except that cases whose outcomes needed no pooling (all 0 or all 1) keep one block per
    prediction.
    """
    from sklearn.isotonic import IsotonicRegression

    order = np.argsort(p, kind="stable")
    ps, os_ = p[order], o[order]
    fitted = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True).fit_transform(ps, os_)
    # A new block starts where the fitted value changes, and, where every outcome already equals
    # the fit (a run of all misses or all hits, nothing pooled), at every new prediction.
    pure = (fitted == 0.0) | (fitted == 1.0)
    start = np.r_[True, (np.diff(fitted) != 0) | (pure[1:] & (np.diff(ps) != 0))]
    block = np.cumsum(start) - 1
    cases = np.bincount(block).astype(float)
    hit_rate = fitted[start]
    mean_p = np.bincount(block, weights=ps) / cases
    return hit_rate, cases, mean_p


def fit_hit_calibration(
    p: np.ndarray,
    outcome: np.ndarray,
    *,
    method: str = "beta",
    prior_cases: float = 50.0,
    min_cases: int = 100,
    min_months: int = 0,
) -> HitCalibration:
    """Learn a monotone recalibration of P(hit) from backtest pairs (predicted p, 0/1 hit).

    ``method="beta"`` (default; beta calibration, Kull, Silva Filho & Flach 2017):
    ``logit q = a + b * ln p - c * ln(1 - p)`` with ``b, c >= 0`` (monotone), fitted by
    maximum likelihood with a Gaussian penalty pulling ``(a, b, c)`` towards the identity
    ``(0, 1, 1)`` worth ``prior_cases`` cases:

        minimise  -sum[o log q + (1 - o) log(1 - q)] + 0.05 * prior_cases * (a^2 + (b - 1)^2 + (c - 1)^2)

    (a typical case carries about 0.1 units of information on ``a``, so the penalty weighs
    about as much as ``prior_cases`` cases that came out as predicted). ``b`` and ``c``
    bend the low and the high probabilities separately: a simulation can be optimistic
    where the target is a stretch and right where it is safe, which one slope cannot
    undo. ``method="logistic"``: the special case ``b = c`` (``logit q = a + b logit p``),
    two parameters; ``b < 1`` means the simulation is over-confident, ``a < 0`` that it
    is optimistic. Both are stable with the few hundred cases a company's own history gives.

    ``method="isotonic"``: isotonic regression (scikit-learn, pool-adjacent-violators) of the outcomes on
    the predictions, each pooled block shrunk towards its own mean prediction as if
    ``prior_cases`` further cases had come out exactly as predicted,
    ``q_b = (n_b * hit_rate_b + prior_cases * mean_p_b) / (n_b + prior_cases)``, with knots
    at each block's mean prediction (needs many cases per block).

    With fewer than ``min_cases`` pairs the identity map is returned: too little past to
    learn from. ``min_months``: the shortest history the pairs were fitted on, kept as
    :attr:`HitCalibration.min_months` (the map applies to series at least that long).
    """
    p = np.asarray(p, dtype=float)
    o = np.asarray(outcome, dtype=float)
    if p.shape != o.shape:
        raise ValueError(f"predictions ({p.shape}) and outcomes ({o.shape}) differ in length")
    if method not in ("beta", "logistic", "isotonic"):
        raise ValueError(f"unknown calibration method {method!r}: use beta, logistic or isotonic")
    ok = np.isfinite(p) & np.isfinite(o)
    p, o = p[ok], o[ok]
    if ((p < 0) | (p > 1)).any():
        raise ValueError("predicted probabilities must lie in [0, 1]")
    if not np.isin(o, (0.0, 1.0)).all():
        raise ValueError("outcomes must be 0/1 (target missed / met)")
    if len(p) < min_cases:
        return HitCalibration(n_cases=int(len(p)), min_months=int(min_months))
    if method == "logistic":
        z = special.logit(np.clip(p, _P_EPS, 1 - _P_EPS))
        ridge = 0.1 * prior_cases

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            eta = theta[0] + theta[1] * z
            nll = -np.sum(o * special.log_expit(eta) + (1 - o) * special.log_expit(-eta))
            resid = special.expit(eta) - o
            pen = theta - np.array([0.0, 1.0])
            grad = np.array([resid.sum(), (resid * z).sum()]) + ridge * pen
            return float(nll + 0.5 * ridge * (pen @ pen)), grad

        res = optimize.minimize(loss, np.array([0.0, 1.0]), jac=True, method="L-BFGS-B")
        return HitCalibration(
            "logistic", float(res.x[0]), float(res.x[1]), n_cases=int(len(p)), min_months=int(min_months)
        )
    if method == "beta":
        pc = np.clip(p, _P_EPS, 1 - _P_EPS)
        x = np.column_stack([np.ones(len(pc)), np.log(pc), -np.log1p(-pc)])
        ridge = 0.1 * prior_cases
        prior = np.array([0.0, 1.0, 1.0])

        def loss_beta(theta: np.ndarray) -> tuple[float, np.ndarray]:
            eta = x @ theta
            nll = -np.sum(o * special.log_expit(eta) + (1 - o) * special.log_expit(-eta))
            pen = theta - prior
            grad = x.T @ (special.expit(eta) - o) + ridge * pen
            return float(nll + 0.5 * ridge * (pen @ pen)), grad

        res = optimize.minimize(
            loss_beta, prior, jac=True, method="L-BFGS-B", bounds=[(None, None), (0.0, None), (0.0, None)]
        )
        a, b, c = (float(v) for v in res.x)
        return HitCalibration("beta", a, b, slope_miss=c, n_cases=int(len(p)), min_months=int(min_months))
    hit_rate, n_b, mean_p = _isotonic_blocks(p, o)
    q = (n_b * hit_rate + prior_cases * mean_p) / (n_b + prior_cases)
    q = np.maximum.accumulate(q)
    # Blocks with the same mean prediction would make interpolation ambiguous: keep the last.
    knots_p, idx = np.unique(mean_p[::-1], return_index=True)
    knots_q = q[::-1][idx]
    return HitCalibration("isotonic", knots_p=knots_p, knots_q=knots_q, n_cases=int(len(p)), min_months=int(min_months))


@dataclass(frozen=True)
class BacktestCut:
    """The engine refitted ``back`` months before each series' last month.

    ``fits``: one :class:`~salesplan.forecast.engine.SeriesForecast` per series;
    ``cases``: one row per series with ``unique_id, as_of, ytd, remaining, prev_year,
    actual, months`` (months of the target year closed at the as-of month summed, months left,
    the previous calendar year's total, the target year's actual total and the months of
    history the cut was fitted on).
    """

    back: int
    fits: dict[str, SeriesForecast]
    cases: pd.DataFrame


def backtest_cuts(
    df: pd.DataFrame,
    *,
    back: Sequence[int] | None = None,
    n_jobs: int | None = None,
    engine: str = "local",
    address: str | None = None,
    season_length: int | None = None,
    max_origins: int | None = None,
    temporal_levels: Sequence[int] | None = None,
    temporal_min_points: int | None = None,
    horizon_growth: float | None = None,
    global_member: bool | None = None,
    global_weight: float | None = None,
    store: str | os.PathLike[str] | None = None,
) -> list[BacktestCut]:
    """Refit the engine on each series cut ``b`` months back, for every ``b`` in ``back``.

    The as-of month is the cut's last month; the target year is the calendar year in
    progress then (the next one when the as-of month is December), so ``b >= 12`` keeps
    the whole target year observed for every as-of month. Series too short for a cut
    (less than a full previous year plus the closed months before it, or a target year
    not yet complete) are left out of it. Fitting is the slow part; :func:`hit_pairs`
    then turns the cuts into (P(hit), outcome) pairs for any plan levels. Options left None
    take ``defaults.yaml``'s forecast settings (``p_hit_calibration.back``, ``season_length``,
    ``max_origins``, ``temporal_levels``, ``temporal_min_points``, ``horizon_growth``, ``global_model``).
    ``store``: a folder of fitted series (:mod:`salesplan.forecast.fitstore`): a cut is the
    history an earlier month's forecast was fitted on, so a monthly run finds most cuts there.
    """
    defaults = forecast_defaults()
    back = defaults.p_hit_calibration.back if back is None else back
    season_length = defaults.season_length if season_length is None else season_length
    max_origins = defaults.max_origins if max_origins is None else max_origins
    temporal_levels = defaults.temporal_levels if temporal_levels is None else temporal_levels
    temporal_min_points = defaults.temporal_min_points if temporal_min_points is None else temporal_min_points
    horizon_growth = defaults.horizon_growth if horizon_growth is None else horizon_growth
    data = validate_series(df)
    out = []
    for b in back:
        b = int(b)
        if b < 1:
            raise ValueError(f"back must be a positive number of months, got {b}")
        pieces, rows = [], []
        for uid, g in data.groupby("unique_id", sort=True):
            y, ds = g["y"].to_numpy(), g["ds"].reset_index(drop=True)
            t0 = len(y) - b
            if t0 < 1:
                continue
            m = int(ds.iloc[t0 - 1].month) % 12  # months of the target year closed at the as-of month
            r = 12 - m
            if t0 - m - 12 < 0 or t0 + r > len(y):
                continue
            rows.append(
                {
                    "unique_id": uid,
                    "as_of": ds.iloc[t0 - 1],
                    "ytd": float(y[t0 - m : t0].sum()),
                    "remaining": r,
                    "prev_year": float(y[t0 - m - 12 : t0 - m].sum()),
                    "actual": float(y[t0 - m : t0 + r].sum()),
                    "months": int(t0),
                }
            )
            pieces.append(g.iloc[:t0])
        if not pieces:
            continue
        fits = fit_series_on(
            pd.concat(pieces, ignore_index=True),
            12,
            engine,
            address,
            season_length=season_length,
            max_origins=max_origins,
            n_jobs=n_jobs,
            temporal_levels=temporal_levels,
            temporal_min_points=temporal_min_points,
            horizon_growth=horizon_growth,
            global_member=global_member,
            global_weight=global_weight,
            store=store,
        )
        out.append(BacktestCut(b, fits, pd.DataFrame(rows)))
    return out


def hit_pairs(
    cuts: Sequence[BacktestCut],
    *,
    factors: Sequence[float] = (0.95, 1.0, 1.05, 1.10),
    n_paths: int | None = None,
    seed: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """(P(hit), outcome) pairs from refitted cuts: plans = previous year x ``factors``.

    One row per series, cut and factor: ``unique_id, back, as_of, factor, plan, p_hit, hit,
    months`` (``hit``: the target year's actual total reached the plan; ``months``: the
    history the cut was fitted on). ``p_hit`` comes from
    :func:`landing_distribution`, as the workbook computes it; with ``n_paths`` it is read
    instead from that many sample paths drawn with ``seed`` (to measure what sampling adds).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    cols = ["unique_id", "back", "as_of", "factor", "plan", "p_hit", "hit", "months"]
    rows = []
    for cut in cuts:
        for c in cut.cases.itertuples(index=False):
            plans = np.asarray(factors, dtype=float) * c.prev_year
            ph = plan_hit_probability(cut.fits[c.unique_id], c.ytd, c.remaining, plans, n_paths=n_paths, rng=rng)
            for f, plan, p in zip(factors, plans, ph, strict=True):
                rows.append(
                    [c.unique_id, cut.back, c.as_of, float(f), float(plan), float(p), bool(c.actual >= plan), c.months]
                )
    return pd.DataFrame(rows, columns=cols)


def hit_backtest(
    df: pd.DataFrame,
    *,
    back: Sequence[int] | None = None,
    factors: Sequence[float] | None = None,
    n_jobs: int | None = None,
    engine: str = "local",
    address: str | None = None,
    season_length: int | None = None,
    max_origins: int | None = None,
    temporal_levels: Sequence[int] | None = None,
    temporal_min_points: int | None = None,
    horizon_growth: float | None = None,
    global_member: bool | None = None,
    global_weight: float | None = None,
    store: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Backtest pairs (predicted P(hit), outcome) from each series' own history.

    :func:`backtest_cuts` (the engine refitted ``b`` months before each series' last month,
    for every ``b`` in ``back``) followed by :func:`hit_pairs` (plans = the previous
    calendar year's total x each of ``factors``; outcome: the target year's actual total
    reached the plan). Returns one row per series, cut and factor:
    ``unique_id, back, as_of, factor, plan, p_hit, hit, months``. Options left None take
    ``defaults.yaml``'s forecast settings (``factors``: ``p_hit_calibration.plan_factors``);
    ``store``: see :func:`backtest_cuts`.
    """
    factors = forecast_defaults().p_hit_calibration.plan_factors if factors is None else factors
    cuts = backtest_cuts(
        df,
        back=back,
        n_jobs=n_jobs,
        engine=engine,
        address=address,
        season_length=season_length,
        max_origins=max_origins,
        temporal_levels=temporal_levels,
        temporal_min_points=temporal_min_points,
        horizon_growth=horizon_growth,
        global_member=global_member,
        global_weight=global_weight,
        store=store,
    )
    return hit_pairs(cuts, factors=factors)
