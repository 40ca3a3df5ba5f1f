"""Process targets tracked: leads, won deals, new customers, stages and visits, hand-computed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesplan.config import load_defaults, load_settings
from salesplan.retro import process

DEFAULTS = load_defaults()
TARGET_SETTINGS = load_settings().targets
THRESHOLDS = DEFAULTS["retro"]["thresholds"]
STAGES = ["lead", "contact", "proposal"]


def _pipeline() -> pd.DataFrame:
    rows = [
        # 2025, closed: B1 won from contact, B2 lost as a lead, B3 lost at proposal
        ("B1", "2025-03-31", "lead", "open"), ("B1", "2025-04-30", "contact", "open"), ("B1", "2025-05-31", "contact", "won"),
        ("B2", "2025-06-30", "lead", "open"), ("B2", "2025-07-31", "lead", "lost"),
        ("B3", "2025-08-31", "contact", "open"), ("B3", "2025-09-30", "proposal", "lost"),
        # 2026: Y1 lost as a lead in February, Y2 a lead moving on, Y3 a new lead in March
        ("Y1", "2026-01-31", "lead", "open"), ("Y1", "2026-02-28", "lead", "lost"),
        ("Y2", "2026-02-28", "contact", "open"), ("Y2", "2026-03-31", "proposal", "open"),
        ("Y3", "2026-03-31", "lead", "open"),
        ("Y4", "2026-04-30", "lead", "open"),  # after the month
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["opportunity_id", "snapshot_date", "stage", "status"])
    return frame.assign(
        snapshot_date=pd.to_datetime(frame["snapshot_date"]), region="E", rep_id="R1", customer_id="C1", amount=100.0
    )


def _history() -> pd.DataFrame:
    return process.opportunity_history(_pipeline(), pd.Timestamp("2026-03-31"), STAGES)


def test_opportunity_history_ranks_and_dates() -> None:
    h = _history().set_index("opportunity_id")
    assert "Y4" not in h.index
    assert h.loc["B1", "max_rank"] == 3 and h.loc["B2", "max_rank"] == 0 and h.loc["B3", "max_rank"] == 2
    assert h.loc["B1", "closed"] == pd.Timestamp("2025-05-31") and pd.isna(h.loc["Y2", "closed"])
    # Y2 was first seen at contact: it reached lead (rank 0) and contact (1) on 02-28, proposal on 03-31.
    assert h.loc["Y2", "reached_0"] == h.loc["Y2", "reached_1"] == pd.Timestamp("2026-02-28")
    assert h.loc["Y2", "reached_2"] == pd.Timestamp("2026-03-31") and pd.isna(h.loc["Y2", "reached_3"])


def _cube() -> pd.DataFrame:
    rows = [
        ("C1", "2025-05-01", "E", 10.0),
        ("C1", "2026-03-01", "E", 10.0),
        ("C2", "2026-02-01", "E", 10.0),  # new in February
        ("C3", "2026-03-01", "E", 10.0),  # new in March
        ("C4", "2026-03-01", "W", -5.0),  # a return only: not a purchase
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "month", "region", "net_amount"])
    return frame.assign(month=pd.to_datetime(frame["month"]))


TARGETS = pd.DataFrame({"region": ["E"], "leads": [24], "won_deals": [12], "new_customers": [6]}).assign(
    visits_per_rep_month=10.0
)


def test_funnel_tracking_against_evenly_spread_annual_targets() -> None:
    out = process.funnel_tracking(_history(), _cube(), TARGETS, "2026-03", THRESHOLDS)
    t = out.set_index(["region", "measure"])
    # Leads: Y3 first seen in March; Y1, Y2, Y3 this year. Target 24 / 12 a month, 24 x 3 / 12 to date.
    assert t.loc[("E", "leads"), ["month_actual", "month_target", "ytd_actual", "ytd_target"]].tolist() == [
        1, 2.0, 3, 6.0,
    ]  # fmt: skip
    assert t.loc[("E", "leads"), "status"] == "dark_red"  # 3 / 6 - 1 = -50 %
    assert t.loc[("E", "won deals"), ["month_actual", "ytd_actual", "ytd_target"]].tolist() == [0, 0, 3.0]
    # New customers: C3 in March, C2 and C3 this year; target 6 x 3 / 12 = 1.5 -> ahead.
    assert t.loc[("E", "new customers"), ["month_actual", "ytd_actual", "ytd_target"]].tolist() == [1, 2, 1.5]
    assert t.loc[("E", "new customers"), "status"] == "ahead"
    assert t.loc[("W", "new customers"), "status"] == "no_target"  # region without process targets
    assert t.loc[("(all)", "leads"), "ytd_target"] == 6.0
    without = process.funnel_tracking(None, _cube(), TARGETS, "2026-03", THRESHOLDS)
    assert set(without["measure"]) == {"new customers"}  # no pipeline: no leads or won deals shown


def test_stage_tracking_conversion_and_opportunities_needed() -> None:
    # 2025's closed: B1 (won), B2 (lead), B3 (proposal): reached lead 3, contact 2, proposal 2, won 1.
    table, note = process.stage_tracking(_history(), _pipeline(), "2026-03", STAGES, 2.0, THRESHOLDS)
    t = table.set_index("stage")
    assert t["conversion_target"].tolist() == pytest.approx([2 / 3, 1.0, 0.5])
    # Needed per month = 2 won / P(won | reached the stage): 1/3, 1/2, 1/2.
    assert t["needed_per_month"].tolist() == pytest.approx([6.0, 4.0, 4.0])
    assert t["needed_ytd"].tolist() == pytest.approx([18.0, 12.0, 12.0])
    # 2026 to date only Y1 closed, as a lead: conversion lead -> contact 0 / 1; later stages undefined.
    assert t.loc["lead", "conversion_ytd"] == 0.0 and np.isnan(t.loc["contact", "conversion_ytd"])
    assert t.loc["lead", "status"] == "dark_red" and t.loc["contact", "status"] == "no_target"
    assert t["reached_month"].tolist() == [1, 0, 1]  # Y3 a lead in March; Y2 reached proposal in March
    assert t["reached_ytd"].tolist() == [3, 1, 1]
    assert t["open_now"].tolist() == [1, 0, 1] and t.loc["proposal", "open_amount"] == 100.0
    assert "1 opportunities closed in 2026" in note and "3 closed in 2025" in note


def test_visits_per_rep_against_region_target_times_availability() -> None:
    reps = pd.DataFrame(
        {
            "rep_id": ["R1", "R2", "R3"],
            "rep_name": ["王伟", "Li", "Gone"],
            "region": ["E", "E", "E"],
            "hire_date": pd.to_datetime(["2020-01-01", "2026-02-10", "2020-01-01"]),
            "leave_date": pd.to_datetime([None, None, "2025-06-30"]),
        }
    )
    dates = ["2026-01-05"] * 12 + ["2026-02-05"] * 10 + ["2026-03-05"] * 11 + ["2026-03-06"] * 4
    activities = pd.DataFrame(
        {
            "activity_date": pd.to_datetime(dates),
            "rep_id": ["R1"] * 33 + ["R2"] * 4,
            "customer_id": "C1",
            "activity_type": ["visit"] * 22 + ["visit"] * 8 + ["call"] * 3 + ["visit"] * 4,
        }
    )
    ramp = DEFAULTS["targets"]["ramp"]  # 25 / 50 / 75 / 100 %
    table, note = process.visits_tracking(activities, reps, TARGETS, "2026-03", ["visit"], ramp, THRESHOLDS)
    t = table.set_index("rep_id")
    assert "R3" not in t.index  # left last year, no visits
    # R1: 8 visits in March (calls do not count) against 10; 30 to date against 30.
    assert t.loc["R1", ["month_visits", "month_target", "ytd_visits", "ytd_target"]].tolist() == [8, 10.0, 30, 30.0]
    assert t.loc["R1", "status"] == "green"
    # R2 hired in February: 25 % then 50 % of 10 -> 2.5 + 5 = 7.5 to date; 4 visits.
    assert t.loc["R2", ["month_target", "ytd_visits", "ytd_target"]].tolist() == [5.0, 4, 7.5]
    assert t.loc["R2", "status"] == "dark_red"
    none, said = process.visits_tracking(None, reps, TARGETS, "2026-03", ["visit"], ramp, THRESHOLDS)
    assert none is None and said == "needs table activities"


def test_plan_process_targets_come_from_the_method_for_the_report_year() -> None:
    from salesplan.targets import history_before, process_targets, rep_availability

    cube = pd.DataFrame(
        {
            "month": pd.to_datetime(["2025-01-01", "2025-06-01", "2025-06-01"]),
            "customer_id": ["C1", "C1", "C2"],
            "region": "E",
            "net_amount": [100.0, 200.0, 50.0],
        }
    )
    plan = pd.DataFrame(
        {"year": [2026, 2026, 2025], "month": [1, 2, 1], "region": "E", "product_line": "P", "rep_id": "R1",
         "target_amount": [600.0, 600.0, 999.0]}
    )  # fmt: skip
    reps = pd.DataFrame({"rep_id": ["R1"], "region": ["E"], "hire_date": pd.to_datetime(["2020-01-01"])})
    got = process.plan_process_targets(cube, plan, None, reps, TARGET_SETTINGS, 2026)
    expected = process_targets(
        plan.iloc[:2],
        history_before(cube, 2026),
        None,
        TARGET_SETTINGS.process,
        rep_availability(reps, 2026, DEFAULTS["targets"]["ramp"]),
    )
    pd.testing.assert_frame_equal(got, expected)
    assert got["revenue_target"].item() == 1200
    assert process.plan_process_targets(cube, plan.iloc[:0], None, reps, TARGET_SETTINGS, 2026).empty


def test_planned_win_rate_is_won_deals_over_leads() -> None:
    from salesplan.retro.process import planned_win_rate

    targets = pd.DataFrame({"won_deals": [3, 1], "leads": [10, 10]})
    assert planned_win_rate(targets) == pytest.approx(0.2)  # 4 won of 20 leads
    assert planned_win_rate(targets.assign(leads=0)) is None
    assert planned_win_rate(targets.iloc[0:0]) is None


def test_best_month_counts_events_per_month_up_to_the_end() -> None:
    dates = pd.Series(pd.to_datetime(["2025-01-03", "2025-01-20", "2025-02-01", "2025-02-02", "2025-02-28",
                                      "2025-03-05", "2025-04-01", "2025-04-02", "2025-04-03", "2025-04-04"]))  # fmt: skip
    assert process.best_month(dates, pd.Timestamp("2025-03-31")) == (3.0, pd.Timestamp("2025-02-01"))
    assert process.best_month(dates, pd.Timestamp("2025-04-30")) == (4.0, pd.Timestamp("2025-04-01"))
    # After the first month only, and nothing at all.
    assert process.best_month(dates, pd.Timestamp("2025-01-31"), after=pd.Timestamp("2025-01-01"))[0] == 0.0
    assert process.best_month(dates.iloc[:0], pd.Timestamp("2025-12-31"))[0] == 0.0


def test_implausible_when_the_best_month_reached_less_than_the_share() -> None:
    got = process.implausible([10, 10, 10, 0, 10, np.nan], [4.9, 5.0, 20.0, 0.0, np.nan, 1.0], 0.5)
    # 4.9 < 5: implausible; exactly half is within reach; no target or no data to judge: not.
    assert got.tolist() == [True, False, False, False, False, False]
    assert process.implausible([10], [6.0], 0.7).tolist() == [True]  # the share is a setting


def test_funnel_targets_nobody_came_close_to_are_implausible_not_dark_red() -> None:
    # Leads: one a month at most (2025-03, the first snapshot's month, not counted); a target of 36
    # a year is 3 a month, and 1 < 50 % x 3.
    targets = TARGETS.assign(leads=36)
    out = process.funnel_tracking(_history(), _cube(), targets, "2026-03", THRESHOLDS, implausible_below=0.5)
    t = out.set_index(["region", "measure"])
    assert t.loc[("E", "leads"), "best_month"] == 1.0
    assert t.loc[("E", "leads"), "status"] == "implausible"
    assert "best month so far 1" in t.loc[("E", "leads"), "note"] and "50%" in t.loc[("E", "leads"), "note"]
    # Won deals: 1 a month target, best 1 -> judged as before (0 of 3 to date: dark red).
    assert t.loc[("E", "won deals"), "status"] == "dark_red" and t.loc[("E", "won deals"), "note"] == ""
    plain = process.funnel_tracking(_history(), _cube(), targets, "2026-03", THRESHOLDS).set_index(
        ["region", "measure"]
    )
    assert plain.loc[("E", "leads"), "status"] == "dark_red"  # without the setting, no label
    assert list(out.columns) == process.TRACK_COLUMNS


def _team() -> tuple[pd.DataFrame, pd.DataFrame]:
    reps = pd.DataFrame(
        {
            "rep_id": ["R1", "R3"],
            "rep_name": ["Stays", "Gone"],
            "region": ["E", "E"],
            "hire_date": pd.to_datetime(["2020-01-01", "2020-01-01"]),
            "leave_date": pd.to_datetime([None, "2026-02-15"]),
        }
    )
    dates = ["2026-01-05"] * 12 + ["2026-02-05"] * 9 + ["2026-01-06"] * 5 + ["2026-02-06"] * 3 + ["2026-03-06"] * 2
    activities = pd.DataFrame(
        {"activity_date": pd.to_datetime(dates), "rep_id": ["R1"] * 21 + ["R3"] * 10, "customer_id": "C1",
         "activity_type": "visit"}
    )  # fmt: skip
    return reps, activities


def test_no_visits_target_applies_after_a_rep_leaves() -> None:
    reps, activities = _team()
    ramp = DEFAULTS["targets"]["ramp"]
    table, note = process.visits_tracking(activities, reps, TARGETS, "2026-03", ["visit"], ramp, THRESHOLDS)
    gone = table.set_index("rep_id").loc["R3"]
    # Left 2026-02-15: February still counts (10 + 10 target, 5 + 3 visits), March nothing, not even
    # the stray visits dated after the leave; no status however far behind.
    assert gone[["month_visits", "month_target", "ytd_visits", "ytd_target"]].tolist() == [0, 0.0, 8, 20.0]
    assert gone["status"] == "no_target" and gone["note"] == "left 2026-02-15"
    assert "after a rep's leave date" in note
    # In February she had not left yet: judged like anyone (8 of 20: dark red).
    feb, _ = process.visits_tracking(activities, reps, TARGETS, "2026-02", ["visit"], ramp, THRESHOLDS)
    assert feb.set_index("rep_id").loc["R3", ["status", "note"]].tolist() == ["dark_red", ""]


def test_visits_target_beyond_the_teams_best_month_is_implausible() -> None:
    reps, activities = _team()
    ramp = DEFAULTS["targets"]["ramp"]
    # The region's best rep-month so far: R1's 12 visits in January 2026.
    high = TARGETS.assign(visits_per_rep_month=30.0)  # 12 < 15
    table, _ = process.visits_tracking(
        activities, reps, high, "2026-03", ["visit"], ramp, THRESHOLDS, implausible_below=0.5
    )
    t = table.set_index("rep_id")
    assert t.loc["R1", "best_month"] == 12.0 and t.loc["R1", "status"] == "implausible"
    assert "best rep-month so far 12 (2026-01)" in t.loc["R1", "note"]
    assert t.loc["R3", "status"] == "no_target"  # a leaver stays without status
    reachable, _ = process.visits_tracking(
        activities, reps, TARGETS.assign(visits_per_rep_month=24.0), "2026-03", ["visit"], ramp, THRESHOLDS,
        implausible_below=0.5,
    )  # fmt: skip
    assert reachable.set_index("rep_id").loc["R1", "status"] != "implausible"  # 12 = 50 % x 24
    assert list(table.columns) == process.VISIT_COLUMNS
