"""Fitted series kept on disk, keyed by what the fit depends on, so no series is fitted twice.

A local fit (:func:`salesplan.forecast.engine.fit_one`) is a pure function of the series'
values, the horizon and the engine's options. The same series comes back month after month:
the P(hit) recalibration refits every series cut 12 and 24 months back
(:func:`salesplan.forecast.landing.backtest_cuts`), which is exactly the history the monthly
run fitted a year and two years earlier; a page run again, or a what-if run on the same data,
fits the same series as the run before it.

The key of a fit is the SHA-256 of:

- the series' values (float64 bytes, in order) and the horizon;
- the engine's options that change the fit (errors kept or not are not among them: a stored
  fit always keeps them, and they are dropped on the way out when not asked for);
- this store's format, the package version, statsforecast's version and the bytes of the
  engine's source (``engine.py``), so a change to the method never reads a fit made by
  another one.

Each fit is one ``<key[:2]>/<key>.npz`` (NumPy arrays, no pickle; the scalars as JSON),
written beside its final name and renamed into place, so a process stopped while writing
leaves no half file. One call of :func:`~salesplan.forecast.engine.fit_series` looks up,
fits and writes under the store's lock (:func:`locked`), so two processes asking for the
same series fit it once. A file that cannot be read is refitted and written again.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMAT = 1
# Options that only say what is kept of a fit, not how it is made.
_NOT_IN_KEY = frozenset({"keep_errors", "source"})
_ARRAYS = ("mean", "cov", "cv_errors", "cv_origins", "y")


@cache
def _method_fingerprint() -> str:
    """What the fits depend on besides their inputs: the engine's code and library versions."""
    import statsforecast

    from salesplan import __version__

    engine = Path(__file__).with_name("engine.py").read_bytes()
    parts = [str(FORMAT), __version__, statsforecast.__version__, hashlib.sha256(engine).hexdigest()]
    return "|".join(parts)


def fit_key(y: np.ndarray, horizon: int, options: Mapping[str, Any]) -> str:
    """SHA-256 identifying the fit of values ``y`` over ``horizon`` months with ``options``
    (:func:`~salesplan.forecast.engine.fit_one`'s keywords; ``keep_errors`` and ``source`` left out)."""
    digest = hashlib.sha256(_method_fingerprint().encode())
    digest.update(np.ascontiguousarray(np.asarray(y, dtype=np.float64)).tobytes())
    kept = {k: v for k, v in options.items() if k not in _NOT_IN_KEY}
    digest.update(json.dumps({"horizon": int(horizon), "options": kept}, sort_keys=True, default=list).encode())
    return digest.hexdigest()


def locked(store: str | os.PathLike[str]) -> Any:
    """The store's lock (a :class:`filelock.FileLock` on ``<store>/.lock``, taken with
    ``with``): the fits of one call are looked up, made and written while it is held, so a
    second process asking for the same series waits and reads them instead of fitting them too."""
    from filelock import FileLock

    Path(store).mkdir(parents=True, exist_ok=True)
    return FileLock(str(Path(store) / ".lock"))


def _path(store: Path, key: str) -> Path:
    return store / key[:2] / f"{key}.npz"


def read_fit(store: str | os.PathLike[str], key: str, unique_id: str, last_ds: pd.Timestamp) -> dict[str, Any] | None:
    """The fields of the fit stored under ``key`` (a
    :class:`~salesplan.forecast.engine.SeriesForecast`'s), labelled ``unique_id`` and
    ``last_ds``; None when there is none or the file cannot be read."""
    try:
        with np.load(_path(Path(store), key), allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            arrays = {name: (stored[name] if name in stored.files else None) for name in _ARRAYS}
    except (OSError, ValueError, KeyError):
        return None
    return dict(
        unique_id=unique_id,
        last_ds=pd.Timestamp(last_ds),
        mean=arrays["mean"],
        cov=arrays["cov"],
        df=float(meta["df"]),
        weights={str(k): float(v) for k, v in meta["weights"].items()},
        temporal_levels=tuple(int(k) for k in meta["temporal_levels"]),
        n_origins=int(meta["n_origins"]),
        cv_errors=arrays["cv_errors"],
        cv_origins=arrays["cv_origins"],
        y=arrays["y"],
        lower=float(meta["lower"]),
    )


def write_fit(store: str | os.PathLike[str], key: str, fit: Any) -> Path:
    """Store ``fit`` (a :class:`~salesplan.forecast.engine.SeriesForecast`) under ``key``:
    written beside its name, then renamed into place."""
    target = _path(Path(store), key)
    target.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "df": float(fit.df),
        "weights": {str(k): float(v) for k, v in fit.weights.items()},
        "temporal_levels": [int(k) for k in fit.temporal_levels],
        "n_origins": int(fit.n_origins),
        "lower": float(fit.lower),
    }
    arrays = {name: np.asarray(getattr(fit, name)) for name in _ARRAYS if getattr(fit, name) is not None}
    partial = target.with_name(f".{target.stem}.{uuid.uuid4().hex}.npz")
    try:
        np.savez(partial, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def stored_or_missing(
    store: str | os.PathLike[str],
    items: Iterable[tuple[str, pd.Timestamp, np.ndarray]],
    horizon: int,
    options: Mapping[str, Any],
    fit_type: Callable[..., Any],
) -> tuple[dict[str, Any], list[tuple[str, pd.Timestamp, np.ndarray]], dict[str, str]]:
    """Split ``(unique_id, last_ds, y)`` items into the fits found in ``store`` (built with
    ``fit_type``, the engine's ``SeriesForecast``) and the items still to fit; also returns
    each series' key (for :func:`write_fits`)."""
    found, missing, keys = {}, [], {}
    for uid, last_ds, y in items:
        keys[uid] = fit_key(y, horizon, options)
        fields = read_fit(store, keys[uid], uid, last_ds)
        if fields is None:
            missing.append((uid, last_ds, y))
        else:
            found[uid] = fit_type(**fields)
    return found, missing, keys


def write_fits(store: str | os.PathLike[str], fits: Iterable[Any], keys: Mapping[str, str]) -> None:
    """Store each of ``fits`` under its series' key."""
    for fit in fits:
        write_fit(store, keys[fit.unique_id], fit)


def fit_with_store(
    store: str | os.PathLike[str],
    items: Iterable[tuple[str, pd.Timestamp, np.ndarray]],
    horizon: int,
    options: Mapping[str, Any],
    fit_type: Callable[..., Any],
    fit_missing: Callable[[list[tuple[str, pd.Timestamp, np.ndarray]], dict[str, Any]], Iterable[Any]],
) -> list[Any]:
    """The fits of ``(unique_id, last_ds, y)`` items: those in ``store`` read (as ``fit_type``),
    the others made by ``fit_missing(items, options)`` and stored, all under the store's lock
    (:func:`locked`). Fits are made and stored with their errors, which a caller whose
    ``options`` do not keep them (``keep_errors``) gets without."""
    wanted = bool(options.get("keep_errors"))
    # A stored fit serves every caller, with or without errors: it always keeps them.
    options = {**options, "keep_errors": True}
    with locked(store):
        found, missing, keys = stored_or_missing(store, items, horizon, options, fit_type)
        made = list(fit_missing(missing, options)) if missing else []
        write_fits(store, made, keys)
    fits = [*made, *found.values()]
    return fits if wanted else [without_errors(f) for f in fits]


def without_errors(fit: Any) -> Any:
    """``fit`` without its cross-validation errors, origins and values (what a caller that did
    not ask for them gets)."""
    return replace(fit, cv_errors=None, cv_origins=None, y=None)
