"""The variance split closes exactly: every part is whole cents and the parts add up to the total."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesplan.retro.periods import window
from salesplan.retro.variance import (
    NEW_CUSTOMER_TIER,
    add_customer_tier,
    apportion_plan,
    contribution_steps,
    planned_prices,
    price_volume_mix_vs_plan,
    pvm_steps,
    to_cents,
    variance_by_dimension,
    variance_summary,
)

LINES = ["Pumps", "Valves", "Sensors"]
REGIONS = ["East", "West"]
CHANNELS = ["direct", "online"]


def _cube(amounts: np.ndarray, quantities: np.ndarray, months: list[str]) -> pd.DataFrame:
    rows = []
    i = 0
    for m in months:
        for r in REGIONS:
            for pl in LINES:
                for ch in CHANNELS:
                    rows.append(
                        {
                            "month": pd.Timestamp(m),
                            "region": r,
                            "product_line": pl,
                            "tier": "core",
                            "rep_id": f"{r[0]}1",
                            "customer_id": f"C{i % 5}",
                            "channel": ch,
                            "net_amount": float(amounts[i % len(amounts)]),
                            "quantity": int(quantities[i % len(quantities)]),
                        }
                    )
                    i += 1
    return pd.DataFrame(rows)


def _plan(targets: np.ndarray, year: int = 2026, months: tuple[int, ...] = (1, 2, 3)) -> pd.DataFrame:
    rows = []
    i = 0
    for mo in months:
        for r in REGIONS:
            for pl in LINES:
                rows.append(
                    {
                        "year": year,
                        "month": mo,
                        "region": r,
                        "product_line": pl,
                        "rep_id": f"{r[0]}1",
                        "target_amount": float(targets[i % len(targets)]),
                    }
                )
                i += 1
    return pd.DataFrame(rows)


HISTORY = ["2025-01-01", "2025-02-01", "2025-03-01"]
CURRENT = ["2026-01-01", "2026-02-01", "2026-03-01"]

money = st.integers(min_value=-50_000, max_value=5_000_000).map(lambda c: c / 100)  # amounts in cents


@settings(max_examples=25, deadline=None)
@given(
    st.lists(money, min_size=5, max_size=30),
    st.lists(st.integers(min_value=-3, max_value=40), min_size=5, max_size=30),
    st.lists(st.integers(min_value=0, max_value=2_000_000), min_size=3, max_size=18),
)
def test_every_split_closes_to_the_cent(amounts, quantities, targets):
    cube = _cube(np.array(amounts), np.array(quantities), HISTORY + CURRENT)
    cube = add_customer_tier(cube, 2025, {"A": 1e6, "B": 5e5, "C": 1e4})
    plan = _plan(np.array(targets, dtype=float))
    win = window("2026-03", "ytd")
    total_c = int(to_cents(cube.loc[win.contains(cube["month"]), "net_amount"]).sum()) - int(
        to_cents(plan["target_amount"]).sum()
    )
    for dim in ["region", "product_line", "channel", "customer_tier"]:
        t = variance_by_dimension(cube, plan, win, dim)
        assert int(to_cents(t["variance"]).sum()) == total_c, dim
        assert int(to_cents(t["plan"]).sum()) == int(to_cents(plan["target_amount"]).sum()), dim
    pvm = price_volume_mix_vs_plan(cube, plan, win)
    row_c = to_cents(pvm["volume"]) + to_cents(pvm["price"]) + to_cents(pvm["mix"])
    assert (row_c == to_cents(pvm["variance"])).all()
    assert int(row_c.sum()) == total_c
    steps = pvm_steps(pvm)
    assert int(to_cents(steps["value"].iloc[1:4]).sum()) == int(
        to_cents(steps["value"].iloc[-1] - steps["value"].iloc[0])
    )
    assert variance_summary({"pvm": pvm, "region": variance_by_dimension(cube, plan, win, "region")})["closes"].all()


def test_apportion_plan_is_exact_and_proportional():
    parts = apportion_plan(1000.01, pd.Series({"a": 1.0, "b": 1.0, "c": 1.0}))
    assert int(to_cents(parts).sum()) == 100001
    assert sorted(to_cents(parts)) == [33333, 33334, 33334]
    skewed = apportion_plan(900.0, pd.Series({"a": 2.0, "b": 1.0, "new": 0.0}))
    assert skewed.to_dict() == {"a": 600.0, "b": 300.0, "new": 0.0}


def test_channel_plan_follows_last_year_shares():
    cube = _cube(np.array([100.0]), np.array([1]), HISTORY + CURRENT)
    # Last year all online, this year as before: the whole plan goes to online.
    cube.loc[(cube["month"].dt.year == 2025) & (cube["channel"] == "direct"), "net_amount"] = 0.0
    plan = _plan(np.array([50.0]))
    t = variance_by_dimension(cube, plan, window("2026-03", "ytd"), "channel").set_index("channel")
    assert t.loc["direct", "plan"] == 0.0
    assert t.loc["online", "plan"] == plan["target_amount"].sum()
    assert t.loc["direct", "variance"] == t.loc["direct", "actual"]
    assert "2025-01..2025-03" in t.loc["online", "plan_basis"]


def test_region_contributions_are_actual_minus_plan():
    cube = _cube(np.array([100.0]), np.array([1]), CURRENT)
    plan = _plan(np.array([90.0]))
    t = variance_by_dimension(cube, plan, window("2026-03", "month"), "region").set_index("region")
    # One month: each region has 3 lines x 2 channels x 100 actual, 3 lines x 90 plan.
    assert t.loc["East", "actual"] == 600.0 and t.loc["East", "plan"] == 270.0
    assert t.loc["East", "variance"] == 330.0
    assert t["plan_basis"].eq("plan").all()


def test_pvm_separates_price_from_volume():
    hist = _cube(np.array([100.0]), np.array([10]), HISTORY)  # price 10 per unit last year
    # This year: same 10 units per row at price 12 -> a pure price effect against a plan at last year's level.
    cur = _cube(np.array([120.0]), np.array([10]), CURRENT)
    cube = pd.concat([hist, cur], ignore_index=True)
    plan = _plan(np.array([200.0]))  # 2 channels x 100 per region/line/month = last year's amount
    pvm = price_volume_mix_vs_plan(cube, plan, window("2026-03", "ytd")).set_index("product_line")
    assert pvm["price_basis"].eq("last year").all()
    assert np.allclose(pvm["planned_price"], 10.0)
    assert np.allclose(pvm["volume"], 0.0)
    assert np.allclose(pvm["price"], pvm["variance"])
    assert np.allclose(pvm["mix"], 0.0, atol=0.011)
    # Half the volume at the planned price: a pure volume effect.
    cube2 = pd.concat([hist, _cube(np.array([50.0]), np.array([5]), CURRENT)], ignore_index=True)
    pvm2 = price_volume_mix_vs_plan(cube2, plan, window("2026-03", "ytd"))
    assert np.allclose(pvm2["price"], 0.0, atol=0.011)
    assert np.allclose(pvm2["volume"], pvm2["variance"], atol=0.011)


def test_planned_price_falls_back_to_trailing_months_then_actual():
    cube = _cube(np.array([100.0]), np.array([10]), ["2025-11-01", "2026-01-01"])
    prices = planned_prices(cube, window("2026-01", "month")).set_index("product_line")
    assert prices["price_basis"].eq("trailing 12 months").all()
    only_now = _cube(np.array([100.0]), np.array([4]), ["2026-01-01"])
    prices = planned_prices(only_now, window("2026-01", "month")).set_index("product_line")
    assert prices["price_basis"].eq("actual").all() and np.allclose(prices["planned_price"], 25.0)


def test_customer_tier_marks_customers_without_last_year_as_new():
    cube = _cube(np.array([100.0]), np.array([1]), ["2025-06-01", "2026-01-01"])
    cube.loc[(cube["month"].dt.year == 2025) & (cube["customer_id"] == "C4"), "net_amount"] = 0.0
    cube.loc[cube["customer_id"] == "C3", "customer_id"] = np.where(
        cube.loc[cube["customer_id"] == "C3", "month"].dt.year == 2025, "C3", "C9"
    )
    tiered = add_customer_tier(cube, 2025, {"A": 1000, "B": 500, "C": 100}).drop_duplicates("customer_id")
    tiers = tiered.set_index("customer_id")["customer_tier"]
    assert tiers["C9"] == NEW_CUSTOMER_TIER
    assert tiers["C4"] == "D"  # present last year with zero net purchases


def test_contribution_steps_keep_the_total_with_an_other_bucket():
    table = pd.DataFrame(
        {
            "region": list("abcde"),
            "actual": [10.0, 20, 30, 40, 50],
            "plan": [12.0, 18, 35, 40, 41],
            "variance": [-2.0, 2, -5, 0, 9],
        }
    )
    steps = contribution_steps(table, "region", max_items=2)
    assert steps["label"].tolist() == ["Plan", "e", "c", "other (3)", "Actual"]
    assert steps["value"].iloc[1:-1].sum() == pytest.approx(steps["value"].iloc[-1] - steps["value"].iloc[0])
