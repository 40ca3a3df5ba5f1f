"""Feasible forecasts: no negative band for a series that has never been negative, no landing
below what is booked, an honest width for short series, and a P(hit) that respects both."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesplan.config import load_defaults
from salesplan.forecast.engine import SeriesForecast, fit_one, fits_to_frame, short_series_floor
from salesplan.forecast.hierarchy import HierarchyForecast, hierarchy_series, landing_table
from salesplan.forecast.landing import HitCalibration, landing_distribution, landing_samples
from salesplan.retro.landing import landing_comparison
from salesplan.status import landing_status

DEFAULTS = load_defaults()
THRESHOLDS = DEFAULTS["retro"]["thresholds"]
BANDS = DEFAULTS["risk"]["probability"]
LAST = pd.Timestamp("2026-10-01")


def _fit(mean: list[float], sd: float, lower: float = 0.0, df: float = 5.0) -> SeriesForecast:
    m = np.asarray(mean, dtype=float)
    return SeriesForecast(
        unique_id="s", last_ds=pd.Timestamp("2026-10-01"), mean=m, cov=sd**2 * np.eye(len(m)), df=df, lower=lower
    )


# --------------------------------------------------------------------------------------
# Engine: never-negative series get no negative bound


def _sharp_drop() -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.r_[100 + rng.normal(0, 8, 36), [6.0, 4.0, 2.0]]


def test_never_negative_series_with_a_sharp_drop_gets_no_negative_bound():
    y = _sharp_drop()
    free = fit_one(y, 6, feasible=False, temporal_levels=(), last_ds=LAST)
    bounded = fit_one(y, 6, temporal_levels=(), last_ds=LAST)
    # Without the bound the band of this series reaches below zero: the case is a real one.
    assert (fits_to_frame({"s": free})["lo_95"] < 0).any()
    frame = fits_to_frame({"s": bounded})
    assert bounded.lower == 0.0
    assert (frame[["forecast", "lo_80", "hi_80", "lo_95", "hi_95"]] >= 0).all().all()
    assert (bounded.quantiles([0.01, 0.1, 0.5]) >= 0).all()
    # Censoring moves only what lay below zero: the upper bounds are the uncensored ones.
    assert np.allclose(frame["hi_95"], fits_to_frame({"s": free})["hi_95"])


def test_a_series_with_a_negative_month_keeps_its_uncensored_band():
    y = _sharp_drop()
    y[5] = -20.0  # net returns in one month: the series can go negative
    fit = fit_one(y, 6, temporal_levels=(), last_ds=LAST)
    assert fit.lower == -np.inf
    assert (fits_to_frame({"s": fit})["lo_95"] < 0).any()


# --------------------------------------------------------------------------------------
# Landing: never below YTD, P(hit) from the same censored distribution


def test_landing_interval_never_lies_below_ytd():
    fit = _fit([10.0, 10.0], sd=40.0)  # a band far wider than the two months' forecast
    dist = landing_distribution(fit, ytd=500.0, remaining=2)
    assert dist.floor == 500.0
    assert dist.quantile(0.025) == 500.0 and dist.quantile(0.1) >= 500.0
    uncensored = landing_distribution(_fit([10.0, 10.0], sd=40.0, lower=-np.inf), 500.0, 2)
    assert uncensored.quantile(0.025) < 500.0
    # Same distribution for the band and the probability: the mass below YTD sits at YTD.
    assert dist.prob_at_least(500.0) == 1.0
    assert dist.prob_at_least(520.0) == pytest.approx(uncensored.prob_at_least(520.0))
    # Sample paths describe the same censored total.
    s = landing_samples(fit, 500.0, 2, n_paths=100_000, seed=2)
    assert s.min() >= 500.0
    assert np.quantile(s, 0.1) == pytest.approx(dist.quantile(0.1), abs=0.6)
    assert (s >= 530.0).mean() == pytest.approx(dist.prob_at_least(530.0), abs=0.005)


def _hierarchy(series: dict[str, tuple[int, float]], sd: float, calibration: HitCalibration) -> HierarchyForecast:
    """A forecast as of 2026-10 for product lines ``{name: (months of history, monthly level)}``,
    each forecast at its level for Nov and Dec with month noise ``sd``."""
    end = pd.Timestamp("2026-10-01")
    history, forecast, fits = [], [], {}
    for name, (months, level) in series.items():
        uid = f"product_line={name}"
        ds = pd.date_range(end=end, periods=months, freq="MS")
        history.append(pd.DataFrame({"unique_id": uid, "level": "product_line", "ds": ds, "y": level}))
        fds = pd.date_range("2026-11-01", periods=2, freq="MS")
        forecast.append(
            pd.DataFrame(
                {
                    "unique_id": uid,
                    "level": "product_line",
                    "ds": fds,
                    "base_forecast": level,
                    "forecast": level,
                    "blended": level,
                }
            )
        )
        fits[uid] = SeriesForecast(uid, end, np.full(2, level), sd**2 * np.eye(2), 4.0, lower=0.0)
    return HierarchyForecast(
        month=pd.Period("2026-10", freq="M"),
        history=pd.concat(history, ignore_index=True),
        forecast=pd.concat(forecast, ignore_index=True),
        fits=fits,
        levels=[80, 95],
        reconciliation="none",
        horizon=2,
        season_length=12,
        calibration=calibration,
    )


def _targets(amounts: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"year": 2026, "month": 12, "region": "", "product_line": list(amounts), "rep_id": ""}).assign(
        target_amount=list(amounts.values())
    )


# A map learnt on long series that reads a coin-flip as a likely hit: logit q = 1.5 + logit p.
OPTIMISTIC = HitCalibration("beta", intercept=1.5, slope=1.0, slope_miss=1.0, n_cases=600, min_months=30)


def test_short_series_coin_flip_is_not_recalibrated_into_green():
    fc = _hierarchy({"New": (17, 10.0), "Old": (60, 10.0)}, sd=6.0, calibration=OPTIMISTIC)
    # Target = YTD + the two months' forecast: the model's P(hit) is exactly one half.
    ytd = 10.0 * 10
    table = landing_table(
        pd.DataFrame(), _targets({"New": ytd + 20, "Old": ytd + 20}), "2026-10", ["product_line"], fc=fc
    )
    table = table.set_index("item")
    assert table["p_hit_model"].to_numpy() == pytest.approx([0.5, 0.5])
    # The long series is inside the map's evidence and is recalibrated...
    assert table.loc["Old", "p_hit"] == pytest.approx(float(OPTIMISTIC(0.5)))
    assert landing_status(table.loc["Old", "p_hit"], table.loc["Old", "landing"], ytd + 20, THRESHOLDS, BANDS)[0] == (
        "green"
    )
    # ...the short one keeps its coin-flip, and a coin-flip is not green.
    assert table.loc["New", "p_hit"] == pytest.approx(0.5)
    status = landing_status(table.loc["New", "p_hit"], table.loc["New", "landing"], ytd + 20, THRESHOLDS, BANDS)[0]
    assert status != "green"


def test_target_already_reached_has_p_hit_one_and_landing_band_above_ytd():
    fc = _hierarchy({"Done": (17, 10.0)}, sd=40.0, calibration=HitCalibration("beta", -3.0, 1.0, 1.0, min_months=0))
    ytd = 100.0
    table = landing_table(pd.DataFrame(), _targets({"Done": ytd - 1}), "2026-10", ["product_line"], fc=fc)
    row = table.iloc[0]
    assert row["p_hit"] == 1.0 and row["p_hit_model"] == 1.0  # the pessimistic map is not applied
    assert row["lo_95"] >= ytd and row["lo_80"] >= ytd and row["landing"] >= ytd


# --------------------------------------------------------------------------------------
# Short series: an honest width


def test_short_series_is_wider_than_a_long_one_with_the_same_noise():
    rng = np.random.default_rng(11)
    noise = 100 + rng.normal(0, 10, 60)
    short = fit_one(noise[-17:], 3, temporal_levels=(), last_ds=LAST)
    long = fit_one(noise, 3, temporal_levels=(), last_ds=LAST)
    width = {k: f.quantile_scale(80) * f.sd[0] for k, f in (("short", short), ("long", long))}
    assert width["short"] > width["long"]
    # At least the width of forecasting a new month by the mean of the 17 known ones.
    assert short.cov[0, 0] >= np.var(noise[-17:], ddof=1) * (1 + 1 / 17) - 1e-9
    assert short.df <= 16


def test_short_series_with_a_calm_recent_stretch_gets_the_width_its_history_supports():
    rng = np.random.default_rng(1)
    # 17 months: a wild first half, a calm second half (where the few rolling origins sit).
    y = np.r_[100 + rng.normal(0, 30, 8), 100 + rng.normal(0, 3, 9)]
    free = fit_one(y, 3, feasible=False, temporal_levels=(), last_ds=LAST)
    honest = fit_one(y, 3, temporal_levels=(), last_ds=LAST)
    need = np.sqrt(np.var(y, ddof=1) * (1 + 1 / 17))
    assert free.sd[0] < need / 2  # the rolling origins alone vouch for a band far too narrow
    assert honest.sd.min() == pytest.approx(need)


def test_short_series_floor_rule():
    y = np.array([10.0, 14.0, 9.0, 13.0, 11.0, 12.0])
    tiny = 0.01 * np.eye(3) + 0.005
    cov, df = short_series_floor(y, tiny, 50.0)
    need = np.var(y, ddof=1) * (1 + 1 / 6)
    assert np.diag(cov).min() == pytest.approx(need)
    assert np.allclose(cov / cov[0, 0], tiny / tiny[0, 0])  # correlation kept
    assert df == 5.0
    # A series long enough for seasonal models keeps what its errors say.
    long_y = np.tile(y, 5)
    same, df_long = short_series_floor(long_y, tiny, 50.0)
    assert same is tiny and df_long == 50.0


def test_product_line_launched_late_is_a_short_series():
    months = pd.date_range("2023-01-01", "2026-10-01", freq="MS")
    rows = [pd.DataFrame({"month": months, "region": "N", "product_line": "Old", "net_amount": 50.0})]
    late = months[-17:]
    rows.append(pd.DataFrame({"month": late, "region": "N", "product_line": "New", "net_amount": 8.0}))
    series = hierarchy_series(pd.concat(rows, ignore_index=True), "2026-10", levels=((), ("product_line",)))
    lengths = series.groupby("unique_id").size()
    assert lengths["product_line=New"] == 17
    assert lengths["product_line=Old"] == lengths["total"] == len(months)


# --------------------------------------------------------------------------------------
# The four landing views


def test_landing_views_never_below_ytd():
    months = pd.date_range("2025-01-01", "2026-03-01", freq="MS")
    cube = pd.DataFrame({"month": months, "net_amount": 10.0})
    plan = pd.DataFrame(
        {"year": 2026, "month": range(1, 13), "region": "", "product_line": "", "rep_id": "", "target_amount": 10.0}
    )
    out = landing_comparison(cube, plan, "2026-03", {"landing": 40.0, "low": 20.0, "high": 60.0}).set_index("method")
    ytd = 30.0
    assert (out["landing"] >= ytd).all()
    assert out.loc["statistical", "low"] == ytd and out.loc["statistical", "high"] == 60.0


def test_a_rep_who_has_left_is_forecast_to_sell_nothing_after_the_leave_date() -> None:
    from salesplan.forecast.hierarchy import leave_dates, without_months_after

    fit = _fit([100.0, 110.0, 90.0], sd=8.0, lower=0.0)
    reps = pd.DataFrame({"rep_id": ["R1", "R2"], "leave_date": [pd.Timestamp("2026-11-15"), pd.NaT]})
    leave = leave_dates(reps)
    assert leave == {"rep_id=R1": pd.Timestamp("2026-11-15")}
    cut = without_months_after(fit, leave["rep_id=R1"])
    # November (she is there half of it) keeps its forecast; December and January are nothing, surely.
    assert cut.mean[0] == fit.mean[0] > 0
    assert (cut.mean[1:] == 0).all() and (cut.sd[1:] == 0).all()
    assert (cut.quantiles([0.1, 0.9])[:, 1:] == 0).all()
    assert without_months_after(fit, None) is fit
    assert without_months_after(fit, pd.Timestamp("2027-06-30")) is fit
