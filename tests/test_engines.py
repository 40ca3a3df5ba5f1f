"""The forecast on a cluster: the Fugue backend on a local Dask cluster (loopback only) gives
the local engine's forecasts; the command line reaches it with --engine/--address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesplan.cli import main
from salesplan.forecast import BackendError, fit_series, fit_series_distributed, fit_series_on, fits_to_frame
from salesplan.forecast.backends import fugue_engine

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # a local Dask cluster: make test-all


def short_series(n_series: int, seed: int = 11) -> pd.DataFrame:
    """Monthly series of 14-40 months (one in ten 48-60, long enough for a two-month view):
    trend, season and noise at different levels, so the fits take the non-seasonal,
    seasonal and temporal-view paths."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_series):
        n = int(rng.integers(48, 61)) if i % 10 == 0 else int(rng.integers(14, 41))
        t = np.arange(n)
        level = rng.uniform(50, 5000)
        y = level * (1 + 0.01 * t + 0.15 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 0.05 * level, n).cumsum() * 0.3
        start = pd.Timestamp("2021-01-01") + pd.DateOffset(months=int(rng.integers(0, 12)))
        parts.append(pd.DataFrame({"unique_id": f"s{i:04d}", "ds": pd.date_range(start, periods=n, freq="MS"), "y": y}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """Two single-threaded worker processes on 127.0.0.1; stopped after the module."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as local:
        address = local.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        yield address


def test_dask_backend_gives_the_local_forecasts(cluster: str) -> None:
    series = short_series(60)
    local = fit_series(series, 6, n_jobs=2)
    remote = fit_series_on(series, 6, "dask", cluster, partitions=8)
    # The local engine returns series in its worker-chunk order, the backend sorted by id.
    assert list(remote) == sorted(local) and len(remote) == 60
    for uid, fit in local.items():
        other = remote[uid]
        np.testing.assert_allclose(other.mean, fit.mean, rtol=1e-9, atol=1e-9, err_msg=uid)
        np.testing.assert_allclose(other.cov, fit.cov, rtol=1e-9, atol=1e-9, err_msg=uid)
        assert (other.df, other.temporal_levels, other.last_ds, other.n_origins) == (
            fit.df,
            fit.temporal_levels,
            fit.last_ds,
            fit.n_origins,
        )
    # Several paths of the engine were exercised, not one.
    assert len({f.temporal_levels for f in local.values()}) > 1
    ordered = {uid: local[uid] for uid in sorted(local)}
    pd.testing.assert_frame_equal(fits_to_frame(remote), fits_to_frame(ordered), check_exact=False, rtol=1e-9)


def test_dask_backend_keeps_the_errors_and_options(cluster: str) -> None:
    series = short_series(12, seed=5)
    options = {"season_length": 12, "max_origins": 12, "temporal_levels": (), "keep_errors": True}
    local = fit_series(series, 3, n_jobs=1, **options)
    remote = fit_series_distributed(series, 3, "dask", cluster, **options)
    for uid, fit in local.items():
        assert remote[uid].temporal_levels == (1,)
        np.testing.assert_allclose(remote[uid].cv_errors, fit.cv_errors, rtol=1e-9, atol=1e-9, equal_nan=True)


def test_cli_forecast_on_the_cluster_writes_the_local_result(cluster: str, tmp_path: Path) -> None:
    source = tmp_path / "series.csv"
    short_series(20, seed=3).assign(ds=lambda d: d["ds"].dt.strftime("%Y-%m-%d")).to_csv(source, index=False)
    local_out, dask_out = tmp_path / "local.csv", tmp_path / "dask.csv"
    common = ["forecast", "--input", str(source), "--horizon", "4", "--levels", "80"]
    assert main([*common, "--out", str(local_out)]) == 0
    assert main([*common, "--out", str(dask_out), "--engine", "dask", "--address", cluster]) == 0
    # Compared in id order: the local engine writes series in its worker-chunk order.
    local, remote = (pd.read_csv(p).sort_values(["unique_id", "ds"], ignore_index=True) for p in (local_out, dask_out))
    assert len(local) == 20 * 4
    pd.testing.assert_frame_equal(remote, local, check_exact=False, rtol=1e-9)


def test_cli_refuses_an_engine_without_its_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "series.csv"
    short_series(2).to_csv(source, index=False)
    common = ["forecast", "--input", str(source), "--horizon", "2", "--out", str(tmp_path / "o.csv")]
    assert main([*common, "--engine", "spark"]) == 2
    assert "needs --address" in capsys.readouterr().err
    assert main([*common, "--address", "tcp://127.0.0.1:1"]) == 2
    assert "--address needs --engine" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_local_engine_is_fit_series() -> None:
    series = short_series(3, seed=2)
    a, b = fit_series_on(series, 2, "local", n_jobs=1), fit_series(series, 2, n_jobs=1)
    assert list(a) == list(b)
    for uid in a:
        np.testing.assert_array_equal(a[uid].mean, b[uid].mean)


def test_unknown_engines_and_missing_packages_are_named() -> None:
    series = short_series(2)
    with pytest.raises(BackendError, match="must be one of dask, spark, ray"):
        fit_series_distributed(series, 2, "local")
    with pytest.raises(BackendError, match="unknown forecast engine"), fugue_engine("hadoop"):
        pass
    with pytest.raises(BackendError, match="needs the master URL"), fugue_engine("spark"):
        pass
    try:
        import pyspark  # noqa: F401
    except ImportError:
        with pytest.raises(BackendError, match=r"fugue\[spark\]"), fugue_engine("spark", "local[1]"):
            pass


def test_unreachable_scheduler_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # A port on loopback nobody listens on: refused, retried until the timeout; nothing
    # leaves the machine.
    monkeypatch.setattr("salesplan.forecast.backends.CONNECT_TIMEOUT", "2s")
    with (
        pytest.raises(BackendError, match="cannot reach the Dask scheduler"),
        fugue_engine("dask", "tcp://127.0.0.1:9"),
    ):
        pass


def test_the_monthly_forecast_runs_on_the_cluster_with_the_same_result(cluster: str, tmp_path: Path) -> None:
    from salesplan.config import load_config
    from salesplan.cube import build_cube
    from salesplan.forecast import forecast_hierarchy
    from salesplan.io import load_data
    from salesplan.sample import write_sample

    write_sample(tmp_path / "raw", scale=0.05)
    config = load_config(Path(__file__).resolve().parents[1] / "config" / "salesplan.yaml")
    data = load_data(tmp_path / "raw", config, cache_dir=tmp_path / "cache")
    month = pd.Period("2026-09", freq="M")
    cube = build_cube(data).query("month <= @month.to_timestamp()")
    settings = {
        **config["forecast"],
        "p_hit_calibration": {**config["forecast"]["p_hit_calibration"], "method": "identity"},
    }
    here = forecast_hierarchy(cube, month, settings, pipeline=data.pipeline, reps=data.reps)
    there = forecast_hierarchy(
        cube, month, settings, pipeline=data.pipeline, reps=data.reps, engine="dask", address=cluster
    )
    assert len(here.forecast) > 100
    pd.testing.assert_frame_equal(there.forecast, here.forecast)


def test_the_month_context_fits_where_the_settings_say(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from salesplan import forecast, io
    from salesplan.sample import write_sample
    from salesplan.workbook import open_workbook

    write_sample(tmp_path / "raw", scale=0.05)
    config = tmp_path / "salesplan.yaml"
    project = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "salesplan.yaml").read_text("utf-8"))
    project = (project or {}) | {"engine": {"forecast": "dask", "address": "tcp://10.0.0.9:8786"}}
    config.write_text(yaml.safe_dump(project, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(io, "DEFAULT_CACHE_DIR", str(tmp_path / "cache"))
    seen: dict = {}

    def record(*args: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise RuntimeError("recorded")

    monkeypatch.setattr(forecast, "forecast_hierarchy", record)
    wb = open_workbook(data_dir=tmp_path / "raw", config_path=config, output_dir=tmp_path / "run")
    with pytest.raises(RuntimeError, match="recorded"):
        wb.forecast()
    assert seen["engine"] == "dask" and seen["address"] == "tcp://10.0.0.9:8786"


def test_dask_backend_blends_the_global_member_with_the_calibrated_band(cluster: str) -> None:
    pytest.importorskip("mlforecast")
    series = short_series(30, seed=7)
    local = fit_series(series, 4, n_jobs=2, global_member=True, global_weight=0.3)
    remote = fit_series_distributed(series, 4, "dask", cluster, global_member=True, global_weight=0.3)
    plain = fit_series(series, 4, n_jobs=2, global_member=False)
    assert list(remote) == sorted(local)
    for uid, fit in local.items():
        np.testing.assert_allclose(remote[uid].mean, fit.mean, rtol=1e-6, err_msg=uid)
        np.testing.assert_allclose(remote[uid].cov, fit.cov, rtol=1e-6, err_msg=uid)
        # Errors kept only to calibrate the band, then dropped as the caller did not ask for them.
        assert remote[uid].cv_errors is None and fit.cv_errors is None
    # The member moved the points of the series it serves, and the band was recalibrated.
    moved = [uid for uid in local if not np.allclose(local[uid].mean, plain[uid].mean)]
    assert moved


def test_the_cluster_reads_and_fills_the_same_store_of_fits(
    cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the series missing from the store go to the cluster; those it fits are stored."""
    from salesplan.forecast import backends

    series = short_series(12)
    some = series[series["unique_id"].isin(["s0000", "s0001", "s0002"])]
    fit_series_on(some, 6, "dask", cluster, store=tmp_path)
    sent: list[list[str]] = []
    real = backends._fit_on_cluster

    def counting(data: pd.DataFrame, *args: object) -> dict:
        sent.append(sorted(data["unique_id"].unique()))
        return real(data, *args)

    monkeypatch.setattr(backends, "_fit_on_cluster", counting)
    remote = fit_series_on(series, 6, "dask", cluster, store=tmp_path)
    assert sent == [sorted(set(series["unique_id"]) - {"s0000", "s0001", "s0002"})]
    local = fit_series(series, 6, n_jobs=1)
    assert list(remote) == sorted(local)
    for uid, fit in local.items():
        np.testing.assert_allclose(remote[uid].mean, fit.mean, rtol=1e-9, atol=1e-9, err_msg=uid)
        np.testing.assert_allclose(remote[uid].cov, fit.cov, rtol=1e-9, atol=1e-9, err_msg=uid)
    monkeypatch.setattr(backends, "_fit_on_cluster", lambda *a: pytest.fail("a stored series went to the cluster"))
    assert list(fit_series_on(series, 6, "dask", cluster, store=tmp_path)) == sorted(local)
