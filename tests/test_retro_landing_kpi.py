"""Landing views and the KPI table on small hand-checkable data."""

import numpy as np
import pandas as pd
import pytest

from salesplan.config import load_defaults
from salesplan.retro.kpi import (
    KPI_COLUMNS,
    average_order_value,
    customer_months,
    kpi_table,
    new_customer_values,
    order_totals,
    pipeline_coverage,
    sparkline,
)
from salesplan.retro.landing import landing_comparison, run_rate_landing, seasonal_shares
from salesplan.retro.periods import window

DEFAULTS = load_defaults()
STAGES = DEFAULTS["forecast"]["pipeline"]["stage_probability"]


def _seasonal_cube() -> pd.DataFrame:
    # Two complete years where month m sells m, then 2026 selling 2 x m.
    rows = [
        {
            "month": pd.Timestamp(y, m, 1),
            "customer_id": "C1",
            "rep_id": "R1",
            "net_amount": float(m * (2 if y == 2026 else 1)),
        }
        for y in (2024, 2025, 2026)
        for m in range(1, 13)
        if not (y == 2026 and m > 3)
    ]
    return pd.DataFrame(rows)


def _flat_plan(year: int = 2026, amount: float = 100.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "year": year,
            "month": range(1, 13),
            "region": "E",
            "product_line": "P",
            "rep_id": "R1",
            "target_amount": amount,
        }
    )


def test_run_rate_and_seasonal_run_rate():
    assert run_rate_landing(900.0, 9) == 1200.0
    with pytest.raises(ValueError):
        run_rate_landing(1.0, 0)
    cube = _seasonal_cube()
    shares = seasonal_shares(cube, 2026)
    assert shares["share"].sum() == pytest.approx(1.0)
    assert shares.set_index("month_of_year").loc[3, "share"] == pytest.approx(3 / 78)
    out = landing_comparison(cube, _flat_plan(), "2026-03").set_index("method")
    ytd = 2 * (1 + 2 + 3)
    assert out.loc["run rate", "landing"] == pytest.approx(ytd / 3 * 12)
    # Jan-Mar carry 6/78 of a typical year: 12 / (6/78) = 156 = 2 x 78.
    assert out.loc["seasonal run rate", "landing"] == pytest.approx(156.0)
    assert out.loc["rest on plan", "landing"] == pytest.approx(ytd + 900.0)
    assert out.loc["rest on plan", "gap"] == pytest.approx(ytd + 900.0 - 1200.0)
    assert out["assumes"].str.len().gt(10).all()
    with_stat = landing_comparison(cube, _flat_plan(), "2026-03", {"landing": 150.0, "low": 120.0, "high": 180.0})
    assert with_stat.iloc[-1]["method"] == "statistical" and with_stat.iloc[-1]["attainment"] == pytest.approx(0.125)


def test_seasonal_landing_without_history_is_nan_and_says_why():
    cube = _seasonal_cube()
    cube = cube[cube["month"].dt.year == 2026]
    out = landing_comparison(cube, _flat_plan(), "2026-03").set_index("method")
    assert np.isnan(out.loc["seasonal run rate", "landing"])
    assert "no complete prior year" in out.loc["seasonal run rate", "assumes"]


def test_sparkline():
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5, 5]) == "▄▄▄"
    assert sparkline([1.0, np.nan, 3.0]) == "▁ █"
    assert sparkline([np.nan, np.nan]) == "  "


def _pipeline() -> pd.DataFrame:
    rows = [
        # January snapshot: three open opportunities.
        ("O1", "2026-01-31", "proposal", 100.0, "2026-02-15", "open"),
        ("O2", "2026-01-31", "lead", 100.0, "2026-02-15", "open"),
        ("O3", "2026-01-31", "proposal", 100.0, "2026-02-15", "open"),
        # February: O1 won, O2 and O3 lost.
        ("O1", "2026-02-28", "contract", 100.0, "2026-02-15", "won"),
        ("O2", "2026-02-28", "lead", 100.0, "2026-02-15", "lost"),
        ("O3", "2026-02-28", "proposal", 100.0, "2026-02-15", "lost"),
        # March: the open pipeline.
        ("O4", "2026-03-31", "proposal", 400.0, "2026-06-30", "open"),
        ("O5", "2026-03-31", "lead", 1000.0, "2026-05-31", "open"),
        ("O6", "2026-03-31", "proposal", 200.0, "2027-02-01", "open"),  # closes next year
    ]
    frame = pd.DataFrame(
        rows, columns=["opportunity_id", "snapshot_date", "stage", "amount", "expected_close_date", "status"]
    )
    return frame.assign(
        snapshot_date=pd.to_datetime(frame["snapshot_date"]),
        expected_close_date=pd.to_datetime(frame["expected_close_date"]),
    )


def test_pipeline_coverage_by_hand():
    cube = pd.DataFrame({"month": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"]), "net_amount": 100.0})
    # min_closed=1: every stage with a closed opportunity uses its history (proposal 1 of 2 won, lead 0 of 1).
    cov = pipeline_coverage(_pipeline(), cube, _flat_plan(), "2026-03", STAGES, min_closed=1)
    assert cov["remaining_target"] == 900.0
    assert cov["open_amount"] == 1400.0  # O6 closes after the year
    assert cov["coverage"] == pytest.approx(1400 / 900)
    assert cov["expected_amount"] == pytest.approx(400 * 0.5 + 1000 * 0.0)
    assert cov["required_coverage"] == pytest.approx(7.0)
    assert cov["expected_coverage"] == pytest.approx(200 / 900)
    # Too little history: the configured stage probabilities are used instead.
    few = pipeline_coverage(_pipeline(), cube, _flat_plan(), "2026-03", STAGES, min_closed=10)
    assert few["expected_amount"] == pytest.approx(400 * STAGES["proposal"] + 1000 * STAGES["lead"])
    none = pipeline_coverage(None, cube, _flat_plan(), "2026-03", STAGES)
    assert np.isnan(none["coverage"]) and none["remaining_target"] == 900.0
    december = pipeline_coverage(_pipeline(), cube, _flat_plan(), "2026-12", STAGES)
    assert np.isnan(december["coverage"])


def test_new_customers_and_their_share():
    months = pd.to_datetime(["2026-01-01", "2026-03-01", "2026-03-01", "2026-02-01", "2026-03-01"])
    cm = pd.DataFrame(
        {"customer_id": ["C1", "C1", "C2", "C3", "C3"], "month": months, "net_amount": [50.0, 60.0, 30.0, -10.0, 10.0]}
    )
    share, count = new_customer_values(cm, window("2026-03", "month"))
    # C2 new; C3 only returned goods before March, so its first purchase is in March.
    assert count == 2
    assert share == pytest.approx(40 / 100)
    # Year to date all three are new, but C3's net purchases (-10 + 10) are not positive: not counted.
    ytd_share, ytd_count = new_customer_values(cm, window("2026-03", "ytd"))
    assert ytd_count == 2 and ytd_share == pytest.approx(1.0)


def test_average_order_value_ignores_returns_in_the_count():
    orders = pd.DataFrame(
        {
            "order_id": ["A", "A", "B", "R"],
            "order_date": pd.to_datetime(["2026-03-02", "2026-03-02", "2026-03-20", "2026-03-25"]),
            "net_amount": [60.0, 40.0, 200.0, -50.0],
        }
    )
    assert average_order_value(order_totals(orders), window("2026-03", "month")) == pytest.approx(250 / 2)


def test_kpi_table_has_eight_kpis_with_goals_and_status():
    cube = _seasonal_cube().assign(
        region="E", product_line="P", tier="core", channel="direct", quantity=1, cost_amount=np.nan, paid_amount=np.nan
    )
    thresholds = DEFAULTS["retro"]["thresholds"]
    table, trend = kpi_table(cube, _flat_plan(), "2026-03", DEFAULTS["kpi"], thresholds, stage_probability=STAGES)
    assert list(table.columns) == KPI_COLUMNS
    assert len(table) == 8
    t = table.set_index("kpi")
    assert t.loc["Sales attainment", "ytd_value"] == pytest.approx(12 / 300)
    assert t.loc["Sales attainment", "status"] == "dark_red"
    assert t.loc["Gross margin", "status"] == "no_data"  # no cost column values
    assert t.loc["High-end share", "ytd_value"] == 1.0  # core tier stands in for high-margin products
    assert t.loc["High-end share", "status"] == "ahead"
    assert set(trend["kpi"]) == set(t.index)
    assert trend.groupby("kpi").size().eq(DEFAULTS["kpi"]["trend_months"]).all()
    assert customer_months(cube)["net_amount"].sum() == pytest.approx(cube["net_amount"].sum())
