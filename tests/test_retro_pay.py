"""Commissions in the retrospective match a statement computed by hand."""

import pandas as pd
import pytest

from salesplan.config import load_settings
from salesplan.retro.pay import commission_report, rep_month_frame, statement_text, team_rules_text

RULES = load_settings().commission  # tiers 0/80/100/120 % -> 0/1/1.5/2 %, x1.2 high margin, 3 % quarter excess


def _data():
    # R1: Jan 90k, Feb 120k, Mar 110k against 100k a month; R2: 50k, 100k, 100k. One team.
    actual = {("R1", 1): 90_000.0, ("R1", 2): 120_000.0, ("R1", 3): 110_000.0}
    actual |= {("R2", 1): 50_000.0, ("R2", 2): 100_000.0, ("R2", 3): 100_000.0}
    cube = pd.DataFrame(
        [
            {"month": pd.Timestamp(2026, m, 1), "rep_id": rep, "region": "East", "net_amount": v}
            for (rep, m), v in actual.items()
        ]
    )
    plan = pd.DataFrame(
        [
            {"year": 2026, "month": m, "region": "East", "product_line": "P", "rep_id": rep, "target_amount": 100_000}
            for rep in ("R1", "R2")
            for m in (1, 2, 3)
        ]
    )
    reps = pd.DataFrame(
        {"rep_id": ["R1", "R2"], "rep_name": ["王伟", "Li"], "region": ["East", "East"], "team": ["East A", "East A"]}
    )
    high_margin = pd.DataFrame({"month": [pd.Timestamp(2026, 3, 1)], "rep_id": ["R1"], "high_end_amount": [20_000.0]})
    return cube, plan, reps, high_margin


def test_rep_month_frame_joins_actual_target_and_team():
    cube, plan, reps, hm = _data()
    frame = rep_month_frame(cube, plan, "2026-03", reps, hm)
    assert len(frame) == 6
    r1_mar = frame[(frame["rep_id"] == "R1") & (frame["month"] == pd.Timestamp(2026, 3, 1))].iloc[0]
    assert (r1_mar["actual"], r1_mar["target"], r1_mar["high_margin_actual"]) == (110_000.0, 100_000.0, 20_000.0)
    assert set(frame["team"]) == {"East A"}


def test_commission_matches_hand_computation():
    cube, plan, reps, hm = _data()
    lines, statement = commission_report(cube, plan, "2026-03", RULES, reps, hm)
    r1 = lines.set_index("rep_id").loc["R1"]
    # March: 110 % -> 1.5 % on 110,000 + 0.2 x 20,000 = 114,000 -> 1,710.
    assert r1["rate"] == pytest.approx(0.015)
    assert r1["base_amount"] == pytest.approx(114_000.0)
    assert r1["commission"] == pytest.approx(1_710.0)
    # Quarter: 320,000 vs 300,000 -> 3 % x 20,000 = 600 paid in March.
    assert r1["quarter_excess_bonus"] == pytest.approx(600.0)
    assert r1["total_payout"] == pytest.approx(2_310.0)
    # January: team at 140/200 = 70 % < 80 % -> R1 loses 10 % of 1 % x 90,000 = 900 -> 810.
    # February: 120 % -> 2 % x 120,000 = 2,400. Quarter to date: 810 + 2,400 + 2,310.
    assert r1["qtd_payout"] == pytest.approx(5_520.0)
    jan = statement[(statement["rep_id"] == "R1") & (statement["month"] == pd.Timestamp(2026, 1, 1))].iloc[0]
    assert jan["team_adjustment"] == pytest.approx(-90.0)
    assert r1["rep_name"] == "王伟"
    r2 = lines.set_index("rep_id").loc["R2"]
    assert r2["commission"] == pytest.approx(1_500.0) and r2["quarter_excess_bonus"] == 0.0


def test_statement_text_shows_the_arithmetic():
    cube, plan, reps, hm = _data()
    lines, _ = commission_report(cube, plan, "2026-03", RULES, reps, hm)
    text = statement_text(lines.set_index("rep_id").loc["R1"].to_dict() | {"rep_id": "R1"}, RULES)
    assert "110.00 %" in text and "114,000.00" in text and "1,710.00" in text
    assert "quarter excess" in text and "2,310.00" in text
    assert any("80%" in line for line in team_rules_text(RULES))


def test_reps_without_a_target_earn_no_commission_line():
    cube, plan, reps, hm = _data()
    extra = cube[cube["rep_id"] == "R2"].assign(rep_id="R9")  # sells, but has no target
    lines, statement = commission_report(pd.concat([cube, extra]), plan, "2026-03", RULES, reps, hm)
    assert "R9" not in set(statement["rep_id"])
    assert set(lines["rep_id"]) == {"R1", "R2"}
    empty_lines, empty_statement = commission_report(cube, plan.iloc[0:0], "2026-03", RULES, reps, hm)
    assert empty_lines.empty and empty_statement.empty


def test_statements_html_escapes_names_and_shows_the_arithmetic() -> None:
    from salesplan.retro.pay import statements_html

    line = {
        "rep_id": "R1", "rep_name": "<script>alert(1)</script>", "team": "北区", "month": pd.Timestamp("2026-10-01"),
        "actual": 1200.0, "target": 1000.0, "attainment": 1.2, "tier": ">=120%", "rate": 0.02,
        "high_margin_actual": 0.0, "base_amount": 1200.0, "commission": 24.0, "quarter_excess_bonus": 0.0,
        "team_adjustment": 0.0, "total_payout": 24.0, "qtd_payout": 24.0, "ytd_payout": 100.0,
    }  # fmt: skip
    html = statements_html(pd.DataFrame([line]), RULES)
    assert "<script>" not in html and "&lt;script&gt;" in html and "北区" in html
    assert "1,200.00 / target 1,000.00 = 120.00 %" in html and "year to date 100.00" in html
    assert html.count("page-break-after: always") == 1


def test_one_statement_file_per_rep_with_safe_names_and_escaped_links(tmp_path) -> None:
    from salesplan.retro.pay import statement_links, write_statement_files

    base = {
        "month": pd.Timestamp("2026-10-01"), "actual": 100.0, "target": 100.0, "attainment": 1.0, "tier": "100-120%",
        "rate": 0.015, "high_margin_actual": 0.0, "base_amount": 100.0, "commission": 1.5, "quarter_excess_bonus": 0.0,
        "team_adjustment": 0.0, "total_payout": 1.5, "qtd_payout": 1.5, "ytd_payout": 1.5, "team": "",
    }  # fmt: skip
    lines = pd.DataFrame(
        [{**base, "rep_id": "R1", "rep_name": "王芳"}, {**base, "rep_id": "../R2", "rep_name": "<b>x</b>"}]
    )
    files = write_statement_files(lines, RULES, tmp_path, "2026-10")
    assert [f.name for f in files] == ["2026-10_R1.html", "2026-10_.._R2.html"]
    assert all(f.parent == tmp_path / "statements" for f in files)
    assert "王芳 (R1), 2026-10" in files[0].read_text(encoding="utf-8")
    links = statement_links(lines, files)
    assert "href='statements/2026-10_R1.html'" in links and "<b>" not in links and "&lt;b&gt;" in links


def test_statement_names_its_plan_and_puts_the_currency_on_every_amount() -> None:
    from salesplan.retro.pay import statements_html

    line = {
        "rep_id": "R1", "rep_name": "王伟", "team": "North", "month": pd.Timestamp("2026-10-01"),
        "actual": 1200.0, "target": 1000.0, "attainment": 1.2, "tier": ">=120%", "rate": 0.02,
        "high_margin_actual": 0.0, "base_amount": 1200.0, "commission": 24.0, "quarter_excess_bonus": 0.0,
        "team_adjustment": 0.0, "total_payout": 24.0, "qtd_payout": 24.0, "ytd_payout": 100.0,
    }  # fmt: skip
    rules = load_settings().commission
    html = statements_html(pd.DataFrame([line]), rules, "CNY", plan="supplied targets (targets.csv)")
    assert "supplied targets (targets.csv)" in html
    assert "actual 1,200.00 CNY / target 1,000.00 CNY = 120.00 %" in html
    assert "total payout" in html and "24.00 CNY" in html and "year to date 100.00 CNY" in html
    bare = statement_text(line, rules)
    assert "CNY" not in bare and "plan " not in bare  # nothing claimed that was not given
