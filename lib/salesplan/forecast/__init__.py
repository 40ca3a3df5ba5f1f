"""Forecasts, calibrated intervals, hierarchy reconciliation, weighted pipeline, landing and P(hit).

Submodules: ``engine`` (any monthly series: models, cross-validation, calibrated intervals,
sample paths, ``forecast_frame`` / ``forecast_file``), ``backends`` (the same fits on this
machine or on a Dask, Spark or Ray cluster through Fugue: ``fit_series_on``),
``reconcile`` (coherent hierarchy), ``pipeline`` (stage win rates, weighted pipeline,
blend), ``landing`` (year-end landing, P(hit), its recalibration on backtests, Brier
score), ``backtest`` (rolling-origin accuracy vs seasonal naive) and ``hierarchy`` (the
workbook's company forecast and landing table).
"""

import warnings

# statsforecast's and hierarchicalforecast's progress bars import tqdm.auto, which in a notebook
# kernel without ipywidgets (a server with the main dependencies only) warns on every run; the
# engine shows no progress bar, so the warning says nothing about the forecast.
warnings.filterwarnings("ignore", message="IProgress not found", module="tqdm")

from salesplan.forecast.backends import (
    BackendError,
    fit_series_distributed,
    fit_series_on,
    forecast_file_on,
)
from salesplan.forecast.backtest import backtest
from salesplan.forecast.engine import (
    ForecastInputError,
    SeriesForecast,
    engine_options,
    fit_series,
    fits_to_frame,
    forecast_file,
    forecast_frame,
    validate_series,
    views_used,
)
from salesplan.forecast.hierarchy import (
    HierarchyForecast,
    annual_targets,
    forecast_hierarchy,
    hierarchy_series,
    hit_calibration,
    landing_table,
    summary_backtest,
    target_series,
)
from salesplan.forecast.landing import (
    BacktestCut,
    HitCalibration,
    LandingDistribution,
    backtest_cuts,
    brier_score,
    fit_hit_calibration,
    hit_backtest,
    hit_pairs,
    landing_distribution,
    landing_samples,
    landing_summary,
    plan_hit_probability,
    prob_hit,
    reliability_noise_floor,
    reliability_table,
    worst_decile,
)
from salesplan.forecast.pipeline import blend, pipeline_coverage, stage_win_rates, weighted_pipeline
from salesplan.forecast.reconcile import parse_id, reconcile, series_id

__all__ = [
    "BackendError",
    "BacktestCut",
    "ForecastInputError",
    "HierarchyForecast",
    "HitCalibration",
    "LandingDistribution",
    "SeriesForecast",
    "annual_targets",
    "backtest",
    "backtest_cuts",
    "blend",
    "brier_score",
    "fit_hit_calibration",
    "engine_options",
    "fit_series",
    "fit_series_distributed",
    "fit_series_on",
    "fits_to_frame",
    "forecast_file",
    "forecast_file_on",
    "forecast_frame",
    "forecast_hierarchy",
    "hierarchy_series",
    "hit_backtest",
    "hit_calibration",
    "hit_pairs",
    "landing_distribution",
    "landing_samples",
    "landing_summary",
    "landing_table",
    "parse_id",
    "pipeline_coverage",
    "plan_hit_probability",
    "prob_hit",
    "reconcile",
    "reliability_noise_floor",
    "reliability_table",
    "series_id",
    "stage_win_rates",
    "summary_backtest",
    "target_series",
    "validate_series",
    "views_used",
    "weighted_pipeline",
    "worst_decile",
]
