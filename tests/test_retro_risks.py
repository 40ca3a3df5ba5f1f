"""Risk matrix and early warnings on hand-built data with hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesplan.config import load_settings
from salesplan.retro import risks
from salesplan.settings import CustomerTiers

RISK = load_settings().risk
WARN = RISK.warnings  # terms 30 days, overdue 30 days, churn 15 %, stale 7 days, large 90 %
REPS = pd.DataFrame(
    {
        "rep_id": ["R1", "R2"],
        "rep_name": ["王伟", "Li"],
        "region": ["E", "W"],
        "level": ["lead", "lead"],
    }
)
T = pd.Timestamp


def test_bands_follow_the_method_with_boundaries_in_the_milder_band() -> None:
    probability = RISK.probability  # high > 70 %, medium 30-70 %
    got = risks.band([0.71, 0.70, 0.30, 0.2999, np.nan], probability)
    assert got.tolist() == ["high", "medium", "medium", "low", ""]
    impact = RISK.impact  # high > 30 %, medium 10-30 %
    assert risks.band([0.31, 0.30, 0.10, 0.05], impact).tolist() == ["high", "medium", "medium", "low"]
    assert risks.rating(["high", "high", "medium", "low", ""], ["high", "low", "medium", "high", "low"]).tolist() == [
        "high", "medium", "medium", "medium", "",
    ]  # fmt: skip


def test_risk_matrix_probability_is_one_minus_p_hit_and_impact_the_shortfall_share() -> None:
    landing = pd.DataFrame(
        {
            "dimension": ["total", "region", "region", "product_line", "rep_id", "region"],
            "item": ["total", "E", "W", "P", "R1", "N"],
            "target": [400.0, 100.0, 100.0, 100.0, 100.0, np.nan],
            "landing": [345.0, 60.0, 95.0, 80.0, 110.0, 5.0],
            "gap": [-55.0, -40.0, -5.0, -20.0, 10.0, np.nan],
            "p_hit": [0.3, 0.2, 0.5, 0.25, 0.9, np.nan],
        }
    )
    m = risks.risk_matrix(landing, REPS, RISK.probability, RISK.impact, {"P": "Ma"}, "2026-06")
    t = m.set_index("item")
    assert "total" not in t.index and "N" not in t.index  # no target: not in the matrix
    # E: P(miss) 0.8 (high), impact 40 / 100 = 0.4 (high) -> high.
    assert t.loc["E", "p_miss"] == pytest.approx(0.8) and t.loc["E", "impact"] == pytest.approx(0.4)
    assert (t.loc["E", "probability_band"], t.loc["E", "impact_band"], t.loc["E", "risk"]) == ("high", "high", "high")
    # P: P(miss) 0.75 (high), impact 0.2 (medium) -> high; owner from retro.product_owners.
    assert t.loc["P", "risk"] == "high" and t.loc["P", "owner"] == "Ma"
    # W: 0.5 (medium), 0.05 (low) -> low. R1 lands above target: impact 0.
    assert t.loc["W", "risk"] == "low" and t.loc["W", "owner"] == "Li" and t.loc["E", "owner"] == "王伟"
    assert t.loc["王伟 (R1)", "impact"] == 0.0 and t.loc["王伟 (R1)", "risk"] == "low"
    assert m["item"].tolist()[:2] == ["E", "P"]  # high first, larger impact first
    counts = risks.matrix_counts(m)
    assert counts.loc["high", "high"] == 1 and counts.loc["high", "medium"] == 1 and counts.values.sum() == 4


def _orders() -> pd.DataFrame:
    rows = [
        ("O1", "2026-01-10", "C1", "R1", 100.0),  # unpaid, due 02-09: 50 days overdue at 03-31
        ("O2", "2026-02-15", "C1", "R1", 200.0),  # unpaid, due 03-17: 14 days
        ("O3", "2026-01-01", "C2", "R2", 300.0),  # paid in full
        ("O4", "2025-12-01", "C2", "R2", 400.0),  # 100 paid, due 12-31: 90 days
        ("O5", "2026-01-20", "C3", "R2", 50.0),  # paid only after the month: due 02-19, 40 days
        ("O6", "2026-01-30", "C4", "R1", 10.0),  # due 03-01: exactly 30 days, not more
        ("O7", "2026-04-02", "C4", "R1", 999.0),  # after the month
    ]
    frame = pd.DataFrame(rows, columns=["order_id", "order_date", "customer_id", "rep_id", "net_amount"])
    return frame.assign(order_date=pd.to_datetime(frame["order_date"]), region="E", paid_amount=np.nan)


def _payments() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["O3", "O4", "O5"],
            "paid_date": pd.to_datetime(["2026-02-01", "2026-01-05", "2026-04-10"]),
            "paid_amount": [300.0, 100.0, 50.0],
        }
    )


def test_overdue_receivables_per_customer_from_dated_payments() -> None:
    end = T("2026-03-31")
    position, basis = risks.receivables_position(_orders(), _payments(), end)
    assert "dated up to 2026-03-31" in basis and "O7" not in set(position["order_id"])
    customers = pd.DataFrame({"customer_id": ["C1", "C2"], "customer_name": ["甲公司", "<b>B</b>"]})
    w = risks.overdue_receivables(position, "2026-03", REPS, customers, WARN)
    assert w["item"].tolist() == ["<b>B</b> (C2)", "甲公司 (C1)", "C3"]
    assert w["amount"].tolist() == [300.0, 100.0, 50.0]
    assert w["days"].tolist() == [90, 50, 40]
    assert w["owner"].tolist() == ["Li", "王伟", "Li"]
    assert w["rule"].iloc[0] == "unpaid more than 30 days after falling due (order date + 30 days)"


def test_the_payments_summed_per_order_give_the_same_position() -> None:
    """What a page reads kept with the month's restatement (the cash per order up to the month's
    end) gives the position the dated payments give, including an unknown order's payment."""
    end = T("2026-03-31")
    payments = pd.concat(
        [_payments(), pd.DataFrame({"order_id": ["X9"], "paid_date": [T("2026-01-02")], "paid_amount": [5.0]})]
    )
    by_payments = risks.receivables_position(_orders(), payments, end)
    upto = payments.loc[payments["paid_date"] <= end]
    collected = upto.groupby("order_id")["paid_amount"].sum()
    by_cash = risks.receivables_position(_orders(), None, end, collected=collected)
    pd.testing.assert_frame_equal(by_cash[0], by_payments[0])
    assert by_cash[1] == by_payments[1]
    assert by_cash[0].set_index("order_id").loc["O4", "collected"] == 100.0


def test_receivables_fall_back_to_undated_paid_amount_and_say_so() -> None:
    orders = _orders().assign(paid_amount=[0.0, 0.0, 300.0, 100.0, 50.0, 0.0, 0.0])
    position, basis = risks.receivables_position(orders, None, T("2026-03-31"))
    assert "undated" in basis
    w = risks.overdue_receivables(position, "2026-03", REPS, None, WARN)
    assert w["amount"].tolist() == [300.0, 100.0]  # O5 counts as paid: its payment is undated
    none, basis = risks.receivables_position(_orders(), None, T("2026-03-31"))
    assert none is None and basis.startswith("needs table receivables")
    assert risks.overdue_receivables(None, "2026-03", REPS, None, WARN).empty


def test_tier_churn_twelve_months_on_twelve() -> None:
    tiers = CustomerTiers(A=1000, B=500, C=100)
    rows = [
        ("A1", "2024-05-01", 2000.0), ("A1", "2025-06-01", 10.0),  # A, kept
        ("A2", "2024-06-01", 1500.0),  # A, lost
        ("B1", "2024-07-01", 600.0), ("B1", "2026-03-01", 5.0),  # B, kept
        ("D1", "2025-03-01", 50.0),  # D, lost
        ("N1", "2026-01-01", 70.0),  # new this year: not in the base
        ("X1", "2024-04-01", 300.0), ("X1", "2024-04-01", -300.0),  # no positive base purchases
    ]  # fmt: skip
    cube = pd.DataFrame(rows, columns=["customer_id", "month", "net_amount"]).assign(
        month=lambda d: pd.to_datetime(d["month"])
    )
    table, w = risks.tier_churn(cube, "2026-03", tiers, WARN)
    t = table.set_index("tier")
    assert t.loc["A", ["base", "lost"]].tolist() == [2, 1] and t.loc["A", "churn"] == pytest.approx(0.5)
    assert t.loc["B", "churn"] == 0.0 and t.loc["D", "churn"] == 1.0 and "C" not in t.index
    assert w["item"].tolist() == ["tier A", "tier D"]
    assert w["amount"].tolist() == [1500.0, 50.0]
    assert (w["owner"] == "Sales director").all()
    assert "1 of 2 customers buying in 2024-04..2025-03 bought nothing in 2025-04..2026-03" in w["detail"].iloc[0]
    short, none = risks.tier_churn(cube.loc[cube["month"] >= T("2025-01-01")], "2026-03", tiers, WARN)
    assert short.empty and none.empty


def _pipeline() -> pd.DataFrame:
    rows = [
        # opportunity, snapshot, customer, rep, stage, amount, close, status
        ("O1", "2026-02-28", "C1", "R1", "proposal", 250.0, "2026-04-01", "open"),
        ("O1", "2026-03-31", "C1", "R1", "proposal", 250.0, "2026-05-01", "open"),  # slipped 30 days
        ("O2", "2026-02-28", "C2", "R2", "lead", 200.0, "2026-06-30", "open"),
        ("O2", "2026-03-31", "C2", "R2", "contact", 200.0, "2026-06-30", "open"),  # changed now
        ("O3", "2026-02-28", "C3", "R1", "lead", 300.0, "2026-03-15", "open"),
        ("O3", "2026-03-31", "C3", "R1", "lead", 300.0, "2026-03-15", "open"),  # close date passed
        ("O4", "2026-02-28", "C4", "R2", "lead", 10.0, "2026-04-01", "open"),
        ("O4", "2026-03-31", "C4", "R2", "lead", 10.0, "2026-09-01", "open"),  # slipped but small
        ("O5", "2026-02-28", "C5", "R1", "contract", 90.0, "2026-03-20", "open"),
        ("O5", "2026-03-31", "C5", "R1", "contract", 90.0, "2026-03-20", "won"),
        ("O6", "2026-02-28", "C6", "R1", "lead", 40.0, "2026-05-20", "open"),  # gone from the last snapshot
        ("O7", "2026-04-30", "C7", "R1", "lead", 40.0, "2026-05-20", "open"),  # after the month
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "opportunity_id", "snapshot_date", "customer_id", "rep_id", "stage", "amount",
            "expected_close_date", "status",
        ],
    )  # fmt: skip
    return frame.assign(
        snapshot_date=pd.to_datetime(frame["snapshot_date"]),
        expected_close_date=pd.to_datetime(frame["expected_close_date"]),
        region="E",
    )


def test_stale_opportunities_count_changes_and_follow_ups() -> None:
    # At 03-31: O1 (close date), O2 (stage) and O4 (close date) changed; O3 did not, but its rep
    # called the customer on 03-27 (4 days before the month's end).
    activities = pd.DataFrame(
        {
            "activity_date": pd.to_datetime(["2026-03-27", "2026-03-20", "2026-04-05"]),
            "rep_id": ["R1", "R2", "R2"],
            "customer_id": ["C3", "C4", "C2"],
            "activity_type": ["call", "visit", "visit"],
        }
    )
    w = risks.stale_opportunities(_pipeline(), activities, "2026-03", REPS, WARN)
    assert w.empty  # O1, O2, O4 changed at 03-31; O3 followed up 4 days before the end
    pipe = _pipeline()
    pipe.loc[(pipe["opportunity_id"] == "O4") & (pipe["snapshot_date"] == T("2026-03-31")), "expected_close_date"] = T(
        "2026-04-01"
    )
    w = risks.stale_opportunities(pipe, activities, "2026-03", REPS, WARN)
    assert w["item"].tolist() == ["O4 (C4)"] and w["days"].tolist() == [11] and w["owner"].tolist() == ["Li"]
    w = risks.stale_opportunities(pipe, None, "2026-03", REPS, WARN)
    assert w["item"].tolist() == ["O3 (C3)", "O4 (C4)"] and w["days"].tolist() == [31, 31]
    assert w["rule"].iloc[0] == "open opportunity not updated for more than 7 days (pipeline snapshots)"
    assert risks.stale_opportunities(None, None, "2026-03", REPS, WARN).empty


def test_large_deals_slipping_their_close_date() -> None:
    # Open amounts at 03-31: 250, 200, 300, 10; the 50 % quantile is 225: O1 and O3 are large.
    w = risks.slipping_deals(_pipeline(), "2026-03", REPS, WARN.model_copy(update={"large_deal_quantile": 0.5}))
    assert w["item"].tolist() == ["O3 (C3)", "O1 (C1)"]
    assert w["days"].tolist() == [16, 30]
    assert w["detail"].tolist() == [
        "expected to close 2026-03-15, still open",
        "close date moved from 2026-04-01 to 2026-05-01",
    ]
    assert w["owner"].tolist() == ["王伟", "王伟"]
    assert "225" in w["rule"].iloc[0]


def test_early_warnings_say_what_the_data_cannot_show() -> None:
    class Data:
        orders = _orders()
        receivables = None
        customers = None
        reps = REPS
        pipeline = None
        activities = None

    cube = pd.DataFrame({"customer_id": ["C1"], "month": [T("2026-01-01")], "net_amount": [1.0]})
    early = risks.early_warnings(Data(), cube, "2026-03", CustomerTiers(A=3, B=2, C=1), WARN)
    rules = early.rules.set_index("trigger")
    assert rules.loc["receivable overdue", "shown"].startswith("no: needs table receivables")
    assert rules.loc["opportunity not followed up", "shown"] == "no: needs table pipeline"
    assert rules.loc["customer churn", "shown"] == "no: needs 24 months of orders"
    assert rules.loc["order delivery delayed", "shown"].startswith("no: needs delivery dates")
    assert early.table.empty and early.position is None


def test_risks_rank_by_the_landings_shortfall_within_a_rating() -> None:
    landing = pd.DataFrame(
        {
            "dimension": ["region", "product_line", "rep_id"],
            "item": ["E", "P", "R1"],
            "target": [1000.0, 50.0, 100.0],
            "landing": [800.0, 20.0, 60.0],  # shortfalls 200, 30, 40; impacts 20 %, 60 %, 40 %
            "gap": [-200.0, -30.0, -40.0],
            "p_hit": [0.01, 0.01, 0.01],
        }
    )
    m = risks.risk_matrix(landing, REPS, RISK.probability, RISK.impact, None, "2026-06")
    assert (m["risk"] == "high").all()
    assert m["item"].tolist() == ["E", "王伟 (R1)", "P"]  # by money at stake, not by impact %
    assert m["shortfall"].tolist() == pytest.approx([200.0, 40.0, 30.0])
    assert "target - landing" in risks.RISK_ORDER


def test_warning_summary_counts_each_rule_and_keeps_the_largest_items() -> None:
    table = pd.DataFrame(
        {
            "trigger": ["receivable overdue"] * 4 + ["large deal slipping"] * 2,
            "item": ["C1", "C2", "C3", "C4", "O1", "O2"],
            "detail": "",
            "amount": [5.0, 50.0, 20.0, 1.0, 300.0, 200.0],
            "days": [1369, 40, 90, 35, 10, 3],
            "rule": "",
            "owner": "x",
        }
    )
    counts = {"receivable overdue": 4, "large deal slipping": 2, "customer churn": 0, "opportunity not followed up": 0}
    available = dict.fromkeys([*counts, "task behind schedule"])
    rules = risks.warning_rules(WARN, counts, available)
    summary, largest = risks.warning_summary(table, rules, 2)
    s = summary.set_index("trigger")
    assert s.loc["receivable overdue", "items"] == 4 and s.loc["receivable overdue", "amount"] == 76.0
    assert s.loc["receivable overdue", "largest"] == 50.0 and s.loc["receivable overdue", "oldest_days"] == 1369
    assert s.loc["customer churn", "items"] == 0 and s.loc["customer churn", "amount"] == 0.0
    assert np.isnan(s.loc["order delivery delayed", "items"])  # the data cannot show it: no count
    # The rule with the most money at stake first (deals 500 > receivables 76), largest items first.
    assert summary["trigger"].tolist()[:2] == ["large deal slipping", "receivable overdue"]
    assert largest["item"].tolist() == ["O1", "O2", "C2", "C3"]
    assert list(largest.columns) == risks.WARNING_COLUMNS


def test_early_warnings_give_the_page_counts_and_the_largest_few() -> None:
    class Data:
        orders = _orders()
        receivables = _payments()
        reps = REPS
        customers = None
        pipeline = None
        activities = None

    cube = pd.DataFrame(columns=["month", "customer_id", "net_amount"])
    early = risks.early_warnings(
        Data(), cube, "2026-03", CustomerTiers(A=3, B=2, C=1), WARN.model_copy(update={"largest_items": 1})
    )
    overdue = early.table.loc[early.table["trigger"] == "receivable overdue"]
    assert len(overdue) == 3 and len(early.largest) == 1  # the pack keeps all three, the page the largest
    assert early.largest["amount"].item() == overdue["amount"].max()
    row = early.summary.set_index("trigger").loc["receivable overdue"]
    assert row["items"] == 3 and row["amount"] == pytest.approx(overdue["amount"].sum())
