"""The first cards of the data-check, forecast, commissions and targets pages, built in the library."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from salesplan import headlines
from salesplan.config import load_settings
from salesplan.workbook import open_workbook

ROOT = Path(__file__).resolve().parents[1]
PLAN = {"label": "Plan 2026", "value": "supplied targets table", "raw": None}


def _plan(has_plan: bool = True) -> SimpleNamespace:
    return SimpleNamespace(has_plan=has_plan, headline_figure=lambda month: dict(PLAN))


def test_data_check_states_the_month_its_sales_and_what_was_loaded(sample_raw: Path, tmp_path: Path) -> None:
    raw = shutil.copytree(sample_raw, tmp_path / "raw")
    wb = open_workbook(None, raw, ROOT / "config" / "salesplan.yaml", use_cache=False)
    figures = {f["label"]: f for f in headlines.data_check(wb)}
    assert figures["Month covered"]["value"] == str(wb.month)
    month_sales = wb.cube.loc[wb.cube["month"] == wb.month.to_timestamp(), "net_amount"].sum()
    net = figures[f"Net sales {wb.month}"]
    assert net["raw"] == pytest.approx(month_sales)
    assert net["value"].endswith(" M") and "same month last year" in net["note"]
    assert figures["Order lines loaded"]["raw"] == wb.agg.lines
    assert figures["Last order date"]["value"] == f"{wb.as_of:%Y-%m-%d}"
    assert figures["Plan 2026"]["value"]  # the plan used closes the card


def test_forecast_card_carries_the_landing_status_only_under_a_plan() -> None:
    total = {"landing": 1_253.4e6, "low": 1_238.9e6, "high": 1_268.0e6, "level": 80.0, "p_hit": 0.004, "gap": -92.5e6}
    settings = load_settings()
    wb = SimpleNamespace(
        settings=settings, month="2026-10", plan=_plan(), landing_total=lambda: {**total, "status": "red"}
    )
    figures = {f["label"]: f for f in headlines.forecast(wb)}
    assert figures["Landing"]["value"] == "1,253.4 M" and figures["Landing"]["status"] == "red"
    assert figures["Landing"]["note"] == "80 % interval 1,238.9 M – 1,268.0 M"
    assert figures["P(hit annual target)"]["value"] == "< 1 %"
    assert figures["Gap to target"]["value"] == "-92.5 M"
    no_plan = SimpleNamespace(**{**vars(wb), "plan": _plan(False)})
    assert all(f.get("status") is None for f in headlines.forecast(no_plan))
    in_k = SimpleNamespace(**{**vars(wb), "settings": load_settings(overrides={"report": {"money_unit": "K"}})})
    assert headlines.forecast(in_k)[0]["value"] == "1,253,400.0 K"


def test_commissions_card_sums_the_payouts_and_names_the_largest() -> None:
    lines = pd.DataFrame(
        {
            "rep_id": ["R1", "R2", "R3"],
            "rep_name": ["王伟", "Li", "Ng"],
            "total_payout": [1200.0, 0.0, 300.0],
            "qtd_payout": [2000.0, 100.0, 300.0],
            "ytd_payout": [9000.0, 500.0, 700.0],
        }
    )
    wb = SimpleNamespace(settings=load_settings())
    figures = headlines.commissions(wb, lines, dict(PLAN))
    by_label = {f["label"]: f for f in figures}
    assert (
        by_label["Payout this month (CNY)"]["raw"] == 1500.0 and by_label["Payout this month (CNY)"]["value"] == "1,500"
    )
    assert by_label["Year to date (CNY)"]["raw"] == 10200.0
    paid = by_label["Reps paid this month"]
    assert paid["value"] == "2 of 3" and paid["note"] == "largest: 王伟 (R1), 1,200 CNY"
    assert figures[-1] == PLAN


def test_targets_card_states_the_number_its_change_and_how_the_gap_closed() -> None:
    tp = SimpleNamespace(
        scenario="base",
        total=1_100.0e6,
        baseline=pd.DataFrame({"step": ["last_year", "baseline"], "amount": [1_000.0e6, 1_050.0e6]}),
        reconciliation={"gap_pct": 0.051, "rule": "scale_to_top_down"},
    )
    standing = {"text": "saved as draft v1, not in force until approved"}
    figures = headlines.targets(tp, "closed at the top-down number", standing, dict(PLAN), "M")
    assert figures[0]["label"] == "Method's annual target (base)" and figures[0]["value"] == "1,100.0 M"
    assert figures[0]["note"] == "+10.0 % on the last 12 months; saved as draft v1, not in force until approved"
    assert figures[1]["value"] == "+5.1 %" and figures[1]["note"] == "closed at the top-down number"
    assert "not saved" in headlines.targets(tp, "", None, dict(PLAN), "M")[0]["note"]
