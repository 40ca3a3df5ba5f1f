"""Recalibrating P(hit) on backtest pairs: isotonic, logistic and beta maps, shrinkage, backtest cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

from salesplan.forecast.landing import HitCalibration, brier_score, fit_hit_calibration, hit_backtest


def _overconfident(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Predictions p whose true hit rate is 0.5 + 0.6 (p - 0.5): too sure in both tails."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    truth = 0.5 + 0.6 * (p - 0.5)
    return p, (rng.uniform(0, 1, n) < truth).astype(float)


def test_isotonic_calibration_recovers_the_observed_rates() -> None:
    p, o = _overconfident(20000)
    cal = fit_hit_calibration(p, o, method="isotonic")
    assert cal.method == "isotonic"
    q = cal(np.array([0.1, 0.5, 0.9]))
    assert q == pytest.approx([0.26, 0.5, 0.74], abs=0.05)
    # A fresh sample from the same process scores better after recalibration.
    p2, o2 = _overconfident(20000, seed=1)
    assert brier_score(cal(p2), o2) < brier_score(p2, o2) - 0.005


def test_logistic_calibration_recovers_optimism_and_overconfidence() -> None:
    rng = np.random.default_rng(7)
    p = rng.uniform(0.001, 0.999, 20000)
    truth = special.expit(-0.4 + 0.7 * special.logit(p))
    o = (rng.uniform(0, 1, len(p)) < truth).astype(float)
    cal = fit_hit_calibration(p, o, method="logistic")
    assert cal.method == "logistic"
    assert cal.intercept == pytest.approx(-0.4, abs=0.1)
    assert cal.slope == pytest.approx(0.7, abs=0.05)
    assert cal(0.5) < 0.5  # optimistic simulation: an even chance is really less
    # Perfectly calibrated pairs leave the map at the identity.
    o_ok = (rng.uniform(0, 1, len(p)) < p).astype(float)
    ident = fit_hit_calibration(p, o_ok, method="logistic")
    assert ident(np.array([0.1, 0.5, 0.9])) == pytest.approx([0.1, 0.5, 0.9], abs=0.03)
    # A strong prior holds the map at the identity whatever the data.
    held = fit_hit_calibration(p, o, prior_cases=1e7, method="logistic")
    assert (held.intercept, held.slope) == pytest.approx((0.0, 1.0), abs=0.01)


def _beta_truth(p: np.ndarray) -> np.ndarray:
    """Optimistic where the target is a stretch (low p), about right where it is safe."""
    return special.expit(-0.5 + 0.55 * np.log(p) - 1.0 * np.log1p(-p))


def test_beta_calibration_bends_low_and_high_probabilities_separately() -> None:
    rng = np.random.default_rng(11)
    p = rng.uniform(0.001, 0.999, 40000)
    o = (rng.uniform(0, 1, len(p)) < _beta_truth(p)).astype(float)
    cal = fit_hit_calibration(p, o)
    assert cal.method == "beta"
    assert (cal.intercept, cal.slope, cal.slope_miss) == pytest.approx((-0.5, 0.55, 1.0), abs=0.1)
    grid = np.linspace(0.02, 0.98, 49)
    assert np.max(np.abs(cal(grid) - _beta_truth(grid))) < 0.03
    # One slope cannot follow this shape: the logistic map misses it by far more.
    logistic = fit_hit_calibration(p, o, method="logistic")
    assert np.max(np.abs(logistic(grid) - _beta_truth(grid))) > 2 * np.max(np.abs(cal(grid) - _beta_truth(grid)))
    # Out of sample the beta map scores better than both the raw and the logistic values.
    p2 = rng.uniform(0.001, 0.999, 40000)
    o2 = (rng.uniform(0, 1, len(p2)) < _beta_truth(p2)).astype(float)
    assert brier_score(cal(p2), o2) < brier_score(logistic(p2), o2) < brier_score(p2, o2)


def test_beta_calibration_reduces_to_the_logistic_map_and_the_identity() -> None:
    rng = np.random.default_rng(5)
    p = rng.uniform(0.001, 0.999, 20000)
    # Logistic truth (b = c): the beta fit finds equal slopes.
    o = (rng.uniform(0, 1, len(p)) < special.expit(-0.4 + 0.7 * special.logit(p))).astype(float)
    cal = fit_hit_calibration(p, o)
    assert cal.slope == pytest.approx(cal.slope_miss, abs=0.08)
    assert cal.intercept == pytest.approx(-0.4, abs=0.12)
    # Calibrated pairs: identity; a strong prior: identity whatever the data.
    o_ok = (rng.uniform(0, 1, len(p)) < p).astype(float)
    assert fit_hit_calibration(p, o_ok)(np.array([0.1, 0.5, 0.9])) == pytest.approx([0.1, 0.5, 0.9], abs=0.03)
    held = fit_hit_calibration(p, o, prior_cases=1e7)
    assert (held.intercept, held.slope, held.slope_miss) == pytest.approx((0.0, 1.0, 1.0), abs=0.01)
    # Monotone: both slopes are kept non-negative, so the map never turns down.
    anti = fit_hit_calibration(p, 1.0 - o_ok)
    assert anti.slope >= 0 and anti.slope_miss >= 0
    assert np.all(np.diff(anti(np.linspace(0, 1, 101))) >= -1e-12)


def test_calibration_is_monotone_and_bounded() -> None:
    p, o = _overconfident(3000, seed=3)
    cal = fit_hit_calibration(p, o, method="isotonic")
    grid = np.linspace(-0.2, 1.2, 141)
    q = cal(grid)
    assert np.all(np.diff(q) >= 0)
    assert q.min() >= 0 and q.max() <= 1
    assert isinstance(cal(0.3), float)


def test_few_cases_give_the_identity_and_shrinkage_pulls_to_the_prediction() -> None:
    p, o = _overconfident(50)
    ident = fit_hit_calibration(p, o, min_cases=100)
    assert ident.n_cases == 50 and ident.method == "identity"
    assert ident(np.array([0.2, 0.7])) == pytest.approx([0.2, 0.7])
    # All-miss outcomes: without a prior the map collapses to 0; a strong prior keeps it near p.
    p = np.linspace(0, 1, 200)
    o = np.zeros(200)
    assert fit_hit_calibration(p, o, method="isotonic", prior_cases=0)(0.8) == pytest.approx(0.0)
    assert fit_hit_calibration(p, o, method="isotonic", prior_cases=1e6)(0.8) == pytest.approx(0.8, abs=0.01)


def test_ties_in_predictions_are_pooled() -> None:
    p = np.r_[np.zeros(100), np.ones(100)]
    o = np.r_[np.zeros(90), np.ones(10), np.ones(95), np.zeros(5)]
    cal = fit_hit_calibration(p, o, method="isotonic", prior_cases=0)
    assert cal(0.0) == pytest.approx(0.10)
    assert cal(1.0) == pytest.approx(0.95)


def test_bad_pairs_are_named() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        fit_hit_calibration(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        fit_hit_calibration(np.array([1.5] * 200), np.zeros(200))
    with pytest.raises(ValueError, match="0/1"):
        fit_hit_calibration(np.full(200, 0.5), np.full(200, 0.5))
    with pytest.raises(ValueError, match="unknown calibration method"):
        fit_hit_calibration(np.full(200, 0.5), np.ones(200), method="platt")


def test_identity_map_is_a_no_op() -> None:
    cal = HitCalibration()
    assert cal(np.array([0.0, 0.33, 1.0])) == pytest.approx([0.0, 0.33, 1.0])


def test_hit_backtest_builds_cases_from_history_only() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(50)
    series = {
        "up": 100 + 2 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, 50),
        "short": 50 + rng.normal(0, 1, 20),
    }
    df = pd.concat(
        [
            pd.DataFrame({"unique_id": k, "ds": pd.date_range("2020-01-01", periods=len(v), freq="MS"), "y": v})
            for k, v in series.items()
        ],
        ignore_index=True,
    )
    pairs = hit_backtest(df, back=(12,), factors=(0.9, 1.0, 1.5), n_jobs=1)
    # "short" (20 months) cannot hold a previous year, the closed months and a year ahead.
    assert set(pairs["unique_id"]) == {"up"}
    # 50 months from Jan 2020 end Feb 2024; cut 12 back: as-of Feb 2023, target year 2023.
    assert (pairs["as_of"] == pd.Timestamp("2023-02-01")).all()
    y = series["up"]
    prev = y[24:36].sum()  # calendar 2022
    assert pairs["plan"].to_numpy() == pytest.approx(prev * np.array([0.9, 1.0, 1.5]))
    assert pairs["hit"].tolist() == [bool(y[36:48].sum() >= f * prev) for f in (0.9, 1.0, 1.5)]
    # A growing series clears last year's total easily and a 50 % rise hardly ever.
    assert pairs["p_hit"].iloc[0] > 0.9 and pairs["p_hit"].iloc[2] < 0.1
    assert np.all(np.diff(pairs["p_hit"].to_numpy()) <= 0)


def test_workbook_calibration_and_landing_table() -> None:
    from test_forecast_hierarchy import CONFIG, _cube, _targets

    from salesplan.forecast import forecast_hierarchy, hit_calibration, landing_table

    cube = _cube()
    # 33 months of history: one backtest year (12 months back) for each of the 12 series.
    beta = {**CONFIG["p_hit_calibration"], "method": "beta", "back": [12, 24], "min_cases": 100, "prior_cases": 50}
    beta["plan_factors"] = [0.9, 0.95, 1.0, 1.05, 1.1]
    few = hit_calibration(cube, "2025-09", {**CONFIG, "p_hit_calibration": beta})
    assert few.method == "identity" and few.n_cases == 12 * 5
    cfg = {**CONFIG, "p_hit_calibration": {**beta, "back": [12], "min_cases": 20, "plan_factors": [0.9, 1.0, 1.1]}}
    learned = hit_calibration(cube, "2025-09", cfg)
    assert learned.method == "beta" and learned.n_cases == 12 * 3

    fc = forecast_hierarchy(cube, "2025-09", CONFIG, n_jobs=1)
    targets = _targets(1.02)
    raw = landing_table(cube, targets, "2025-09", ["region"], CONFIG, fc=fc).set_index("unique_id")
    pessimist = HitCalibration("logistic", intercept=-1.0, slope=1.0)
    cal = landing_table(cube, targets, "2025-09", ["region"], CONFIG, fc=fc, calibration=pessimist)
    cal = cal.set_index("unique_id")
    assert cal["p_hit"].to_numpy() == pytest.approx(pessimist(raw["p_hit"].to_numpy()))
    assert cal["landing"].equals(raw["landing"])


def test_backtest_cuts_then_pairs_equal_hit_backtest() -> None:
    from salesplan.forecast.landing import backtest_cuts, hit_pairs

    rng = np.random.default_rng(8)
    t = np.arange(60)
    df = pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": k,
                    "ds": pd.date_range("2019-01-01", periods=60, freq="MS"),
                    "y": 100 + s * t + 8 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 3, 60),
                }
            )
            for k, s in (("a", 1.0), ("b", -0.5))
        ],
        ignore_index=True,
    )
    opts = {"back": (12, 24), "n_jobs": 1, "temporal_levels": ()}
    cuts = backtest_cuts(df, **opts)
    assert [c.back for c in cuts] == [12, 24]
    # 60 months end Dec 2023: cut 12 is as of Dec 2022, target year 2023 (nothing closed yet).
    first = cuts[0].cases.set_index("unique_id").loc["a"]
    assert first["as_of"] == pd.Timestamp("2022-12-01") and first["remaining"] == 12 and first["ytd"] == 0.0
    y = df.loc[df["unique_id"] == "a", "y"].to_numpy()
    assert first["prev_year"] == pytest.approx(y[36:48].sum()) and first["actual"] == pytest.approx(y[48:60].sum())
    once = hit_pairs(cuts, factors=(0.9, 1.1))
    direct = hit_backtest(df, factors=(0.9, 1.1), **opts)
    pd.testing.assert_frame_equal(once, direct)
    # The closed form is what sample paths converge to: 20,000 paths land within sampling error.
    sampled = hit_pairs(cuts, factors=(0.9, 1.1), n_paths=20_000, seed=4)
    assert sampled[["unique_id", "back", "plan", "hit"]].equals(once[["unique_id", "back", "plan", "hit"]])
    se = np.sqrt(once["p_hit"] * (1 - once["p_hit"]) / 20_000)
    assert (np.abs(sampled["p_hit"] - once["p_hit"]) <= 4 * se + 1e-4).all()


def test_worst_decile_ignores_thin_deciles() -> None:
    from salesplan.forecast.landing import worst_decile

    p = np.r_[np.full(200, 0.15), np.full(50, 0.85)]
    o = np.r_[np.ones(40), np.zeros(160), np.zeros(50)]  # 20 % observed vs 15 %; 0 % vs 85 %
    assert worst_decile(p, o) == pytest.approx(5.0)
    assert worst_decile(p, o, min_cases=50) == pytest.approx(85.0)
    assert np.isnan(worst_decile(p, o, min_cases=500))


def test_reliability_noise_floor_of_a_perfect_forecaster() -> None:
    from salesplan.forecast.landing import reliability_noise_floor

    # 2,000 independent cases at 0.5: standard error 1.1 points, always within 5.
    big = reliability_noise_floor(np.full(2000, 0.5), draws=200, seed=1)
    assert big["share_within"] == 1.0
    # 100 cases: standard error 5 points, within 5 about 68 % + a little for the discrete count.
    small = reliability_noise_floor(np.full(100, 0.5), draws=400, seed=1)
    assert 0.6 < small["share_within"] < 0.85
    assert 3.0 < small["median_worst"] < 5.0
    # One shared draw per group: 25 series x 4 identical plans is 25 outcomes, not 100.
    grouped = reliability_noise_floor(np.full(100, 0.5), np.repeat(np.arange(25), 4), draws=400, seed=1)
    assert grouped["median_worst"] > 1.5 * small["median_worst"]
    # An observed worst decile far beyond the floor is rarely reached by chance.
    judged = reliability_noise_floor(np.full(2000, 0.5), draws=200, seed=1, observed=10.0)
    assert judged["share_worse"] == 0.0
    assert reliability_noise_floor(np.full(100, 0.5), draws=400, seed=1, observed=0.0)["share_worse"] == 1.0


def test_isotonic_map_is_scikit_learns_isotonic_regression() -> None:
    """Unshrunk, the map passes through scikit-learn's isotonic fit at every block's mean prediction."""
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(11)
    p = np.round(rng.uniform(0, 1, 2000), 2)  # many ties
    o = (rng.uniform(0, 1, len(p)) < 0.15 + 0.7 * p).astype(float)
    cal = fit_hit_calibration(p, o, method="isotonic", prior_cases=0)
    fitted = IsotonicRegression().fit(p, o)
    levels = np.unique(fitted.predict(p))
    assert np.allclose(np.unique(cal.knots_q), levels)
    assert np.all(np.diff(cal.knots_p) > 0)
