"""Aggregates built once per input hash: pandas and DuckDB agree, the stored tables give the
line-level formulas' results (RFM, repeat purchase, AOV, new vs returning, PVM, high-end
share), and a second load reads instead of rebuilding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesplan import aggregates as agg_mod
from salesplan import metrics, review
from salesplan.commission import high_margin_share
from salesplan.config import load_config
from salesplan.cube import build_cube
from salesplan.io import load_data
from salesplan.retro import kpi, risks
from salesplan.retro.periods import window

ROOT = Path(__file__).resolve().parents[1]
COUNTS = {"lines", "orders", "quantity"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory, sample_raw: Path) -> dict:
    base = tmp_path_factory.mktemp("agg")
    raw = sample_raw  # the session's sample company (tests/conftest.py), read here only
    config = load_config(ROOT / "config" / "salesplan.yaml")
    cache = base / "cache"
    data = load_data(raw, config, cache_dir=cache)
    aggregates = agg_mod.load(raw, config, cache_dir=cache, engine="pandas")
    return {"raw": raw, "config": config, "cache": cache, "data": data, "agg": aggregates}


def assert_tables_agree(left: pd.DataFrame, right: pd.DataFrame, name: str) -> None:
    """Same keys and row order exactly, counts exactly, sums within 1e-6 relative."""
    assert list(left.columns) == list(right.columns)
    assert list(left.dtypes) == list(right.dtypes)
    assert len(left) == len(right), name
    for column, kind in agg_mod.SCHEMAS[name].items():
        if kind == "float":
            np.testing.assert_allclose(left[column], right[column], rtol=1e-6, atol=1e-6, err_msg=f"{name}.{column}")
        else:
            pd.testing.assert_series_equal(left[column], right[column], check_names=False, obj=f"{name}.{column}")


def test_pandas_and_duckdb_agree_on_the_sample(sample: dict) -> None:
    entry = agg_mod.cache_entry(sample["raw"], sample["config"], sample["cache"])
    by_pandas = agg_mod.build_pandas(sample["data"].orders, sample["data"].products)
    by_duckdb, profile = agg_mod.build_duckdb(entry / "orders.parquet", sample["data"].products, memory_mb=256)
    assert set(by_pandas) == set(by_duckdb) == set(agg_mod.SCHEMAS)
    for name in agg_mod.SCHEMAS:
        assert len(by_pandas[name]) > 100
        assert_tables_agree(by_pandas[name], by_duckdb[name], name)
    assert profile == agg_mod.profile_pandas(sample["data"].orders)
    assert profile == agg_mod.profile_parquet(entry / "orders.parquet")


def test_load_with_duckdb_stores_the_same_tables(sample: dict, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stored = agg_mod.load(sample["raw"], sample["config"], cache_dir=cache, engine="duckdb")
    assert stored.engine == "duckdb"
    assert (stored.folder / "cube.parquet").exists()
    for name in agg_mod.SCHEMAS:
        assert_tables_agree(sample["agg"].read(name), stored.read(name), name)
    assert stored.profile == sample["agg"].profile


def test_cold_load_validates_then_aggregates_the_lines_in_memory(sample: dict, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stored = agg_mod.load(sample["raw"], sample["config"], cache_dir=cache)
    assert stored.engine == "pandas"  # auto: the lines were in memory and fit the budget
    entry = agg_mod.cache_entry(sample["raw"], sample["config"], cache)
    assert (entry / "orders.parquet").exists() and stored.folder == entry / agg_mod.SUBDIR
    for name in agg_mod.SCHEMAS:
        pd.testing.assert_frame_equal(stored.read(name), sample["agg"].read(name))
    assert stored.profile == sample["agg"].profile


def test_cube_is_build_cube(sample: dict) -> None:
    pd.testing.assert_frame_equal(sample["agg"].cube, build_cube(sample["data"]))


def test_totals_add_up_to_the_lines(sample: dict) -> None:
    orders, agg = sample["data"].orders, sample["agg"]
    net = orders["net_amount"].sum()
    for name in agg_mod.SCHEMAS:
        table = agg.read(name, columns=["net_amount", "lines"])
        assert table["lines"].sum() == len(orders) == agg.lines
        assert table["net_amount"].sum() == pytest.approx(net, rel=1e-12)
    month = orders["order_date"].dt.to_period("M").dt.to_timestamp()
    distinct = orders.groupby([month, "customer_id"])["order_id"].nunique()
    cm = agg.customer_month.set_index(["month", "customer_id"])["orders"]
    pd.testing.assert_series_equal(cm, distinct.rename_axis(["month", "customer_id"]), check_names=False)


def test_auto_reads_the_cache_with_duckdb(sample: dict, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_data(sample["raw"], sample["config"], cache_dir=cache)
    assert agg_mod.load(sample["raw"], sample["config"], cache_dir=cache).engine == "duckdb"


def test_a_second_load_reads_instead_of_building(sample: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("rebuilt")

    monkeypatch.setattr(agg_mod, "build_pandas", fail)
    monkeypatch.setattr(agg_mod, "build_duckdb", fail)
    again = agg_mod.load(sample["raw"], sample["config"], cache_dir=sample["cache"])
    assert again.folder == sample["agg"].folder
    pd.testing.assert_frame_equal(again.sku_month, sample["agg"].sku_month)


def test_reads_are_column_pruned_and_filtered(sample: dict) -> None:
    agg = sample["agg"]
    since = pd.Timestamp("2026-01-01")
    part = agg.read("order_totals", columns=["customer_id", "net_amount"], filters=[("order_date", ">=", since)])
    assert list(part.columns) == ["customer_id", "net_amount"]
    full = agg.order_totals
    assert len(part) == int((full["order_date"] >= since).sum()) > 0
    with pytest.raises(KeyError, match="no column"):
        agg.read("cube", columns=["sku"])
    with pytest.raises(KeyError, match="no aggregate"):
        agg.read("lines")


def test_profile_replaces_the_lines_for_the_data_check(sample: dict) -> None:
    orders, agg = sample["data"].orders, sample["agg"]
    assert agg.first_date == orders["order_date"].min()
    assert agg.last_date == orders["order_date"].max()
    missing = agg.missing().set_index("column")["missing"]
    pd.testing.assert_series_equal(missing, orders.isna().sum(), check_names=False)


def test_order_lines_reads_only_the_columns_asked_for(sample: dict) -> None:
    orders = sample["data"].orders
    since = pd.Timestamp("2026-06-01")
    lines = agg_mod.order_lines(
        sample["raw"],
        sample["config"],
        columns=["order_date", "sku", "net_amount"],
        filters=[("order_date", ">=", since)],
        cache_dir=sample["cache"],
    )
    expected = orders.loc[orders["order_date"] >= since, ["order_date", "sku", "net_amount"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(lines, expected)
    assert lines["sku"].dtype == object and isinstance(lines["sku"].iloc[0], str)


# --------------------------------------------------------------------------- the line formulas


def _review_inputs(sample: dict) -> tuple[pd.DataFrame, review.ReviewPeriod]:
    cube = sample["agg"].cube
    return cube, review.review_period(cube, 2026, last_month="2026-10")


def test_rfm_from_order_totals_equals_rfm_from_lines(sample: dict) -> None:
    orders, totals = sample["data"].orders, sample["agg"].order_totals
    as_of = pd.Timestamp("2026-10-31")
    start = as_of - pd.DateOffset(months=12)
    from_lines = metrics.rfm(orders[orders["order_date"] > start], as_of=as_of, bins=5)
    from_totals = metrics.rfm(totals[totals["order_date"] > start], as_of=as_of, bins=5)
    assert len(from_lines) > 100
    pd.testing.assert_frame_equal(from_totals, from_lines)


def test_headline_new_vs_returning_from_order_totals_equal_lines(sample: dict) -> None:
    orders, totals = sample["data"].orders, sample["agg"].order_totals
    cube, period = _review_inputs(sample)
    pd.testing.assert_frame_equal(
        review.headline_table(cube, period, orders=totals), review.headline_table(cube, period, orders=orders)
    )
    for lines in (orders, totals):
        assert lines["order_date"].dtype == "datetime64[ns]"
    pd.testing.assert_frame_equal(
        metrics.new_vs_returning(totals, period.start, period.end),
        metrics.new_vs_returning(orders, period.start, period.end),
    )


def test_average_order_value_from_order_totals_equals_lines(sample: dict) -> None:
    from_lines = kpi.order_totals(sample["data"].orders)
    from_totals = kpi.order_totals(sample["agg"].order_totals)
    pd.testing.assert_frame_equal(
        from_totals.sort_values("order_id", ignore_index=True),
        from_lines.sort_values("order_id", ignore_index=True),
        check_exact=False,
        rtol=1e-12,
    )
    win = window("2026-10", "ytd")
    assert kpi.average_order_value(from_totals, win) == pytest.approx(kpi.average_order_value(from_lines, win))


def test_pvm_and_high_end_from_sku_month_equal_lines(sample: dict) -> None:
    data = sample["data"]
    as_lines = sample["agg"].sku_month.rename(columns={"month": "order_date"})
    cube, period = _review_inputs(sample)
    pd.testing.assert_frame_equal(
        review.pvm_by_sku(as_lines, period), review.pvm_by_sku(data.orders, period), check_exact=False, rtol=1e-9
    )
    high_lines, basis = kpi.high_end_monthly(cube, data.orders, data.products)
    high_agg, basis_agg = kpi.high_end_monthly(cube, as_lines, data.products)
    assert basis == basis_agg == "high-margin products"
    pd.testing.assert_frame_equal(high_agg, high_lines, check_exact=False, rtol=1e-9)
    start, end = pd.Timestamp("2025-11-01"), pd.Timestamp("2026-10-31")
    pd.testing.assert_frame_equal(
        high_margin_share(as_lines, data.products, start, end),
        high_margin_share(data.orders, data.products, start, end),
        check_exact=False,
        rtol=1e-9,
    )


def test_receivables_position_from_order_totals_equals_lines(sample: dict) -> None:
    data, totals = sample["data"], sample["agg"].order_totals
    as_of = pd.Timestamp("2026-09-30")
    for receivables in (data.receivables, None):  # dated payments, then the lines' paid amounts
        from_lines, basis = risks.receivables_position(data.orders, receivables, as_of)
        from_totals, basis_totals = risks.receivables_position(totals, receivables, as_of)
        assert basis == basis_totals
        assert len(from_lines) > 100
        key = ["order_id"]
        pd.testing.assert_frame_equal(
            from_totals.sort_values(key, ignore_index=True),
            from_lines.sort_values(key, ignore_index=True),
            check_exact=False,
            rtol=1e-9,
        )


def test_the_month_context_reads_aggregates_not_lines(sample: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from salesplan import workbook

    monkeypatch.setattr(agg_mod, "DEFAULT_CACHE_DIR", sample["cache"], raising=False)
    monkeypatch.setattr(workbook.aggregates, "load", lambda folder, config: sample["agg"])
    real_load_data = workbook.load_data
    monkeypatch.setattr(
        workbook,
        "load_data",
        lambda folder, config, **kw: real_load_data(folder, config, cache_dir=sample["cache"], **kw),
    )
    wb = workbook.open_workbook(data_dir=sample["raw"], config_path=ROOT / "config" / "salesplan.yaml")
    assert wb.data.orders is None  # the lines stay on disk
    assert wb.agg.folder == sample["agg"].folder
    pd.testing.assert_frame_equal(wb.agg.cube, build_cube(sample["data"]))
    assert wb.as_of == sample["data"].orders["order_date"].max()
    end = (wb.month + 1).to_timestamp()
    assert wb.order_totals()["order_date"].max() < end <= wb.agg.order_totals["order_date"].max()
    summary = wb.summary().set_index("table").loc["orders"]
    assert summary["rows"] == len(sample["data"].orders)
    missing = wb.missing_values().query("table == 'orders'").set_index("column")["missing"]
    pd.testing.assert_series_equal(missing, sample["data"].orders.isna().sum(), check_names=False)
    # Payments stay on disk too; the page reads those up to the month's end.
    assert wb.data.receivables is None
    month_end = wb.month.to_timestamp(how="end").normalize()
    payments = sample["data"].receivables
    expected = payments.loc[payments["paid_date"] <= month_end].reset_index(drop=True)
    assert 0 < len(expected) < len(payments)
    pd.testing.assert_frame_equal(wb.payments(), expected[list(wb.payments().columns)])
    receivables = wb.summary().set_index("table").loc["receivables"]
    assert receivables["rows"] == len(payments) and receivables["last_date"] == payments["paid_date"].max()
    high_end, basis = kpi.high_end_monthly(wb.cube, sample["data"].orders, sample["data"].products)
    cut = high_end.loc[high_end["month"] < end].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        kpi.high_end_monthly(wb.cube, wb.sku_sales(), sample["data"].products)[0], cut, check_exact=False, rtol=1e-9
    )


def _line(order: str, date: str, net: float, qty: int = 1, cust: str = "C1", sku: str = "P1", **extra) -> dict:
    return {
        "order_date": pd.Timestamp(date),
        "order_id": order,
        "customer_id": cust,
        "rep_id": "R1",
        "region": "North",
        "sku": sku,
        "channel": "direct",
        "quantity": qty,
        "net_amount": net,
    } | extra


def test_mixed_orders_keep_their_positive_lines_apart(tmp_path: Path) -> None:
    """An order whose return outweighs its sale has net <= 0 but a positive line: the review's
    AOV counts it (an order with a positive line), the KPI's does not (net <= 0). The split by
    sign keeps both exact, and an order spanning two dates keeps both dates."""
    lines = pd.DataFrame(
        [
            _line("A", "2026-01-05", 100.0, 2, cost_amount=60.0),
            _line("A", "2026-01-05", -150.0, -3, sku="P2", cost_amount=np.nan),
            _line("B", "2026-01-07", 80.0, 1, cost_amount=np.nan),
            _line("B", "2026-02-02", 20.0, 1, cust="C1", sku="P2", cost_amount=5.0),
            _line("C", "2026-02-03", 0.0, 1, cust="C2", cost_amount=np.nan),
            _line("D", "2026-02-04", 40.0, 1, cust="C2", cost_amount=10.0),
        ]
    ).assign(paid_amount=np.nan)
    products = pd.DataFrame({"sku": ["P1", "P2"], "product_line": ["Pumps", "Valves"], "tier": ["core", "emerging"]})
    path = tmp_path / "orders.parquet"
    lines.to_parquet(path, index=False)
    by_pandas = agg_mod.build_pandas(lines, products)
    by_duckdb, _ = agg_mod.build_duckdb(path, products, memory_mb=128)
    for name in agg_mod.SCHEMAS:
        assert_tables_agree(by_pandas[name], by_duckdb[name], name)
    totals = by_pandas["order_totals"]
    assert totals[["order_id", "positive"]].values.tolist() == [
        ["A", False],
        ["A", True],
        ["B", True],
        ["B", True],
        ["C", False],
        ["D", True],
    ]
    cube = by_pandas["cube"]
    assert cube["cost_amount"].isna().sum() == 1 and cube["paid_amount"].isna().all()
    cm = by_pandas["customer_month"].set_index(["month", "customer_id"])["orders"]
    assert cm.to_dict() == {
        (pd.Timestamp("2026-01-01"), "C1"): 2,
        (pd.Timestamp("2026-02-01"), "C1"): 1,
        (pd.Timestamp("2026-02-01"), "C2"): 2,
    }
    period = review.review_period(cube, 2026)
    pd.testing.assert_frame_equal(
        review.headline_table(cube, period, orders=totals), review.headline_table(cube, period, orders=lines)
    )
    aov = review.headline_table(cube, period, orders=totals).set_index("metric").loc["Average order value", "current"]
    assert aov == pytest.approx(90.0 / 3)  # orders A, B and D have a positive line
    pd.testing.assert_frame_equal(
        kpi.order_totals(totals).sort_values("order_id", ignore_index=True),
        kpi.order_totals(lines).sort_values("order_id", ignore_index=True),
    )
    pd.testing.assert_frame_equal(
        metrics.rfm(totals, as_of="2026-02-28", bins=2), metrics.rfm(lines, as_of="2026-02-28", bins=2)
    )


def test_no_lines_give_empty_tables() -> None:
    lines = pd.DataFrame([_line("A", "2026-01-05", 1.0)]).iloc[:0]
    products = pd.DataFrame({"sku": ["P1"], "product_line": ["Pumps"], "tier": ["core"]})
    tables = agg_mod.build_pandas(lines, products)
    for name, frame in tables.items():
        assert frame.empty and list(frame.columns) == list(agg_mod.SCHEMAS[name])


@pytest.mark.parametrize(
    ("setting", "lines", "budget", "in_memory", "expected"),
    [
        ("auto", 1_000_000, 2048, True, "pandas"),
        ("auto", 10_000_000, 2048, True, "duckdb"),
        ("auto", 10_000_000, 8192, True, "pandas"),
        ("auto", 1_000, 2048, False, "duckdb"),
        ("pandas", 10**9, 1, False, "pandas"),
        ("duckdb", 10, 2048, True, "duckdb"),
    ],
)
def test_engine_choice(setting: str, lines: int, budget: int, in_memory: bool, expected: str) -> None:
    assert agg_mod.choose_engine(setting, lines, budget, in_memory) == expected


def test_engine_choice_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="auto, pandas or duckdb"):
        agg_mod.choose_engine("spark", 10, 10)


def test_engine_settings_are_validated() -> None:
    defaults = load_config()["engine"]
    assert defaults == {"aggregation": "auto", "aggregation_memory_mb": 2048, "forecast": "local", "address": None}
    from salesplan.config import ConfigError

    with pytest.raises(ConfigError, match="engine.aggregation"):
        load_config(overrides={"engine": {"aggregation": "spark"}})
    with pytest.raises(ConfigError, match="needs the cluster's address"):
        load_config(overrides={"engine": {"forecast": "ray"}})
