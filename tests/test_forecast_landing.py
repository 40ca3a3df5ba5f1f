"""Landing arithmetic, P(hit), Brier score and reliability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesplan.forecast.engine import SeriesForecast, _covariance
from salesplan.forecast.landing import brier_score, landing_samples, landing_summary, prob_hit, reliability_table


def _fit(mean: list[float], a: float = 1.0, b: float = 0.5, c: float = 2.0) -> SeriesForecast:
    m = np.asarray(mean, dtype=float)
    return SeriesForecast(
        unique_id="x", last_ds=pd.Timestamp("2026-09-01"), mean=m, cov=_covariance(a, b, c, len(m)), df=1e9
    )


def test_landing_is_ytd_plus_remaining_forecast() -> None:
    fit = _fit([10.0, 20.0, 30.0, 40.0])
    s = landing_samples(fit, ytd=100.0, remaining=3, n_paths=40000, seed=1)
    assert s.mean() == pytest.approx(100 + 10 + 20 + 30, abs=0.1)
    summary = landing_summary(s, point=160.0, ytd=100.0, target=190.0, remaining=3)
    assert summary["landing"] == 160.0
    assert summary["gap"] == pytest.approx(30.0)
    assert summary["run_rate_needed"] == pytest.approx((190 - 100) / 3)
    assert summary["lo_95"] < summary["lo_80"] < 160 < summary["hi_80"] < summary["hi_95"]
    # Spread of a correlated sum: sqrt(1' Σ 1) over the three months.
    assert s.std() == pytest.approx(np.sqrt(fit.cov[:3, :3].sum()), rel=0.03)


def test_shift_moves_the_paths() -> None:
    fit = _fit([10.0, 10.0])
    base = landing_samples(fit, 0.0, 2, 1000, seed=3)
    moved = landing_samples(fit, 0.0, 2, 1000, seed=3, shift=np.array([1.0, 2.0]))
    assert np.allclose(moved - base, 3.0)


def test_december_has_nothing_left() -> None:
    s = landing_samples(_fit([5.0]), ytd=42.0, remaining=0, n_paths=10)
    assert np.all(s == 42.0)
    assert np.isnan(landing_summary(s, 42.0, 42.0, 40.0, 0)["run_rate_needed"])
    assert landing_summary(s, 42.0, 42.0, 40.0, 0)["p_hit"] == 1.0


def test_too_few_forecast_months_is_an_error() -> None:
    with pytest.raises(ValueError, match="3 months remain"):
        landing_samples(_fit([1.0, 2.0]), 0.0, 3)


def test_prob_hit_falls_as_the_target_rises() -> None:
    s = landing_samples(_fit([10.0, 10.0, 10.0]), 50.0, 3, 5000, seed=2)
    p = prob_hit(s, [60.0, 80.0, 100.0])
    assert p[0] > p[1] > p[2]
    assert p[1] == pytest.approx(0.5, abs=0.03)
    assert prob_hit(s, 0.0) == 1.0


def test_brier_and_reliability() -> None:
    p = np.array([0.05, 0.05, 0.95, 0.95, 0.55])
    o = np.array([0, 0, 1, 1, 1])
    assert brier_score(p, o) == pytest.approx(np.mean((p - o) ** 2))
    rel = reliability_table(p, o)
    assert rel["cases"].sum() == 5
    row = rel[rel["bin"] == "0.9-1.0"].iloc[0]
    assert row["cases"] == 2 and row["observed"] == 1.0
    assert row["difference"] == pytest.approx(100 * (1 - 0.95))
