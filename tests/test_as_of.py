"""As of the month's end: October run on the export cut at 2026-10-31 and on the full export
(which runs into November) gives the same figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesplan import io as sio
from salesplan.config import PROJECT_ROOT
from salesplan.retro import kpi
from salesplan.retro.periods import window
from salesplan.sample import write_sample
from salesplan.workbook import MonthContext, open_workbook, paid_as_of

pytestmark = pytest.mark.slow  # the month fitted on two exports: make test-all

MONTH = "2026-10"
CUT = "2026-10-31"  # the sample's dates are written YYYY-MM-DD, so text compares as dates
CONFIG = PROJECT_ROOT / "config" / "salesplan.yaml"
DATED = {"activities": "activity_date", "nps": "survey_date", "spend": "month", "pipeline": "snapshot_date"}


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def _write_cut_export(full: Path, cut: Path) -> None:
    """The export a CRM would have given on 2026-10-31: rows dated up to then, and the orders'
    paid amount as it stood then. In the sample an order is paid by one payment (its paid lines'
    sum), so a line's paid amount at the cut is its exported one if that payment is dated up to
    the cut, else nothing."""
    cut.mkdir()
    receivables = _read(full / "receivables.csv")
    receivables = receivables.loc[receivables["paid_date"] <= CUT]
    receivables.to_csv(cut / "receivables.csv", index=False)
    paid_by_cut = set(receivables["order_id"])
    for path in sorted(full.glob("orders_*.csv")):
        lines = _read(path)
        lines = lines.loc[lines["order_date"] <= CUT]
        lines = lines.assign(paid_amount=lines["paid_amount"].where(lines["order_id"].isin(paid_by_cut), "0.00"))
        if len(lines):
            lines.to_csv(cut / path.name, index=False)
    for table, column in DATED.items():
        frame = _read(full / f"{table}.csv")
        frame.loc[frame[column] <= CUT].to_csv(cut / f"{table}.csv", index=False)
    reps = _read(full / "reps.csv")
    reps = reps.loc[reps["hire_date"] <= CUT]
    reps.assign(leave_date=reps["leave_date"].where(~(reps["leave_date"] > CUT))).to_csv(cut / "reps.csv", index=False)
    for name in ("products.csv", "customers.csv", "targets.csv"):
        (cut / name).write_bytes((full / name).read_bytes())


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> tuple[MonthContext, MonthContext]:
    root = tmp_path_factory.mktemp("as_of")
    write_sample(root / "full", scale=0.05)
    _write_cut_export(root / "full", root / "cut")
    patch = pytest.MonkeyPatch()
    patch.setattr(sio, "DEFAULT_CACHE_DIR", str(root / "cache"))
    try:
        full = open_workbook(month=MONTH, data_dir=root / "full", config_path=CONFIG)
        cut = open_workbook(month=MONTH, data_dir=root / "cut", config_path=CONFIG)
    finally:
        patch.undo()
    return full, cut


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal to well under a cent (sums taken in another order differ in the last bits)."""
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False, rtol=1e-12, atol=1e-6
    )


def test_the_full_export_does_run_past_the_month(books: tuple[MonthContext, MonthContext]) -> None:
    full, cut = books
    later = full.summary().set_index("table")["after_month_end"]
    # The full export holds November: orders, payments, activities, snapshots and spend after 10-31.
    assert (later[["orders", "receivables", "activities", "pipeline", "spend"]] > 0).all()
    assert (cut.summary()["after_month_end"] == 0).all()
    assert full.summary().set_index("table").loc["receivables", "last_date"] > pd.Timestamp(CUT)
    # Exported paid amounts count November's payments: the undated collection rate is higher.
    exported = full.agg.cube.loc[full.agg.cube["month"] <= pd.Timestamp("2026-10-01")]
    ytd = window(MONTH, "ytd")
    assert kpi.collection_value(exported, ytd) > kpi.collection_value(full.cube, ytd) + 0.01


def test_the_month_context_reads_only_what_was_dated_by_the_month_end(
    books: tuple[MonthContext, MonthContext],
) -> None:
    full, cut = books
    assert full.cube["month"].max() == pd.Timestamp("2026-10-01")
    _same(full.cube, cut.closed_cube)
    _same(full.closed_cube, full.cube)
    _same(full.order_totals(), cut.order_totals())
    _same(full.payments(), cut.payments())
    _same(full.sku_sales(), cut.sku_sales())
    # What the forecast and every page read of the other tables.
    for table in ("reps", "pipeline", "activities", "spend", "nps", "actions", "targets", "products", "customers"):
        a, b = getattr(full.data, table), getattr(cut.data, table)
        assert (a is None) == (b is None), table
        if a is not None:
            _same(a, b)
    assert full.paid_basis == cut.paid_basis == "payments in table receivables dated up to 2026-10-31"


def _tables(retro) -> dict[str, pd.DataFrame]:
    """The retrospective's tables that every page, file and pack read."""
    return {
        "flags": retro.flags,
        "kpis": retro.kpis,
        "kpi_trend": retro.kpi_trend,
        "signed_vs_collected": retro.collection,
        "warnings": retro.warnings.table,
        "warning_rules": retro.warnings.rules,
        "position": retro.warnings.position,
        "commission_lines": retro.commissions,
        "commission_statement": retro.statement,
    }


def test_october_on_the_cut_export_equals_october_on_the_full_export(
    books: tuple[MonthContext, MonthContext],
) -> None:
    from salesplan.retro.month import build_retrospective

    full, cut = (build_retrospective(wb) for wb in books)
    a, b = _tables(full), _tables(cut)
    for name in a:
        assert len(a[name]), name  # each is a real table, not two empty ones
        _same(a[name], b[name])
    # The KPI table's collection rate is the signed-vs-collected table's, month and year to date.
    kpis = a["kpis"].set_index("kpi").loc["Collection rate"]
    total = a["signed_vs_collected"].set_index("level").loc["total"]
    assert kpis["ytd_value"] == pytest.approx(total["collected"] / total["signed"], rel=1e-12)
    assert kpis["month_value"] == pytest.approx(kpi.collection_value(a["position"], window(MONTH, "month")))
    assert "dated up to 2026-10-31" in kpis["note"]


def test_the_month_contexts_cube_and_order_totals_hold_the_cash_of_the_dated_payments(
    books: tuple[MonthContext, MonthContext],
) -> None:
    full, _ = books
    payments = full.payments()
    totals = full.order_totals()
    per_order = totals.groupby("order_id")["paid_amount"].sum()
    cash = payments.groupby("order_id")["paid_amount"].sum().reindex(per_order.index).fillna(0.0)
    assert np.allclose(per_order, cash, atol=0.006)
    # Without the receivables position, the KPI reads the cube, restated the same way.
    values, _ = kpi.kpi_table(
        full.cube, full.plan_rows(), full.month, full.settings.kpi, dict(full.settings.retro.thresholds)
    )
    row = values.set_index("kpi").loc["Collection rate"]
    ytd = totals.loc[totals["order_date"] >= pd.Timestamp("2026-01-01")]
    assert row["ytd_value"] == pytest.approx(ytd["paid_amount"].sum() / ytd["net_amount"].sum(), rel=1e-9)
    assert "dated up to 2026-10-31" in row["note"]


def test_paid_as_of_spreads_each_orders_dated_cash_over_its_rows() -> None:
    rows = pd.DataFrame(
        {
            "order_id": ["A", "A", "B", "B", "C", "D"],
            "net_amount": [60.0, 40.0, 100.0, 100.0, 50.0, 30.0],
            "paid_amount": [60.0, 0.0, 100.0, 100.0, 0.0, np.nan],
        }
    )
    # A: paid 60 as exported, 30 by the cut -> spread by paid share; B: as exported, kept;
    # C: nothing exported, 50 by the cut -> spread by net; D: no payment, no paid amount -> kept.
    collected = pd.Series({"A": 30.0, "B": 200.0, "C": 50.0})
    out = paid_as_of(rows, collected)
    assert out.tolist()[:5] == [30.0, 0.0, 100.0, 100.0, 50.0]
    assert np.isnan(out.iloc[5])
    # An order paid after the cut has received nothing by then.
    assert paid_as_of(rows.iloc[:2], pd.Series(dtype=float)).tolist() == [0.0, 0.0]


def test_the_months_retrospective_is_the_same_on_both_exports(books: tuple[MonthContext, MonthContext]) -> None:
    """The whole retrospective, landing included (fitted once on each export): summary, every flag,
    KPIs, payouts, the landing by region and product line, risks, warnings and the register."""
    from salesplan.retro.month import build_retrospective

    full, cut = (build_retrospective(wb) for wb in books)
    assert full.figures == pytest.approx(cut.figures, nan_ok=True, rel=1e-12)
    a, b = dict(full.summary["figures"]), dict(cut.summary["figures"])
    assert a.pop("flag_counts") == b.pop("flag_counts")
    assert a == pytest.approx(b, nan_ok=True, rel=1e-12)
    assert full.summary["forecast_months"] == pytest.approx(cut.summary["forecast_months"], rel=1e-9)
    pd.testing.assert_frame_equal(full.counts, cut.counts)
    for name in ("flags", "kpis", "commissions", "statement", "landing", "risk_table", "register", "collection"):
        a, b = getattr(full, name), getattr(cut, name)
        pd.testing.assert_frame_equal(
            a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False, rtol=1e-9, atol=1e-6
        )
    _same(full.warnings.table, cut.warnings.table)
    a, b = dict(full.total_landing), dict(cut.total_landing)
    assert a.pop("status") == b.pop("status")
    assert a == pytest.approx(b, rel=1e-9)
