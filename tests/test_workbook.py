"""open_workbook: paths from the project root, the report month, summaries."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from salesplan import io as sio
from salesplan import workbook
from salesplan.config import PROJECT_ROOT
from salesplan.workbook import MonthContext, WorkbookError, open_workbook, resolve_month

FIXTURES = Path(__file__).parent / "fixtures" / "good"
CUSTOMER_HEADERS = {"客户编号": "customer_id", "客户名称": "customer_name", "行业": "industry", "区域": "region"}


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    data_dir = tmp_path / "raw"
    shutil.copytree(FIXTURES, data_dir)
    config_path = tmp_path / "salesplan.yaml"
    config_path.write_text(
        yaml.safe_dump({"columns": {"customers": CUSTOMER_HEADERS}}, allow_unicode=True), encoding="utf-8"
    )
    monkeypatch.setattr(sio, "DEFAULT_CACHE_DIR", str(tmp_path / "cache"))
    return data_dir, config_path


def test_open_workbook_defaults_to_latest_complete_month(setup: tuple[Path, Path]) -> None:
    data_dir, config_path = setup
    wb = open_workbook(data_dir=data_dir, config_path=config_path)
    assert isinstance(wb, MonthContext)
    # The fixture's last order is on 2025-02-28, the last day of February.
    assert wb.month == pd.Period("2025-02", freq="M")
    assert wb.as_of == pd.Timestamp("2025-02-28")
    assert wb.data_dir == data_dir
    lines = sio.load_data(data_dir, wb.settings).orders
    assert wb.cube["net_amount"].sum() == pytest.approx(lines["net_amount"].sum())
    assert wb.agg.lines == len(lines) and wb.data.orders is None
    assert wb.settings.columns.customers == CUSTOMER_HEADERS


def test_month_parameter_checked(setup: tuple[Path, Path]) -> None:
    data_dir, config_path = setup
    assert open_workbook("2024-06", data_dir=data_dir, config_path=config_path).month == pd.Period("2024-06", "M")
    with pytest.raises(WorkbookError, match="YYYY-MM"):
        open_workbook("2024-6", data_dir=data_dir, config_path=config_path)
    with pytest.raises(WorkbookError, match=r"outside the data's complete months 2024-01 \.\. 2025-02"):
        open_workbook("2025-03", data_dir=data_dir, config_path=config_path)


def test_resolve_month_without_complete_month() -> None:
    orders = pd.DataFrame({"order_date": pd.to_datetime(["2025-03-01", "2025-03-20"])})
    with pytest.raises(WorkbookError, match="no complete month"):
        resolve_month(None, orders)


def test_relative_paths_come_from_project_root(
    setup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, config_path = setup
    monkeypatch.chdir(tmp_path)
    relative = FIXTURES.relative_to(PROJECT_ROOT)
    wb = open_workbook(data_dir=str(relative), config_path=config_path, use_cache=False)
    assert wb.data_dir == PROJECT_ROOT / relative and wb.agg.lines == 9


def test_theme_is_applied(setup: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from salesplan import plots

    calls: list[bool] = []
    monkeypatch.setattr(plots, "apply_theme", lambda *a, **k: calls.append(True))
    data_dir, config_path = setup
    open_workbook(data_dir=data_dir, config_path=config_path)
    assert calls == [True]


def test_summary_and_missing_values(setup: tuple[Path, Path]) -> None:
    data_dir, config_path = setup
    wb = open_workbook(data_dir=data_dir, config_path=config_path)
    summary = wb.summary().set_index("table")
    assert list(summary.columns) == ["files", "rows", "first_date", "last_date", "after_month_end"]
    assert (summary["after_month_end"] == 0).all()  # the latest complete month: nothing after it
    assert summary.loc["orders", "files"] == "orders_2024.csv, orders_2025.csv"
    assert summary.loc["orders", "rows"] == 9 and summary.loc["pipeline", "rows"] == 0
    assert summary.loc["orders", "first_date"] == pd.Timestamp("2024-01-05")
    assert summary.loc["targets", "last_date"] == pd.Timestamp("2025-02-01")
    assert pd.isna(summary.loc["products", "first_date"])

    missing = wb.missing_values().set_index(["table", "column"])
    assert missing.loc[("customers", "industry"), "missing"] == 1
    assert missing.loc[("customers", "industry"), "share"] == pytest.approx(1 / 3)
    assert missing.loc[("orders", "net_amount"), "missing"] == 0
    assert "pipeline" not in missing.index.get_level_values("table")


def test_the_forecast_is_fitted_once_and_read_back_from_the_run_folder(
    setup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import salesplan.forecast as forecast_lib
    from salesplan.status import landing_status

    data_dir, config_path = setup
    run_dir = tmp_path / "run"
    fits = []
    real = forecast_lib.forecast_hierarchy

    def counting(*args, **kwargs):
        fits.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(forecast_lib, "forecast_hierarchy", counting)
    first = open_workbook(data_dir=data_dir, config_path=config_path, output_dir=run_dir)
    landing = first.landing()
    assert len(fits) == 1 and (run_dir / "forecast" / "meta.json").exists()
    assert first.landing() is landing and len(fits) == 1  # once per context too

    # Another page of the same run reads the stored forecast: same figures, no second fit.
    second = open_workbook(data_dir=data_dir, config_path=config_path, output_dir=run_dir)
    again = second.landing()
    assert len(fits) == 1
    pd.testing.assert_frame_equal(again, landing)
    # The status column is the one rule's, from P(hit) and the gap.
    expected = landing_status(
        landing["p_hit"],
        landing["landing"],
        landing["target"],
        first.settings.retro.thresholds,
        first.settings.risk.probability,
    )
    assert list(landing["status"]) == list(expected)
    assert (landing["gap"] == landing["landing"] - landing["target"]).all()

    # Other settings make another forecast: the stored one is not reused.
    other = tmp_path / "other.yaml"
    other.write_text(config_path.read_text(encoding="utf-8") + "forecast:\n  levels: [90]\n", encoding="utf-8")
    open_workbook(data_dir=data_dir, config_path=other, output_dir=run_dir).forecast()
    assert len(fits) == 2


PAYMENTS = """order_id,paid_date,paid_amount
SO-0001,2024-01-20,1500.00
SO-0003,2024-02-20,99.90
SO-0004,2024-03-02,-250.00
SO-0005,2025-01-10,299.70
SO-0101,2025-02-05,400.00
SO-0102,2025-01-31,600.00
SO-0102,2025-02-10,400.00
SO-0103,2025-02-28,100.00
"""


@pytest.mark.parametrize("use_cache", [True, False])
def test_the_month_context_reads_as_of_the_month_end(setup: tuple[Path, Path], use_cache: bool) -> None:
    data_dir, config_path = setup
    (data_dir / "receivables.csv").write_text(PAYMENTS, encoding="utf-8")
    reps = (data_dir / "reps.csv").read_text(encoding="utf-8-sig").replace("2023-07-15,", "2023-07-15,2025-02-20")
    (data_dir / "reps.csv").write_text(reps + "R03,Wang,North,A,junior,2025-02-10,\n", encoding="utf-8")
    wb = open_workbook("2025-01", data_dir=data_dir, config_path=config_path, use_cache=use_cache)

    # Orders, payments and reps dated after January are not read; the data check still counts them.
    assert wb.cube["month"].max() == pd.Timestamp("2025-01-01")
    assert wb.payments()["paid_date"].max() == pd.Timestamp("2025-01-31")
    assert wb.data.reps["rep_id"].tolist() == ["R01", "R02"] and wb.data.reps["leave_date"].isna().all()
    later = wb.summary().set_index("table")["after_month_end"]
    assert later["orders"] == 1 and later["receivables"] == 3 and later["reps"] == 1
    assert later["products"] == 0

    # Collected cash is the payments dated up to 2025-01-31, not the paid amounts as exported:
    # SO-0101 (400 exported) was paid in February, SO-0102 (1,000 exported) had 600 by January's end.
    paid = wb.cube.groupby(["month", "rep_id"])["paid_amount"].sum()
    assert paid[(pd.Timestamp("2025-01-01"), "R01")] == pytest.approx(0.0)
    assert paid[(pd.Timestamp("2025-01-01"), "R02")] == pytest.approx(600.0)
    assert paid[(pd.Timestamp("2024-01-01"), "R01")] == pytest.approx(1500.0)  # as exported and as paid
    totals = wb.order_totals().set_index("order_id")["paid_amount"]
    assert totals["SO-0102"] == pytest.approx(600.0) and totals["SO-0101"] == pytest.approx(0.0)
    assert "SO-0103" not in totals.index
    assert wb.paid_basis == "payments in table receivables dated up to 2025-01-31"


@pytest.fixture
def sample_month(sample_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Opens a month of the sample with a validated cache (and restatement store) of the test's own."""
    monkeypatch.setattr(sio, "DEFAULT_CACHE_DIR", str(tmp_path / "cache"))
    config = PROJECT_ROOT / "config" / "salesplan.yaml"
    return lambda month: open_workbook(month=month, data_dir=sample_raw, config_path=config)


def _payment_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that gets one entry each time a page reads the month's payments."""
    read: list[int] = []
    payments = MonthContext.payments
    monkeypatch.setattr(MonthContext, "payments", lambda self: (read.append(1), payments(self))[1])
    return read


def test_paid_amounts_as_of_the_month_end_are_restated_once_and_read_back(
    sample_month, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = sample_month("2026-10")
    as_exported = first.agg.cube.loc[first.agg.cube["month"] <= pd.Timestamp("2026-10-01"), "paid_amount"]
    # The sample has payments dated after October: the month's cash is restated, not as exported.
    assert not np.allclose(as_exported.fillna(0).to_numpy(), first.cube["paid_amount"].fillna(0).to_numpy())
    store = first.agg.folder.parent / "as_of" / "2026-10"
    assert (store / "meta.json").exists()

    # A later page reads the stored amounts: it never reads the payments again.
    read = _payment_reads(monkeypatch)
    second = sample_month("2026-10")
    assert read == []
    pd.testing.assert_frame_equal(second.cube, first.cube)
    # The month's order totals take their paid amounts as stored, row for row: not restated again.
    restate = workbook.paid_as_of
    monkeypatch.setattr(workbook, "paid_as_of", lambda *_a: pytest.fail("the order totals were restated again"))
    pd.testing.assert_frame_equal(second.order_totals(), first.order_totals())
    monkeypatch.setattr(workbook, "paid_as_of", restate)
    # An earlier end is restated from the stored cash, as the first page restates it.
    july = pd.Timestamp("2026-07-01")
    pd.testing.assert_frame_equal(second.order_totals(july), first.order_totals(july))
    assert second.paid_basis == first.paid_basis and second.cube.attrs["paid_basis"] == first.paid_basis

    # Another month has its own: September is restated from the payments, not from October's store.
    september = sample_month("2026-09")
    assert read == [1] and september.paid_basis.endswith("2026-09-30")


def test_a_stored_restatement_of_an_older_format_is_replaced(sample_month, monkeypatch: pytest.MonkeyPatch) -> None:
    first = sample_month("2026-10")
    meta_file = first.agg.folder.parent / "as_of" / "2026-10" / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    meta_file.write_text(json.dumps({**meta, "format": workbook.RESTATED_FORMAT - 1}), encoding="utf-8")
    # The older store is not read, and the page's own restatement takes its place.
    second = sample_month("2026-10")
    pd.testing.assert_frame_equal(second.cube, first.cube)
    assert json.loads(meta_file.read_text(encoding="utf-8")) == meta
    read = _payment_reads(monkeypatch)
    sample_month("2026-10")
    assert read == []
