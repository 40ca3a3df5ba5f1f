"""The target method step by step: annual number, reconciliation, phasing, allocation, ramp, leavers."""

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from salesplan.config import load_defaults, load_settings
from salesplan.settings import TargetsSettings
from salesplan.targets import (
    UNASSIGNED,
    TargetInputError,
    annual_periods,
    baseline,
    bottom_up_regions,
    bottom_up_reps,
    build_targets,
    coherence_report,
    compare_scenarios,
    history_before,
    monthly_shares,
    phase_total,
    reconcile,
    rep_availability,
    scenario_config,
    top_down,
)

CFG = load_defaults()["targets"]
TARGETS = load_settings().targets


def typed(cfg: dict) -> TargetsSettings:
    """A ``targets`` section written as a mapping, validated as the settings are."""
    return TargetsSettings.model_validate(cfg)


def _cube(yearly: dict[int, float], regions=("North",), lines=("A",), rep="R1") -> pd.DataFrame:
    """Flat monthly sales: each year's amount spread evenly over months, regions and product lines."""
    rows = []
    for year, amount in yearly.items():
        for m in pd.date_range(f"{year}-01-01", periods=12, freq="MS"):
            for r in regions:
                for pl in lines:
                    rows.append((m, r, pl, rep, "C1", amount / 12 / len(regions) / len(lines), 0.0))
    cols = ["month", "region", "product_line", "rep_id", "customer_id", "net_amount", "cost_amount"]
    return pd.DataFrame(rows, columns=cols)


def _reps(**extra) -> pd.DataFrame:
    base = {"rep_id": ["R1"], "region": ["North"], "level": ["mid"], "hire_date": [pd.Timestamp("2015-01-01")],
            "leave_date": [pd.NaT]}  # fmt: skip
    base.update(extra)
    return pd.DataFrame(base)


def test_history_before_plan_year_only():
    cube = _cube({2024: 1200, 2025: 1200, 2026: 99999})
    h = history_before(cube, 2026)
    assert h["month"].max() == pd.Timestamp("2025-12-01")
    assert h["net_amount"].sum() == pytest.approx(2400)


def test_baseline_by_hand():
    # 2022: 1,000,000; 2025: 1,331,000 -> CAGR over 3 years = (1.331) ** (1/3) - 1 = 10 %.
    cube = _cube({2022: 1_000_000, 2023: 1_100_000, 2024: 1_210_000, 2025: 1_331_000})
    periods = annual_periods(history_before(cube, 2026), years=4)
    assert periods["label"].tolist() == ["2025", "2024", "2023", "2022"]
    b = baseline(periods, 3, {"new_products": 50_000, "new_regions": 0, "price_change_pct": 0.02}, 0.10)
    steps = b.set_index("step")["amount"]
    assert b.attrs["cagr"] == pytest.approx(0.10)
    # organic = 1,331,000 * 1.1 = 1,464,100; price = 2 % of it = 29,282; + 50,000 new products
    assert steps["cagr_growth"] == pytest.approx(133_100)
    assert steps["price_change"] == pytest.approx(29_282)
    assert steps["baseline"] == pytest.approx(1_464_100 + 29_282 + 50_000)
    assert steps["stretch"] == pytest.approx((1_464_100 + 29_282 + 50_000) * 1.1)
    # The waterfall closes: last year + deltas = baseline.
    deltas = b.loc[b["kind"] == "delta", "amount"].sum()
    assert steps["last_year"] + deltas == pytest.approx(steps["baseline"])


def test_baseline_with_short_history_uses_what_there_is():
    cube = _cube({2024: 1_000, 2025: 1_200})
    b = baseline(annual_periods(history_before(cube, 2026)), 3, {}, 0.0)
    assert b.attrs["cagr_years"] == 1 and b.attrs["cagr"] == pytest.approx(0.2)
    with pytest.raises(TargetInputError, match="unknown key"):
        baseline(annual_periods(history_before(cube, 2026)), 3, {"new_stores": 1}, 0.0)


def test_top_down_both_methods():
    # 1,000,000 * (1 + 8 % * 1.4) = 1,112,000
    assert top_down(
        1_000_000, {"method": "industry_growth", "industry_growth": 0.08, "multiplier": 1.4}
    ) == pytest.approx(1_112_000)
    assert top_down(0, {"method": "market_share", "market_size": 5e7, "market_share": 0.04}) == pytest.approx(2e6)
    with pytest.raises(TargetInputError, match="market_size and market_share"):
        top_down(1, {"method": "market_share", "market_size": None, "market_share": None})


def test_reconcile_rules():
    r = reconcile(1_100, 1_000, "scale_to_top_down")
    assert (r["final"], r["gap"], r["gap_pct"]) == (1_100, 100, pytest.approx(0.1))
    # blend 30 % top-down: 0.3 * 1,100 + 0.7 * 1,000 = 1,030
    assert reconcile(1_100, 1_000, "blend", 0.3)["final"] == 1_030
    with pytest.raises(TargetInputError, match="reconcile.rule"):
        reconcile(1, 1, "average")
    with pytest.raises(TargetInputError, match="top_down_weight"):
        reconcile(1_100, 1_000, "blend")


def test_bottom_up_regions_by_hand():
    cube = _cube({2023: 2_000, 2024: 2_000, 2025: 2_420}, regions=("North", "South"))
    # Each region: 1,000 in 2023 -> 1,210 in 2025 -> CAGR 10 % over 2 years.
    out = bottom_up_regions(history_before(cube, 2026), ["North", "South", "West"], 3, {"North": 1.1}, {"South": 0.8})
    out = out.set_index("region")
    assert out.loc["North", "cagr"] == pytest.approx(0.10)
    assert out.loc["North", "bottom_up"] == pytest.approx(1_210 * 1.1 * 1.1)
    assert out.loc["South", "bottom_up"] == pytest.approx(1_210 * 1.1 * 0.8)
    assert out.loc["West", "bottom_up"] == 0  # no history: nothing bottom-up


def test_ramp_and_leave_dates():
    reps = _reps(
        rep_id=["old", "new", "gone"], region=["N"] * 3, level=["mid"] * 3,
        hire_date=pd.to_datetime(["2010-01-01", "2026-03-20", "2010-01-01"]),
        leave_date=pd.to_datetime([None, None, "2026-05-15"]),
    )  # fmt: skip
    a = rep_availability(reps, 2026, [0.25, 0.5, 0.75, 1.0]).pivot(
        index="rep_id", columns="month", values="availability"
    )
    assert a.loc["old"].tolist() == [1.0] * 12
    # Hired in March: Mar 25 %, Apr 50 %, May 75 %, June on 100 %.
    assert a.loc["new"].tolist() == [0, 0, 0.25, 0.5, 0.75] + [1.0] * 7
    # Leaves 15 May: May still counts, nothing from June.
    assert a.loc["gone"].tolist() == [1.0] * 5 + [0.0] * 7


def test_bottom_up_reps_new_hire_gets_region_average_and_ramp():
    cube = _cube({2025: 12_000})
    reps = _reps(
        rep_id=["R1", "R9"], region=["North", "North"], level=["mid", "senior"],
        hire_date=pd.to_datetime(["2015-01-01", "2026-01-10"]), leave_date=pd.to_datetime([None, None]),
    )  # fmt: skip
    avail = rep_availability(reps, 2026, [0.5, 1.0])
    out = bottom_up_reps(history_before(cube, 2026), reps, avail, 0.05, CFG["bottom_up"]["level_coefficient"])
    out = out.set_index("rep_id")
    # R1: 12,000 * 1.05 * 0.9 (mid) * 1.0 availability
    assert out.loc["R1", "bottom_up"] == pytest.approx(12_000 * 1.05 * 0.9)
    # R9: no history -> region average 12,000 annualised; senior 1.1; availability (0.5 + 11 * 1) / 12
    assert out.loc["R9", "bottom_up"] == pytest.approx(12_000 * 1.05 * 1.1 * (11.5 / 12))


def test_monthly_shares_methods_sum_to_one():
    months = pd.date_range("2024-01-01", periods=24, freq="MS")
    hist = pd.DataFrame({"month": months, "net_amount": [100.0] * 11 + [300.0] + [100.0] * 11 + [300.0]})
    s = monthly_shares("seasonality", hist)
    assert s["share"].sum() == pytest.approx(1.0)
    assert s["share"].iloc[-1] == pytest.approx(300 / 1400)  # December index 300 / (1400 / 12)
    q = monthly_shares("quarterly_template", hist, template=[0.28, 0.32, 0.27, 0.13])
    assert q.groupby((q["month_of_year"] - 1) // 3)["share"].sum().tolist() == pytest.approx([0.28, 0.32, 0.27, 0.13])
    # Within Q4 the months follow seasonality: December = 0.13 * 300 / 500.
    assert q["share"].iloc[-1] == pytest.approx(0.13 * 300 / 500)
    p = monthly_shares("monthly_profile", None, profile=[1] * 6 + [3] * 6)
    assert p["share"].iloc[0] == pytest.approx(1 / 24)
    even = monthly_shares("seasonality", hist.iloc[:5])
    assert even["source"].iloc[0].startswith("even")
    with pytest.raises(TargetInputError, match="expected 12 numbers"):
        monthly_shares("monthly_profile", None, profile=[1, 2, 3])


def test_phase_total_is_exact():
    shares = monthly_shares("monthly_profile", None, profile=[1] * 12)
    out = phase_total(1_000_003, shares, 2026)
    assert out["target_amount"].sum() == 1_000_003
    assert out["target_amount"].max() - out["target_amount"].min() <= 1


def test_scenarios_merge_over_targets():
    cfg = scenario_config(TARGETS, "stretch")
    assert cfg.top_down.multiplier == 1.5
    assert cfg.top_down.industry_growth == TARGETS.top_down.industry_growth
    assert "scenarios" not in cfg
    with pytest.raises(TargetInputError, match="no scenario 'bold'"):
        scenario_config(TARGETS, "bold")


def _company():
    """Two regions, two product lines, a leaver, a new hire, a rep with no history, a zero-history region."""
    rows = []
    rng = np.random.default_rng(7)
    for m in pd.date_range("2023-01-01", "2025-12-01", freq="MS"):
        for region, rep in (("North", "N1"), ("North", "N2"), ("South", "S1")):
            for pl in ("A", "B"):
                rows.append((m, region, pl, rep, f"C{rng.integers(30)}", float(rng.integers(500, 3000)), 100.0))
    cube = pd.DataFrame(
        rows, columns=["month", "region", "product_line", "rep_id", "customer_id", "net_amount", "cost_amount"]
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["N1", "N2", "S1", "S2", "W1"],
            "region": ["North", "North", "South", "South", "West"],
            "level": ["senior", "junior", "mid", "junior", "mid"],
            "hire_date": pd.to_datetime(["2015-01-01", "2018-01-01", "2016-01-01", "2026-04-01", "2026-02-01"]),
            "leave_date": pd.to_datetime([None, "2026-06-30", None, None, None]),
        }
    )
    return cube, reps


def test_build_targets_is_coherent_and_respects_leavers_and_ramp():
    cube, reps = _company()
    tp = build_targets(cube, reps, TARGETS, 2026)
    report = coherence_report(tp)
    assert report["ok"].all(), report
    plan = tp.plan
    assert plan["target_amount"].sum() == tp.total
    # The leaver N2 gets nothing after June; North's months keep their full amount.
    n2 = plan[plan["rep_id"] == "N2"].groupby("month")["target_amount"].sum()
    assert n2[n2.index >= pd.Timestamp("2026-07-01")].sum() == 0
    assert n2[n2.index < pd.Timestamp("2026-07-01")].sum() > 0
    north = tp.cells[tp.cells["region"] == "North"].groupby("month")["target_amount"].sum()
    north_reps = plan[plan["region"] == "North"].groupby("month")["target_amount"].sum()
    assert north.equals(north_reps)
    # S2 (hired April, no history) ramps: nothing before April, a quarter of a full share in April.
    s2 = plan[plan["rep_id"] == "S2"].groupby("month")["target_amount"].sum()
    assert s2[s2.index < pd.Timestamp("2026-04-01")].sum() == 0
    assert 0 < s2[pd.Timestamp("2026-04-01")] < s2[pd.Timestamp("2026-08-01")]
    # West had no sales: its bottom-up is its one rep's (W1, hired February), so it carries W1's number from
    # February and its January stays unassigned (nobody on board).
    west = plan[plan["region"] == "West"]
    assert set(west["rep_id"]) == {"W1", UNASSIGNED}
    assert west.loc[west["rep_id"] == UNASSIGNED, "month"].unique().tolist() == [pd.Timestamp("2026-01-01")]
    assert west["target_amount"].sum() == tp.region_trace.set_index("region").loc["West", "final"] > 0
    # With shares only (region_totals: basis, last year's shares) West, without sales, carries nothing.
    shares_only = build_targets(
        cube, reps, typed({**CFG, "allocation": {**CFG["allocation"], "region_totals": "basis"}}), 2026
    )
    assert shares_only.plan.loc[shares_only.plan["region"] == "West", "target_amount"].sum() == 0
    # Contract columns and whole numbers.
    contract = tp.contract()
    assert contract["month"].between(1, 12).all() and contract["target_amount"].dtype == np.int64
    assert tp.assumptions()["history_through"] == "2025-12"


def test_capacity_basis_gives_zero_history_region_a_target():
    cube, reps = _company()
    cfg = {**CFG, "allocation": {**CFG["allocation"], "basis": "capacity"}}
    tp = build_targets(cube, reps, typed(cfg), 2026)
    assert coherence_report(tp)["ok"].all()
    assert tp.plan.loc[tp.plan["region"] == "West", "target_amount"].sum() > 0


def test_buffer_raises_quotas_exactly():
    cube, reps = _company()
    cfg = {**CFG, "over_assignment_buffer": 0.1}
    tp = build_targets(cube, reps, typed(cfg), 2026)
    assert coherence_report(tp)["ok"].all()
    assert tp.plan["quota_amount"].sum() == int(np.floor(tp.total * 1.1 + 0.5))
    assert tp.plan["target_amount"].sum() == tp.total


def test_region_without_reps_keeps_its_target_unassigned():
    cube, reps = _company()
    reps = reps[reps["region"] != "South"]  # South has history but nobody on board
    tp = build_targets(cube, reps, TARGETS, 2026)
    assert coherence_report(tp)["ok"].all()
    south = tp.plan[tp.plan["region"] == "South"]
    assert set(south["rep_id"]) == {UNASSIGNED} and south["target_amount"].sum() > 0
    assert any("South" in n for n in tp.notes)


def test_blend_and_reps_bottom_up():
    cube, reps = _company()
    cfg = {**CFG, "reconcile": {"rule": "blend", "top_down_weight": 0.5, "bottom_up": "reps"},
           "allocation": {**CFG["allocation"], "basis": "blend"}}  # fmt: skip
    tp = build_targets(cube, reps, typed(cfg), 2026)
    rec = tp.reconciliation
    assert rec["bottom_up"] == pytest.approx(tp.bottom_up_reps["bottom_up"].sum())
    assert tp.total == int(np.floor(0.5 * rec["top_down"] + 0.5 * rec["bottom_up"] + 0.5))
    assert coherence_report(tp)["ok"].all()


def test_result_and_process_targets_are_separate_and_consistent():
    cube, reps = _company()
    tp = build_targets(cube, reps, TARGETS, 2026)
    assert tp.result["revenue_target"].sum() == tp.total
    assert tp.result["gross_margin_target"].sum() == int(np.floor(tp.total * CFG["gross_margin_goal"] + 0.5))
    proc = tp.process.set_index("region")
    assert {"won_deals", "leads", "visits", "new_customers"} <= set(proc.columns)
    # No pipeline: the fallback win rate turns deals into leads.
    north = proc.loc["North"]
    assert north["leads"] == int(np.ceil(north["won_deals"] / CFG["process"]["fallback_win_rate"]))
    assert north["visits"] == int(np.ceil(north["leads"] * CFG["process"]["visits_per_lead"]))
    # North: N1 all year, N2 until June -> 18 rep-months on board.
    assert north["visits_per_rep_month"] == pytest.approx(north["visits"] / 18)
    assert north["leads_per_month"] == pytest.approx(north["leads"] / 12)


def test_process_targets_use_pipeline_win_rates():
    cube, reps = _company()
    pipeline = pd.DataFrame(
        {
            "opportunity_id": ["o1", "o2", "o3", "o4", "o4"],
            "snapshot_date": pd.to_datetime(["2025-03-01", "2025-04-01", "2025-05-01", "2025-01-01", "2025-06-01"]),
            "region": ["North"] * 5,
            "status": ["won", "lost", "lost", "open", "won"],
            "amount": [10_000.0, 5_000.0, 5_000.0, 30_000.0, 30_000.0],
        }
    )
    tp = build_targets(cube, reps, TARGETS, 2026, pipeline=pipeline)
    north = tp.process.set_index("region").loc["North"]
    # Closed in 2025: o1 won, o2 lost, o3 lost, o4 won -> 2 / 4 = 50 %; average won deal 20,000.
    assert north["win_rate"] == pytest.approx(0.5)
    assert north["avg_deal"] == pytest.approx(20_000)
    # Only the won deals' part of revenue needs deals: 40,000 won of the 2025 sales (the pipeline
    # covers January to December 2025, the months the rates are measured over). Two won deals are
    # too few for a region's own rates: North, like South, takes the company's.
    months = pd.to_datetime(cube["month"])
    sales_2025 = cube.loc[months.dt.year == 2025, "net_amount"].sum()
    assert north["pipeline_share"] == pytest.approx(40_000 / sales_2025)
    revenue = tp.plan.loc[tp.plan["region"] == "North", "target_amount"].sum()
    assert north["won_deals"] == int(np.ceil(revenue * 40_000 / sales_2025 / 20_000))
    assert north["leads"] == 2 * north["won_deals"]
    assert set(tp.process["source"]) == {"pipeline (company)"}


def test_scenarios_side_by_side():
    cube, reps = _company()
    table, plans = compare_scenarios(cube, reps, TARGETS, 2026)
    assert table["scenario"].tolist() == ["conservative", "base", "stretch"]
    finals = table.set_index("scenario")["final"]
    assert finals["conservative"] < finals["base"] < finals["stretch"]
    assert all(coherence_report(p)["ok"].all() for p in plans.values())


def test_bad_inputs_name_the_problem():
    cube, reps = _company()
    with pytest.raises(TargetInputError, match="level 'intern'"):
        build_targets(cube, reps.assign(level="intern"), TARGETS, 2026)
    # Settings outside the method's choices are refused when the settings are read.
    with pytest.raises(ValidationError, match="allocation.basis"):
        typed({**CFG, "allocation": {**CFG["allocation"], "basis": "gut_feeling"}})
    with pytest.raises(TargetInputError, match="no sales before the plan year"):
        build_targets(cube, reps, TARGETS, 2020)
    with pytest.raises(TargetInputError, match="nobody is on board"):
        build_targets(cube, reps.assign(hire_date=pd.Timestamp("2030-01-01")), TARGETS, 2026)
    with pytest.raises(ValidationError, match="ramp"):
        typed({**CFG, "ramp": [0.5, 1.5]})


def test_rerun_during_the_year_reproduces_the_saved_plan(tmp_path):
    from salesplan.targets import save_plan

    cube, reps = _company()
    tp = build_targets(cube, reps, TARGETS, 2026)
    first = save_plan(tp.contract(), tp.assumptions(), 2026, targets_dir=tmp_path)
    assert first.created
    # Months of the plan year arrive: the plan only reads history before it, so nothing changes.
    later = pd.concat([cube, cube.assign(month=cube["month"] + pd.DateOffset(years=3))], ignore_index=True)
    tp2 = build_targets(later, reps, TARGETS, 2026)
    again = save_plan(tp2.contract(), tp2.assumptions(), 2026, targets_dir=tmp_path)
    assert (again.created, again.version) == (False, "v1")
    # A changed assumption is a new version.
    tp3 = build_targets(cube, reps, typed({**CFG, "stretch_pct": 0.2}), 2026)
    assert save_plan(tp3.contract(), tp3.assumptions(), 2026, targets_dir=tmp_path).version == "v2"


def test_zero_rows_are_left_out_and_idle_reps_noted():
    cube, reps = _company()
    tp = build_targets(cube, reps, TARGETS, 2026)
    assert ((tp.plan["target_amount"] > 0) | (tp.plan["quota_amount"] > 0)).all()
    assert "W1" in set(tp.plan["rep_id"])
    # W1 sits in West, which had no sales: under last year's shares nobody there carries a target.
    cfg = {**CFG, "allocation": {**CFG["allocation"], "region_totals": "basis"}}
    shares_only = build_targets(cube, reps, typed(cfg), 2026)
    assert "W1" not in set(shares_only.plan["rep_id"])
    assert any("W1" in n for n in shares_only.notes)
    assert shares_only.rep_trace.set_index("rep_id").loc["W1", "final"] == 0
