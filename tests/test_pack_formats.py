"""The month's Excel pack as finished as the pages, on a small sample company: a number format on
every numeric cell, percentages as percentages, money in the report's unit, P(hit) a number, each
rep named beside the id, and a Summary with the flag counts and the commission totals."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from openpyxl import load_workbook

from salesplan import io as sio
from salesplan.excel import column_kind, number_formats, pack_money_unit, period_words
from salesplan.retro.export import SUMMARY_FILE, published_commissions
from salesplan.retro.month import build_retrospective, write_retrospective
from salesplan.sample import write_sample
from salesplan.status import STATUS_ORDER, status_label
from salesplan.workbook import open_workbook

pytestmark = pytest.mark.slow  # the whole workbook pack built from a fitted month: make test-all

MONTH = "2026-10"


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("pack")
    write_sample(root / "raw", scale=0.05)
    patch = pytest.MonkeyPatch()
    patch.setattr(sio, "DEFAULT_CACHE_DIR", str(root / "cache"))
    try:
        folder = root / "reports" / MONTH
        wb = open_workbook(month=MONTH, data_dir=root / "raw", output_dir=folder)
        retro = build_retrospective(wb)
        write_retrospective(retro, wb, folder)
    finally:
        patch.undo()
    return wb, retro, folder, load_workbook(folder / f"pack_{MONTH}.xlsx")


def _columns(sheet) -> dict[str, list]:
    header = [c.value for c in sheet[1]]
    return {h: [row[j] for row in sheet.iter_rows(min_row=2)] for j, h in enumerate(header)}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def test_every_numeric_and_date_cell_has_a_number_format(pack) -> None:
    _, _, _, book = pack
    seen = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if _is_number(cell.value):
                    seen += 1
                    assert cell.number_format != "General", (sheet.title, cell.coordinate, cell.value)
                elif isinstance(cell.value, dt.datetime):
                    assert cell.number_format == "yyyy-mm-dd", (sheet.title, cell.coordinate)
    assert seen > 1000


def test_percent_columns_are_percentages_and_money_is_in_the_reports_unit(pack) -> None:
    wb, _, _, book = pack
    money = number_formats(pack_money_unit(wb.settings))["money"]
    assert pack_money_unit(wb.settings) in money  # the unit's letter is shown, e.g. "M"
    checked = {"pct": 0, "money": 0}
    for sheet in book.worksheets:
        if sheet.title in ("Summary", "KPIs"):
            continue
        for name, cells in _columns(sheet).items():
            kind = column_kind(name)
            for cell in (c for c in cells if _is_number(c.value)):
                if kind == "pct":
                    checked["pct"] += 1
                    assert "%" in cell.number_format, (sheet.title, name)
                elif kind == "money":
                    checked["money"] += 1
                    assert cell.number_format == money, (sheet.title, name)
    assert min(checked.values()) > 100
    pay = _columns(book["Commissions"])
    for name in ("attainment", "rate", "team_attainment", "team_adjustment_pct"):
        assert all("%" in c.number_format for c in pay[name] if _is_number(c.value)), name
    for name in ("high_margin_actual", "quarter_actual", "quarter_target", "total_payout", "commission"):
        assert all(c.number_format == money for c in pay[name] if _is_number(c.value)), name
    # Each KPI's values by its own unit: percentages for pct, money for money.
    kpis = _columns(book["KPIs"])
    for unit, cell in zip(kpis["unit"], kpis["month_value"], strict=True):
        if _is_number(cell.value) and unit.value == "pct":
            assert "%" in cell.number_format
        if _is_number(cell.value) and unit.value == "money":
            assert cell.number_format == money
    # A year reads as a year, not "2,026".
    assert {c.number_format for c in _columns(book["Plan in force"])["year"]} == {"0"}


def test_commissions_and_plan_name_each_rep_as_the_reps_table_does(pack) -> None:
    wb, _, folder, book = pack
    names = wb.data.reps.set_index("rep_id")["rep_name"].to_dict()
    for title in ("Commissions", "Plan in force"):
        header = [c.value for c in book[title][1]]
        assert header[header.index("rep_id") + 1] == "rep_name", title
        rows = list(book[title].iter_rows(min_row=2, values_only=True))
        pairs = {(r[header.index("rep_id")], r[header.index("rep_name")]) for r in rows}
        assert len(pairs) > 5
        assert all(name == names[rep] for rep, name in pairs if rep is not None), title
    # Read back without the summary, the pack's Commissions sheet gives the names too.
    (folder / SUMMARY_FILE).unlink()
    records, source = published_commissions(folder, MONTH)
    assert source.endswith(f"pack_{MONTH}.xlsx")
    assert len(records) and all(records["rep_name"] == records["rep_id"].map(names))


def test_summary_carries_flag_counts_and_commission_totals(pack) -> None:
    _, retro, _, book = pack
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(min_row=2, values_only=True)}
    month = pd.Period(MONTH, freq="M")
    assert len(retro.counts.index) >= 2
    for period in retro.counts.index:
        for status in STATUS_ORDER:
            label = f"Flags, {period_words(period, month)}: {status_label(status)}"
            expected = int(retro.counts.loc[period].get(status, 0))
            if status == "no_target" and not expected:
                assert label not in summary
                continue
            assert summary[label] == expected, label
    totals = retro.payout_totals()
    assert summary["Commission payout, month"] == pytest.approx(totals["month"])
    assert summary["Commission payout, year to date"] == pytest.approx(totals["ytd"])
    lines = retro.commissions
    assert summary["Reps paid a commission this month"] == int((lines["total_payout"] > 0).sum())
    assert summary["Reps on the month's commission statement"] == len(lines)
    assert "CNY" in summary["Amounts shown in"]


def test_p_hit_is_a_number_between_0_and_1_with_a_percent_format(pack) -> None:
    _, retro, _, book = pack
    cells = [c for title in ("Landing", "Risks") for c in _columns(book[title])["p_hit"]]
    summary = {r[0].value: r[1] for r in book["Summary"].iter_rows(min_row=2)}
    cells.append(summary["P(hit annual target)"])
    assert len(cells) > 10
    for cell in cells:
        assert _is_number(cell.value) and 0 <= cell.value <= 1, cell.coordinate
        assert "%" in cell.number_format and '"< 1 %"' in cell.number_format
    assert summary["P(hit annual target)"].value == pytest.approx(retro.figures["p_hit"])
    # The page's wording lives in the format and a note, never in a cell.
    texts = [c.value for s in book.worksheets for row in s.iter_rows() for c in row if isinstance(c.value, str)]
    assert not [t for t in texts if t in ("< 1 %", "> 99 %")]
    assert "p_hit_shown" not in texts
    # Statuses read as symbol and word, never as "dark_red".
    assert not [t for t in texts if t in STATUS_ORDER and "_" in t]


def test_headers_are_styled_frozen_and_columns_sized(pack) -> None:
    _, _, _, book = pack
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert all(c.font.bold for c in sheet[1]), sheet.title
        widths = [sheet.column_dimensions[c.column_letter].width for c in sheet[1]]
        assert all(8 <= w <= 60 for w in widths), sheet.title
