"""The month's forecast, fitted once and kept as Parquet and JSON for every page that needs it.

A :class:`~salesplan.forecast.hierarchy.HierarchyForecast` is written to a folder:

- ``history.parquet``, ``forecast.parquet`` and, with a pipeline, ``win_rates.parquet``,
  ``pipeline.parquet``, ``blend_weights.parquet`` (tidy tables, readable by any tool);
- ``fits.parquet``: one row per series with its point forecast, error covariance (flattened),
  degrees of freedom, lower bound and cross-validation errors (list columns);
- ``meta.json``: the month, levels, reconciliation, horizon and season length, the P(hit) recalibration and the
  ``key`` the forecast was made for (inputs, month and forecast settings).

:func:`load_or_fit` reads the folder when its key matches, else fits and writes it (under a
file lock, so two notebooks started together fit it once).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesplan.forecast.engine import SeriesForecast
from salesplan.forecast.hierarchy import HierarchyForecast
from salesplan.forecast.landing import HitCalibration

# 2: fits carry their lower bound (feasible bands) and the P(hit) calibration its min_months.
# 3: a rep's months after the leave date are forecast as nothing.
FORMAT = 4
_FRAMES = ("history", "forecast", "win_rates", "pipeline", "blend_weights")


def forecast_key(inputs: Any, month: str, settings: Mapping[str, Any]) -> str:
    """SHA-256 identifying a forecast: the input files' hashes, the month, the forecast settings,
    the package version and this storage format."""
    from salesplan import __version__

    payload = json.dumps(
        {"inputs": inputs, "month": str(month), "settings": settings, "version": __version__, "format": FORMAT},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _flat(a: np.ndarray | None) -> tuple[list[float] | None, list[int] | None]:
    if a is None:
        return None, None
    arr = np.asarray(a, dtype=float)
    return arr.reshape(-1).tolist(), list(arr.shape)


def _unflat(values: Any, shape: Any) -> np.ndarray | None:
    if values is None or shape is None:
        return None
    return np.asarray(values, dtype=float).reshape([int(s) for s in shape])


def save_forecast(fc: HierarchyForecast, folder: str | os.PathLike[str], key: str) -> Path:
    """Write ``fc`` to ``folder`` (replaced whole: built beside it, then renamed into place)."""
    target = Path(folder)
    build = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    build.mkdir(parents=True)
    try:
        for name in _FRAMES:
            frame = getattr(fc, name)
            if frame is not None:
                frame.to_parquet(build / f"{name}.parquet", index=False)
        rows = []
        for uid, f in fc.fits.items():
            cov, cov_shape = _flat(f.cov)
            errors, errors_shape = _flat(f.cv_errors)
            rows.append(
                {
                    "unique_id": uid,
                    "last_ds": pd.Timestamp(f.last_ds),
                    "mean": np.asarray(f.mean, dtype=float).tolist(),
                    "cov": cov,
                    "cov_shape": cov_shape,
                    "df": float(f.df),
                    "weights": json.dumps(f.weights, sort_keys=True),
                    "temporal_levels": [int(k) for k in f.temporal_levels],
                    "n_origins": int(f.n_origins),
                    "cv_errors": errors,
                    "cv_errors_shape": errors_shape,
                    "cv_origins": None if f.cv_origins is None else np.asarray(f.cv_origins, dtype=int).tolist(),
                    "y": None if f.y is None else np.asarray(f.y, dtype=float).tolist(),
                    "lower": float(f.lower),
                }
            )
        pd.DataFrame(rows).to_parquet(build / "fits.parquet", index=False)
        calibration = None
        if fc.calibration is not None:
            calibration = {
                k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v)
                for k, v in asdict(fc.calibration).items()
            }
        meta = {
            "format": FORMAT,
            "key": key,
            "month": str(fc.month),
            "levels": [int(v) for v in fc.levels],
            "reconciliation": fc.reconciliation,
            "horizon": int(fc.horizon),
            "season_length": int(fc.season_length),
            "calibration": calibration,
        }
        (build / "meta.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.rename(build, target)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return target


def stored_key(folder: str | os.PathLike[str]) -> str | None:
    """The key of the forecast stored in ``folder`` (None when there is none or it is unreadable)."""
    try:
        meta = json.loads((Path(folder) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta.get("key") if meta.get("format") == FORMAT else None


def load_forecast(folder: str | os.PathLike[str]) -> HierarchyForecast:
    """Read a forecast written by :func:`save_forecast`."""
    base = Path(folder)
    meta = json.loads((base / "meta.json").read_text(encoding="utf-8"))
    frames = {
        name: (pd.read_parquet(base / f"{name}.parquet") if (base / f"{name}.parquet").exists() else None)
        for name in _FRAMES
    }
    fits: dict[str, SeriesForecast] = {}
    for row in pd.read_parquet(base / "fits.parquet").to_dict(orient="records"):
        fits[row["unique_id"]] = SeriesForecast(
            unique_id=row["unique_id"],
            last_ds=pd.Timestamp(row["last_ds"]),
            mean=np.asarray(row["mean"], dtype=float),
            cov=_unflat(row["cov"], row["cov_shape"]),
            df=float(row["df"]),
            weights=json.loads(row["weights"]),
            temporal_levels=tuple(int(k) for k in row["temporal_levels"]),
            n_origins=int(row["n_origins"]),
            cv_errors=_unflat(row["cv_errors"], row["cv_errors_shape"]),
            cv_origins=None if row["cv_origins"] is None else np.asarray(row["cv_origins"], dtype=int),
            y=None if row["y"] is None else np.asarray(row["y"], dtype=float),
            lower=float(row.get("lower", float("-inf"))),
        )
    cal = meta.get("calibration")
    calibration = None
    if cal is not None:
        calibration = HitCalibration(
            **{k: (np.asarray(v, dtype=float) if k in ("knots_p", "knots_q") else v) for k, v in cal.items()}
        )
    return HierarchyForecast(
        month=pd.Period(meta["month"], freq="M"),
        history=frames["history"],
        forecast=frames["forecast"],
        fits=fits,
        levels=list(meta["levels"]),
        reconciliation=meta["reconciliation"],
        horizon=int(meta["horizon"]),
        season_length=int(meta["season_length"]),
        win_rates=frames["win_rates"],
        pipeline=frames["pipeline"],
        calibration=calibration,
        blend_weights=frames["blend_weights"],
    )


def load_or_fit(
    folder: str | os.PathLike[str], key: str, fit: Callable[[], HierarchyForecast]
) -> tuple[HierarchyForecast, bool]:
    """The forecast stored in ``folder`` for ``key``, fitted with ``fit()`` and stored when absent
    or stale; and whether this call fitted it."""
    from filelock import FileLock

    target = Path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The lock lives outside the folder's parent (a report folder publishes everything in it).
    lock = (
        Path(tempfile.gettempdir())
        / f"salesplan-forecast-{hashlib.sha256(str(target.resolve()).encode()).hexdigest()[:16]}.lock"
    )
    with FileLock(str(lock)):
        if stored_key(target) == key:
            return load_forecast(target), False
        fc = fit()
        save_forecast(fc, target, key)
        return fc, True
