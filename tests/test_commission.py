"""Tiered commission: rates, both modes by hand, statements, team rules, payout simulation."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesplan.commission import (
    CommissionRuleError,
    attainment_history,
    commission_for,
    commission_rate,
    commission_statement,
    high_margin_share,
    simulate_payout,
)
from salesplan.config import load_settings

RULES = load_settings().commission
TIERS = RULES.tiers


@pytest.mark.parametrize(
    ("att", "rate"),
    [(0.0, 0.0), (0.79, 0.0), (0.8, 0.01), (0.99, 0.01), (1.0, 0.015), (1.19, 0.015), (1.2, 0.02), (3.0, 0.02),
     (-0.5, 0.0), (float("nan"), 0.0)],
)  # fmt: skip
def test_commission_rate_tiers(att, rate):
    assert commission_rate(att, TIERS) == pytest.approx(rate)


def test_whole_mode_by_hand():
    # Actual 110,000 on a target of 100,000: attainment 110 % -> tier 100-120 % -> 1.5 %.
    # Whole mode pays the rate on all sales: 110,000 * 0.015 = 1,650.
    assert commission_for(110_000, 1.1, TIERS, "whole") == pytest.approx(1_650)
    # 20,000 of it high-margin counts x1.2: base = 110,000 + 0.2 * 20,000 = 114,000 -> 114,000 * 0.015 = 1,710.
    assert commission_for(110_000, 1.1, TIERS, "whole", 20_000, 1.2) == pytest.approx(1_710)
    # Actual 130,000 (130 %): 130,000 * 0.02 = 2,600.
    assert commission_for(130_000, 1.3, TIERS, "whole") == pytest.approx(2_600)


def test_marginal_mode_by_hand():
    # Actual 130,000 on a target of 100,000, each slice at its own rate:
    #   0 - 80,000        at 0 %    ->   0
    #   80,000 - 100,000  at 1 %    ->  20,000 * 0.01  = 200
    #   100,000 - 120,000 at 1.5 %  ->  20,000 * 0.015 = 300
    #   120,000 - 130,000 at 2 %    ->  10,000 * 0.02  = 200
    #   total 700
    assert commission_for(130_000, 1.3, TIERS, "marginal") == pytest.approx(700)
    # Actual 90,000 (90 %): only 80,000-90,000 earns 1 % -> 100.
    assert commission_for(90_000, 0.9, TIERS, "marginal") == pytest.approx(100)
    # With 13,000 high-margin at x1.2 the base is 130,000 + 2,600 = 132,600, so 700 * 132,600 / 130,000 = 714.
    assert commission_for(130_000, 1.3, TIERS, "marginal", 13_000, 1.2) == pytest.approx(714)


def test_no_sales_or_no_target_earns_nothing():
    assert commission_for(0, 1.5, TIERS, "whole") == 0
    assert commission_for(-500, 1.5, TIERS, "marginal") == 0
    assert commission_for(50_000, float("nan"), TIERS, "whole") == 0
    out = commission_for(np.array([100.0, 0.0]), np.array([1.0, np.nan]), TIERS, "marginal")
    assert out.tolist() == pytest.approx([100 * 0.2 * 0.01, 0.0])  # 80-100 % slice of 100 = 20 at 1 %


def test_bad_rules_are_named():
    with pytest.raises(CommissionRuleError, match="strictly increase"):
        commission_rate(1.0, [[0.8, 0.01], [0.5, 0.02]])
    with pytest.raises(CommissionRuleError, match="mode"):
        commission_for(1.0, 1.0, TIERS, "progressive")
    with pytest.raises(CommissionRuleError, match="missing column"):
        commission_statement(pd.DataFrame({"rep_id": ["a"], "month": ["2026-01-01"]}), RULES)
    with pytest.raises(CommissionRuleError, match="target is negative in row 0"):
        commission_statement(
            pd.DataFrame({"rep_id": ["a"], "month": ["2026-01-01"], "actual": [1.0], "target": [-5.0]}), RULES
        )


def _rep_month():
    # Rep A: Jan-Mar targets 100,000 each, actuals 110,000 / 70,000 / 150,000.
    # Rep B: targets 100,000 each, actuals 100,000 / 100,000 / 100,000 (20,000 high-margin in March).
    return pd.DataFrame(
        {
            "rep_id": ["A"] * 3 + ["B"] * 3,
            "month": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"] * 2),
            "actual": [110_000, 70_000, 150_000, 100_000, 100_000, 100_000],
            "target": [100_000] * 6,
            "high_margin_actual": [0, 0, 0, 0, 0, 20_000],
        }
    )


def test_statement_lines_by_hand():
    st = commission_statement(_rep_month(), RULES).set_index(["rep_id", "month"])
    a_jan = st.loc[("A", pd.Timestamp("2026-01-01"))]
    # 110 % -> 1.5 % of 110,000 = 1,650
    assert (a_jan["tier"], a_jan["rate"], a_jan["commission"]) == ("100-120%", 0.015, pytest.approx(1_650))
    a_feb = st.loc[("A", pd.Timestamp("2026-02-01"))]
    assert a_feb["tier"] == "0-80%"  # 70 %
    assert a_feb["commission"] == 0
    a_mar = st.loc[("A", pd.Timestamp("2026-03-01"))]
    # March 150 % -> 2 % of 150,000 = 3,000. Quarter: 330,000 vs 300,000 -> excess 30,000 * 3 % = 900, paid in March.
    assert a_mar["commission"] == pytest.approx(3_000)
    assert (a_mar["quarter_actual"], a_mar["quarter_target"]) == (330_000, 300_000)
    assert a_mar["quarter_excess_bonus"] == pytest.approx(900)
    assert a_jan["quarter_excess_bonus"] == 0
    b_mar = st.loc[("B", pd.Timestamp("2026-03-01"))]
    # 100 % -> 1.5 %; base = 100,000 + 0.2 * 20,000 = 104,000 -> 1,560
    assert b_mar["base_amount"] == pytest.approx(104_000)
    assert b_mar["commission"] == pytest.approx(1_560)
    # Team (one team of A and B): Feb = 170,000 / 200,000 = 85 % -> above the 80 % penalty line, no change.
    assert st.loc[("B", pd.Timestamp("2026-02-01")), "team_attainment"] == pytest.approx(0.85)
    assert (st["team_adjustment"] == 0).all()
    # Totals add up line by line.
    assert np.allclose(st["total_payout"], st["commission"] + st["quarter_excess_bonus"] + st["team_adjustment"])


def test_no_quarter_target_pays_no_quarter_excess():
    rm = _rep_month().assign(target=0.0)
    st = commission_statement(rm, RULES)
    assert (st["quarter_excess_bonus"] == 0).all()
    assert (st["commission"] == 0).all()


def test_team_penalty_and_two_month_bonus():
    df = pd.DataFrame(
        {
            "rep_id": ["A", "B"] * 3,
            "team": ["t1", "t1"] * 3,
            "month": pd.to_datetime(["2026-04-01"] * 2 + ["2026-05-01"] * 2 + ["2026-06-01"] * 2),
            # April: 75 % team attainment; May and June: 130 % and 125 %.
            "actual": [90_000, 60_000, 130_000, 130_000, 125_000, 125_000],
            "target": [100_000] * 6,
        }
    )
    st = commission_statement(df, RULES).set_index(["rep_id", "month"])
    apr = st.loc[("A", pd.Timestamp("2026-04-01"))]
    # Rep A: 90 % -> 1 % of 90,000 = 900; team at 75 % < 80 % -> loses 10 %: -90.
    assert apr["team_attainment"] == pytest.approx(0.75)
    assert apr["team_adjustment"] == pytest.approx(-90)
    # May is the first month above 120 %: no bonus yet. June is the second in a row: +5 % of 2,500 = 125.
    assert st.loc[("A", pd.Timestamp("2026-05-01")), "team_adjustment"] == 0
    jun = st.loc[("A", pd.Timestamp("2026-06-01"))]
    assert jun["commission"] == pytest.approx(2_500)
    assert jun["team_adjustment"] == pytest.approx(125)


def test_statement_modes_differ_as_expected():
    whole = commission_statement(_rep_month(), RULES)
    marginal = commission_statement(_rep_month(), RULES.model_copy(update={"mode": "marginal"}))
    # Marginal never pays more than whole for the same tiers (each slice is at or below the top rate).
    assert (marginal["commission"] <= whole["commission"] + 1e-9).all()
    assert marginal["commission"].sum() < whole["commission"].sum()


def test_attainment_history_without_targets_uses_phased_own_total():
    months = pd.date_range("2025-01-01", periods=12, freq="MS")
    actual = pd.DataFrame({"rep_id": "A", "month": months, "actual": [100.0] * 11 + [200.0]})
    hist = attainment_history(actual)
    # Year total 1,300 phased evenly -> 108.33 a month; January 100 / 108.33 = 0.923, December 200 / 108.33 = 1.846.
    assert hist["attainment"].iloc[0] == pytest.approx(100 / (1300 / 12))
    assert hist["attainment"].iloc[-1] == pytest.approx(200 / (1300 / 12))
    with_targets = attainment_history(actual, pd.DataFrame({"rep_id": "A", "month": months, "target": 100.0}))
    assert with_targets["attainment"].iloc[-1] == pytest.approx(2.0)


def test_simulate_payout_brackets_the_deterministic_case():
    quotas = pd.DataFrame(
        {"rep_id": ["A"] * 12 + ["B"] * 12, "month": list(pd.date_range("2026-01-01", periods=12, freq="MS")) * 2,
         "target": [10_000.0] * 24, "team": ["t1"] * 12 + ["t2"] * 12}
    )  # fmt: skip
    # Rep A (alone in team t1) always lands at exactly 100 %: every draw pays 1.5 % of 120,000 = 1,800
    # (no quarter excess, team at 100 % so no team penalty or bonus).
    # Rep B has no history and draws from the pooled history (A's 100 % and C's 50 % / 130 %).
    history = pd.DataFrame({"rep_id": ["A", "A", "C", "C"], "attainment": [1.0, 1.0, 0.5, 1.3]})
    sim = simulate_payout(quotas, history, RULES, n_sims=200, seed=1)
    a = sim.by_rep.set_index("rep_id").loc["A"]
    assert a["expected_payout"] == pytest.approx(1_800)
    assert a["payout_low"] == pytest.approx(1_800) and a["payout_high"] == pytest.approx(1_800)
    b = sim.by_rep.set_index("rep_id").loc["B"]
    assert b["payout_low"] < b["expected_payout"] < b["payout_high"]
    assert b["history_months"] == 0
    assert sim.total["payout_low"] <= sim.total["expected_payout"] <= sim.total["payout_high"]
    assert len(sim.draws) == 200
    again = simulate_payout(quotas, history, RULES, n_sims=200, seed=1)
    assert again.total.equals(sim.total)  # seeded: reproducible
    with pytest.raises(CommissionRuleError, match="no historical attainment"):
        simulate_payout(quotas, history.iloc[0:0], RULES)


def test_high_margin_share_by_hand():
    orders = pd.DataFrame(
        {
            "order_date": pd.to_datetime(["2025-01-05", "2025-02-05", "2025-03-05", "2024-12-31"]),
            "rep_id": ["A", "A", "B", "A"],
            "sku": ["S1", "S2", "S2", "S1"],
            "net_amount": [300.0, 100.0, 50.0, 1_000.0],
        }
    )
    products = pd.DataFrame({"sku": ["S1", "S2"], "high_margin": [True, False]})
    out = high_margin_share(orders, products, "2025-01-01", "2025-12-31").set_index("rep_id")["high_margin_share"]
    # A in 2025: 300 high-margin of 400 -> 75 %; the 2024 order is outside the window. B: none.
    assert out["A"] == pytest.approx(0.75)
    assert out["B"] == 0
    no_flag = high_margin_share(orders, products.drop(columns="high_margin"), "2025-01-01", "2025-12-31")
    assert (no_flag["high_margin_share"] == 0).all()


@given(
    st.floats(min_value=1.0, max_value=1e7),
    st.floats(min_value=0.0, max_value=3.0),
    st.floats(min_value=0.0, max_value=3.0),
)
def test_marginal_is_monotonic_and_never_above_whole(target, att_a, att_b):
    lo, hi = sorted((att_a, att_b))
    pay = [commission_for(target * a, a, TIERS, "marginal") if a > 0 else 0.0 for a in (lo, hi)]
    # Selling more never earns less under marginal tiers, and each slice earns at most the whole-mode rate.
    assert pay[0] <= pay[1] + 1e-6
    if hi > 0:
        assert pay[1] <= commission_for(target * hi, hi, TIERS, "whole") + 1e-6
