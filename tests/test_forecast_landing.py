"""Landing arithmetic, P(hit), Brier score and reliability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesplan.forecast.engine import SeriesForecast, _covariance
from salesplan.forecast.landing import (
    brier_score,
    landing_distribution,
    landing_samples,
    landing_summary,
    prob_hit,
    reliability_table,
)


def _fit(mean: list[float], a: float = 1.0, b: float = 0.5, c: float = 2.0) -> SeriesForecast:
    m = np.asarray(mean, dtype=float)
    return SeriesForecast(
        unique_id="x", last_ds=pd.Timestamp("2026-09-01"), mean=m, cov=_covariance(a, b, c, len(m)), df=1e9
    )


def test_landing_is_ytd_plus_remaining_forecast() -> None:
    fit = _fit([10.0, 20.0, 30.0, 40.0])
    dist = landing_distribution(fit, ytd=100.0, remaining=3)
    assert dist.loc == pytest.approx(100 + 10 + 20 + 30)
    # Spread of a correlated sum: sqrt(1' Σ 1) over the three months, larger than the
    # root-sum-square of the monthly spreads (months share the level error).
    assert dist.scale == pytest.approx(np.sqrt(fit.cov[:3, :3].sum()))
    assert dist.scale > np.sqrt(np.diag(fit.cov)[:3].sum())
    summary = landing_summary(dist, point=160.0, ytd=100.0, target=190.0, remaining=3)
    assert summary["landing"] == 160.0
    assert summary["gap"] == pytest.approx(-30.0)
    assert summary["run_rate_needed"] == pytest.approx((190 - 100) / 3)
    assert summary["lo_95"] < summary["lo_80"] < 160 < summary["hi_80"] < summary["hi_95"]
    assert summary["p_hit"] == pytest.approx(dist.prob_at_least(190.0))


@pytest.mark.parametrize("df", [1e9, 7.0])
def test_closed_form_matches_the_sample_paths(df: float) -> None:
    fit = _fit([10.0, 20.0, 30.0, 40.0], a=4.0, b=2.0, c=9.0)
    fit.df = df
    shift = np.array([1.0, -2.0, 0.5, 3.0])
    dist = landing_distribution(fit, ytd=100.0, remaining=3, shift=shift)
    s = landing_samples(fit, ytd=100.0, remaining=3, n_paths=200_000, seed=1, shift=shift)
    assert dist.loc == pytest.approx(159.5)
    targets = dist.quantile([0.05, 0.3, 0.5, 0.8, 0.975])
    p_sim = prob_hit(s, targets)
    assert p_sim == pytest.approx([0.95, 0.7, 0.5, 0.2, 0.025], abs=0.004)
    assert dist.prob_at_least(targets) == pytest.approx([0.95, 0.7, 0.5, 0.2, 0.025])


def test_shift_moves_the_paths() -> None:
    fit = _fit([10.0, 10.0])
    base = landing_samples(fit, 0.0, 2, 1000, seed=3)
    moved = landing_samples(fit, 0.0, 2, 1000, seed=3, shift=np.array([1.0, 2.0]))
    assert np.allclose(moved - base, 3.0)
    assert landing_distribution(fit, 0.0, 2, shift=np.array([1.0, 2.0])).loc == pytest.approx(23.0)


def test_december_has_nothing_left() -> None:
    s = landing_samples(_fit([5.0]), ytd=42.0, remaining=0, n_paths=10)
    assert np.all(s == 42.0)
    dist = landing_distribution(_fit([5.0]), ytd=42.0, remaining=0)
    assert dist.scale == 0.0 and dist.quantile(0.1) == 42.0
    summary = landing_summary(dist, 42.0, 42.0, 40.0, 0)
    assert np.isnan(summary["run_rate_needed"])
    assert summary["p_hit"] == 1.0 and summary["lo_95"] == summary["hi_95"] == 42.0
    assert landing_summary(dist, 42.0, 42.0, 42.5, 0)["p_hit"] == 0.0


def test_too_few_forecast_months_is_an_error() -> None:
    with pytest.raises(ValueError, match="3 months remain"):
        landing_samples(_fit([1.0, 2.0]), 0.0, 3)
    with pytest.raises(ValueError, match="3 months remain"):
        landing_distribution(_fit([1.0, 2.0]), 0.0, 3)
    with pytest.raises(ValueError, match=">= 0"):
        landing_distribution(_fit([1.0, 2.0]), 0.0, -1)


def test_prob_hit_falls_as_the_target_rises() -> None:
    s = landing_samples(_fit([10.0, 10.0, 10.0]), 50.0, 3, 5000, seed=2)
    p = prob_hit(s, [60.0, 80.0, 100.0])
    assert p[0] > p[1] > p[2]
    assert p[1] == pytest.approx(0.5, abs=0.03)
    assert prob_hit(s, 0.0) == 1.0
    dist = landing_distribution(_fit([10.0, 10.0, 10.0]), 50.0, 3)
    grid = np.linspace(0.0, 160.0, 81)
    exact = dist.prob_at_least(grid)
    assert np.all(np.diff(exact) <= 0) and exact[0] > 0.999 and exact[-1] < 0.001
    assert dist.prob_at_least(80.0) == pytest.approx(0.5)


def test_interval_bounds_nest_and_widen_with_the_level() -> None:
    dist = landing_distribution(_fit([10.0, 10.0, 10.0]), 50.0, 3)
    s = landing_summary(dist, dist.loc, 50.0, 90.0, 3, levels=(50, 80, 95, 99))
    lows = [s[f"lo_{lv}"] for lv in (50, 80, 95, 99)]
    highs = [s[f"hi_{lv}"] for lv in (50, 80, 95, 99)]
    assert np.all(np.diff(lows) < 0) and np.all(np.diff(highs) > 0)
    # Symmetric around the landing; the 80 % interval holds 80 % of the distribution.
    assert s["hi_80"] - dist.loc == pytest.approx(dist.loc - s["lo_80"])
    assert dist.prob_at_least(s["lo_80"]) - dist.prob_at_least(s["hi_80"]) == pytest.approx(0.8)


def test_brier_and_reliability() -> None:
    p = np.array([0.05, 0.05, 0.95, 0.95, 0.55])
    o = np.array([0, 0, 1, 1, 1])
    assert brier_score(p, o) == pytest.approx(np.mean((p - o) ** 2))
    rel = reliability_table(p, o)
    assert rel["cases"].sum() == 5
    row = rel[rel["bin"] == "0.9-1.0"].iloc[0]
    assert row["cases"] == 2 and row["observed"] == 1.0
    assert row["difference"] == pytest.approx(100 * (1 - 0.95))
