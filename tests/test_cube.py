"""Monthly facts, the latest complete month and gap-free monthly totals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesplan.cube import DIMENSIONS, MEASURES, build_cube, latest_complete_month, monthly_totals
from salesplan.io import Dataset


def order(date: str, sku: str, net: float, qty: int = 1, rep: str = "R1", cust: str = "C1", **extra) -> dict:
    return {
        "order_date": pd.Timestamp(date),
        "order_id": f"SO-{date}-{sku}-{net}",
        "customer_id": cust,
        "rep_id": rep,
        "region": "North",
        "sku": sku,
        "channel": "direct",
        "quantity": qty,
        "net_amount": net,
    } | extra


def dataset(orders: list[dict]) -> Dataset:
    products = pd.DataFrame({"sku": ["P1", "P2"], "product_line": ["Pumps", "Valves"], "tier": ["core", "emerging"]})
    empty = pd.DataFrame()
    return Dataset(orders=pd.DataFrame(orders), products=products, customers=empty, reps=empty)


@pytest.fixture
def orders() -> list[dict]:
    return [
        order("2024-01-05", "P1", 100.0, 2, cost_amount=60.0, paid_amount=100.0),
        order("2024-01-20", "P1", -30.0, -1, cost_amount=-18.0, paid_amount=np.nan),
        order("2024-01-21", "P2", 50.0, 1, cost_amount=20.0, paid_amount=50.0),
        order("2024-03-02", "P1", 70.0, 1, rep="R2", cost_amount=40.0, paid_amount=0.0),
    ]


def test_cube_columns_and_dtypes(orders: list[dict]) -> None:
    cube = build_cube(dataset(orders))
    assert list(cube.columns) == ["month", *DIMENSIONS, *MEASURES]
    assert cube["month"].dtype == "datetime64[ns]"
    assert (cube["month"].dt.day == 1).all()
    assert cube["quantity"].dtype == "int64" and cube["lines"].dtype == "int64"


def test_cube_preserves_totals_and_splits_returns(orders: list[dict]) -> None:
    cube = build_cube(dataset(orders))
    assert cube["net_amount"].sum() == pytest.approx(sum(o["net_amount"] for o in orders))
    assert cube["lines"].sum() == len(orders)
    np.testing.assert_allclose(cube["gross_amount"] + cube["return_amount"], cube["net_amount"])
    jan_pumps = cube[(cube["month"] == "2024-01-01") & (cube["product_line"] == "Pumps")].iloc[0]
    assert (jan_pumps["gross_amount"], jan_pumps["return_amount"], jan_pumps["net_amount"]) == (100.0, -30.0, 70.0)
    assert jan_pumps["quantity"] == 1 and jan_pumps["lines"] == 2
    assert jan_pumps["cost_amount"] == 42.0 and jan_pumps["paid_amount"] == 100.0
    assert jan_pumps["tier"] == "core"


def test_cube_without_cost_and_paid_columns_gives_nan(orders: list[dict]) -> None:
    bare = [{k: v for k, v in o.items() if k not in ("cost_amount", "paid_amount")} for o in orders]
    cube = build_cube(dataset(bare))
    assert cube["cost_amount"].isna().all() and cube["paid_amount"].isna().all()
    assert cube["net_amount"].sum() == pytest.approx(190.0)


@pytest.mark.parametrize(
    ("last", "expected"),
    [("2025-06-30", "2025-06"), ("2025-06-29", "2025-05"), ("2025-06-30 15:00", "2025-06"), ("2024-02-29", "2024-02")],
)
def test_latest_complete_month(last: str, expected: str) -> None:
    dates = pd.Series([pd.Timestamp("2024-01-01"), pd.Timestamp(last)])
    assert latest_complete_month(dates) == pd.Period(expected, freq="M")
    assert latest_complete_month(pd.DataFrame({"order_date": dates})) == pd.Period(expected, freq="M")


def test_latest_complete_month_needs_dates() -> None:
    with pytest.raises(ValueError, match="no order dates"):
        latest_complete_month(pd.Series([], dtype="datetime64[ns]"))


def test_monthly_totals_fills_gaps_with_zero(orders: list[dict]) -> None:
    totals = monthly_totals(build_cube(dataset(orders)))
    assert list(totals.columns) == ["month", "net_amount"]
    assert totals["month"].dt.strftime("%Y-%m").tolist() == ["2024-01", "2024-02", "2024-03"]
    assert totals["net_amount"].tolist() == [120.0, 0.0, 70.0]


def test_monthly_totals_by_dimension_overall_and_group_span(orders: list[dict]) -> None:
    cube = build_cube(dataset(orders))
    overall = monthly_totals(cube, by=["rep_id"], value=["net_amount", "lines"])
    assert list(overall.columns) == ["month", "rep_id", "net_amount", "lines"]
    assert len(overall) == 2 * 3  # both reps over Jan..Mar
    r2 = overall[overall["rep_id"] == "R2"]
    assert r2["net_amount"].tolist() == [0.0, 0.0, 70.0]
    own = monthly_totals(cube, by=["rep_id"], span="group")
    assert own[own["rep_id"] == "R2"]["month"].dt.strftime("%Y-%m").tolist() == ["2024-03"]
    assert own[own["rep_id"] == "R1"]["net_amount"].tolist() == [120.0]
    assert overall["net_amount"].sum() == pytest.approx(cube["net_amount"].sum())


def test_monthly_totals_rejects_unknown_columns(orders: list[dict]) -> None:
    with pytest.raises(KeyError, match="segment"):
        monthly_totals(build_cube(dataset(orders)), by=["segment"])


def test_cube_matches_a_plain_groupby() -> None:
    rng = np.random.default_rng(3)
    n = 500
    orders = pd.DataFrame(
        {
            "order_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
            "order_id": [f"SO-{i}" for i in range(n)],
            "customer_id": rng.choice(["C1", "C2", "C3", "007"], n),
            "rep_id": rng.choice(["R1", "R2"], n),
            "region": rng.choice(["North", "South"], n),
            "sku": rng.choice(["P1", "P2"], n),
            "channel": rng.choice(["direct", "online"], n),
            "quantity": rng.integers(-2, 9, n),
            "net_amount": rng.normal(100, 80, n).round(2),
            "cost_amount": np.where(rng.random(n) < 0.2, np.nan, rng.normal(50, 10, n)),
        }
    )
    cube = build_cube(dataset(orders.to_dict("records")))
    data = dataset(orders.to_dict("records"))
    plain = (
        orders.merge(data.products, on="sku")
        .assign(month=lambda d: d["order_date"].dt.to_period("M").dt.to_timestamp())
        .groupby(["month", *DIMENSIONS])
        .agg(
            net_amount=("net_amount", "sum"),
            cost_amount=("cost_amount", lambda s: s.sum(min_count=1)),
            lines=("sku", "size"),
        )
        .reset_index()
    )
    pd.testing.assert_frame_equal(
        cube[["month", *DIMENSIONS, "net_amount", "cost_amount", "lines"]], plain, check_dtype=False, check_exact=False
    )


def test_cube_of_no_orders_is_empty(orders: list[dict]) -> None:
    empty = pd.DataFrame(orders).iloc[:0]
    cube = build_cube(Dataset(orders=empty, products=dataset(orders).products, customers=empty, reps=empty))
    assert cube.empty and list(cube.columns) == ["month", *DIMENSIONS, *MEASURES]
