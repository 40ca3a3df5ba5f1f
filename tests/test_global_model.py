"""The global LightGBM member: its forecast, the series it serves, its blend into the local ensemble, and
the blend's intervals calibrated on the blend's own errors at earlier origins, without leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from salesplan.forecast import global_model as gm
from salesplan.forecast.engine import SeriesForecast, fit_series, origin_scale
from salesplan.forecast.global_model import (
    blend,
    blend_errors,
    calibration_origins,
    global_backtest,
    spread_factor,
)


def _panel(n_series: int = 6, months: int = 72, seed: int = 0, noise: float = 0.05) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    rows = []
    for i in range(n_series):
        level = 100 * (i + 1)
        y = level * (1 + 0.01 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, level * noise, months)
        rows.append(
            pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2020-01-01", periods=months, freq="MS"), "y": y})
        )
    return pd.concat(rows, ignore_index=True)


def _errors(local: np.ndarray, member: np.ndarray, origins: np.ndarray, df: float = np.inf) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": "s", "origin": origins, "step": 0, "df": df, "local": local, "member": member})


def _as_wide_as_the_band(n: int) -> np.ndarray:
    """Errors whose quantiles are the normal's: a band of sd 1 covers them as it claims."""
    z = stats.norm.ppf((np.arange(n) + 0.5) / n)
    return np.random.default_rng(0).permutation(z)


def test_blend_errors_half_the_local_ones_give_half_the_width() -> None:
    local = _as_wide_as_the_band(400)
    w = 0.3
    # A member whose errors offset the local ones: (1 - w) e + w (-2/3) e = e / 2.
    member = (0.5 - (1 - w)) / w * local
    np.testing.assert_allclose((1 - w) * local + w * member, local / 2)
    cal = spread_factor(_errors(local, member, np.repeat([6, 12, 18, 24], 100)), w)
    # Variance a quarter, so every interval half as wide; the origins agree, so nothing is shrunk.
    assert cal.factor == pytest.approx(0.25, rel=0.02)
    assert cal.shrinkage == pytest.approx(1.0, abs=0.01)
    assert len(cal.per_origin) == 4

    f = SeriesForecast("s", pd.Timestamp("2024-12-01"), np.full(3, 100.0), np.diag([4.0, 9.0, 16.0]), 10.0)
    glob = pd.DataFrame({"unique_id": "s", "ds": pd.date_range("2025-01-01", periods=3, freq="MS"), "global": 120.0})
    out = blend({"s": f}, glob, 0.5, 0.25)["s"]
    np.testing.assert_allclose(out.mean, 110.0)
    np.testing.assert_allclose(out.sd, f.sd / 2)
    assert out.df == f.df


def test_in_sample_like_local_errors_are_not_taken_at_face_value() -> None:
    honest = _as_wide_as_the_band(400)
    origins = np.repeat([6, 12, 18, 24], 100)
    # Local errors half as wide as their (calibrated) band claims, a member exactly as good as the
    # band and erring alike: the blend is no better and no worse than the local band.
    same = spread_factor(_errors(honest / 2, honest, origins), 0.3)
    assert same.ratio == pytest.approx(1.0, rel=0.02)
    # Taken at face value the member would look twice as bad and the band would widen by 69 %.
    face_value = ((1 - 0.3) * 0.5 + 0.3) ** 2 / 0.5**2
    assert face_value == pytest.approx(1.69)


def test_origins_that_disagree_pull_the_factor_to_one() -> None:
    local = _as_wide_as_the_band(300)
    origins = np.repeat([6, 12, 18], 100)
    # The member errs like the local forecast, scaled differently at each origin: blends of a
    # third, three times and the same variance, no consistent evidence.
    member = local * np.repeat([-1.0, 4.0, 1.0], 100)
    cal = spread_factor(_errors(local, member, origins), 0.3)
    assert cal.shrinkage < 1
    assert abs(np.log(cal.factor)) < abs(np.log(cal.ratio))
    # A single origin cannot show how far its ratio is to be trusted: the local band stays.
    one = spread_factor(_errors(local, -local * 2 / 3, np.full(300, 6)), 0.3)
    assert one.factor == 1.0 and one.ratio == pytest.approx(0.25, rel=0.02)
    assert spread_factor(_errors(local[:0], local[:0], np.zeros(0, int)), 0.3).factor == 1.0


def test_blend_errors_pair_the_local_and_member_errors_at_the_same_origin() -> None:
    df = _panel(2, 60)
    fits = fit_series(df, 6, n_jobs=1, temporal_levels=(), keep_errors=True, global_member=False)
    f = fits["s0"]
    n = len(f.y)
    t = n - 12  # an origin one year before the end
    cutoff = pd.Timestamp("2020-01-01") + pd.DateOffset(months=t - 1)
    glob = f.y[t : t + 6] + 10.0  # a member that is 10 too high at every month
    backtest = pd.DataFrame(
        {
            "unique_id": "s0",
            "ds": pd.date_range(cutoff + pd.DateOffset(months=1), periods=6, freq="MS"),
            "cutoff": cutoff,
            "y": f.y[t : t + 6],
            "global": glob,
        }
    )
    e = blend_errors(fits, backtest)
    r = list(f.cv_origins).index(t)
    s = origin_scale(f.y, np.array([t]))[0]
    assert list(e["origin"].unique()) == [12] and list(e["step"]) == list(range(6))
    assert (e["df"] == f.df).all()
    np.testing.assert_allclose(e["local"], f.cv_errors[r, :6] / f.sd[:6])
    # The member's error at the same origin, at today's level like the local one.
    np.testing.assert_allclose(e["member"], -10.0 * s / f.sd[:6])


def test_the_member_at_an_origin_never_sees_a_later_month() -> None:
    df = _panel(6, 72)
    h, span, step = 6, 24, 6
    assert calibration_origins(h, span, step) == 4
    assert calibration_origins(24, 18, 6) == 0
    base = global_backtest(df, h, span=span, step=step, min_months=24, n_estimators=40, num_threads=1)
    cutoffs = sorted(base["cutoff"].unique())
    assert len(cutoffs) == 4 and pd.Timestamp(cutoffs[0]) == pd.Timestamp("2023-12-01")  # 24 months before the end
    assert (base["ds"] > base["cutoff"]).all()
    # Wreck every month after the second origin: the first two origins' forecasts cannot change
    # (features from before each origin, model trained before the first), later ones must.
    wrecked = df.assign(y=np.where(df["ds"] > cutoffs[1], df["y"] * 50.0, df["y"]))
    after = global_backtest(wrecked, h, span=span, step=step, min_months=24, n_estimators=40, num_threads=1)
    early = base["cutoff"] <= cutoffs[1]
    np.testing.assert_allclose(after.loc[early, "global"], base.loc[early, "global"])
    assert not np.allclose(after.loc[~early, "global"], base.loc[~early, "global"])


def test_the_blend_keeps_its_calibrated_band_in_fit_series() -> None:
    df = _panel(6, 72)
    off = fit_series(df, 6, n_jobs=1, temporal_levels=(), global_member=False)
    on = fit_series(df, 6, n_jobs=1, temporal_levels=(), global_member=True, global_weight=0.3)
    ratios = np.array([on[u].sd / off[u].sd for u in off])
    # One factor for the set: every series' band is scaled alike, and the errors are not kept.
    np.testing.assert_allclose(ratios, ratios[0, 0])
    assert all(f.cv_errors is None for f in on.values())


def test_weights_per_series_blend_each_series_with_its_own() -> None:
    fits = {
        u: SeriesForecast(u, pd.Timestamp("2024-12-01"), np.full(2, 100.0), np.eye(2), 10.0) for u in ("a", "b", "c")
    }
    glob = pd.DataFrame(
        {"unique_id": np.repeat(["a", "b", "c"], 2), "ds": list(pd.date_range("2025-01-01", periods=2, freq="MS")) * 3}
    ).assign(**{"global": 200.0})
    out = blend(fits, glob, {"a": 0.5, "b": 0.1})
    np.testing.assert_allclose(out["a"].mean, 150.0)
    np.testing.assert_allclose(out["b"].mean, 110.0)
    np.testing.assert_allclose(out["c"].mean, 100.0)  # no weight given: the local forecast
    # The calibration mixes each series' errors with its own weight: a member that errs nowhere.
    local = _as_wide_as_the_band(200)
    e = _errors(local, np.zeros(200), np.repeat([6, 12], 100)).assign(unique_id=np.repeat(["a", "b"], 100))
    by_series = spread_factor(e, {"a": 0.5, "b": 0.5})
    assert by_series.ratio == pytest.approx(spread_factor(e, 0.5).ratio)
    assert by_series.ratio == pytest.approx(0.25, rel=0.05)


def test_series_too_short_for_the_features_leave_the_local_fits_untouched() -> None:
    # 26 months each: one month per series has every lag (24 after differencing); three
    # series give three training rows, too few for a split, so the member serves nobody.
    short = pd.concat(
        [
            pd.DataFrame(
                {"unique_id": f"s{i}", "ds": pd.date_range("2020-01-01", periods=26, freq="MS"), "y": 100.0 + i}
            )
            for i in range(3)
        ],
        ignore_index=True,
    )
    assert not gm.trainable(short)
    fits = fit_series(short, 3, n_jobs=1, temporal_levels=(), global_member=False)
    blended = gm.with_global_member(fits, short, 3, weight=0.3, min_months=24)
    for uid, fit in fits.items():
        np.testing.assert_array_equal(blended[uid].mean, fit.mean)
    # The backtest at earlier origins has even less to learn from: empty, so the band is kept.
    assert gm.global_backtest(short, 3, span=12, step=6, min_months=2).empty
    # Three series of 40 months: 15 complete rows each, enough.
    longer = pd.concat(
        [short.assign(ds=lambda d, k=k: d["ds"] + pd.DateOffset(months=k)) for k in (0, 14)], ignore_index=True
    ).drop_duplicates(["unique_id", "ds"])
    assert longer.groupby("unique_id").size().eq(40).all() and gm.trainable(longer)


def test_global_forecast_is_reproducible_and_follows_the_season() -> None:
    df = _panel(months=48, noise=0.02)
    a = gm.global_forecast(df, 12, n_estimators=50, num_threads=1)
    b = gm.global_forecast(df, 12, n_estimators=50, num_threads=1)
    assert len(a) == 6 * 12 and np.isfinite(a["global"]).all()
    pd.testing.assert_frame_equal(a, b)  # deterministic: same data, same forecast
    # The season peaks in April and troughs in October for every series: the model learned it.
    s0 = a[a["unique_id"] == "s0"].set_index(a[a["unique_id"] == "s0"]["ds"].dt.month)["global"]
    assert s0.loc[4] > s0.loc[10]


def test_eligible_leaves_out_short_and_negative_series() -> None:
    df = pd.concat(
        [
            _panel(2, months=48, noise=0.02),
            pd.DataFrame({"unique_id": "short", "ds": pd.date_range("2023-01-01", periods=10, freq="MS"), "y": 5.0}),
            pd.DataFrame(
                {
                    "unique_id": "returns",
                    "ds": pd.date_range("2020-01-01", periods=48, freq="MS"),
                    "y": np.r_[-1.0, np.ones(47)],
                }
            ),
        ]
    )
    assert list(gm.eligible(df, 24)) == ["s0", "s1"]


def test_blend_moves_the_mean_and_keeps_the_calibrated_spread() -> None:
    df = _panel(8, months=48, noise=0.02)
    local = fit_series(df, 6, n_jobs=1, temporal_levels=(), global_member=False)
    glob = gm.global_forecast(df, 6, n_estimators=50, num_threads=1)
    same = blend(local, glob, 0.0)
    full = blend(local, glob, 1.0)
    half = blend(local, glob, 0.5)
    for uid, f in local.items():
        g = glob.loc[glob["unique_id"] == uid, "global"].to_numpy()
        np.testing.assert_allclose(same[uid].mean, f.mean)
        np.testing.assert_allclose(full[uid].mean, g)
        np.testing.assert_allclose(half[uid].mean, (f.mean + g) / 2)
        np.testing.assert_allclose(half[uid].cov, f.cov)
        assert half[uid].df == f.df


def test_fit_series_blends_only_the_series_the_global_member_serves() -> None:
    short = pd.DataFrame(
        {"unique_id": "zz_short", "ds": pd.date_range("2022-06-01", periods=18, freq="MS"), "y": 50.0 + np.arange(18)}
    )
    df = pd.concat([_panel(8, months=48, noise=0.02), short], ignore_index=True)
    off = fit_series(df, 6, n_jobs=1, temporal_levels=(), global_member=False)
    on = fit_series(df, 6, n_jobs=1, temporal_levels=(), global_member=True, global_weight=0.5)
    np.testing.assert_allclose(on["zz_short"].mean, off["zz_short"].mean)
    assert any(not np.allclose(on[u].mean, off[u].mean) for u in off if u != "zz_short")


def _spiky_panel(n_series: int = 8, months: int = 60, seed: int = 1) -> pd.DataFrame:
    """Flat seasonal series with a one-month spike (x 4) in about one month in ten, none in the
    last year: the typical month-over-month change is 0, the spikes' changes are +-log 4."""
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    rows = []
    for i in range(n_series):
        level = 100.0 * (i + 1)
        y = level * (1 + 0.1 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.02, months))
        spikes = (rng.random(months) < 0.1) & (t < months - 12)
        y = np.where(spikes, 4 * y, y)
        rows.append(
            pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2020-01-01", periods=months, freq="MS"), "y": y})
        )
    return pd.concat(rows, ignore_index=True)


def test_the_absolute_loss_keeps_rare_spikes_from_compounding_into_growth() -> None:
    df = _spiky_panel()
    last_year = df.groupby("unique_id")["y"].apply(lambda s: s.iloc[-12:].mean())

    def drift(objective: str) -> float:
        """Mean log ratio of the forecast year to the last (spike-free) year: 0 for a flat series."""
        fc = gm.global_forecast(df, 12, n_estimators=100, num_threads=1, objective=objective)
        return float(np.log(fc.groupby("unique_id")["global"].mean() / last_year).mean())

    l1, l2 = drift("l1"), drift("l2")
    # The absolute loss learns the median change and keeps the level; the squared loss chases the
    # spikes' large changes, and the recursion compounds its misses into a shifted level.
    assert abs(l1) < 0.05
    assert abs(l2) > abs(l1) + 0.1


def test_an_unknown_objective_is_refused() -> None:
    from pydantic import ValidationError

    from salesplan.forecast.engine import forecast_defaults
    from salesplan.settings import GlobalModelSettings

    with pytest.raises(ValueError, match="unknown objective 'huber'"):
        gm.global_forecast(_panel(months=48), 6, n_estimators=10, num_threads=1, objective="huber")
    settings = forecast_defaults().global_model.model_dump()
    assert settings["objective"] in gm.OBJECTIVES
    with pytest.raises(ValidationError, match="objective"):
        GlobalModelSettings.model_validate({**settings, "objective": "huber"})
