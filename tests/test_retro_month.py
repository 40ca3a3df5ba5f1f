"""The month's retrospective as one library call: built from the month context, written once,
narrated by the page functions."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from salesplan.config import PROJECT_ROOT  # noqa: E402
from salesplan.retro import page  # noqa: E402
from salesplan.retro.month import build_retrospective, flag_periods, variance_split, write_retrospective  # noqa: E402
from salesplan.retro.periods import window  # noqa: E402

SAMPLE = PROJECT_ROOT / "data" / "raw"


def test_flag_periods_follow_the_closing_windows() -> None:
    assert flag_periods(pd.Period("2026-10", "M")) == ["month", "ytd"]
    assert flag_periods(pd.Period("2026-03", "M")) == ["month", "ytd", "quarter"]
    assert flag_periods(pd.Period("2026-06", "M")) == ["month", "ytd", "quarter", "half"]


def test_variance_split_closes_on_a_hand_built_month() -> None:
    rows = []
    for year in (2025, 2026):
        for region, amount in (("East", 120.0), ("West", 80.0)):
            rows.append(
                {
                    "month": pd.Timestamp(year, 5, 1),
                    "region": region,
                    "product_line": "Pumps",
                    "rep_id": "R1",
                    "customer_id": "C1",
                    "channel": "direct",
                    "customer_tier": "A",
                    "net_amount": amount * (1.5 if year == 2026 else 1.0),
                    "cost_amount": 50.0,
                    "paid_amount": 0.0,
                    "quantity": 2,
                }
            )
    cube = pd.DataFrame(rows)
    plan = pd.DataFrame(
        {
            "year": [2026, 2026],
            "month": [5, 5],
            "region": ["East", "West"],
            "product_line": ["Pumps", "Pumps"],
            "rep_id": ["R1", "R1"],
            "target_amount": [150.0, 150.0],
        }
    )
    split = variance_split(cube, plan, window("2026-05", "month"), ["region"])
    # actual 180 + 120 = 300 against a plan of 300: no variance, and every split says so.
    assert split.variance == pytest.approx(0.0)
    assert split.summary["closes"].all()
    by_region = split.tables["region"].set_index("region")
    assert by_region.loc["East", "variance"] == pytest.approx(30.0)
    assert by_region.loc["West", "variance"] == pytest.approx(-30.0)


@pytest.fixture(scope="module")
def october():
    if not any(SAMPLE.glob("orders*")):
        pytest.fail("the sample company is missing from data/raw: run `make sample-data` first")
    from salesplan.workbook import open_workbook

    wb = open_workbook(month="2026-10", data_dir=SAMPLE)
    return wb, build_retrospective(wb)


def test_the_retrospective_is_one_consistent_object(october) -> None:
    wb, retro = october
    assert retro.month == pd.Period("2026-10", "M") and retro.has_plan
    # The headline counts are the flags' statuses, per period, with red and dark red apart.
    ytd = retro.flags.loc[retro.flags["period"] == "ytd"]
    assert retro.counts.loc["ytd", "red"] == (ytd["status"] == "red").sum()
    assert retro.counts.loc["ytd", "dark_red"] == (ytd["status"] == "dark_red").sum()
    # What next month reads is what this month shows.
    assert retro.summary["figures"]["ytd_actual"] == pytest.approx(retro.figures["ytd_actual"])
    assert len(retro.summary["flags"]) == len(retro.flags)
    # Every variance split closes to the cent, and the year to date's variance is the headline gap.
    for split in retro.variance.values():
        assert split.summary["closes"].all(), split.label
    assert retro.variance["ytd"].variance == pytest.approx(retro.figures["ytd_gap"], abs=0.01)
    # The payouts the page totals are the statement's.
    assert retro.payout_totals()["month"] == pytest.approx(retro.commissions["total_payout"].sum())
    # The statistical landing among the four ways is the month context's landing of the total.
    statistical = retro.landings.set_index("method").loc["statistical"]
    assert statistical["landing"] == pytest.approx(wb.landing_total()["landing"])
    assert statistical["low"] == pytest.approx(wb.landing_total()["low"])


def _rendered(piece) -> str:
    if isinstance(piece, str):
        return piece
    for method in ("to_html", "_repr_html_", "_repr_markdown_"):
        if hasattr(piece, method):
            return getattr(piece, method)()
    raise AssertionError(f"{type(piece).__name__} cannot be shown")


def test_every_page_piece_renders(october) -> None:
    _, retro = october
    shown = [
        page.counts_text(retro),
        page.action_items(retro, "ytd"),
        page.all_items(retro, "month"),
        page.actions_text(retro),
        page.actions_table(retro),
        page.all_actions(retro),
        page.variance_text(retro),
        page.pvm_table(retro),
        page.landings_table(retro),
        page.landing_table(retro),
        page.risk_counts_text(retro),
        page.risk_items(retro),
        page.warning_summary(retro),
        page.warning_items(retro),
        page.churn_table(retro),
        page.process_text(retro),
        page.funnel_table(retro),
        page.stage_table(retro),
        page.visits_table(retro),
        page.kpi_table(retro),
        page.collection_text(retro),
        page.collection_by_rep(retro),
        page.commission_table(retro),
        page.payout_text(retro),
        page.restatement_table(retro),
        page.period_text(retro, "quarter"),
        page.year_table(retro),
        page.month_over_month_text(retro),
        page.flag_changes_table(retro),
    ]
    for piece in shown:
        html = _rendered(piece)
        assert html and "Traceback" not in html
    assert "DOES NOT CLOSE" not in page.variance_text(retro)
    assert "October" not in page.period_text(retro, "quarter") and "does not close a quarter" in page.period_text(
        retro, "quarter"
    )
    for fig in (page.deviation_heatmap(retro, "ytd"), page.landing_chart(retro), page.kpi_chart(retro, 6)):
        assert isinstance(fig, Figure) and fig.axes[0].get_title()
        matplotlib.pyplot.close(fig)


def test_write_retrospective_writes_the_months_files(october, tmp_path: Path) -> None:
    wb, retro = october
    assert write_retrospective(retro, wb, None) == []
    written = {p.name for p in write_retrospective(retro, wb, tmp_path)}
    assert {"flags.csv", "retro_summary.json", "pack_2026-10.xlsx", "actions_2026-10.xlsx", "actions_2026-10.csv"} <= (
        written
    )
    flags = pd.read_csv(tmp_path / "flags.csv", encoding="utf-8-sig")
    assert len(flags) == len(retro.flags)
    summary = json.loads((tmp_path / "retro_summary.json").read_text(encoding="utf-8"))
    assert summary["month"] == "2026-10"
    assert summary["figures"]["flag_counts"]["ytd"]["dark_red"] == int(retro.counts.loc["ytd", "dark_red"])


def test_the_page_narrates_the_library() -> None:
    """04's cells call the builder and the page functions: no loop or condition chooses what to
    show, and no cell sorts, groups or writes."""
    import ast

    import nbformat

    nb = nbformat.read(PROJECT_ROOT / "notebooks" / "04_retrospective.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert any("build_retrospective(wb)" in c for c in code)
    assert any("write_retrospective(retro, wb, output_dir)" in c for c in code)
    for source in code:
        tree = ast.parse(source)
        control = [type(n).__name__ for n in ast.walk(tree) if isinstance(n, (ast.For, ast.If, ast.While, ast.IfExp))]
        assert not control, f"{control} in a cell: {source[:100]}"
        called = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
        assert not called & {"sort_values", "groupby", "to_csv", "to_excel", "merge", "pivot_table"}, source[:100]
    assert sum(len(c.splitlines()) for c in code) < 160
