"""Closed months and restatements: which months are closed, which pack shows a restatement, and
the table of payouts as published beside as restated."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from salesplan.plans import plan_folder, resolve_plan
from salesplan.retro import export, pay
from salesplan.retro.flags import plan_months
from salesplan.retro.restatement import (
    RESTATEMENT_COLUMNS,
    closed_months,
    pending_restatements,
    restatement_for,
    restatement_table,
)
from salesplan.settings import CommissionSettings
from salesplan.targets import approve_version, read_approvals, save_plan

# Whole-mode tiers, no high-margin uplift, no team adjustment: a month's payout is actual x rate.
RULES = CommissionSettings(
    tiers=[(0.0, 0.0), (0.8, 0.01), (1.0, 0.015), (1.2, 0.02)],
    mode="whole",
    high_margin_multiplier=1.0,
    quarter_excess_rate=0.03,
    team_penalty_below=0.0,
    team_penalty_pct=0.0,
    team_bonus_above=0.0,
    team_bonus_months=2,
    team_bonus_pct=0.0,
)
REPS = pd.DataFrame({"rep_id": ["R1", "R2"], "rep_name": ["Li Wei", "Wang Fang"], "region": ["North", "North"]})
# Monthly actuals: R1 100,000 and R2 90,000 in every month.
CUBE = pd.DataFrame(
    [
        (pd.Timestamp(2026, m, 1), rep, amount, "standard")
        for m in range(1, 13)
        for rep, amount in (("R1", 100_000.0), ("R2", 90_000.0))
    ],
    columns=["month", "rep_id", "net_amount", "tier"],
)


def _plan(r1: int, r2: int) -> pd.DataFrame:
    rows = [(2026, m, "North", "A", rep, t) for m in range(1, 13) for rep, t in (("R1", r1), ("R2", r2))]
    return pd.DataFrame(rows, columns=["year", "month", "region", "product_line", "rep_id", "target_amount"])


OLD, NEW, LATER = _plan(100_000, 100_000), _plan(125_000, 75_000), _plan(80_000, 75_000)


@dataclass
class _MonthContext:
    """What :func:`restatement_for` reads of the month context."""

    data_dir: Path
    month: pd.Period
    reports_root: Path
    cube: pd.DataFrame = field(default_factory=lambda: CUBE)
    settings: Any = field(default_factory=lambda: SimpleNamespace(commission=RULES))
    data: Any = field(default_factory=lambda: SimpleNamespace(reps=REPS, products=None))

    @property
    def closed_cube(self) -> pd.DataFrame:
        return self.cube.loc[self.cube["month"] <= self.month.to_timestamp()]

    def sku_sales(self) -> None:
        return None

    def plan_rows(self, year: int) -> pd.DataFrame:
        return plan_months(resolve_plan(year, self.data_dir).frame)


def _lines(plan: pd.DataFrame, month: str) -> pd.DataFrame:
    return pay.commission_report(CUBE, plan_months(plan), month, RULES, REPS)[0]


def _publish(reports: Path, month: str, *, commissions: pd.DataFrame | None, restatements=None) -> None:
    flags = pd.DataFrame(columns=["period", "level", "key", "item", "status", "deviation", "actual", "target"])
    summary = export.build_summary(month, {}, flags, commissions=commissions, restatements=restatements)
    export.write_summary(summary, reports / month)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    data_dir, reports = tmp_path / "raw", tmp_path / "reports"
    data_dir.mkdir()
    folder = plan_folder(data_dir)
    for plan in (OLD, NEW, LATER):
        save_plan(plan, {}, 2026, targets_dir=folder)
    approve_version(2026, "v1", folder, by="Board")
    return data_dir, reports


def test_closed_months_are_the_published_ones(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    for name in ("2026-07", "2026-09", "2025-12", "2026-10.failed", ".tmp-2026-11-123", "2026-08"):
        (reports / name).mkdir(parents=True)
    for name in ("2026-07", "2026-09", "2025-12", "2026-10.failed", ".tmp-2026-11-123"):
        (reports / name / "retro_summary.json").write_text("{}", encoding="utf-8")
    (reports / "2026-08" / "index.html").write_text("", encoding="utf-8")  # no retrospective: open
    assert closed_months(2026, reports) == ["2026-07", "2026-09"]
    assert closed_months(None, reports) == ["2025-12", "2026-07", "2026-09"]
    assert closed_months(2026, tmp_path / "none") == []


def test_the_summary_records_payouts_as_published_and_reads_them_back(tmp_path: Path) -> None:
    lines = _lines(OLD, "2026-02")
    _publish(tmp_path, "2026-02", commissions=lines)
    records, source = export.published_commissions(tmp_path / "2026-02", "2026-02")
    assert source == "2026-02/retro_summary.json"
    assert records.columns.tolist() == export.COMMISSION_RECORD_COLUMNS
    assert records["total_payout"].tolist() == pytest.approx([1_500.0, 900.0])  # 1.5 % and 1 %
    assert records["rep_name"].tolist() == ["Li Wei", "Wang Fang"]
    # An earlier summary without the records: the Excel pack's Commissions sheet, else "not recorded".
    _publish(tmp_path, "2026-03", commissions=None)
    assert export.published_commissions(tmp_path / "2026-03", "2026-03") == (None, "not recorded")
    statement = pay.commission_report(CUBE, plan_months(OLD), "2026-03", RULES, REPS)[1]
    statement.to_excel(tmp_path / "2026-03" / "pack_2026-03.xlsx", sheet_name="Commissions", index=False)
    records, source = export.published_commissions(tmp_path / "2026-03", "2026-03")
    march = statement.loc[statement["month"] == pd.Timestamp("2026-03-01")]
    assert source == "2026-03/pack_2026-03.xlsx"
    assert records["total_payout"].tolist() == pytest.approx(march["total_payout"].tolist())


def test_restatement_table_is_restated_minus_published() -> None:
    approval = SimpleNamespace(version="v2", by="CFO", approved_at="2026-12-03T10:00:00Z")
    published = export.summary_commissions({"commissions": export._commission_records(_lines(OLD, "2026-02"))})
    table = restatement_table("2026-02", published, _lines(NEW, "2026-02"), approval, "2026-02/retro_summary.json")
    assert table.columns.tolist() == RESTATEMENT_COLUMNS
    r1, r2 = table.to_dict(orient="records")
    # R1: 100,000 / 100,000 = 100 % -> 1.5 % = 1,500; on 125,000: 80 % -> 1 % = 1,000.
    assert (r1["payout_published"], r1["payout_restated"], r1["difference"]) == pytest.approx((1_500, 1_000, -500))
    assert (r1["attainment_published"], r1["attainment_restated"]) == pytest.approx((1.0, 0.8))
    # R2: 90,000 / 100,000 = 90 % -> 1 % = 900; on 75,000: 120 % -> 2 % = 1,800.
    assert (r2["payout_published"], r2["payout_restated"], r2["difference"]) == pytest.approx((900, 1_800, 900))
    assert (r2["rep_name"], r2["version"], r2["approved_by"]) == ("Wang Fang", "v2", "CFO")
    unknown = restatement_table("2026-02", None, _lines(NEW, "2026-02"), approval)
    assert unknown["payout_published"].isna().all() and unknown["difference"].isna().all()
    assert set(unknown["published_source"]) == {"not recorded"}
    # A rep paid in the pack but without a line now was paid nothing as restated.
    gone = restatement_table("2026-02", published, _lines(NEW, "2026-02").iloc[:1], approval)
    assert gone.loc[gone["rep_id"] == "R2", ["payout_restated", "difference"]].iloc[0].tolist() == [0.0, -900.0]


def test_the_next_pack_shows_a_restatement_once(setup: tuple[Path, Path]) -> None:
    data_dir, reports = setup
    folder = plan_folder(data_dir)
    _publish(reports, "2026-01", commissions=None)  # a pack of an earlier release
    _publish(reports, "2026-02", commissions=_lines(OLD, "2026-02"))
    assert restatement_for(_MonthContext(data_dir, pd.Period("2026-03", "M"), reports)).empty  # nothing restated
    entry = approve_version(
        2026, "v2", folder, by="CFO", closed_months=closed_months(2026, reports), restate=True, note="Q1 reset"
    )
    assert entry.restated_months == ("2026-01", "2026-02")

    # The restated months' own packs do not show it; the March pack does.
    for month in ("2026-01", "2026-02"):
        assert restatement_for(_MonthContext(data_dir, pd.Period(month, "M"), reports)).empty
    march = restatement_for(_MonthContext(data_dir, pd.Period("2026-03", "M"), reports))
    assert march.columns.tolist() == RESTATEMENT_COLUMNS
    assert march["month"].tolist() == ["2026-01", "2026-01", "2026-02", "2026-02"]
    jan, feb = march[march["month"] == "2026-01"], march[march["month"] == "2026-02"]
    assert set(jan["published_source"]) == {"not recorded"} and jan["difference"].isna().all()
    assert feb["difference"].tolist() == pytest.approx([-500.0, 900.0])
    assert set(feb["approved_at"]) == {entry.approved_at} and set(feb["version"]) == {"v2"}

    # Once the March pack is published showing it, April does not show it again; re-running March does.
    _publish(reports, "2026-03", commissions=_lines(NEW, "2026-03"), restatements=march)
    assert restatement_for(_MonthContext(data_dir, pd.Period("2026-04", "M"), reports)).empty
    assert len(restatement_for(_MonthContext(data_dir, pd.Period("2026-03", "M"), reports))) == 4

    # A second restatement compares with the figures last published: February as restated in March.
    second = approve_version(
        2026, "v3", folder, by="CEO", from_month="2026-02", closed_months=closed_months(2026, reports), restate=True
    )
    assert pending_restatements(read_approvals(folder), "2026-04", reports) == [second]
    april = restatement_for(_MonthContext(data_dir, pd.Period("2026-04", "M"), reports))
    assert april["month"].unique().tolist() == ["2026-02", "2026-03"]
    feb = april[april["month"] == "2026-02"]
    assert set(feb["published_source"]) == {"2026-03/retro_summary.json (restated)"}
    # R1 was 1,000 as restated in March; on 80,000 it is 125 % -> 2 % = 2,000. R2 unchanged (75,000).
    assert feb["payout_published"].tolist() == pytest.approx([1_000.0, 1_800.0])
    assert feb["difference"].tolist() == pytest.approx([1_000.0, 0.0])
