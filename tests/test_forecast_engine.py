"""The forecasting engine: input contract, interval shape, error model and sample paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesplan.forecast.engine import (
    DEFAULT_MODELS,
    ForecastInputError,
    _covariance,
    _disaggregate,
    _fit_error_model,
    _fit_members,
    _fit_on_scale,
    _temporal_view,
    fit_one,
    fit_series,
    fits_to_frame,
    forecast_file,
    forecast_frame,
    temporal_levels_for,
    validate_series,
    views_used,
)


def _seasonal(n: int, seed: int = 1, level: float = 100.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level + 0.5 * t + 15 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 3, n)


def _frame(series: dict[str, np.ndarray], start: str = "2022-01-01") -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame({"unique_id": k, "ds": pd.date_range(start, periods=len(v), freq="MS"), "y": v})
            for k, v in series.items()
        ],
        ignore_index=True,
    )


def test_forecast_frame_columns_and_interval_order() -> None:
    df = _frame({"a": _seasonal(40), "b": _seasonal(30, seed=2, level=50)})
    out = forecast_frame(df, 6, (80, 95), n_jobs=1)
    assert list(out.columns) == ["unique_id", "ds", "forecast", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert out.groupby("unique_id").size().to_dict() == {"a": 6, "b": 6}
    assert (out["lo_95"] <= out["lo_80"]).all() and (out["lo_80"] <= out["forecast"]).all()
    assert (out["forecast"] <= out["hi_80"]).all() and (out["hi_80"] <= out["hi_95"]).all()
    # Widths never shrink with the horizon.
    width = (out["hi_80"] - out["lo_80"]).groupby(out["unique_id"]).diff().dropna()
    assert (width >= -1e-9).all()
    first = out[out["unique_id"] == "a"]["ds"].iloc[0]
    assert first == pd.Timestamp("2025-05-01")


def test_forecast_follows_a_seasonal_pattern() -> None:
    y = _seasonal(48)
    out = forecast_frame(_frame({"a": y}), 12, n_jobs=1)
    t = np.arange(48, 60)
    truth = 100 + 0.5 * t + 15 * np.sin(2 * np.pi * t / 12)
    assert np.mean(np.abs(out["forecast"].to_numpy() - truth)) < 6  # noise sd is 3


def test_short_flat_zero_and_negative_series_get_finite_forecasts() -> None:
    df = _frame(
        {
            "new_rep": np.array([5.0, 7.0, 6.0, 8.0]),
            "flat": np.full(20, 3.0),
            "one": np.array([10.0]),
            "returns": np.tile([10.0, 0.0, -4.0, 12.0, 0.0, 9.0], 5),
        }
    )
    out = forecast_frame(df, 4, n_jobs=1)
    assert out[["forecast", "lo_80", "hi_95"]].notna().all().all()
    assert np.isfinite(out[["forecast", "lo_95", "hi_95"]].to_numpy()).all()
    flat = out[out["unique_id"] == "flat"]
    assert np.allclose(flat["forecast"], 3.0)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"unique_id": ["a"], "ds": ["2024-01-01"]}), "missing column(s) y"),
        (pd.DataFrame({"unique_id": ["a", "a"], "ds": ["2024-01-01", "2024-02-15"], "y": [1, 2]}), "not monthly"),
        (
            pd.DataFrame({"unique_id": ["a", "a"], "ds": ["2024-01-01", "2024-01-01"], "y": [1, 2]}),
            "duplicate month 2024-01",
        ),
        (
            pd.DataFrame({"unique_id": ["a", "a"], "ds": ["2024-01-01", "2024-02-01"], "y": [1, "x"]}),
            "'x' is not a number",
        ),
        (pd.DataFrame({"unique_id": ["a", "a"], "ds": ["2024-01-01", "soon"], "y": [1, 2]}), "'soon' is not a date"),
        (
            pd.DataFrame({"unique_id": ["a", "a"], "ds": ["2024-01-01", "2024-04-01"], "y": [1, 2]}),
            "missing month(s) 2024-02, 2024-03",
        ),
    ],
)
def test_bad_input_is_named(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(ForecastInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_series(frame)


def test_month_end_dates_are_accepted_and_gaps_can_be_filled() -> None:
    df = pd.DataFrame({"unique_id": "a", "ds": ["2024-01-31", "2024-02-29", "2024-04-30"], "y": [1.0, 2.0, 4.0]})
    out = validate_series(df, fill_gaps=0.0)
    assert out["ds"].tolist() == list(pd.date_range("2024-01-01", periods=4, freq="MS"))
    assert out["y"].tolist() == [1.0, 2.0, 0.0, 4.0]


def test_forecast_file_names_file_and_line(tmp_path) -> None:
    src = tmp_path / "series.csv"
    src.write_text("unique_id,ds,y\na,2024-01-01,1\na,2024-02-01,two\n", encoding="utf-8")
    with pytest.raises(ForecastInputError, match=r"series.csv, line 3: y value 'two' is not a number"):
        forecast_file(src, 3)
    with pytest.raises(ForecastInputError, match="file not found"):
        forecast_file(tmp_path / "nope.csv", 3)
    with pytest.raises(ForecastInputError, match="positive whole number"):
        forecast_file(src, 0)


def test_forecast_file_round_trip_csv_and_parquet(tmp_path) -> None:
    src = tmp_path / "series.parquet"
    _frame({"sku-1": _seasonal(30)}).to_parquet(src)
    out = tmp_path / "out" / "fc.csv"
    result = forecast_file(src, 5, (80, 95), out, n_jobs=1)
    back = pd.read_csv(out)
    assert list(back.columns) == list(result.columns)
    assert len(back) == 5
    assert np.allclose(back["forecast"], result["forecast"])


def test_error_model_recovers_known_structure() -> None:
    # Errors built as shared offset + random walk + noise: the fit should find the three parts.
    rng = np.random.default_rng(7)
    a, b, c, h, n = 4.0, 1.0, 9.0, 8, 4000
    e = (
        rng.normal(0, np.sqrt(c), (n, 1))
        + np.cumsum(np.hstack([np.zeros((n, 1)), rng.normal(0, np.sqrt(b), (n, h - 1))]), axis=1)
        + rng.normal(0, np.sqrt(a), (n, h))
    )
    fa, fb, fc = _fit_error_model(e, h)
    assert fa == pytest.approx(a, rel=0.15)
    assert fb == pytest.approx(b, rel=0.15)
    assert fc == pytest.approx(c, rel=0.15)
    cov = _covariance(fa, fb, fc, h)
    assert np.allclose(cov, np.cov(e.T), atol=1.5)


def test_paths_carry_the_covariance_so_sums_are_not_independent() -> None:
    f = fit_one(_seasonal(40), 6)
    paths = f.paths(20000, np.random.default_rng(0))
    assert paths.shape == (20000, 6)
    assert np.allclose(paths.mean(axis=0), f.mean, atol=4 * f.sd.max() / np.sqrt(20000) * 3)
    # The spread of the six-month sum matches 1' Σ 1 (scaled by the t variance), not sum(σ²).
    t_var = f.df / (f.df - 2)
    expected = np.sqrt(f.cov.sum() * t_var)
    assert paths.sum(axis=1).std() == pytest.approx(expected, rel=0.05)
    if f.cov[0, 1] > 0:
        assert expected > np.sqrt(np.trace(f.cov) * t_var)


# --------------------------------------------------------------------------------------
# Temporal views


def test_disaggregate_keeps_each_period_total_and_the_monthly_shape() -> None:
    periods = np.array([30.0, 60.0])
    shape = np.array([1.0, 2.0, 3.0, 4.0, 4.0, 4.0])
    out = _disaggregate(periods, shape, 3)
    assert out.reshape(-1, 3).sum(axis=1) == pytest.approx(periods)
    assert out[:3] == pytest.approx([5.0, 10.0, 15.0])  # proportional to 1:2:3
    assert out[3:] == pytest.approx([20.0, 20.0, 20.0])


def test_disaggregate_spreads_evenly_where_the_shape_has_zeros_or_returns() -> None:
    out = _disaggregate(np.array([9.0]), np.array([0.0, -3.0, 6.0]), 3)
    assert out.sum() == pytest.approx(9.0)
    # Period total 9, shape total 3: each month gets (9 - 3) / 3 = 2 more.
    assert out == pytest.approx([2.0, -1.0, 8.0])


@pytest.mark.parametrize(
    ("n", "expected"),
    [(40, []), (47, []), (48, [2]), (72, [2, 3]), (96, [2, 3, 4]), (144, [2, 3, 4, 6]), (288, [2, 3, 4, 6, 12])],
)
def test_temporal_views_need_enough_whole_periods(n: int, expected: list[int]) -> None:
    assert temporal_levels_for(n, 12) == expected
    assert temporal_levels_for(n, 1) == []
    assert temporal_levels_for(n, 12, levels=(3, 5, 24)) == ([3] if n // 3 >= 24 else [])


def test_temporal_view_forecasts_add_up_to_the_period_forecasts() -> None:
    y = _seasonal(96, seed=3)
    h = 12
    origins = np.arange(60, 96)
    means, runs = _fit_members(y, h + 2, origins, 12, DEFAULT_MODELS)
    mean_m = np.mean(list(means.values()), axis=0)
    runs_m = np.nanmean(np.stack(list(runs.values())), axis=0)
    vm, vr = _temporal_view(y, 3, h, origins, mean_m, runs_m, 12, DEFAULT_MODELS)
    assert set(vm) == set(means)
    agg = y.reshape(-1, 3).sum(axis=1)  # 96 months: 32 whole quarters, ending at the last month
    m_a, _ = _fit_members(agg, 4, [], 4, DEFAULT_MODELS)
    for name in vm:
        assert vm[name].reshape(-1, 3).sum(axis=1) == pytest.approx(m_a[name][:4])
        assert vr[name].shape == (len(origins), h)
    # At an origin inside a quarter, the quarter's forecast (from the 20 whole quarters
    # before it) is split in the shape of month 60 as seen and months 61, 62 as forecast.
    r = int(np.where(origins == 61)[0][0])
    _, runs_a = _fit_members(agg, 5, [20], 4, DEFAULT_MODELS)
    shape = np.array([y[60], *runs_m[r, :2]])
    for name in vm:
        assert vr[name][r, :2] == pytest.approx(runs_a[name][0, 0] * shape[1:] / shape.sum())


def test_fit_one_averages_the_views_it_has_history_for() -> None:
    y = _seasonal(80, seed=4)
    monthly = fit_one(y, 12, temporal_levels=())
    views = fit_one(y, 12)
    assert monthly.temporal_levels == (1,)
    assert views.temporal_levels == (1, 2, 3)
    assert not np.allclose(monthly.mean, views.mean)
    assert np.all(np.isfinite(views.mean)) and np.all(np.diff(views.sd) >= -1e-9)
    truth = 100 + 0.5 * np.arange(80, 92) + 15 * np.sin(2 * np.pi * np.arange(80, 92) / 12)
    assert np.mean(np.abs(views.mean - truth)) < 6


def test_views_used_counts_series_per_combination_of_views() -> None:
    fits = fit_series(
        _frame({"long": _seasonal(80), "short": _seasonal(40, seed=2), "mid": _seasonal(50)}), 3, n_jobs=1
    )
    table = views_used(fits)
    assert table.to_dict("records") == [
        {"views": "monthly", "series": 1},
        {"views": "monthly + 2 months", "series": 1},
        {"views": "monthly + 2, 3 months", "series": 1},
    ]
    assert views_used(fit_series(_frame({"a": _seasonal(80)}), 3, n_jobs=1, temporal_levels=())).to_dict("records") == [
        {"views": "monthly", "series": 1}
    ]


# ----------------------------------------------------------------------------- interval shape (step 6)


def test_empirical_shape_hits_the_series_own_error_quantiles() -> None:
    from scipy import stats

    from salesplan.forecast.engine import _empirical_shape

    rng = np.random.default_rng(3)
    sd = np.full(12, 2.0)
    # Heavy-tailed errors (t with 5 df): the fitted t must hit both wanted quantiles exactly.
    errors = 2.0 * rng.standard_t(5, size=(400, 12))
    factor, df = _empirical_shape(errors, sd, np.inf)
    z = np.abs(errors / sd)
    for level in (80, 95):
        wanted = np.quantile(z, level / 100)
        assert factor * stats.t.ppf(0.5 + level / 200, df) == pytest.approx(wanted, rel=1e-6)
    assert 3.5 < df < 9
    # Normal errors with the modelled size: nearly normal, scale near 1.
    factor_n, df_n = _empirical_shape(2.0 * rng.standard_normal((400, 12)), sd, np.inf)
    assert df_n > 30 and factor_n == pytest.approx(1.0, abs=0.08)
    # Few independent error paths widen both quantiles by the t / normal ratio.
    normal = 2.0 * rng.standard_normal((400, 12))
    (f_many, df_many), (f_few, df_few) = _empirical_shape(normal, sd, np.inf), _empirical_shape(normal, sd, 4.0)
    width_many, width_few = (f * stats.t.ppf([0.9, 0.975], d) for f, d in ((f_many, df_many), (f_few, df_few)))
    assert np.allclose(width_few / width_many, stats.t.ppf([0.9, 0.975], 4.0) / stats.norm.ppf([0.9, 0.975]))
    # Too few errors: the error model's own t is kept.
    assert _empirical_shape(errors[:1, :10], sd, 7.0) == (1.0, 7.0)


def test_final_prediction_error_widens_short_series_most() -> None:
    from salesplan.forecast.engine import CARRIED_PARAMETERS, _fpe

    assert _fpe(48) == pytest.approx((48 + CARRIED_PARAMETERS) / (48 - CARRIED_PARAMETERS))
    assert _fpe(36) > _fpe(120) > 1.0
    y = _seasonal(60)
    shaped = fit_one(y, 12)
    plain = fit_one(y, 12, interval_shape="t")
    assert np.allclose(shaped.mean, plain.mean)
    assert shaped.df >= 3
    with pytest.raises(ValueError, match="interval_shape"):
        fit_one(y, 12, interval_shape="magic")


def test_quantiles_follow_the_interval_bounds() -> None:
    f = fit_one(_seasonal(60), 6, last_ds=pd.Timestamp("2026-10-01"))
    q = f.quantiles([0.1, 0.5, 0.9])
    frame = fits_to_frame({"x": f}, (80,))
    assert np.allclose(q[1], f.mean)
    assert np.allclose(q[0], frame["lo_80"]) and np.allclose(q[2], frame["hi_80"])


def test_members_on_the_log_scale_are_taken_back_by_exp() -> None:
    y = _seasonal(60)
    prefixes = [36, 48]
    level_means, _ = _fit_members(y, 6, prefixes, 12, ["theta"])
    log_means, log_runs = _fit_members(np.log(y), 6, prefixes, 12, ["theta"])
    means, runs = _fit_on_scale(y, 6, prefixes, 12, ["theta"], "log")
    assert list(means) == ["theta"]
    assert np.allclose(means["theta"], np.exp(log_means["theta"]))
    assert np.allclose(runs["theta"], np.exp(log_runs["theta"]), equal_nan=True)
    both, _ = _fit_on_scale(y, 6, prefixes, 12, ["theta", "ces"], "both", log_members=["theta"])
    assert sorted(both) == ["ces", "log theta", "theta"]
    assert np.allclose(both["theta"], level_means["theta"])
    only, _ = _fit_on_scale(y, 6, prefixes, 12, ["theta", "ces"], "log", log_members=["ces"])
    assert np.allclose(only["theta"], level_means["theta"]) and not np.allclose(only["ces"], both["ces"])


def test_a_series_with_a_zero_stays_on_its_own_scale() -> None:
    y = _seasonal(60)
    y[10] = 0.0
    level, _ = _fit_members(y, 6, [36], 12, ["theta"])
    means, _ = _fit_on_scale(y, 6, [36], 12, ["theta"], "log")
    assert np.allclose(means["theta"], level["theta"])
    with pytest.raises(ValueError, match="member scale"):
        _fit_on_scale(y, 6, [36], 12, ["theta"], "sqrt")


def test_member_scale_reaches_every_view_through_fit_series() -> None:
    y = 50 * np.exp(0.01 * np.arange(96)) * (1 + 0.2 * np.sin(2 * np.pi * np.arange(96) / 12))
    df = _frame({"a": y})
    level = fit_series(df, 12, n_jobs=1)["a"]
    logged = fit_series(df, 12, n_jobs=1, member_scale="log")["a"]
    assert logged.temporal_levels == level.temporal_levels and len(level.temporal_levels) > 1
    assert not np.allclose(logged.mean, level.mean)


def test_engine_defaults_are_the_settings_defaults() -> None:
    from salesplan.config import load_defaults
    from salesplan.forecast.engine import (
        DEFAULT_TEMPORAL_LEVELS,
        DEFAULT_TEMPORAL_MIN_POINTS,
        engine_options,
        forecast_defaults,
    )

    yaml_forecast = load_defaults()["forecast"]
    assert list(DEFAULT_TEMPORAL_LEVELS) == yaml_forecast["temporal_levels"]
    assert yaml_forecast["temporal_min_points"] == DEFAULT_TEMPORAL_MIN_POINTS
    opts = engine_options(None)
    assert opts == engine_options(forecast_defaults())
    assert opts["max_origins"] == yaml_forecast["max_origins"]
    # A dict section (as notebooks pass it) and the typed section give the same options.
    changed = {**yaml_forecast, "max_origins": 7, "temporal_levels": []}
    assert engine_options(changed) == {**opts, "max_origins": 7, "temporal_levels": ()}
    # The global member's setting reaches every fit through the same options.
    assert opts["global_member"] is yaml_forecast["global_model"]["enabled"]
    switched = {**yaml_forecast, "global_model": {**yaml_forecast["global_model"], "enabled": True, "weight": 0.4}}
    assert engine_options(switched)["global_member"] is True and engine_options(switched)["global_weight"] == 0.4
    # The band's tilt with the months ahead too: the setting reaches the fits it changes.
    assert opts["horizon_growth"] == yaml_forecast["horizon_growth"]
    assert engine_options({**yaml_forecast, "horizon_growth": 1.0})["horizon_growth"] == 1.0
