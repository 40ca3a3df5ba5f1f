"""The store of fitted series: the same fits with or without it, and no series fitted twice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesplan.forecast import engine, fitstore
from salesplan.forecast.engine import fit_series
from salesplan.forecast.landing import backtest_cuts

# Short options keep the fits quick; the store does not care which options they are.
OPTIONS = {"max_origins": 6, "temporal_levels": (), "global_member": False}


def _series(n_series: int = 3, months: int = 40, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2022-01-01", periods=months, freq="MS")
    season = 1 + 0.3 * np.sin(2 * np.pi * np.arange(months) / 12)
    frames = [
        pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": 100 * (i + 1) * season + rng.normal(0, 5, months)})
        for i in range(n_series)
    ]
    return pd.concat(frames, ignore_index=True)


def _same(a: engine.SeriesForecast, b: engine.SeriesForecast) -> None:
    assert a.unique_id == b.unique_id and a.last_ds == b.last_ds
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.cov, b.cov)
    assert (a.df, a.weights, a.temporal_levels, a.n_origins, a.lower) == (
        b.df,
        b.weights,
        b.temporal_levels,
        b.n_origins,
        b.lower,
    )
    for name in ("cv_errors", "cv_origins", "y"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("keep_errors", [False, True])
def test_stored_fits_are_the_fits(tmp_path, keep_errors, monkeypatch):
    data = _series()
    fresh = fit_series(data, 6, n_jobs=1, keep_errors=keep_errors, **OPTIONS)
    first = fit_series(data, 6, n_jobs=1, keep_errors=keep_errors, store=tmp_path, **OPTIONS)
    assert len(list(tmp_path.rglob("*.npz"))) == 3
    monkeypatch.setattr(engine, "_fit_chunk", lambda args: pytest.fail("a stored series was fitted again"))
    again = fit_series(data, 6, n_jobs=1, keep_errors=keep_errors, store=tmp_path, **OPTIONS)
    assert list(fresh) == list(first) == list(again) == ["s0", "s1", "s2"]
    for uid in fresh:
        _same(fresh[uid], first[uid])
        _same(fresh[uid], again[uid])
    # Errors are kept in the store whatever the caller asked for, and given only when asked.
    assert (again["s0"].cv_errors is not None) is keep_errors


def test_only_the_series_not_stored_are_fitted(tmp_path, monkeypatch):
    data = _series()
    fit_series(data[data["unique_id"] != "s2"], 6, n_jobs=1, store=tmp_path, **OPTIONS)
    fitted: list[str] = []
    real = engine._fit_chunk

    def counting(args):
        fitted.extend(uid for uid, _, _ in args[0])
        return real(args)

    monkeypatch.setattr(engine, "_fit_chunk", counting)
    fits = fit_series(data, 6, n_jobs=1, store=tmp_path, **OPTIONS)
    assert fitted == ["s2"]
    assert list(fits) == ["s0", "s1", "s2"]


def test_the_key_follows_what_the_fit_depends_on():
    y = np.arange(30, dtype=float)
    key = fitstore.fit_key(y, 12, {"season_length": 12, "keep_errors": False})
    assert fitstore.fit_key(y, 12, {"season_length": 12, "keep_errors": True}) == key
    changed = y.copy()
    changed[3] += 0.01
    assert fitstore.fit_key(changed, 12, {"season_length": 12}) != key
    assert fitstore.fit_key(y, 6, {"season_length": 12}) != key
    assert fitstore.fit_key(y, 12, {"season_length": 4}) != key
    assert fitstore.fit_key(y[1:], 12, {"season_length": 12}) != key


def test_the_band_setting_reaches_the_fits_and_their_keys(tmp_path):
    data = _series(n_series=1)
    flat = fit_series(data, 6, n_jobs=1, store=tmp_path, **OPTIONS)
    tilted = fit_series(data, 6, n_jobs=1, store=tmp_path, horizon_growth=1.0, **OPTIONS)
    # Another band, the same point forecast, and a fit of its own in the store.
    np.testing.assert_array_equal(flat["s0"].mean, tilted["s0"].mean)
    assert not np.allclose(flat["s0"].cov, tilted["s0"].cov)
    assert len(list(tmp_path.rglob("*.npz"))) == 2


def test_an_unreadable_fit_is_fitted_and_written_again(tmp_path):
    data = _series(n_series=1)
    first = fit_series(data, 6, n_jobs=1, store=tmp_path, **OPTIONS)
    (stored,) = tmp_path.rglob("*.npz")
    stored.write_bytes(b"half a file")
    again = fit_series(data, 6, n_jobs=1, store=tmp_path, **OPTIONS)
    _same(first["s0"], again["s0"])
    assert np.load(stored, allow_pickle=False)["mean"].shape == (6,)
    # Nothing half-written is left beside it.
    assert [p.name for p in tmp_path.rglob("*") if p.is_file() and p.name != ".lock"] == [stored.name]


def test_the_p_hit_cuts_reuse_the_forecasts_of_earlier_months(tmp_path, monkeypatch):
    """A cut 12 months back is the history the forecast of 12 months earlier was fitted on."""
    data = _series(months=48)
    pos = data.groupby("unique_id").cumcount()
    earlier = fit_series(data[pos < 36], 12, n_jobs=1, store=tmp_path, **OPTIONS)
    monkeypatch.setattr(engine, "_fit_chunk", lambda args: pytest.fail("the cut was fitted again"))
    (cut,) = backtest_cuts(data, back=(12,), n_jobs=1, store=tmp_path, **OPTIONS)
    assert set(cut.fits) == set(earlier)
    for uid, fit in cut.fits.items():
        np.testing.assert_array_equal(fit.mean, earlier[uid].mean)
