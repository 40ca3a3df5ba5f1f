import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesplan.retro.flags import (
    STATUS_ORDER,
    actual_vs_plan,
    check_thresholds,
    classify_deviation,
    deviation_flags,
    flag_counts,
    region_leads,
)
from salesplan.retro.periods import RetroInputError, window
from salesplan.status import StatusInputError

THRESHOLDS = {"yellow": 0.05, "red": 0.10, "dark_red": 0.15, "ahead": 0.05}


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (95.0, "green"),  # exactly 5 % behind: within 5 %
        (94.99, "yellow"),
        (90.0, "yellow"),  # exactly 10 % behind
        (89.99, "red"),
        (85.0, "red"),  # exactly 15 % behind
        (84.99, "dark_red"),
        (0.0, "dark_red"),
        (100.0, "green"),
        (105.0, "green"),  # exactly 5 % ahead is still green
        (105.01, "ahead"),
    ],
)
def test_status_boundaries(actual, expected):
    assert classify_deviation(actual, 100.0, THRESHOLDS)[0] == expected


@pytest.mark.parametrize("target", [0.0, np.nan, -10.0])
def test_zero_or_missing_target_is_no_target_not_a_number(target):
    assert classify_deviation(50.0, target, THRESHOLDS)[0] == "no_target"


@given(st.floats(min_value=1.0, max_value=1e9, allow_nan=False), st.sampled_from([0.95, 0.90, 0.85]))
def test_boundary_survives_floating_error(target, share):
    # actual computed as share * target carries floating error; the status must not flip.
    expected = {0.95: "green", 0.90: "yellow", 0.85: "red"}[share]
    assert classify_deviation(target * share, target, THRESHOLDS)[0] == expected


def test_thresholds_come_from_config_values():
    wide = {"yellow": 0.10, "red": 0.20, "dark_red": 0.30, "ahead": 0.02}
    assert list(classify_deviation([92.0, 85.0, 75.0, 65.0, 103.0], 100.0, wide)) == [
        "green",
        "yellow",
        "red",
        "dark_red",
        "ahead",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        {"yellow": 0.1, "red": 0.05, "dark_red": 0.15},
        {"yellow": 0.05, "red": 0.1},
        {"yellow": "x", "red": 1, "dark_red": 2},
    ],
)
def test_bad_thresholds_are_named(bad):
    with pytest.raises(StatusInputError, match="retro.thresholds"):
        check_thresholds(bad)


def _data():
    months = pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"])
    rows = []
    # rep, region, line, monthly actual
    for rep, region, line, amount in [
        ("R1", "East", "Pumps", 100.0),
        ("R1", "East", "Valves", 50.0),
        ("R2", "West", "Pumps", 80.0),
        ("R3", "West", "Valves", 30.0),  # R3 has no plan at all
    ]:
        for m in months:
            rows.append(
                {
                    "month": m,
                    "region": region,
                    "product_line": line,
                    "tier": "core",
                    "rep_id": rep,
                    "customer_id": "C1",
                    "channel": "direct",
                    "net_amount": amount,
                    "quantity": 1,
                }
            )
    cube = pd.DataFrame(rows)
    plan = pd.DataFrame(
        [
            {"year": 2026, "month": mo, "region": r, "product_line": pl, "rep_id": rep, "target_amount": t}
            for mo in (1, 2, 3, 4)
            for rep, r, pl, t in [
                ("R1", "East", "Pumps", 100.0),
                ("R1", "East", "Valves", 100.0),
                ("R2", "West", "Pumps", 80.0),
                ("R4", "West", "Pumps", 20.0),  # planned rep without sales
            ]
        ]
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["R1", "R2", "R3", "R4"],
            "rep_name": ["王伟", "Li Na", "Zhao", "Chen"],
            "region": ["East", "West", "West", "West"],
            "level": ["lead", "mid", "junior", "junior"],
        }
    )
    return cube, plan, reps


def test_actual_vs_plan_keeps_both_sides_and_sums():
    cube, plan, _ = _data()
    out = actual_vs_plan(cube, plan, window("2026-03", "ytd"), ["rep_id"]).set_index("rep_id")
    assert out.loc["R1", "actual"] == 450.0 and out.loc["R1", "target"] == 600.0
    assert out.loc["R3", "target"] == 0.0 and np.isnan(out.loc["R3", "attainment"])
    assert out.loc["R4", "actual"] == 0.0 and out.loc["R4", "target"] == 60.0
    total = actual_vs_plan(cube, plan, window("2026-03", "ytd"), [])
    assert total["actual"].iloc[0] == out["actual"].sum()
    assert total["target"].iloc[0] == out["target"].sum()  # April plan is outside the window


def test_deviation_flags_status_owner_and_blank_meeting_columns():
    cube, plan, reps = _data()
    flags = deviation_flags(
        cube, plan, "2026-03", reps, THRESHOLDS, {"dark_red": "Level 3"}, product_owners={"Valves": "Ms Valve"}
    )
    assert set(flags["period"]) == {"month", "ytd"}
    ytd = flags[flags["period"] == "ytd"].set_index(["level", "key"])
    # East: 450 vs 600 -> 25 % behind -> dark red, escalated, owned by the region's lead.
    east = ytd.loc[("region", "East")]
    assert east["status"] == "dark_red" and east["escalation"] == "Level 3" and east["owner"] == "王伟"
    # West has no lead: a generic owner that names the region.
    assert ytd.loc[("region", "West"), "owner"] == "Region head, West"
    assert ytd.loc[("product_line", "Valves"), "owner"] == "Ms Valve"
    assert ytd.loc[("product_line", "Pumps"), "owner"] == "Product manager, Pumps"
    assert ytd.loc[("region x product_line", "East|Pumps"), "status"] == "green"
    rep3 = ytd.loc[("rep", "R3")]
    assert rep3["status"] == "no_target" and rep3["region"] == "West" and rep3["item"] == "Zhao (R3)"
    assert ytd.loc[("rep", "R4"), "status"] == "dark_red"  # planned but sold nothing
    assert (flags["cause_5why"] == "").all() and (flags["next_step"] == "").all()
    # Most severe first within each period and level.
    for _, part in flags.groupby(["period", "level"], sort=False):
        ranks = part["status"].map({s: i for i, s in enumerate(STATUS_ORDER)}).to_numpy()
        assert (np.diff(ranks) >= 0).all()


def test_flag_counts_lists_every_status():
    cube, plan, reps = _data()
    flags = deviation_flags(cube, plan, "2026-03", reps, THRESHOLDS)
    counts = flag_counts(flags, "ytd")
    assert list(counts.index) == list(STATUS_ORDER)
    assert counts.sum() == (flags["period"] == "ytd").sum()
    assert counts["no_target"] == 2  # rep R3 and the West / Valves cell


def test_region_lead_prefers_one_still_employed():
    reps = pd.DataFrame(
        {
            "rep_id": ["A", "B"],
            "rep_name": ["Gone", "Here"],
            "region": ["North", "North"],
            "level": ["lead", "lead"],
            "leave_date": [pd.Timestamp("2026-01-31"), pd.NaT],
        }
    )
    assert region_leads(reps, "2026-05") == {"North": "Here"}
    assert region_leads(reps.drop(columns="leave_date")) == {"North": "Gone"}


def test_bad_inputs_name_the_table_and_column():
    cube, plan, reps = _data()
    with pytest.raises(RetroInputError, match="plan: missing column.*target_amount"):
        deviation_flags(cube, plan.drop(columns="target_amount"), "2026-03", reps, THRESHOLDS)
    with pytest.raises(RetroInputError, match="reps: missing column.*rep_name"):
        deviation_flags(cube, plan, "2026-03", reps.drop(columns="rep_name"), THRESHOLDS)
    with pytest.raises(RetroInputError, match="month must be 1-12; row index 0 has 13"):
        deviation_flags(cube, plan.assign(month=13), "2026-03", reps, THRESHOLDS)
    with pytest.raises(RetroInputError, match="'2026/03x'"):
        deviation_flags(cube, plan, "2026/03x", reps, THRESHOLDS)
    with pytest.raises(RetroInputError, match="target_amount must be a number"):
        deviation_flags(cube, plan.assign(target_amount="n/a"), "2026-03", reps, THRESHOLDS)
