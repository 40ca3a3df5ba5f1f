"""Coherent forecasts for a sales hierarchy: the parts add up to the whole.

Series are named ``total``, ``region=North``, ``product_line=Pumps``,
``region=North|product_line=Pumps`` (the bottom level), ``rep_id=R01``.

Method (``reconciliation`` in the ``forecast`` config):

* ``mint_shrink`` (default): minimum-trace reconciliation (Wickramasuriya, Athanasopoulos &
  Hyndman 2019), computed by hierarchicalforecast's ``MinTrace(method="mint_shrink")``. With ``S`` the summing matrix (every series as a sum of bottom series),
  ``yhat`` the base forecasts of all series and ``W`` the covariance of their one-month-ahead
  errors, shrunk towards its diagonal (Schäfer-Strimmer), the reconciled forecasts are

      ytilde = S (S' W^-1 S)^-1 S' W^-1 yhat

  Why: it uses every level's forecast (the total is usually forecast best, the bottom
  series carry the mix), weighting each by how reliable it has been, and it is the
  unbiased linear reconciliation with the smallest total error variance. The shrinkage
  keeps ``W`` invertible when there are more series than error months.
* ``bottom_up``: forecast the bottom series and add them up (``ytilde = S yhat_bottom``).
* ``ols``: ``W = I``.

Reps are reconciled to their region top-down: each rep's forecast is scaled by
``region_reconciled / sum(rep forecasts in the region)`` (the rep's own forecast sets its
share), so reps add up to their region and hence to the total.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

BOTTOM = ("region", "product_line")


def series_id(keys: dict[str, object]) -> str:
    """``{"region": "N", "product_line": "P"} -> "region=N|product_line=P"``; ``{} -> "total"``."""
    if not keys:
        return "total"
    return "|".join(f"{k}={v}" for k, v in keys.items())


def parse_id(uid: str) -> dict[str, str]:
    """Inverse of :func:`series_id`."""
    if uid == "total":
        return {}
    return dict(part.split("=", 1) for part in uid.split("|"))


def summing_matrix(bottom_ids: Sequence[str], all_ids: Sequence[str]) -> np.ndarray:
    """0/1 matrix ``S`` (len(all_ids) x len(bottom_ids)): ``S[i, j] = 1`` when bottom series j
    belongs to series i (its keys are a subset of j's keys)."""
    bottom = [parse_id(b) for b in bottom_ids]
    rows = []
    for uid in all_ids:
        keys = parse_id(uid)
        rows.append([all(b.get(k) == v for k, v in keys.items()) for b in bottom])
    return np.asarray(rows, dtype=float)


def _error_matrix(errors: pd.DataFrame, order: Sequence[str]) -> np.ndarray | None:
    """Series x months of one-month-ahead errors (NaN where a series has none), rows in
    ``order``; None with fewer than three months. A series without any error is given
    alternating errors of the largest size seen (deterministic, unrelated to the others), so
    it carries the largest variance, and so the least weight, rather than none."""
    ew = errors.pivot_table(index="ds", columns="unique_id", values="error", aggfunc="first").reindex(columns=order)
    ew = ew.dropna(how="all")
    if len(ew) < 3:
        return None
    e = ew.to_numpy(dtype=float).T
    empty = ~np.isfinite(e).any(axis=1)
    if empty.any():
        size = float(np.nanmax(np.sqrt(np.nanmean(e[~empty] ** 2, axis=1)))) if (~empty).any() else 1.0
        e[empty] = size * np.where(np.arange(e.shape[1]) % 2 == 0, 1.0, -1.0)
    return e


def _min_trace(s: np.ndarray, y_hat: np.ndarray, method: str, errors: np.ndarray | None) -> np.ndarray:
    """Reconciled ``y_hat`` (series x months, rows as ``s``) by hierarchicalforecast's ``MinTrace``:
    ``ols`` (``W = I``) or ``mint_shrink`` (``W`` = the errors' covariance shrunk towards its
    diagonal, Schäfer-Strimmer; ``ols`` when there are fewer than three months of errors)."""
    from hierarchicalforecast.methods import MinTrace

    if method == "mint_shrink" and errors is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return MinTrace(method="mint_shrink").fit_predict(
                    S=s, y_hat=y_hat, y_insample=errors, y_hat_insample=np.zeros_like(errors)
                )["mean"]
        except Exception:  # noqa: BLE001 - errors all ~0 (MinTrace refuses) or W ill-conditioned
            pass
    return MinTrace(method="ols").fit_predict(S=s, y_hat=y_hat)["mean"]


def reconcile(
    forecasts: pd.DataFrame,
    method: str = "mint_shrink",
    errors: pd.DataFrame | None = None,
    reps_region: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Make the hierarchy's forecasts coherent.

    ``forecasts``: ``unique_id, ds, forecast`` for ``total``, ``region=..``,
    ``product_line=..``, ``region=..|product_line=..`` and optionally ``rep_id=..``.
    ``errors``: ``unique_id, ds, error`` one-month-ahead errors (needed by ``mint_shrink``).
    ``reps_region``: rep_id -> region, for the rep level.

    Returns the same frame with ``forecast`` replaced by the coherent value and a column
    ``base_forecast`` holding the series' own forecast.
    """
    if method not in ("mint_shrink", "bottom_up", "ols"):
        raise ValueError(f"unknown reconciliation {method!r}: use mint_shrink, bottom_up or ols")
    if method == "mint_shrink" and errors is None:
        raise ValueError("reconcile: mint_shrink needs the one-month-ahead errors")
    out = forecasts.copy()
    out["base_forecast"] = out["forecast"]
    ids = list(dict.fromkeys(out["unique_id"]))
    hier = [u for u in ids if not u.startswith("rep_id=")]
    bottom = [u for u in hier if set(parse_id(u)) == set(BOTTOM)]
    if not bottom:
        raise ValueError("reconcile: no bottom series (region=..|product_line=..) in the forecasts")
    aggregates = [u for u in hier if u not in set(bottom)]
    order = aggregates + bottom  # hierarchicalforecast's layout: aggregates first, bottom rows = identity
    s = summing_matrix(bottom, order)
    wide = out.pivot(index="ds", columns="unique_id", values="forecast")[order]
    if method == "bottom_up":
        rec = wide[bottom].to_numpy() @ s.T
    else:
        rec = _min_trace(s, wide.to_numpy().T, method, None if errors is None else _error_matrix(errors, order)).T
    rec_df = (
        pd.DataFrame(rec, index=wide.index, columns=pd.Index(order, name="unique_id"))
        .stack()
        .rename("rec")
        .reset_index()
    )
    out = out.merge(rec_df, on=["ds", "unique_id"], how="left")
    out["forecast"] = out["rec"].where(out["rec"].notna(), out["forecast"])
    out = out.drop(columns="rec")

    reps = [u for u in ids if u.startswith("rep_id=")]
    if reps and reps_region:
        rep_rows = out["unique_id"].isin(reps)
        out["_region"] = out["unique_id"].str.removeprefix("rep_id=").map(reps_region)
        region_total = (
            out[out["unique_id"].str.match(r"^region=[^|]*$")]
            .assign(_region=lambda d: d["unique_id"].str.removeprefix("region="))[["ds", "_region", "forecast"]]
            .rename(columns={"forecast": "_target"})
        )
        rep_sum = out[rep_rows].groupby(["ds", "_region"])["forecast"].sum().rename("_sum").reset_index()
        out = out.merge(region_total, on=["ds", "_region"], how="left").merge(rep_sum, on=["ds", "_region"], how="left")
        factor = (out["_target"] / out["_sum"]).where(out["_sum"].abs() > 1e-9)
        scaled = out["forecast"] * factor
        out["forecast"] = np.where(rep_rows & scaled.notna(), scaled, out["forecast"])
        out = out.drop(columns=["_region", "_target", "_sum"])
    return out
