"""Hierarchy reconciliation: children add up to their parent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesplan.forecast.reconcile import parse_id, reconcile, series_id, summing_matrix

REGIONS = ["N", "S"]
LINES = ["P", "Q", "R"]


def _ids() -> tuple[list[str], list[str]]:
    bottom = [series_id({"region": r, "product_line": p}) for r in REGIONS for p in LINES]
    ids = ["total", *[f"region={r}" for r in REGIONS], *[f"product_line={p}" for p in LINES], *bottom]
    return bottom, ids


def _incoherent(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    bottom, ids = _ids()
    ds = pd.date_range("2026-11-01", periods=3, freq="MS")
    s = summing_matrix(bottom, ids)
    truth = rng.uniform(10, 20, (len(ds), len(bottom))) @ s.T
    noisy = truth + rng.normal(0, 2, truth.shape)
    fc = (
        pd.DataFrame(noisy, index=ds, columns=ids)
        .stack()
        .rename("forecast")
        .rename_axis(["ds", "unique_id"])
        .reset_index()
    )
    months = pd.date_range("2024-01-01", periods=20, freq="MS")
    err = pd.DataFrame(rng.normal(0, 1, (20, len(ids))) * np.sqrt(s.sum(axis=1)), index=months, columns=ids)
    errors = err.stack().rename("error").rename_axis(["ds", "unique_id"]).reset_index()
    return fc[["unique_id", "ds", "forecast"]], errors


def _check_coherent(out: pd.DataFrame) -> None:
    wide = out.pivot(index="ds", columns="unique_id", values="forecast")
    regions = wide[[f"region={r}" for r in REGIONS]].sum(axis=1)
    lines = wide[[f"product_line={p}" for p in LINES]].sum(axis=1)
    assert np.allclose(regions, wide["total"])
    assert np.allclose(lines, wide["total"])
    for r in REGIONS:
        assert np.allclose(wide[[f"region={r}|product_line={p}" for p in LINES]].sum(axis=1), wide[f"region={r}"])


def test_ids_round_trip() -> None:
    assert parse_id(series_id({"region": "North", "product_line": "工业阀门"})) == {
        "region": "North",
        "product_line": "工业阀门",
    }
    assert series_id({}) == "total" and parse_id("total") == {}


@pytest.mark.parametrize("method", ["mint_shrink", "ols", "bottom_up"])
def test_children_sum_to_parent(method: str) -> None:
    fc, errors = _incoherent()
    wide = fc.pivot(index="ds", columns="unique_id", values="forecast")
    assert not np.allclose(wide[[f"region={r}" for r in REGIONS]].sum(axis=1), wide["total"])
    out = reconcile(fc, method=method, errors=errors)
    _check_coherent(out)
    assert np.allclose(out["base_forecast"], fc["forecast"])


def test_coherent_forecasts_are_left_alone() -> None:
    fc, errors = _incoherent()
    once = reconcile(fc, "mint_shrink", errors)
    twice = reconcile(once[["unique_id", "ds", "forecast"]], "mint_shrink", errors)
    assert np.allclose(once["forecast"], twice["forecast"])


def test_reps_add_up_to_their_region() -> None:
    fc, errors = _incoherent()
    ds = fc["ds"].unique()
    reps = pd.DataFrame(
        {"unique_id": np.repeat(["rep_id=a", "rep_id=b", "rep_id=c"], len(ds)), "ds": np.tile(ds, 3), "forecast": 7.0}
    )
    out = reconcile(
        pd.concat([fc, reps], ignore_index=True), "mint_shrink", errors, reps_region={"a": "N", "b": "N", "c": "S"}
    )
    wide = out.pivot(index="ds", columns="unique_id", values="forecast")
    assert np.allclose(wide["rep_id=a"] + wide["rep_id=b"], wide["region=N"])
    assert np.allclose(wide["rep_id=c"], wide["region=S"])
    assert np.allclose(wide["rep_id=a"], wide["rep_id=b"])  # equal own forecasts keep equal shares


def test_mint_with_fewer_months_than_series_and_a_series_without_errors() -> None:
    """The shrunk covariance keeps MinT well defined with few error months; a series without
    any error gets little weight (its own forecast moves most), not all of it."""
    fc, errors = _incoherent()
    months = sorted(errors["ds"].unique())[:4]
    few = errors[errors["ds"].isin(months)]
    out = reconcile(fc, "mint_shrink", few)
    wide = out.pivot(index="ds", columns="unique_id", values="forecast")
    assert np.isfinite(wide.to_numpy()).all()
    assert np.allclose(wide["total"], wide[[c for c in wide if c.startswith("region=") and "|" not in c]].sum(axis=1))
    lost = errors[errors["unique_id"] != "total"]
    moved = reconcile(fc, "mint_shrink", lost).assign(change=lambda d: (d["forecast"] - d["base_forecast"]).abs())
    change = moved.groupby("unique_id")["change"].mean()
    assert change["total"] >= change.drop("total").max() - 1e-9


def test_mint_needs_errors() -> None:
    fc, _ = _incoherent()
    with pytest.raises(ValueError, match="needs the one-month-ahead errors"):
        reconcile(fc, "mint_shrink")
    with pytest.raises(ValueError, match="unknown reconciliation"):
        reconcile(fc, "magic")
