"""Unit tests for salesplan.metrics: each formula, its edge cases and its invariants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesplan import metrics as m

THRESHOLDS = {"A": 10_000_000, "B": 5_000_000, "C": 500_000}


# ---------------------------------------------------------------- yoy / cagr / ratios


class TestYoy:
    def test_scalar(self):
        assert m.yoy(120.0, 100.0) == pytest.approx(0.2)
        assert m.yoy(80, 100) == pytest.approx(-0.2)

    @pytest.mark.parametrize("previous", [0, -5, float("nan"), None])
    def test_zero_negative_or_missing_base_is_nan(self, previous):
        assert math.isnan(m.yoy(10.0, previous))

    def test_series_elementwise_and_aligned(self):
        cur = pd.Series({"a": 110.0, "b": 5.0, "c": 1.0})
        prev = pd.Series({"c": 2.0, "a": 100.0, "b": 0.0})
        out = m.yoy(cur, prev)
        assert out["a"] == pytest.approx(0.1)
        assert math.isnan(out["b"])
        assert out["c"] == pytest.approx(-0.5)
        assert not np.isinf(out).any()

    def test_series_against_scalar(self):
        out = m.yoy(pd.Series([110.0, 90.0]), 100.0)
        assert out.tolist() == pytest.approx([0.1, -0.1])


class TestCagr:
    def test_known_value(self):
        assert m.cagr(100.0, 121.0, 2) == pytest.approx(0.1)

    def test_decline(self):
        assert m.cagr(100.0, 81.0, 2) == pytest.approx(-0.1)

    def test_last_zero_is_minus_one(self):
        assert m.cagr(100.0, 0.0, 3) == pytest.approx(-1.0)

    @pytest.mark.parametrize(
        ("first", "last", "years"), [(0, 10, 2), (-1, 10, 2), (10, -1, 2), (10, 20, 0), (10, 20, -1)]
    )
    def test_undefined_is_nan(self, first, last, years):
        assert math.isnan(m.cagr(first, last, years))

    @given(
        st.floats(1, 1e9),
        st.floats(-0.9, 2.0),
        st.integers(1, 10),
    )
    def test_roundtrip(self, first, rate, years):
        last = first * (1 + rate) ** years
        assert m.cagr(first, last, years) == pytest.approx(rate, abs=1e-9)


class TestAttainment:
    def test_values_and_no_inf(self):
        out = m.attainment(pd.Series([50.0, 10.0, 10.0, 5.0]), pd.Series([100.0, 0.0, np.nan, -10.0]))
        assert out.iloc[0] == pytest.approx(0.5)
        assert out.iloc[1:].isna().all()
        assert not np.isinf(out).any()

    def test_scalar_zero_target(self):
        assert math.isnan(m.attainment(5.0, 0.0))

    def test_frame_flags(self):
        df = pd.DataFrame({"net_amount": [90.0, 10.0, 10.0, 10.0], "target_amount": [100.0, 0.0, np.nan, -1.0]})
        out = m.attainment_frame(df)
        assert out["attainment_flag"].tolist() == ["ok", "no target", "no target", "negative target"]
        assert out["attainment"].iloc[0] == pytest.approx(0.9)
        assert out["attainment"].iloc[1:].isna().all()
        assert list(df.columns) == ["net_amount", "target_amount"]  # input untouched

    def test_frame_missing_column_names_it(self):
        with pytest.raises(m.MetricInputError, match="target_amount"):
            m.attainment_frame(pd.DataFrame({"net_amount": [1.0]}))

    def test_bands(self):
        att = pd.Series([1.0, 1.2, 0.99, 0.8, 0.79, np.nan])
        assert m.attainment_band(att).tolist() == [
            ">= 100 %",
            ">= 100 %",
            "80-100 %",
            "80-100 %",
            "< 80 %",
            "no target",
        ]


def test_gross_margin_and_collection():
    assert m.gross_margin(100.0, 65.0) == pytest.approx(0.35)
    assert math.isnan(m.gross_margin(0.0, 10.0))
    assert math.isnan(m.gross_margin(-10.0, 5.0))  # a month where returns exceed sales
    assert m.collection_rate(95.0, 100.0) == pytest.approx(0.95)
    assert math.isnan(m.collection_rate(5.0, 0.0))


def test_share_sums_to_one_and_handles_zero_total():
    s = m.share(pd.Series({"a": 3.0, "b": 1.0}))
    assert s.sum() == pytest.approx(1.0)
    assert s["a"] == pytest.approx(0.75)
    assert m.share(pd.Series({"a": 0.0, "b": 0.0})).isna().all()


# ---------------------------------------------------------------- contribution to growth


class TestContribution:
    def test_groups_in_one_year_only(self):
        cur = pd.Series({"north": 120.0, "east": 40.0})
        prev = pd.Series({"north": 100.0, "west": 50.0})
        out = m.contribution_to_growth(cur, prev)
        assert set(out.index) == {"north", "east", "west"}
        assert out.loc["east", "status"] == "new"
        assert out.loc["west", "status"] == "lost"
        assert out.loc["north", "status"] == "continuing"
        assert out.loc["east", "previous"] == 0
        assert math.isnan(out.loc["east", "yoy"])
        assert out.loc["west", "yoy"] == pytest.approx(-1.0)
        total_growth = cur.sum() / prev.sum() - 1
        assert out["contribution"].sum() == pytest.approx(total_growth)
        assert out["share_of_change"].sum() == pytest.approx(1.0)
        assert out["change"].is_monotonic_decreasing

    def test_zero_total_base(self):
        out = m.contribution_to_growth(pd.Series({"a": 5.0}), pd.Series({"a": 0.0}))
        assert out["contribution"].isna().all()

    def test_no_change(self):
        s = pd.Series({"a": 5.0, "b": 5.0})
        out = m.contribution_to_growth(s, s)
        assert out["share_of_change"].isna().all()
        assert out["contribution"].sum() == 0

    def test_empty(self):
        out = m.contribution_to_growth(pd.Series(dtype=float), pd.Series(dtype=float))
        assert out.empty

    def test_rejects_frames(self):
        with pytest.raises(m.MetricInputError):
            m.contribution_to_growth(pd.DataFrame({"a": [1]}), pd.Series([1.0]))

    @settings(max_examples=60, deadline=None)
    @given(
        st.dictionaries(st.sampled_from(list("abcdefg")), st.floats(0, 1e6), min_size=1),
        st.dictionaries(st.sampled_from(list("abcdefg")), st.floats(1, 1e6), min_size=1),
    )
    def test_contributions_add_to_total_growth(self, cur, prev):
        cur_s, prev_s = pd.Series(cur, dtype=float), pd.Series(prev, dtype=float)
        out = m.contribution_to_growth(cur_s, prev_s)
        assert out["contribution"].sum() == pytest.approx(cur_s.sum() / prev_s.sum() - 1, abs=1e-9)
        assert out["change"].sum() == pytest.approx(cur_s.sum() - prev_s.sum(), abs=1e-6)


# ---------------------------------------------------------------- seasonality


def _monthly(values_by_year: dict[int, list[float]]) -> pd.DataFrame:
    rows = []
    for year, values in values_by_year.items():
        for i, v in enumerate(values):
            rows.append({"month": pd.Timestamp(year, i + 1, 1), "net_amount": v})
    return pd.DataFrame(rows)


class TestSeasonality:
    def test_flat_year_is_one_everywhere(self):
        out = m.seasonality_index(_monthly({2024: [10.0] * 12}))
        assert out["month_of_year"].tolist() == list(range(1, 13))
        assert np.allclose(out["index"], 1.0)
        assert (out["years"] == 1).all()

    def test_growth_between_years_does_not_leak(self):
        pattern = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3], dtype=float)
        out = m.seasonality_index(_monthly({2023: list(pattern * 100), 2024: list(pattern * 200)}))
        expected = pattern / pattern.mean()
        assert np.allclose(out["index"], expected)
        assert np.allclose(out["std"], 0.0)
        assert out["index"].mean() == pytest.approx(1.0)

    def test_stability_across_years(self):
        y1 = [10.0] * 12
        y2 = [10.0] * 12
        y2[0], y2[1] = 5.0, 15.0  # January and February swap weight in one year
        out = m.seasonality_index(_monthly({2023: y1, 2024: y2})).set_index("month_of_year")
        assert out.loc[1, "index"] == pytest.approx(0.75)
        assert out.loc[1, "std"] == pytest.approx(0.25)
        assert out.loc[1, "cv"] == pytest.approx(0.25 / 0.75)
        assert out.loc[3, "std"] == pytest.approx(0.0)
        assert out["index"].mean() == pytest.approx(1.0)

    def test_partial_years_ignored_and_missing_month_is_zero(self):
        data = _monthly({2023: [10.0] * 12, 2024: [50.0] * 6})
        # drop March 2023: inside the span, so it counts as zero sales
        data = data[data["month"] != pd.Timestamp(2023, 3, 1)]
        out = m.seasonality_index(data).set_index("month_of_year")
        assert (out["years"] == 1).all()
        assert out.loc[3, "index"] == pytest.approx(0.0)
        assert out["index"].mean() == pytest.approx(1.0)

    def test_negative_month_from_returns(self):
        values = [10.0] * 12
        values[4] = -6.0  # returns larger than sales in May
        out = m.seasonality_index(_monthly({2024: values})).set_index("month_of_year")
        assert out.loc[5, "index"] < 0
        assert out["index"].mean() == pytest.approx(1.0)

    def test_duplicate_rows_per_month_are_summed(self):
        data = pd.concat([_monthly({2024: [5.0] * 12}), _monthly({2024: [5.0] * 11 + [15.0]})])
        out = m.seasonality_index(data).set_index("month_of_year")
        assert out.loc[12, "mean_value"] == pytest.approx(20.0)

    def test_by_group(self):
        a = _monthly({2024: [10.0] * 12}).assign(region="a")
        b = _monthly({2024: [1.0] * 11 + [12.0]}).assign(region="b")
        out = m.seasonality_index(pd.concat([a, b]), by=["region"])
        assert len(out) == 24
        assert out.groupby("region")["index"].mean().tolist() == pytest.approx([1.0, 1.0])

    def test_no_complete_year_is_a_clear_error(self):
        with pytest.raises(m.MetricInputError, match="complete calendar year"):
            m.seasonality_index(_monthly({2026: [10.0] * 11}))

    def test_empty_and_missing_column(self):
        with pytest.raises(m.MetricInputError):
            m.seasonality_index(pd.DataFrame({"month": [], "net_amount": []}))
        with pytest.raises(m.MetricInputError, match="net_amount"):
            m.seasonality_index(pd.DataFrame({"month": [pd.Timestamp(2024, 1, 1)]}))


def test_quarterly_shares_sum_to_one():
    data = _monthly({2024: [float(i) for i in range(1, 13)]})
    out = m.quarterly_shares(data)
    assert out["share"].sum() == pytest.approx(1.0)
    assert out.loc[out["quarter"] == 1, "value"].item() == pytest.approx(6.0)


# ---------------------------------------------------------------- customer tiers


class TestTiers:
    def test_boundaries(self):
        sales = pd.Series(
            {
                "a": 10_000_001.0,
                "b_top": 10_000_000.0,
                "b": 7_000_000.0,
                "c_top": 5_000_000.0,
                "c": 600_000.0,
                "d_top": 500_000.0,
                "d": 0.0,
                "neg": -100.0,
            }
        )
        out = m.customer_tiers(sales, THRESHOLDS)
        assert out.to_dict() == {
            "a": "A",
            "b_top": "B",
            "b": "B",
            "c_top": "C",
            "c": "C",
            "d_top": "D",
            "d": "D",
            "neg": "D",
        }

    def test_empty(self):
        assert m.customer_tiers(pd.Series(dtype=float), THRESHOLDS).empty

    @pytest.mark.parametrize(
        ("thresholds", "match"),
        [({"A": 1, "B": 2, "C": 0}, "A > B > C"), ({"A": 1, "B": 0.5}, "C"), ({"A": "x", "B": 1, "C": 0}, "numbers")],
    )
    def test_bad_thresholds(self, thresholds, match):
        with pytest.raises(m.MetricInputError, match=match):
            m.customer_tiers(pd.Series([1.0]), thresholds)

    def test_missing_sales_named(self):
        with pytest.raises(m.MetricInputError, match="c9"):
            m.customer_tiers(pd.Series({"c9": np.nan}), THRESHOLDS)

    def test_summary_all_tiers_and_shares(self):
        sales = pd.Series({"x": 20e6, "y": 1e6, "z": 1e6})
        tiers = m.customer_tiers(sales, THRESHOLDS)
        out = m.tier_summary(sales, tiers)
        assert list(out.index) == ["A", "B", "C", "D"]
        assert out.loc["B", "customers"] == 0
        assert out["share"].sum() == pytest.approx(1.0)
        assert out["customers"].sum() == 3
        assert out.loc["C", "net_amount"] == pytest.approx(2e6)


# ---------------------------------------------------------------- customers over time


def _orders(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "order_date", "net_amount"]).assign(
        order_date=lambda d: pd.to_datetime(d["order_date"])
    )


ORDERS = _orders(
    [
        ("c1", "o1", "2024-02-01", 100.0),
        ("c1", "o2", "2025-03-01", 150.0),
        ("c1", "o3", "2025-06-01", 50.0),
        ("c2", "o4", "2024-05-01", 200.0),  # churns
        ("c3", "o5", "2024-12-20", 80.0),  # first seen in December
        ("c3", "o6", "2025-01-10", 40.0),
        ("c4", "o7", "2025-12-15", 60.0),  # new in December 2025
        ("c5", "o8", "2025-04-01", 30.0),  # returns exceed purchases: not active
        ("c5", "o9", "2025-05-01", -50.0),
    ]
)


def _year_sales(year: int) -> pd.Series:
    d = ORDERS[ORDERS["order_date"].dt.year == year]
    return d.groupby("customer_id")["net_amount"].sum()


class TestCustomerFlows:
    def test_first_purchase_ignores_returns(self):
        tx = _orders([("c1", "o1", "2024-01-05", -10.0), ("c1", "o2", "2024-03-01", 10.0)])
        assert m.first_purchase(tx)["c1"] == pd.Timestamp("2024-03-01")

    def test_retention_and_churn(self):
        prev, cur = _year_sales(2024), _year_sales(2025)
        # active 2024: c1, c2, c3 ; active 2025: c1, c3, c4 (c5 net negative)
        assert m.retention(prev, cur) == pytest.approx(2 / 3)
        assert m.churn(prev, cur) == pytest.approx(1 / 3)

    def test_december_customer_is_in_next_year_base(self):
        prev, cur = _year_sales(2024), _year_sales(2025)
        table = m.retention_table(prev, cur)
        assert table.loc["total", "customers_previous"] == 3  # c3, first seen 20 Dec, counts
        assert table.loc["total", "retained"] == 2

    def test_nrr(self):
        prev, cur = _year_sales(2024), _year_sales(2025)
        # base c1, c2, c3: previous 380, their current 200 + 0 + 40
        assert m.net_revenue_retention(prev, cur) == pytest.approx(240 / 380)

    def test_empty_base(self):
        empty = pd.Series(dtype=float)
        assert math.isnan(m.retention(empty, _year_sales(2025)))
        assert math.isnan(m.churn(empty, _year_sales(2025)))
        assert math.isnan(m.net_revenue_retention(empty, _year_sales(2025)))

    def test_retention_table_by_group(self):
        prev, cur = _year_sales(2024), _year_sales(2025)
        groups = pd.Series({"c1": "A", "c2": "A", "c3": "B"})
        table = m.retention_table(prev, cur, groups)
        assert table.loc["A", "retention"] == pytest.approx(0.5)
        assert table.loc["B", "retention"] == pytest.approx(1.0)
        assert table.loc["A", "churn"] == pytest.approx(0.5)
        assert table.loc["A", "nrr"] == pytest.approx(200 / 300)
        assert table.loc[["A", "B"], "customers_previous"].sum() == table.loc["total", "customers_previous"]

    def test_new_vs_returning(self):
        out = m.new_vs_returning(ORDERS, "2025-01-01", "2025-12-31")
        # c4 new (December); c1, c3 returning; c5 new but net negative
        assert out.loc["new", "customers"] == 1
        assert out.loc["returning", "customers"] == 2
        assert out.loc["new", "net_amount"] == pytest.approx(60.0 - 20.0)
        assert out.loc["returning", "net_amount"] == pytest.approx(240.0)
        assert out["share"].sum() == pytest.approx(1.0)

    def test_december_first_customer_is_new_that_year(self):
        out = m.new_vs_returning(ORDERS, "2024-01-01", "2024-12-31")
        assert out.loc["new", "customers"] == 3  # data starts 2024: everyone is new
        assert out.loc["returning", "customers"] == 0

    def test_repeat_purchase_rate(self):
        y2025 = ORDERS[ORDERS["order_date"].dt.year == 2025]
        # purchasers: c1 (2 orders), c3 (1), c4 (1), c5 (1 positive order) -> 1 / 4
        assert m.repeat_purchase_rate(y2025) == pytest.approx(0.25)

    def test_repeat_purchase_rate_empty(self):
        assert math.isnan(m.repeat_purchase_rate(ORDERS.iloc[0:0]))

    def test_repeat_by_month_occasion(self):
        tx = ORDERS.assign(month=ORDERS["order_date"].dt.to_period("M").dt.to_timestamp())
        assert m.repeat_purchase_rate(tx[tx["order_date"].dt.year == 2025], occasion="month") == pytest.approx(0.25)


class TestPareto:
    def test_known_shares(self):
        values = pd.Series([50.0, 20.0, 10.0, 5.0, 5.0, 4.0, 3.0, 1.0, 1.0, 1.0])
        out = m.pareto_share(values, (0.1, 0.2))
        assert out[0.1] == pytest.approx(0.5)
        assert out[0.2] == pytest.approx(0.7)

    def test_rounds_up_to_whole_items(self):
        out = m.pareto_share(pd.Series([3.0, 1.0, 1.0]), (0.1,))
        assert out[0.1] == pytest.approx(0.6)  # ceil(0.3) = 1 customer

    def test_empty_and_zero_total(self):
        assert m.pareto_share(pd.Series(dtype=float)).isna().all()
        assert m.pareto_share(pd.Series([0.0, 0.0])).isna().all()

    def test_bad_share(self):
        with pytest.raises(m.MetricInputError, match="top share"):
            m.pareto_share(pd.Series([1.0]), (1.5,))

    def test_curve_ends_at_one(self):
        curve = m.pareto_curve(pd.Series({"a": 1.0, "b": 3.0}))
        assert curve["item"].tolist() == ["b", "a"]
        assert curve["cum_share"].iloc[-1] == pytest.approx(1.0)
        assert curve["item_share"].iloc[-1] == pytest.approx(1.0)


class TestRfm:
    def test_scores_and_ordering(self):
        rows = []
        for i in range(10):
            for k in range(i + 1):  # customer i has i+1 orders, spends more, bought more recently
                rows.append((f"c{i}", f"o{i}_{k}", f"2025-{(i % 12) + 1:02d}-01", 100.0 * (i + 1)))
        out = m.rfm(_orders(rows), as_of="2025-12-31", bins=5)
        assert out["r_score"].between(1, 5).all()
        assert out.loc["c9", ["r_score", "f_score", "m_score"]].tolist() == [5, 5, 5]
        assert out.loc["c0", ["r_score", "f_score", "m_score"]].tolist() == [1, 1, 1]
        assert out.loc["c9", "rfm"] == "555"
        assert out.loc["c9", "segment"] == "Champions"
        assert out.loc["c0", "segment"] == "Hibernating"
        assert out.loc["c3", "frequency"] == 4
        assert out.loc["c0", "recency_days"] == (pd.Timestamp("2025-12-31") - pd.Timestamp("2025-01-01")).days
        assert set(out["segment"]) <= set(m.RFM_SEGMENTS)

    def test_returns_only_customer_and_as_of_cut(self):
        out = m.rfm(ORDERS, as_of="2025-06-30")
        assert "c4" not in out.index  # first order after as_of
        assert out.loc["c5", "monetary"] == pytest.approx(-20.0)
        assert out.loc["c5", "frequency"] == 1
        tx = _orders([("x", "o1", "2025-01-01", -5.0), ("y", "o2", "2025-02-01", 5.0)])
        out2 = m.rfm(tx, as_of="2025-03-01")
        assert math.isnan(out2.loc["x", "recency_days"])
        assert out2.loc["x", "r_score"] == 1
        assert out2.loc["x", "frequency"] == 0

    def test_empty(self):
        assert m.rfm(ORDERS.iloc[0:0], as_of="2025-01-01").empty

    def test_bad_bins(self):
        with pytest.raises(m.MetricInputError, match="bins"):
            m.rfm(ORDERS, as_of="2025-01-01", bins=1)


# ---------------------------------------------------------------- price-volume-mix


def _pvm_frame(items: dict[str, tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"sku": k, "quantity": q, "net_amount": a} for k, (q, a) in items.items()])


class TestPriceVolumeMix:
    def test_pure_volume(self):
        base = _pvm_frame({"x": (10, 100), "y": (10, 50)})
        cur = _pvm_frame({"x": (20, 200), "y": (20, 100)})
        s = m.pvm_summary(m.price_volume_mix(base, cur, ["sku"]))
        assert s["volume"] == pytest.approx(150.0)
        assert s["price"] == pytest.approx(0.0)
        assert s["mix"] == pytest.approx(0.0, abs=1e-9)

    def test_pure_price(self):
        base = _pvm_frame({"x": (10, 100)})
        cur = _pvm_frame({"x": (10, 110)})
        s = m.pvm_summary(m.price_volume_mix(base, cur, ["sku"]))
        assert (s["volume"], s["price"], s["mix"]) == pytest.approx((0.0, 10.0, 0.0))

    def test_pure_mix(self):
        base = _pvm_frame({"x": (10, 100), "y": (10, 50)})  # prices 10 and 5
        cur = _pvm_frame({"x": (15, 150), "y": (5, 25)})
        s = m.pvm_summary(m.price_volume_mix(base, cur, ["sku"]))
        assert s["volume"] == pytest.approx(0.0)
        assert s["price"] == pytest.approx(0.0)
        assert s["mix"] == pytest.approx(25.0)

    def test_new_lost_and_unpriced_items(self):
        base = _pvm_frame({"x": (10, 100), "lost": (5, 40), "credit": (0, -7)})
        cur = _pvm_frame({"x": (10, 100), "new": (4, 60), "credit": (0, -3)})
        out = m.price_volume_mix(base, cur, ["sku"]).set_index("sku")
        assert out.loc["new", "status"] == "new"
        assert out.loc["lost", "status"] == "lost"
        assert out.loc["credit", "status"] == "unpriced"
        assert out.loc["new", "price_effect"] == 0
        assert out.loc["credit", "mix_effect"] == pytest.approx(4.0)
        parts = out[["volume_effect", "price_effect", "mix_effect"]].sum(axis=1)
        assert np.allclose(parts, out["current_amount"] - out["base_amount"], atol=1e-6)

    def test_aggregates_rows_and_multi_key(self):
        base = pd.DataFrame(
            {"region": ["n", "n", "s"], "sku": ["x", "x", "x"], "quantity": [1, 2, 3], "net_amount": [10.0, 20.0, 30.0]}
        )
        cur = base.assign(net_amount=base["net_amount"] * 1.1)
        out = m.price_volume_mix(base, cur, ["region", "sku"])
        assert len(out) == 2
        assert out["price_effect"].sum() == pytest.approx(6.0)

    def test_empty_base(self):
        base = _pvm_frame({}).reindex(columns=["sku", "quantity", "net_amount"])
        cur = _pvm_frame({"x": (2, 20)})
        s = m.pvm_summary(m.price_volume_mix(base, cur, ["sku"]))
        assert s["change"] == pytest.approx(20.0)
        assert s["volume"] + s["price"] + s["mix"] == pytest.approx(20.0)

    def test_missing_column(self):
        with pytest.raises(m.MetricInputError, match="quantity"):
            m.price_volume_mix(pd.DataFrame({"sku": ["x"], "net_amount": [1.0]}), _pvm_frame({}), ["sku"])

    @settings(max_examples=80, deadline=None)
    @given(
        st.dictionaries(
            st.sampled_from(list("abcdef")), st.tuples(st.integers(-5, 500), st.floats(-1e4, 1e6)), max_size=6
        ),
        st.dictionaries(
            st.sampled_from(list("abcdef")), st.tuples(st.integers(-5, 500), st.floats(-1e4, 1e6)), max_size=6
        ),
    )
    def test_parts_add_up_exactly(self, base_items, cur_items):
        base = _pvm_frame(base_items).reindex(columns=["sku", "quantity", "net_amount"])
        cur = _pvm_frame(cur_items).reindex(columns=["sku", "quantity", "net_amount"])
        out = m.price_volume_mix(base, cur, ["sku"])
        parts = out["volume_effect"] + out["price_effect"] + out["mix_effect"]
        assert np.allclose(parts, out["current_amount"] - out["base_amount"], rtol=0, atol=1e-6)
        s = m.pvm_summary(out)
        assert s["volume"] + s["price"] + s["mix"] == pytest.approx(s["current"] - s["base"], abs=1e-6)
        assert np.isfinite(out[["volume_effect", "price_effect", "mix_effect"]].to_numpy()).all()

    def test_volume_is_total_quantity_change_at_base_average_price(self):
        base = _pvm_frame({"x": (10, 100), "y": (30, 60)})
        cur = _pvm_frame({"x": (25, 300), "y": (15, 45)})
        s = m.pvm_summary(m.price_volume_mix(base, cur, ["sku"]))
        p0_avg = 160 / 40
        assert s["volume"] == pytest.approx((40 - 40) * p0_avg)
        assert s["price"] == pytest.approx((12 - 10) * 25 + (3 - 2) * 15)


class TestCategoricalInputs:
    """Loaded data holds IDs as categoricals; results must not depend on that."""

    def test_contribution_with_different_category_sets(self):
        cur = pd.Series([5.0, 1.0], index=pd.CategoricalIndex(["a", "b"]))
        prev = pd.Series([2.0], index=pd.CategoricalIndex(["c"]))
        out = m.contribution_to_growth(cur, prev)
        assert set(out.index) == {"a", "b", "c"}
        assert out["change"].sum() == pytest.approx(4.0)

    def test_orders_with_categorical_ids(self):
        tx = ORDERS.astype({"customer_id": "category", "order_id": "category"})
        # unused categories must not create phantom customers or orders
        tx["customer_id"] = tx["customer_id"].cat.add_categories(["ghost"])
        assert m.repeat_purchase_rate(tx[tx["order_date"].dt.year == 2025]) == pytest.approx(0.25)
        out = m.rfm(tx, as_of="2025-12-31")
        assert "ghost" not in out.index
        assert len(out) == 5
        assert m.first_purchase(tx)["c3"] == pd.Timestamp("2024-12-20")
        prev = tx[tx["order_date"].dt.year == 2024].groupby("customer_id", observed=True)["net_amount"].sum()
        cur = tx[tx["order_date"].dt.year == 2025].groupby("customer_id", observed=True)["net_amount"].sum()
        assert m.retention(prev, cur) == pytest.approx(2 / 3)
        assert m.retention_table(prev, cur).loc["total", "retained"] == 2

    def test_pvm_with_categorical_key(self):
        base = _pvm_frame({"x": (10, 100), "y": (5, 50)}).astype({"sku": "category"})
        cur = _pvm_frame({"x": (10, 120), "z": (1, 9)}).astype({"sku": "category"})
        out = m.price_volume_mix(base, cur, ["sku"])
        assert sorted(out["sku"]) == ["x", "y", "z"]
        assert (out["volume_effect"] + out["price_effect"] + out["mix_effect"]).sum() == pytest.approx(-21.0)


def test_band_labels_follow_bounds():
    assert m.attainment_band_labels() == m.ATTAINMENT_BANDS
    assert m.attainment_band(pd.Series([0.9]), low=0.95, high=1.05).item() == "< 95 %"
    with pytest.raises(m.MetricInputError, match="lower bound"):
        m.attainment_band_labels(1.0, 0.8)
