"""Tests of the deterministic sample company (salesplan.sample)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesplan import sample
from salesplan.config import load_defaults

AS_OF = "2026-11-15"


@pytest.fixture(scope="module")
def full() -> dict[str, pd.DataFrame]:
    """The default company (scale 1); generating it takes about a second."""
    return sample.generate_sample(seed=7, scale=1.0, as_of=AS_OF)


@pytest.fixture(scope="module")
def small() -> dict[str, pd.DataFrame]:
    return sample.generate_sample(seed=7, scale=0.02, as_of=AS_OF)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return sample.write_sample(tmp_path_factory.mktemp("a"), seed=3, scale=0.02, as_of=AS_OF)


def _with_products(data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return data["orders"].merge(data["products"], on="sku", how="left", validate="many_to_one")


# ----------------------------------------------------------------------------- files


def test_write_is_byte_identical_and_seed_dependent(written: dict[str, Path], tmp_path: Path) -> None:
    again = sample.write_sample(tmp_path / "b", seed=3, scale=0.02, as_of=AS_OF)
    other = sample.write_sample(tmp_path / "c", seed=4, scale=0.02, as_of=AS_OF)
    assert sorted(again) == sorted(written)
    for name, path in written.items():
        assert path.read_bytes() == again[name].read_bytes(), name
    differs = [name for name, path in written.items() if path.read_bytes() != other[name].read_bytes()]
    assert {"orders_2025", "customers", "pipeline", "targets"} <= set(differs)


def test_files_and_formats(written: dict[str, Path]) -> None:
    expected = {f"orders_{y}" for y in (2023, 2024, 2025, 2026)} | {
        "products",
        "customers",
        "reps",
        "pipeline",
        "targets",
        "activities",
        "spend",
        "nps",
        "receivables",
    }
    assert set(written) == expected
    assert {p.name for p in written.values()} == {f"{n}.csv" for n in expected}
    customers = written["customers"].read_text(encoding="utf-8").splitlines()
    assert customers[0] == "客户编号,客户名称,行业,区域"
    assert re.search("[\u4e00-\u9fff]{4,}有限公司", customers[1])
    orders = pd.read_csv(written["orders_2024"], dtype=str)
    assert list(orders.columns) == [
        "order_date",
        "order_id",
        "customer_id",
        "rep_id",
        "region",
        "sku",
        "channel",
        "quantity",
        "net_amount",
        "cost_amount",
        "paid_amount",
    ]
    assert orders["order_date"].str.fullmatch(r"2024-\d\d-\d\d").all()
    assert orders["order_id"].str.fullmatch(r"O\d{7}").all()
    assert orders["net_amount"].str.fullmatch(r"-?\d+\.\d\d").all()
    pipeline = pd.read_csv(written["pipeline"], dtype=str)
    assert pipeline["opportunity_id"].str.fullmatch(r"OPP-\d{5}").all()
    assert pipeline["expected_close_date"].str.fullmatch(r"\d{4}-\d\d-\d\d").all()
    reps = pd.read_csv(written["reps"], dtype=str, keep_default_na=False)
    assert reps["rep_id"].str.fullmatch(r"R\d{3}").all()
    assert (reps["leave_date"] != "").sum() == 2
    targets = pd.read_csv(written["targets"], dtype=str)
    assert targets["target_amount"].str.fullmatch(r"\d+").all()


def test_parquet(tmp_path: Path) -> None:
    paths = sample.write_sample(tmp_path, seed=3, scale=0.02, as_of=AS_OF, fmt="parquet")
    assert all(p.suffix == ".parquet" for p in paths.values())
    orders = pd.concat([pd.read_parquet(paths[f"orders_{y}"]) for y in (2023, 2024, 2025, 2026)])
    reference = sample.generate_sample(seed=3, scale=0.02, as_of=AS_OF)["orders"]
    assert len(orders) == len(reference)
    assert orders["order_date"].iloc[0] == reference["order_date"].iloc[0].strftime("%Y-%m-%d")
    assert orders["sku"].dtype == object
    assert pd.read_parquet(paths["customers"]).columns[0] == "客户编号"


def test_relative_out_dir_is_taken_from_the_project_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sample, "resolve_path", lambda p: tmp_path / p)
    paths = sample.write_sample("nested/raw", seed=1, scale=0.01)
    assert paths["products"] == tmp_path / "nested/raw/products.csv"
    assert paths["products"].exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "seed"),
        ({"scale": 0}, "scale"),
        ({"scale": float("nan")}, "scale"),
        ({"as_of": "not a date"}, "as_of"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(sample.SampleError, match=message):
        sample.generate_sample(**kwargs)


def test_bad_format(tmp_path: Path) -> None:
    with pytest.raises(sample.SampleError, match="fmt='xlsx'"):
        sample.write_sample(tmp_path, fmt="xlsx")


# ----------------------------------------------------------------------------- calendar and size


def test_calendar_covers_three_years_and_the_year_to_date(full: dict[str, pd.DataFrame]) -> None:
    dates = full["orders"]["order_date"]
    assert dates.min() <= pd.Timestamp("2023-01-03")
    assert dates.min() >= pd.Timestamp("2023-01-01")
    assert pd.Timestamp("2026-11-10") <= dates.max() <= pd.Timestamp(AS_OF)
    assert dates.dt.to_period("M").nunique() == 47


def test_other_as_of_moves_the_calendar() -> None:
    data = sample.generate_sample(seed=1, scale=0.02, as_of="2025-03-10")
    dates = data["orders"]["order_date"]
    assert dates.min().year == 2022
    assert dates.max() <= pd.Timestamp("2025-03-10")
    assert set(data["targets"]["year"]) == {2024, 2025}
    assert data["pipeline"]["snapshot_date"].max() == pd.Timestamp("2025-03-10")


def test_size_and_scale(full: dict[str, pd.DataFrame], small: dict[str, pd.DataFrame]) -> None:
    assert 270_000 <= len(full["orders"]) <= 330_000
    assert 0.015 <= len(small["orders"]) / len(full["orders"]) <= 0.025
    assert len(full["products"]) == 30
    assert len(full["reps"]) == 40
    assert len(full["customers"]) == 2000
    revenue = full["orders"].groupby(full["orders"]["order_date"].dt.year)["net_amount"].sum()
    assert 1.0e9 <= revenue[2025] <= 1.4e9
    # A smaller scale keeps the company's size (same customers, fewer and bigger orders).
    small_revenue = small["orders"].groupby(small["orders"]["order_date"].dt.year)["net_amount"].sum()
    assert small_revenue[2025] == pytest.approx(revenue[2025], rel=0.25)


# ----------------------------------------------------------------------------- integrity


@pytest.mark.parametrize("fixture", ["small", "full"])
def test_referential_integrity(fixture: str, request: pytest.FixtureRequest) -> None:
    data = request.getfixturevalue(fixture)
    orders, reps = data["orders"], data["reps"]
    for table in ("orders", "pipeline", "targets"):
        assert set(data[table]["rep_id"]) <= set(reps["rep_id"]), table
    for table in ("orders", "pipeline"):
        assert set(data[table]["customer_id"]) <= set(data["customers"]["customer_id"]), table
    assert set(orders["sku"]) <= set(data["products"]["sku"])
    lines = set(data["products"]["product_line"])
    assert set(data["pipeline"]["product_line"]) <= lines
    assert set(data["targets"]["product_line"]) <= lines
    assert not orders.duplicated(["order_id", "sku"]).any()
    region_of = reps.set_index("rep_id")["region"]
    assert (orders["region"] == orders["rep_id"].map(region_of)).all()
    assert (data["pipeline"]["region"] == data["pipeline"]["rep_id"].map(region_of)).all()
    assert (data["targets"]["region"] == data["targets"]["rep_id"].map(region_of)).all()
    assert set(orders["channel"]) == {"direct", "distributor", "online"}
    for table in data.values():
        assert not table.columns.str.startswith("_").any()


def test_one_order_has_one_date_customer_and_rep(full: dict[str, pd.DataFrame]) -> None:
    per_order = full["orders"].groupby("order_id")[["order_date", "customer_id", "rep_id", "channel"]].nunique()
    assert (per_order == 1).all().all()
    assert full["orders"].groupby("order_id").size().max() > 1


def test_orders_only_while_in_post(full: dict[str, pd.DataFrame]) -> None:
    orders = full["orders"].merge(full["reps"], on="rep_id", suffixes=("", "_rep"))
    assert (orders["order_date"] >= orders["hire_date"]).all()
    left = orders[orders["leave_date"].notna()]
    assert not left.empty
    assert (left["order_date"] <= left["leave_date"]).all()


def test_new_hires_and_leavers(full: dict[str, pd.DataFrame]) -> None:
    reps, orders = full["reps"], full["orders"]
    assert set(reps["level"]) == {"junior", "mid", "senior", "lead"}
    assert reps["rep_name"].str.fullmatch("[\u4e00-\u9fff]{2,3}").all()
    assert reps["rep_name"].is_unique
    hires = reps[reps["hire_date"].dt.year == 2026]
    assert len(hires) >= 3
    assert reps["leave_date"].notna().sum() == 2
    monthly = orders.groupby(["rep_id", orders["order_date"].dt.to_period("M")])["net_amount"].sum()
    for rep_id in hires["rep_id"]:
        sales = monthly.loc[rep_id]
        assert len(sales) >= 3, rep_id
        # Ramping up: the first month in post sells less than the latest complete one.
        assert sales.iloc[0] < sales.loc[pd.Period("2026-10", "M")], rep_id
    # Targets follow the same rules: nothing after leaving, new hires from their start.
    targets = full["targets"].merge(reps, on="rep_id")
    month_start = pd.to_datetime(dict(year=targets["year"], month=targets["month"], day=1))
    assert (month_start + pd.Timedelta(days=14) >= targets["hire_date"]).all()
    gone = targets["leave_date"].notna()
    assert (month_start[gone] + pd.Timedelta(days=14) <= targets.loc[gone, "leave_date"]).all()


# ----------------------------------------------------------------------------- realism


def test_returns(full: dict[str, pd.DataFrame]) -> None:
    orders = full["orders"]
    returns = orders[orders["quantity"] < 0]
    assert 0.007 <= len(returns) / len(orders) <= 0.014
    assert (returns["net_amount"] < 0).all()
    assert (orders.loc[orders["quantity"] > 0, "net_amount"] > 0).all()
    assert (orders["quantity"] != 0).all()
    # Return orders hold only returns.
    assert not set(returns["order_id"]) & set(orders.loc[orders["quantity"] > 0, "order_id"])
    # Each return matches an earlier sale of the same SKU to the same customer.
    first_sale = orders[orders["quantity"] > 0].groupby(["customer_id", "sku"])["order_date"].min()
    matched = returns.join(first_sale.rename("first_sale"), on=["customer_id", "sku"])
    assert (matched["first_sale"] < matched["order_date"]).all()


def test_customer_tiers_at_default_scale(full: dict[str, pd.DataFrame]) -> None:
    tiers = load_defaults()["customer_tiers"]
    orders = full["orders"]
    yearly = orders[orders["order_date"].dt.year == 2025].groupby("customer_id")["net_amount"].sum()
    tier = pd.cut(yearly, [-np.inf, tiers["C"], tiers["B"], tiers["A"], np.inf], labels=["D", "C", "B", "A"])
    counts = tier.value_counts()
    assert (counts > 0).all(), counts
    assert counts["A"] < counts["B"] < counts["C"] < counts["D"]
    # Heavy tail: the top 10 % of customers make well over half of the sales.
    top = yearly.sort_values(ascending=False)
    assert top.iloc[: len(top) // 10].sum() / top.sum() > 0.5


def test_customer_churn_and_new_customers(full: dict[str, pd.DataFrame]) -> None:
    orders = full["orders"]
    years = orders.groupby("customer_id")["order_date"].agg(["min", "max"])
    assert (years["min"].dt.year >= 2024).sum() > 200
    assert (years["max"] < pd.Timestamp("2025-07-01")).sum() > 100
    repeat = orders.groupby("customer_id")["order_id"].nunique()
    assert (repeat > 1).mean() > 0.8
    names = full["customers"]["customer_name"]
    assert names.is_unique
    assert names.str.contains("有限公司").all()


def test_seasonality(full: dict[str, pd.DataFrame]) -> None:
    orders = full["orders"]
    monthly = orders.groupby(orders["order_date"].dt.to_period("M"))["net_amount"].sum()
    for year in (2023, 2024, 2025):
        months = monthly[monthly.index.year == year]
        mean = months.mean()
        assert months.iloc[0] < mean and months.iloc[1] < mean, year
        assert months.iloc[9:].mean() > mean, year
        # Real months wiggle: not a smooth curve.
        assert (np.diff(months.to_numpy()) < 0).sum() >= 2, year


def test_regions_grow_at_different_rates(full: dict[str, pd.DataFrame]) -> None:
    orders = full["orders"]
    yearly = orders.groupby([orders["order_date"].dt.year, "region"])["net_amount"].sum().unstack()
    cagr = (yearly.loc[2025] / yearly.loc[2023]) ** 0.5 - 1
    assert cagr.max() - cagr.min() > 0.08
    assert cagr.idxmax() == "East"
    assert cagr.idxmin() == "West"


def test_price_rise_on_core_lines(full: dict[str, pd.DataFrame]) -> None:
    orders = _with_products(full)
    sales = orders[orders["quantity"] > 0]
    unit = sales["net_amount"] / sales["quantity"]
    after = sales["order_date"] >= pd.Timestamp("2025-04-01")
    rise = (unit[after].groupby(sales["sku"]).median() / unit[~after].groupby(sales["sku"]).median()).dropna()
    tier = full["products"].set_index("sku")["tier"]
    assert rise[tier.reindex(rise.index) == "core"].between(1.03, 1.07).all()
    assert rise[tier.reindex(rise.index) != "core"].between(0.98, 1.02).all()


def test_launched_line_has_short_history(full: dict[str, pd.DataFrame]) -> None:
    orders = _with_products(full)
    launched = full["products"].loc[full["products"]["launch_date"].notna()]
    assert launched["tier"].eq("emerging").all() and not launched.empty
    first = orders.groupby("product_line")["order_date"].min()
    line = launched["product_line"].iloc[0]
    assert first[line] >= launched["launch_date"].iloc[0]
    assert (first.drop(line) < pd.Timestamp("2023-02-01")).all()
    assert full["products"]["product_line"].str.contains("[\u4e00-\u9fff]").any()
    assert full["products"]["high_margin"].any() and not full["products"]["high_margin"].all()


def test_margin_and_collection(full: dict[str, pd.DataFrame]) -> None:
    orders = _with_products(full)
    year = orders["order_date"].dt.year
    totals = orders.groupby(year)[["net_amount", "cost_amount", "paid_amount"]].sum()
    margin = 1 - totals["cost_amount"] / totals["net_amount"]
    assert margin.between(0.30, 0.42).all()
    by_flag = orders.groupby("high_margin")[["net_amount", "cost_amount"]].sum()
    flag_margin = 1 - by_flag["cost_amount"] / by_flag["net_amount"]
    assert flag_margin[True] > flag_margin[False] + 0.1
    collection = totals["paid_amount"] / totals["net_amount"]
    assert collection[[2023, 2024, 2025]].between(0.93, 0.98).all()
    recent = orders["order_date"] >= pd.Timestamp("2026-10-01")
    assert orders.loc[recent, "paid_amount"].sum() / orders.loc[recent, "net_amount"].sum() < 0.8
    assert ((orders["paid_amount"] == 0) | (orders["paid_amount"] == orders["net_amount"])).all()


def test_channel_mix_differs_by_region(full: dict[str, pd.DataFrame]) -> None:
    orders = full["orders"]
    mix = orders.pivot_table(index="region", columns="channel", values="net_amount", aggfunc="sum")
    mix = mix.div(mix.sum(axis=1), axis=0)
    assert mix["distributor"].max() - mix["distributor"].min() > 0.15


# ----------------------------------------------------------------------------- pipeline and targets


def test_pipeline(full: dict[str, pd.DataFrame]) -> None:
    pipe = full["pipeline"]
    snapshots = sorted(pipe["snapshot_date"].unique())
    assert len(snapshots) == 13
    assert snapshots[-1] == pd.Timestamp(AS_OF)
    assert all(s.is_month_end for s in snapshots[:-1])
    assert not pipe.duplicated(["opportunity_id", "snapshot_date"]).any()
    assert set(pipe["status"]) == {"open", "won", "lost"}
    assert set(pipe["stage"]) == set(sample.STAGES)
    assert (pipe.loc[pipe["status"] == "won", "stage"] == "contract").all()
    stage_probability = load_defaults()["forecast"]["pipeline"]["stage_probability"]
    open_ = pipe[pipe["status"] == "open"]
    assert (open_["probability"] == open_["stage"].map(stage_probability)).all()
    assert (pipe["amount"] > 0).all()
    latest = open_[open_["snapshot_date"] == snapshots[-1]]
    assert (latest["expected_close_date"] >= snapshots[-1]).all()
    orders = full["orders"]
    monthly = orders[orders["order_date"] >= pd.Timestamp("2025-11-15")]["net_amount"].sum() / 12
    weighted = (latest["amount"] * latest["probability"]).sum()
    # The pipeline holds the project business (sample.PROJECT_SHARE of revenue), open for about
    # three months: its weighted value is under a month of all sales.
    assert 0.3 <= weighted / monthly <= 1.5
    # Closed history: each opportunity closes once, won rarer than lost, won deals got further.
    final = pipe.sort_values("snapshot_date").groupby("opportunity_id").tail(1)
    closed = final[final["status"] != "open"]
    assert len(closed) > 500
    assert 0.05 < (closed["status"] == "won").mean() < 0.3
    stage_no = {s: i for i, s in enumerate(sample.STAGES)}
    for _, history in pipe[pipe["opportunity_id"].isin(closed["opportunity_id"].head(200))].groupby("opportunity_id"):
        steps = history.sort_values("snapshot_date")["stage"].map(stage_no)
        assert steps.is_monotonic_increasing
        assert (history["status"] != "open").sum() == 1


def test_targets(full: dict[str, pd.DataFrame]) -> None:
    targets, orders = full["targets"], full["orders"]
    assert set(targets["year"]) == {2025, 2026}
    assert set(targets["month"]) == set(range(1, 13))
    assert set(targets["version"]) == {"v1"}
    assert targets["target_amount"].dtype.kind == "i"
    assert not targets.duplicated(["year", "month", "rep_id", "product_line"]).any()
    actual = orders[orders["order_date"].dt.year == 2025].groupby("rep_id")["net_amount"].sum()
    plan = targets[targets["year"] == 2025].groupby("rep_id")["target_amount"].sum()
    attainment = (actual / plan).dropna()
    assert 0.95 <= actual.sum() / plan.sum() <= 1.02
    assert (attainment < 0.9).sum() >= 2 and (attainment > 1.05).sum() >= 2
    assert attainment.between(0.7, 1.4).all()
    # This year's plan asks for growth.
    assert targets.loc[targets["year"] == 2026, "target_amount"].sum() > plan.sum() * 1.03


def test_generation_is_pure(small: dict[str, pd.DataFrame]) -> None:
    again = sample.generate_sample(seed=7, scale=0.02, as_of=AS_OF)
    for name, table in small.items():
        pd.testing.assert_frame_equal(table, again[name], check_exact=True, obj=name)


def test_rewrite_replaces_earlier_sample_files_only(tmp_path: Path) -> None:
    sample.write_sample(tmp_path, seed=1, scale=0.01, as_of="2026-11-15")
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    paths = sample.write_sample(tmp_path, seed=1, scale=0.01, as_of="2025-06-30", fmt="parquet")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([p.name for p in paths.values()] + ["notes.txt"])
    assert "orders_2026.csv" not in left and "orders_2022.parquet" in left


def test_won_opportunities_are_orders(full: dict[str, pd.DataFrame]) -> None:
    """Every won opportunity is an order of the same customer, rep, product line, close month and amount."""
    pipe = full["pipeline"]
    final = pipe.sort_values("snapshot_date").groupby("opportunity_id").tail(1)
    won = final[final["status"] == "won"].assign(month=lambda d: d["expected_close_date"].dt.to_period("M"))
    orders = _with_products(full)
    per_order = (
        orders.groupby("order_id")
        .agg(
            customer_id=("customer_id", "first"),
            rep_id=("rep_id", "first"),
            product_line=("product_line", "first"),
            lines=("product_line", "nunique"),
            month=("order_date", "first"),
            net=("net_amount", "sum"),
        )
        .assign(month=lambda d: d["month"].dt.to_period("M"))
    )
    assert len(won) > 300
    joined = won.merge(per_order.reset_index(), on=["customer_id", "rep_id", "product_line", "month"])
    joined = joined[(joined["net"] - joined["amount"]).abs() <= 0.002 * joined["amount"] + 1.0]
    assert set(joined["opportunity_id"]) == set(won["opportunity_id"])
    assert (joined["lines"] == 1).all()
    # The project business is a real part of sales, not noise on top of them.
    months = pd.period_range("2026-01", "2026-10", freq="M")
    in_months = orders["order_date"].dt.to_period("M").isin(months)
    share = joined.loc[joined["month"].isin(months), "amount"].sum() / orders.loc[in_months, "net_amount"].sum()
    assert 0.15 <= share <= 0.35
