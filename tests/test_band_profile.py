"""The band's growth with the months ahead: the horizon-dependent final prediction error."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from salesplan.forecast.engine import _fpe, _horizon_fpe, fit_one, forecast_defaults, recalibrate
from salesplan.settings import ForecastSettings


def _series(n: int = 72, seed: int = 3) -> np.ndarray:
    """A seasonal series with a wandering level, never negative."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + np.cumsum(rng.normal(0, 2, n)) + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 3, n)


def test_no_growth_is_the_flat_final_prediction_error() -> None:
    assert _horizon_fpe(60, 12, 0.0) == pytest.approx(np.full(12, _fpe(60)))


def test_growth_tilts_the_correction_around_the_pooled_errors() -> None:
    counts = np.arange(36, 18, -1)  # fewer errors observed the further ahead, as at rolling origins
    prof = _horizon_fpe(60, 18, 1.0, counts)
    assert np.all(np.diff(prof) > 0)
    assert prof[0] < _fpe(60) < prof[-1]
    # Centred on the errors the band's scale was read from: their weighted mean is unchanged.
    assert np.average(prof, weights=counts) == pytest.approx(_fpe(60))
    # Month k's share grows by growth / n per month.
    assert prof[-1] / prof[0] == pytest.approx(1 + 17 / 60)
    # A longer history is tilted less; a steeper growth more.
    long = _horizon_fpe(240, 18, 1.0, counts)
    assert (
        long[-1] / long[0]
        < prof[-1] / prof[0]
        < _horizon_fpe(60, 18, 2.0, counts)[-1] / _horizon_fpe(60, 18, 2.0, counts)[0]
    )


def test_a_fit_with_growth_keeps_its_point_forecast_and_correlation() -> None:
    y = _series()
    flat = fit_one(y, 12, temporal_levels=(), horizon_growth=0.0)
    tilted = fit_one(y, 12, temporal_levels=(), horizon_growth=1.0)
    np.testing.assert_allclose(tilted.mean, flat.mean)
    assert tilted.df == flat.df
    ratio = tilted.sd / flat.sd
    assert np.all(np.diff(ratio) > 0)
    assert ratio[0] < 1 < ratio[-1]
    assert ratio[-1] ** 2 / ratio[0] ** 2 == pytest.approx(1 + 11 / len(y))

    def corr(c: np.ndarray) -> np.ndarray:
        d = np.sqrt(np.diag(c))
        return c / np.outer(d, d)

    np.testing.assert_allclose(corr(tilted.cov), corr(flat.cov), atol=1e-12)
    np.linalg.cholesky(tilted.cov + 1e-9 * np.eye(12))  # still a covariance


def test_the_default_is_the_settings_value() -> None:
    y = _series(seed=5)
    default = fit_one(y, 6, temporal_levels=())
    given = fit_one(y, 6, temporal_levels=(), horizon_growth=forecast_defaults().horizon_growth)
    np.testing.assert_allclose(default.cov, given.cov)


def test_recalibrate_rebuilds_the_band_from_the_kept_errors() -> None:
    y = _series(seed=9)
    fit = fit_one(y, 12, temporal_levels=(), keep_errors=True, horizon_growth=0.0)
    np.testing.assert_allclose(recalibrate(fit, horizon_growth=0.0).cov, fit.cov, rtol=1e-10)
    direct = fit_one(y, 12, temporal_levels=(), keep_errors=True, horizon_growth=1.0)
    again = recalibrate(fit, horizon_growth=1.0)
    np.testing.assert_allclose(again.cov, direct.cov, rtol=1e-10)
    np.testing.assert_allclose(again.mean, fit.mean)
    with pytest.raises(ValueError, match="keep_errors"):
        recalibrate(fit_one(y, 12, temporal_levels=()), horizon_growth=1.0)


def test_a_negative_growth_is_refused() -> None:
    section = forecast_defaults().model_dump()
    with pytest.raises(ValidationError, match="horizon_growth"):
        ForecastSettings.model_validate({**section, "horizon_growth": -0.5})
