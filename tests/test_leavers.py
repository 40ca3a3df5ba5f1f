"""A rep who has left owns nothing after the leave date, and their payouts stay in every total of
the months they were paid. Hand-built: North has a lead (R1, 李娜) and a rep (R2, 王芳) who left
on 2026-05-31; the report month is October 2026."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesplan.config import load_defaults, load_settings
from salesplan.retro import actions, flags, pay, risks

DEFAULTS = load_defaults()
SETTINGS = load_settings()
THRESHOLDS = DEFAULTS["retro"]["thresholds"]
ESCALATION = DEFAULTS["retro"]["escalation"]  # the flag rules take a plain mapping
ACTIONS = SETTINGS.retro.actions  # period ytd, escalate after 2 months
RULES = SETTINGS.commission
T = pd.Timestamp
LEFT = "left 2026-05-31"
OWNER = "李娜 (region lead; 王芳 left 2026-05-31)"


def _reps(lead_leave: object = pd.NaT) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rep_id": ["R1", "R2", "R3"],
            "rep_name": ["李娜", "王芳", "Li"],
            "region": ["North", "North", "South"],
            "team": ["North A", "North A", "South A"],
            "level": ["lead", "mid", "lead"],
            "leave_date": [lead_leave, T("2026-05-31"), pd.NaT],
        }
    )


def _cube_and_plan() -> tuple[pd.DataFrame, pd.DataFrame]:
    """R2 sells 60 of 100 a month from January to May (then leaves); R1 and R3 are on plan all year."""
    rows, plan = [], []
    for m in range(1, 11):
        for rep, region in (("R1", "North"), ("R2", "North"), ("R3", "South")):
            if rep == "R2" and m > 5:
                continue
            rows.append(
                {
                    "month": T(2026, m, 1),
                    "region": region,
                    "product_line": "Pumps",
                    "rep_id": rep,
                    "net_amount": 60.0 if rep == "R2" else 100.0,
                }
            )
            plan.append(
                {
                    "year": 2026,
                    "month": m,
                    "region": region,
                    "product_line": "Pumps",
                    "rep_id": rep,
                    "target_amount": 100.0,
                }
            )
    return pd.DataFrame(rows), pd.DataFrame(plan)


def test_has_left_is_a_leave_date_before_the_month() -> None:
    dates = [T("2026-05-31"), T("2026-10-15"), T("2026-09-30"), pd.NaT, None]
    # Leaving on 31 May: gone in June, still there in May; leaving during October still counts for October.
    assert flags.has_left(dates, "2026-10").tolist() == [True, False, True, False, False]
    assert flags.has_left(T("2026-05-31"), "2026-05").tolist() == [False]
    assert flags.has_left(T("2026-05-31"), "2026-06").tolist() == [True]
    # One month per date (any day within it): the same rule row by row.
    months = pd.to_datetime(["2026-05-01", "2026-10-20", "2026-10-01", "2026-10-01", "2026-10-01"])
    assert flags.has_left(dates, months.to_numpy()).tolist() == [False, False, True, False, False]
    assert flags.has_left(dates, months.to_numpy()).tolist() == [
        bool(flags.has_left(d, m.to_period("M"))[0]) for d, m in zip(dates, months, strict=True)
    ]
    gone = flags.leavers(_reps(), "2026-10")
    assert gone.to_dict() == {"R2": T("2026-05-31")}
    assert flags.leavers(_reps(), "2026-05").empty
    assert flags.leavers(_reps().drop(columns="leave_date"), "2026-10").empty


def test_a_leavers_flag_stays_listed_owned_by_the_region_lead_without_escalation() -> None:
    cube, plan = _cube_and_plan()
    table = flags.deviation_flags(cube, plan, "2026-10", _reps(), THRESHOLDS, ESCALATION)
    ytd = table.loc[table["period"] == "ytd"].set_index(["level", "key"])
    r2 = ytd.loc[("rep", "R2")]
    # The year's figures are real: 300 against 500, dark red, and stay listed.
    assert (r2["actual"], r2["target"], r2["status"]) == (300.0, 500.0, "dark_red")
    assert r2["owner"] == OWNER and r2["left"] == LEFT
    assert r2["item"] == "王芳 (R2, left 2026-05-31)"
    assert r2["escalation"] == flags.leaver_escalation(LEFT) and "Level" not in r2["escalation"]
    # Everyone else is unmarked and keeps the configured escalation.
    assert ytd.loc[("rep", "R1"), "left"] == "" and ytd.loc[("rep", "R1"), "owner"] == "李娜"
    north = ytd.loc[("region", "North")]
    assert north["owner"] == "李娜" and north["escalation"] == ESCALATION[north["status"]]
    # No October item for R2 at all: nothing measured after she left.
    assert not ((table["period"] == "month") & (table["rep_id"] == "R2")).any()
    # Before she left (May), she owns her own item.
    may = flags.deviation_flags(cube, plan, "2026-05", _reps(), THRESHOLDS, ESCALATION)
    assert may.loc[(may["period"] == "ytd") & (may["rep_id"] == "R2"), "owner"].item() == "王芳"


def test_a_region_whose_lead_has_left_has_no_lead_and_nobody_gone_owns_anything() -> None:
    reps = _reps(lead_leave=T("2026-08-31"))
    assert flags.region_leads(reps, "2026-10") == {"South": "Li"}
    owners = flags.rep_owners(pd.Series(["R1", "R2", "R3", "R9"]), reps, "2026-10").tolist()
    assert owners == [
        "Region head, North (region lead; 李娜 left 2026-08-31)",
        "Region head, North (region lead; 王芳 left 2026-05-31)",
        "Li",
        "Rep R9",
    ]


def test_actions_of_a_leaver_go_to_the_region_lead_and_no_clock_counts_against_her() -> None:
    cube, plan = _cube_and_plan()
    table = flags.deviation_flags(cube, plan, "2026-10", _reps(), THRESHOLDS, ESCALATION)
    # Her action was opened in April under her own name and never closed: 6 months open.
    previous = pd.DataFrame(
        [
            {
                "action_id": "rep:R2",
                "register_month": T("2026-09-01"),
                "opened_month": T("2026-04-01"),
                "level": "rep",
                "item": "王芳 (R2)",
                "owner": "王芳",
                "action_status": "open",
                "escalation_level": 3.0,
                "cause_5why": "",
                "next_step": "visit the top ten",
                "due_date": pd.NaT,
                "resources": "",
            }
        ]
    )
    review = actions.review_actions(previous, table, "2026-10", ACTIONS, ESCALATION).set_index("action_id")
    r2 = review.loc["rep:R2"]
    assert r2["months_open"] == 6 and not r2["escalated"]
    assert r2["owner"] == OWNER and r2["item"] == "王芳 (R2, left 2026-05-31)"
    assert r2["escalation"] == flags.leaver_escalation(LEFT) and "region lead" in r2["note"]
    register = actions.next_register(review.reset_index(), table, "2026-10", ACTIONS, ESCALATION)
    row = register.set_index("action_id").loc["rep:R2"]
    assert row["carry"] == "carried" and row["owner"] == OWNER
    assert row["escalation"] == flags.leaver_escalation(LEFT)
    # A fresh register (no earlier one) opens her item for the lead, not for her.
    fresh = actions.review_actions(None, table, "2026-10", ACTIONS, ESCALATION).set_index("action_id")
    assert fresh.loc["rep:R2", "owner"] == OWNER and not fresh.loc["rep:R2", "escalated"]
    assert not (fresh["owner"] == "王芳").any()


def test_a_leavers_risk_and_warnings_are_owned_by_the_region_lead() -> None:
    landing = pd.DataFrame(
        {
            "dimension": ["rep_id", "rep_id"],
            "item": ["R2", "R1"],
            "target": [500.0, 1200.0],
            "landing": [300.0, 1000.0],
            "gap": [-200.0, -200.0],
            "p_hit": [0.0, 0.1],
        }
    )
    bands = SETTINGS.risk
    matrix = risks.risk_matrix(landing, _reps(), bands.probability, bands.impact, None, "2026-10")
    row = matrix.set_index("item").loc["王芳 (R2, left 2026-05-31)"]
    assert row["owner"] == OWNER and row["risk"] == "high"
    assert matrix.set_index("item").loc["李娜 (R1)", "owner"] == "李娜"
    # An overdue receivable of her customer: named after the lead, like her flag.
    position = pd.DataFrame(
        {
            "order_id": ["O1", "O2"],
            "order_date": [T("2026-03-01"), T("2026-03-01")],
            "customer_id": ["C1", "C2"],
            "rep_id": ["R2", "R3"],
            "region": ["North", "South"],
            "signed": [100.0, 50.0],
            "collected": [0.0, 0.0],
        }
    )
    warn = risks.overdue_receivables(position, "2026-10", _reps(), None, SETTINGS.risk.warnings)
    assert warn.set_index("item")["owner"].to_dict() == {"C1": OWNER, "C2": "Li"}


def test_a_leavers_payouts_stay_in_the_year_to_date_total() -> None:
    # R2 paid January to April (above target), left in May; R1 paid every month.
    rows, plan = [], []
    for m in range(1, 11):
        for rep in ("R1", "R2"):
            if rep == "R2" and m > 4:
                continue
            rows.append({"month": T(2026, m, 1), "region": "North", "rep_id": rep, "net_amount": 110_000.0})
            plan.append(
                {
                    "year": 2026,
                    "month": m,
                    "region": "North",
                    "product_line": "P",
                    "rep_id": rep,
                    "target_amount": 100_000,
                }
            )
    cube, plan = pd.DataFrame(rows), pd.DataFrame(plan)
    lines, statement = pay.commission_report(cube, plan, "2026-10", RULES, _reps())
    paid_r2 = statement.loc[statement["rep_id"] == "R2", "total_payout"]
    assert len(paid_r2) == 4 and paid_r2.sum() > 0
    by_rep = lines.set_index("rep_id")
    assert set(by_rep.index) == {"R1", "R2"}
    r2 = by_rep.loc["R2"]
    # October: nothing sold, nothing paid, marked as left; the year to date keeps January-April.
    assert (r2["actual"], r2["target"], r2["total_payout"], r2["qtd_payout"]) == (0.0, 0.0, 0.0, 0.0)
    assert r2["tier"] == LEFT and r2["rep_name"] == "王芳" and np.isnan(r2["attainment"])
    assert r2["ytd_payout"] == pytest.approx(paid_r2.sum())
    assert lines["ytd_payout"].sum() == pytest.approx(statement["total_payout"].sum())
    assert lines["total_payout"].sum() == pytest.approx(by_rep.loc["R1", "total_payout"])
    # Her zero line reads as a statement a person can check.
    assert "total payout    = 0.00" in pay.statement_text(r2.to_dict() | {"rep_id": "R2"}, RULES)
    # Months she was paid in are unchanged: her April line is the same as in April's report.
    april, _ = pay.commission_report(cube, plan, "2026-04", RULES, _reps())
    assert april.set_index("rep_id").loc["R2", "total_payout"] == pytest.approx(paid_r2.iloc[-1])
