"""Landing views and the KPI table on small hand-checkable data."""

import numpy as np
import pandas as pd
import pytest

from salesplan.config import load_defaults, load_settings
from salesplan.retro.kpi import (
    KPI_COLUMNS,
    acquisition_cost,
    average_order_value,
    channel_conversion,
    closed_opportunities,
    collection,
    collection_value,
    customer_months,
    kpi_table,
    lifetime_value,
    ltv_cac,
    new_customer_count_share,
    new_customer_values,
    nps_value,
    order_totals,
    pipeline_coverage,
    signed_vs_collected,
    sparkline,
)
from salesplan.retro.landing import landing_comparison, run_rate_landing, seasonal_shares
from salesplan.retro.periods import window

DEFAULTS = load_defaults()
SETTINGS = load_settings()
PIPE = SETTINGS.forecast.pipeline
STAGES = PIPE.stage_probability


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
    cov = pipeline_coverage(_pipeline(), cube, _flat_plan(), "2026-03", PIPE.model_copy(update={"min_closed": 1}))
    assert cov["remaining_target"] == 900.0
    assert cov["open_amount"] == 1400.0  # O6 closes after the year
    assert cov["coverage"] == pytest.approx(1400 / 900)
    assert cov["expected_amount"] == pytest.approx(400 * 0.5 + 1000 * 0.0)
    assert cov["required_coverage"] == pytest.approx(7.0)
    assert cov["expected_coverage"] == pytest.approx(200 / 900)
    # Too little history: the configured stage probabilities are used instead.
    few = pipeline_coverage(_pipeline(), cube, _flat_plan(), "2026-03", PIPE.model_copy(update={"min_closed": 10}))
    assert few["expected_amount"] == pytest.approx(400 * STAGES["proposal"] + 1000 * STAGES["lead"])
    none = pipeline_coverage(None, cube, _flat_plan(), "2026-03", PIPE)
    assert np.isnan(none["coverage"]) and none["remaining_target"] == 900.0
    december = pipeline_coverage(_pipeline(), cube, _flat_plan(), "2026-12", PIPE)
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


def test_kpi_table_has_the_methods_kpis_and_two_extras_with_goals_and_status():
    cube = _seasonal_cube().assign(
        region="E", product_line="P", tier="core", channel="direct", quantity=1, cost_amount=np.nan, paid_amount=np.nan
    )
    thresholds = DEFAULTS["retro"]["thresholds"]
    table, trend = kpi_table(cube, _flat_plan(), "2026-03", SETTINGS.kpi, thresholds, pipeline_settings=PIPE)
    assert list(table.columns) == KPI_COLUMNS
    assert table["kpi"].tolist() == [
        "Sales attainment", "Gross margin", "Collection rate", "Customer acquisition cost", "LTV/CAC",
        "Repeat-purchase rate", "Channel conversion rate", "New-customer share", "New-customer sales share",
        "High-end share", "NPS", "Pipeline coverage", "Average order value",
    ]  # fmt: skip
    assert table.loc[table["group"] == "extra", "kpi"].tolist() == ["Pipeline coverage", "Average order value"]
    # Missing data names the table that would provide it.
    notes = table.set_index("kpi")["note"]
    assert notes["Customer acquisition cost"] == notes["LTV/CAC"] == "needs table spend"
    assert notes["NPS"] == "needs table nps" and notes["Channel conversion rate"] == "needs table pipeline"
    assert (
        notes["Collection rate"].startswith("needs table receivables")
        and "orders.paid_amount" in notes["Collection rate"]
    )
    assert (table.set_index("kpi").loc[["NPS", "LTV/CAC", "Customer acquisition cost"], "status"] == "no_data").all()
    t = table.set_index("kpi")
    assert t.loc["Sales attainment", "ytd_value"] == pytest.approx(12 / 300)
    assert t.loc["Sales attainment", "status"] == "dark_red"
    assert t.loc["Gross margin", "status"] == "no_data"  # no cost column values
    assert t.loc["High-end share", "ytd_value"] == 1.0  # core tier stands in for high-margin products
    assert t.loc["High-end share", "status"] == "ahead"
    assert set(trend["kpi"]) == set(t.index)
    assert trend.groupby("kpi").size().eq(SETTINGS.kpi.trend_months).all()
    assert customer_months(cube)["net_amount"].sum() == pytest.approx(cube["net_amount"].sum())


# ------------------------------------------------------------------ the method's KPIs, hand-computed


def _customer_cube() -> pd.DataFrame:
    rows = [
        # customer, month, net, cost
        ("A", "2024-04-01", 100.0, 50.0),
        ("B", "2024-06-01", 200.0, 100.0),
        ("A", "2025-06-01", 1000.0, 600.0),
        ("C", "2026-02-01", 500.0, 300.0),  # new in February 2026
        ("D", "2026-03-01", 40.0, 20.0),  # new in March 2026
        ("A", "2026-03-01", 60.0, 30.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "month", "net_amount", "cost_amount"])
    return frame.assign(month=pd.to_datetime(frame["month"]))


SPEND = pd.DataFrame(
    {
        "month": pd.to_datetime(["2025-05-01", "2026-02-01", "2026-02-01", "2026-02-01", "2026-03-15"]),
        "category": ["marketing", "marketing", "channel", "systems", "marketing"],
        "amount": [90.0, 100.0, 50.0, 999.0, 60.0],
    }
)
CATEGORIES = SETTINGS.kpi.acquisition_spend_categories  # marketing, channel


def test_acquisition_cost_and_new_customer_count_share():
    cm = customer_months(_customer_cube())
    # Year to date: marketing 100 + channel 50 (Feb) + marketing 60 (Mar) = 210 for 2 new customers.
    assert acquisition_cost(SPEND, cm, window("2026-03", "ytd"), CATEGORIES) == pytest.approx(105.0)
    assert acquisition_cost(SPEND, cm, window("2026-03", "month"), CATEGORIES) == pytest.approx(60.0)
    assert np.isnan(acquisition_cost(SPEND, cm, window("2026-01", "month"), CATEGORIES))  # nobody new
    # March: A (returning) and D (new) buy: 1 of 2.
    assert new_customer_count_share(cm, window("2026-03", "month")) == pytest.approx(0.5)


def test_lifetime_value_and_ltv_cac():
    cube = _customer_cube().loc[lambda d: d["customer_id"] != "D"]
    cm = customer_months(cube)
    # 12 months to 2026-03: A 1000 + 60 net, C 500; cost 600 + 30 + 300: margin 630 over 2 active customers.
    # The 12 months before: A and B active, A still active -> churn 1/2. LTV = 630 / 2 / 0.5 = 630.
    assert lifetime_value(cube, "2026-03") == pytest.approx(630.0)
    # CAC over the last 12 months: 90 + 100 + 50 = 240 (systems excluded) for 1 new customer (C).
    assert ltv_cac(cube, SPEND.iloc[:4], cm, "2026-03", CATEGORIES) == pytest.approx(630.0 / 240.0)
    assert np.isnan(lifetime_value(cube.assign(cost_amount=np.nan), "2026-03"))


def test_cac_status_is_inverted_because_lower_is_better():
    cube = _customer_cube().assign(region="E", product_line="P", tier="core", rep_id="R1", paid_amount=np.nan)
    plan = _flat_plan()
    thresholds = DEFAULTS["retro"]["thresholds"]
    for goal, status in ((100.0, "green"), (90.0, "red"), (150.0, "ahead")):
        goals = SETTINGS.kpi.model_copy(update={"cac_goal": goal})
        table, _ = kpi_table(cube, plan, "2026-03", goals, thresholds, spend=SPEND)
        row = table.set_index("kpi").loc["Customer acquisition cost"]
        # CAC 105: goal / value = 100 / 105 (4.8 % behind: green), 90 / 105 (14.3 %: red), 150 / 105 (ahead).
        assert row["ytd_value"] == pytest.approx(105.0) and row["better"] == "lower"
        assert row["status"] == status
    table, _ = kpi_table(cube, plan, "2026-03", SETTINGS.kpi, thresholds, spend=SPEND)
    row = table.set_index("kpi").loc["Customer acquisition cost"]
    # No goal set: the same months last year. Jan-Mar 2025: no spend, no new customer -> no goal.
    assert np.isnan(row["goal"]) and row["note"] == "goal: the same months last year"


def test_channel_conversion_counts_each_opportunity_once_when_it_closes():
    pipe = pd.DataFrame(
        {
            "opportunity_id": ["O1", "O1", "O2", "O3", "O3", "O4"],
            "snapshot_date": pd.to_datetime(
                ["2026-02-28", "2026-03-31", "2026-03-31", "2026-01-31", "2026-02-28", "2026-03-31"]
            ),
            "status": ["open", "won", "lost", "lost", "lost", "open"],
        }
    )
    closed = closed_opportunities(pipe)
    assert channel_conversion(closed, window("2026-03", "ytd")) == pytest.approx(1 / 3)  # O1 won; O2, O3 lost
    assert channel_conversion(closed, window("2026-03", "month")) == pytest.approx(1 / 2)
    cube = _seasonal_cube().assign(region="E", product_line="P", tier="core", cost_amount=1.0, paid_amount=1.0)
    goals = SETTINGS.kpi
    table, _ = kpi_table(cube, _flat_plan(), "2026-03", goals, DEFAULTS["retro"]["thresholds"], pipeline=pipe.assign(
        region="E", stage="lead", amount=1.0, expected_close_date=pd.Timestamp("2026-06-30")
    ), pipeline_settings=PIPE, win_rate_goal=0.4)  # fmt: skip
    row = table.set_index("kpi").loc["Channel conversion rate"]
    # Goal: the process targets' win rate 40 %; 1/3 is 16.7 % behind -> dark red.
    assert row["goal"] == 0.4 and row["status"] == "dark_red"


def test_nps_promoters_minus_detractors():
    nps = pd.DataFrame(
        {
            "survey_date": pd.to_datetime(["2026-03-02"] * 7 + ["2026-01-10"]),
            "customer_id": "C1",
            "score": [10, 9, 8, 7, 6, 0, 10, 0],
        }
    )
    # March: promoters 3 (10, 9, 10), detractors 2 (6, 0) of 7 answers.
    assert nps_value(nps, window("2026-03", "month")) == pytest.approx(1 / 7)
    assert nps_value(nps, window("2026-03", "ytd")) == pytest.approx(0.0)  # plus a detractor in January
    assert np.isnan(nps_value(nps, window("2026-02", "month")))


def test_signed_vs_collected_per_region_and_rep():
    from salesplan.retro.risks import receivables_position

    orders = pd.DataFrame(
        {
            "order_id": ["O1", "O1", "O2", "O3"],
            "order_date": pd.to_datetime(["2026-01-10", "2026-01-10", "2026-02-05", "2025-12-01"]),
            "customer_id": "C1",
            "rep_id": ["R1", "R1", "R2", "R1"],
            "region": ["East", "East", "West", "East"],
            "net_amount": [100.0, 50.0, 200.0, 80.0],
        }
    )
    payments = pd.DataFrame(
        {
            "order_id": ["O1", "O2", "O3"],
            "paid_date": pd.to_datetime(["2026-02-01", "2026-03-15", "2026-01-02"]),
            "paid_amount": [150.0, 100.0, 80.0],
        }
    )
    position, _ = receivables_position(orders, payments, pd.Timestamp("2026-02-28"))
    reps = pd.DataFrame({"rep_id": ["R1", "R2"], "rep_name": ["王伟", "Li"]})
    out = signed_vs_collected(position, "2026-02", reps).set_index(["level", "item"])
    # This year's orders O1 (150, paid 150 in Feb) and O2 (200, paid only in March); O3 is last year's.
    assert out.loc[("total", "total"), ["signed", "collected", "gap"]].tolist() == [350.0, 150.0, 200.0]
    assert out.loc[("total", "total"), "collection_rate"] == pytest.approx(150 / 350)
    assert out.loc[("region", "West"), ["signed", "collected"]].tolist() == [200.0, 0.0]
    assert out.loc[("rep", "王伟 (R1)"), "collection_rate"] == 1.0
    assert signed_vs_collected(None, "2026-02", reps).empty


def _position() -> pd.DataFrame:
    from salesplan.retro.risks import receivables_position

    orders = pd.DataFrame(
        {
            "order_id": ["D", "J", "F1", "F2"],
            "order_date": pd.to_datetime(["2025-12-20", "2026-01-15", "2026-02-03", "2026-02-27"]),
            "customer_id": "C1",
            "rep_id": ["R1", "R1", "R2", "R1"],
            "region": "E",
            "net_amount": [500.0, 100.0, 200.0, 300.0],
        }
    )
    payments = pd.DataFrame(
        {
            # D: last year's invoice paid in January; J paid in full in February; F1 half in
            # February, the rest in March (after the month's end); F2 only in March.
            "order_id": ["D", "J", "F1", "F1", "F2"],
            "paid_date": pd.to_datetime(["2026-01-10", "2026-02-10", "2026-02-20", "2026-03-05", "2026-03-01"]),
            "paid_amount": [500.0, 100.0, 100.0, 100.0, 300.0],
        }
    )
    return receivables_position(orders, payments, pd.Timestamp("2026-02-28"))[0]


def test_collection_rate_counts_cash_by_the_month_end_on_the_periods_invoices():
    position = _position()
    # February: invoices F1 + F2 = 500, of which 100 received by 2026-02-28 (March's payments not).
    month = collection(position, window("2026-02", "month")).iloc[0]
    assert month[["signed", "collected"]].tolist() == [500.0, 100.0]
    assert month["collection_rate"] == pytest.approx(0.2)
    # Year to date: J, F1, F2 = 600 signed, 200 collected; December's invoice and its January
    # payment are not the period's.
    assert collection_value(position, window("2026-02", "ytd")) == pytest.approx(200 / 600)
    by_rep = collection(position, window("2026-02", "ytd"), "rep_id").set_index("rep_id")
    assert by_rep.loc["R2", "collection_rate"] == pytest.approx(0.5)
    assert np.isnan(collection_value(position, window("2026-03", "month")))  # nothing invoiced


def test_kpi_table_and_signed_vs_collected_give_one_collection_rate():
    position = _position()
    cube = pd.DataFrame(
        {
            "month": pd.to_datetime(["2026-01-01", "2026-02-01"]),
            "customer_id": "C1",
            "rep_id": "R1",
            "region": "E",
            "product_line": "P",
            "tier": "core",
            "channel": "direct",
            "net_amount": [100.0, 500.0],
            "paid_amount": [100.0, 500.0],  # as exported in March: every invoice paid
            "quantity": 1,
        }
    )
    goals, thresholds = SETTINGS.kpi, DEFAULTS["retro"]["thresholds"]
    table, trend = kpi_table(
        cube, _flat_plan(), "2026-02", goals, thresholds, position=position, collection_basis="payments to 02-28"
    )
    row = table.set_index("kpi").loc["Collection rate"]
    total = signed_vs_collected(position, "2026-02", pd.DataFrame({"rep_id": ["R1"], "rep_name": ["A"]}))
    assert row["ytd_value"] == pytest.approx(total.iloc[0]["collection_rate"]) == pytest.approx(200 / 600)
    assert row["month_value"] == pytest.approx(0.2)
    assert "payments to 02-28" in row["note"]
    assert trend.loc[trend["kpi"] == "Collection rate", "value"].iloc[-1] == pytest.approx(0.2)
    # Without dated payments: the cube's paid amount, and the note says it is not dated.
    undated, _ = kpi_table(cube, _flat_plan(), "2026-02", goals, thresholds)
    row = undated.set_index("kpi").loc["Collection rate"]
    assert row["ytd_value"] == pytest.approx(1.0) and "as exported, not dated" in row["note"]
