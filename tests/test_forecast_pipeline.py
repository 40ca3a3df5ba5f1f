"""Weighted pipeline: stage win rates, weighting by close month, coverage and blend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesplan.forecast.pipeline import blend, pipeline_coverage, stage_win_rates, weighted_pipeline

CONFIG = {"proposal": 0.4, "contract": 0.85}


def _history() -> pd.DataFrame:
    rows = []
    # 20 opportunities pass through "proposal": 5 won, 15 lost (win rate 0.25).
    for i in range(20):
        oid = f"O{i}"
        rows.append((oid, "2026-01-31", "proposal", 100.0, "2026-03-15", "open"))
        rows.append((oid, "2026-02-28", "proposal", 100.0, "2026-03-15", "won" if i < 5 else "lost"))
    # Two open deals in the latest snapshot: one overdue, one in May.
    rows.append(("X1", "2026-03-31", "contract", 1000.0, "2026-02-10", "open"))
    rows.append(("X2", "2026-03-31", "proposal", 500.0, "2026-05-20", "open"))
    return pd.DataFrame(
        rows, columns=["opportunity_id", "snapshot_date", "stage", "amount", "expected_close_date", "status"]
    )


def test_win_rates_from_history_with_fallbacks() -> None:
    rates = stage_win_rates(_history(), CONFIG, min_closed=10).set_index("stage")
    assert rates.loc["proposal", "closed"] == 20
    assert rates.loc["proposal", "used"] == pytest.approx(0.25)
    assert rates.loc["proposal", "source"] == "history"
    assert rates.loc["contract", "used"] == pytest.approx(0.85)
    assert rates.loc["contract", "source"] == "configured"
    # With a probability column the fallback is the data's own probability.
    p = _history().assign(probability=0.7)
    assert stage_win_rates(p, CONFIG, min_closed=10).set_index("stage").loc["contract", "used"] == pytest.approx(0.7)


def test_no_peeking_after_as_of() -> None:
    rates = stage_win_rates(_history(), CONFIG, min_closed=1, as_of=pd.Timestamp("2026-01-31")).set_index("stage")
    assert rates.loc["proposal", "closed"] == 0


def test_weighted_pipeline_by_close_month() -> None:
    h = _history()
    rates = stage_win_rates(h, CONFIG, min_closed=10)
    wp = weighted_pipeline(h, rates, pd.Timestamp("2026-03-31")).set_index("month")
    # Overdue contract counts in April; the May proposal at the historical 25 %.
    assert wp.loc[pd.Timestamp("2026-04-01"), "weighted_amount"] == pytest.approx(1000 * 0.85)
    assert wp.loc[pd.Timestamp("2026-05-01"), "weighted_amount"] == pytest.approx(500 * 0.25)
    assert wp["open_amount"].sum() == 1500


def test_blend_rule() -> None:
    ds = pd.date_range("2026-04-01", periods=4, freq="MS")
    stat = pd.DataFrame({"unique_id": "total", "ds": ds, "forecast": 100.0})
    pipe = pd.DataFrame({"unique_id": "total", "ds": ds[:2], "weighted_amount": [40.0, 20.0]})
    cov = pd.DataFrame({"unique_id": ["total", "total"], "lead": [1, 2], "coverage": [2.0, 3.0]})
    out = blend(stat, pipe, [0.5, 0.3, 0.1], ds[0], cov)
    assert out["pipeline_forecast"].tolist() == [80.0, 60.0, 0.0, 0.0]
    expected = [0.5 * 80 + 0.5 * 100, 0.3 * 60 + 0.7 * 100, 0.1 * 0 + 0.9 * 100, 100.0]
    assert np.allclose(out["blended"], expected)
    with pytest.raises(ValueError, match="between 0 and 1"):
        blend(stat, pipe, [1.5], ds[0])


def test_coverage_ratio_compares_past_pipeline_with_sales() -> None:
    rows = []
    for m in range(1, 7):
        snap = pd.Timestamp(2026, m, 1) + pd.offsets.MonthEnd(0)
        close = snap + pd.offsets.MonthBegin(1) + pd.Timedelta(days=9)
        rows.append((f"O{m}", snap, "contract", 100.0, close, "open"))
    p = pd.DataFrame(
        rows, columns=["opportunity_id", "snapshot_date", "stage", "amount", "expected_close_date", "status"]
    )
    rates = stage_win_rates(p, {"contract": 0.5}, min_closed=10)
    actual = pd.DataFrame({"unique_id": "total", "ds": pd.date_range("2026-02-01", periods=5, freq="MS"), "y": 150.0})
    cov = pipeline_coverage(p, rates, actual, [()], pd.Timestamp("2026-06-30"), max_lead=1).set_index(
        ["unique_id", "lead"]
    )
    # Each month: 100 x 0.5 = 50 weighted, 150 sold -> coverage 3.
    assert cov.loc[("total", 1), "coverage"] == pytest.approx(3.0)
    assert cov.loc[("total", 1), "months"] == 5


def test_pipeline_earns_its_weight_by_past_accuracy():
    from salesplan.forecast.pipeline import earned_weights

    months = pd.date_range("2026-01-01", periods=6, freq="MS")
    actual = np.array([100.0, 110.0, 90.0, 105.0, 95.0, 100.0])
    coverage = pd.DataFrame({"unique_id": ["total"] * 2, "lead": [1, 2], "coverage": [1.0, 1.0]})
    # Lead 1: the pipeline was off by 10 every month -> mse 100; lead 2: exactly right.
    history = pd.concat(
        [
            pd.DataFrame(
                {"unique_id": "total", "month": months, "lead": 1, "weighted_amount": actual + 10, "actual": actual}
            ),
            pd.DataFrame(
                {"unique_id": "total", "month": months, "lead": 2, "weighted_amount": actual, "actual": actual}
            ),
        ]
    )
    w = earned_weights(history, coverage, statistical_mse=[100.0, 25.0, 4.0], caps=[0.5, 0.3, 0.1]).set_index("lead")
    # Equal accuracy earns 100 / (100 + 100) = 0.5, capped at 0.5.
    assert w.loc[1, "mse_pipeline"] == pytest.approx(100.0)
    assert w.loc[1, "earned"] == pytest.approx(0.5) and w.loc[1, "weight"] == pytest.approx(0.5)
    # A perfect pipeline earns 1.0 but never more than its cap.
    assert w.loc[2, "earned"] == pytest.approx(1.0) and w.loc[2, "weight"] == pytest.approx(0.3)
    # No past months at lead 3: the configured cap is used as is.
    assert w.loc[3, "months"] == 0 and w.loc[3, "weight"] == pytest.approx(0.1)
    # A pipeline four times worse than the statistical forecast earns 1/5.
    worse = earned_weights(history, coverage, statistical_mse=[25.0], caps=[0.5]).set_index("lead")
    assert worse.loc[1, "weight"] == pytest.approx(25.0 / 125.0)


def _history_snapshot_by_snapshot(pipeline, win_rates, actuals, levels, as_of, max_lead):
    """pipeline_history's definition, one snapshot at a time through weighted_pipeline_series."""
    from salesplan.forecast.pipeline import weighted_pipeline_series

    rows = []
    snaps = pd.to_datetime(pipeline["snapshot_date"])
    for snap in sorted(snaps[snaps <= as_of].unique()):
        snap = pd.Timestamp(snap)
        wp = weighted_pipeline_series(pipeline, win_rates, snap, levels)
        if len(wp):
            lead = (wp["month"].dt.to_period("M") - snap.to_period("M")).map(lambda d: d.n)
            rows.append(wp.assign(lead=lead)[["unique_id", "month", "lead", "weighted_amount"]])
    w = pd.concat(rows, ignore_index=True)
    w = w[(w["lead"] >= 1) & (w["lead"] <= max_lead)]
    a = actuals.rename(columns={"ds": "month", "y": "actual"})[["unique_id", "month", "actual"]]
    j = w.merge(a, on=["unique_id", "month"], how="inner")
    return j[j["month"] <= as_of][["unique_id", "month", "lead", "weighted_amount", "actual"]].reset_index(drop=True)


@pytest.mark.parametrize("max_lead", [1, 3])
def test_pipeline_history_reads_every_snapshot_as_the_weighted_pipeline_does(max_lead: int) -> None:
    from salesplan.forecast.pipeline import pipeline_history

    rng = np.random.default_rng(7)
    snapshots = pd.date_range("2025-01-31", periods=10, freq="ME")
    rows = []
    for i in range(60):
        region, line = rng.choice(["N", "S", None], p=[0.45, 0.45, 0.1]), rng.choice(["A", "B"])
        stage = rng.choice(["proposal", "contract", "unheard-of"])
        for snap in snapshots[rng.integers(0, 5) : rng.integers(5, 11)]:
            close = snap + pd.Timedelta(days=int(rng.integers(-40, 150)))
            rows.append(
                {
                    "opportunity_id": f"O{i}",
                    "snapshot_date": snap,
                    "stage": stage,
                    "amount": float(rng.integers(1, 50) * 100),
                    # Some close dates are missing (moved to the month after the snapshot).
                    "expected_close_date": pd.NaT if rng.random() < 0.05 else close,
                    "status": rng.choice(["open", "open", "open", "won", "lost"]),
                    "region": region,
                    "product_line": line,
                }
            )
    pipeline = pd.DataFrame(rows)
    rates = stage_win_rates(pipeline, CONFIG, min_closed=3)
    levels = [(), ("region",), ("product_line",), ("region", "product_line"), ("rep_id",)]
    ids = ["total", "region=N", "region=S", "product_line=A", "product_line=B", "region=N|product_line=A"]
    months = pd.date_range("2025-01-01", "2025-12-01", freq="MS")
    actuals = pd.DataFrame([(u, m, 10.0 * k) for k, (u, m) in enumerate((u, m) for u in ids for m in months)])
    actuals.columns = ["unique_id", "ds", "y"]
    as_of = pd.Timestamp("2025-09-30")
    got = pipeline_history(pipeline, rates, actuals, levels, as_of, max_lead=max_lead)
    assert len(got) > 20 and set(got["lead"]) == set(range(1, max_lead + 1))
    expected = _history_snapshot_by_snapshot(pipeline, rates, actuals, levels, as_of, max_lead)
    pd.testing.assert_frame_equal(got, expected)
