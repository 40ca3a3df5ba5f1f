"""Coherent forecasts for a sales hierarchy: the parts add up to the whole.

Series are named ``total``, ``region=North``, ``product_line=Pumps``,
``region=North|product_line=Pumps`` (the bottom level), ``rep_id=R01``.

Method (``reconciliation`` in the ``forecast`` config):

* ``mint_shrink`` (default): minimum-trace reconciliation (Wickramasuriya, Athanasopoulos &
  Hyndman 2019). With ``S`` the summing matrix (every series as a sum of bottom series),
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


def shrink_covariance(errors: np.ndarray) -> np.ndarray:
    """Covariance of the columns of ``errors`` (rows = months, NaN allowed) shrunk towards its
    diagonal with the Schäfer-Strimmer optimal weight ``lambda`` on the correlations."""
    e = np.asarray(errors, dtype=float)
    e = np.where(np.isfinite(e), e, np.nan)
    n = np.sum(~np.isnan(e), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a series without errors: all-NaN column
        e0 = np.nan_to_num(e - np.nanmean(e, axis=0))
    t = e.shape[0]
    sd = np.sqrt(np.maximum((e0**2).sum(axis=0) / np.maximum(n - 1, 1), 1e-300))
    z = e0 / sd
    r = (z.T @ z) / max(t - 1, 1)
    np.fill_diagonal(r, 1.0)
    # Variance of the correlation estimates (Schäfer & Strimmer 2005, target = identity).
    w = np.einsum("ti,tj->tij", z, z)
    var_r = w.var(axis=0, ddof=1) * t / max((t - 1) ** 2, 1) if t > 1 else np.ones_like(r)
    off = ~np.eye(len(r), dtype=bool)
    denom = float((r[off] ** 2).sum())
    lam = float(np.clip(var_r[off].sum() / denom, 0.0, 1.0)) if denom > 0 else 1.0
    r_shrunk = lam * np.eye(len(r)) + (1 - lam) * r
    return r_shrunk * np.outer(sd, sd)


def reconcile_matrix(s: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """``P = S (S' W^-1 S)^-1 S' W^-1`` (``W = I`` when ``w`` is None), so ``ytilde = P yhat``."""
    w_inv = np.eye(s.shape[0]) if w is None else np.linalg.pinv(w)
    middle = np.linalg.pinv(s.T @ w_inv @ s)
    return s @ middle @ s.T @ w_inv


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
    out = forecasts.copy()
    out["base_forecast"] = out["forecast"]
    ids = list(dict.fromkeys(out["unique_id"]))
    hier = [u for u in ids if not u.startswith("rep_id=")]
    bottom = [u for u in hier if set(parse_id(u)) == set(BOTTOM)]
    if not bottom:
        raise ValueError("reconcile: no bottom series (region=..|product_line=..) in the forecasts")
    s = summing_matrix(bottom, hier)
    wide = out.pivot(index="ds", columns="unique_id", values="forecast")[hier]
    if method == "bottom_up":
        rec = wide[bottom].to_numpy() @ s.T
    else:
        w = None
        if method == "mint_shrink":
            if errors is None:
                raise ValueError("reconcile: mint_shrink needs the one-month-ahead errors")
            ew = errors.pivot_table(index="ds", columns="unique_id", values="error", aggfunc="first").reindex(
                columns=hier
            )
            ew = ew.dropna(how="all")
            if len(ew) >= 3:
                w = shrink_covariance(ew.to_numpy())
                # A series with no error history gets the largest variance seen (little weight).
                bad = ~np.isfinite(np.diag(w)) | (np.diag(w) <= 0)
                if bad.any():
                    fill = np.nanmax(np.where(bad, np.nan, np.diag(w)))
                    w[bad, :] = 0
                    w[:, bad] = 0
                    w[bad, bad] = fill
        p = reconcile_matrix(s, w)
        rec = wide.to_numpy() @ p.T
    rec_df = (
        pd.DataFrame(rec, index=wide.index, columns=pd.Index(hier, name="unique_id"))
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
