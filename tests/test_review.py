"""Tests for the review table builders (salesplan.review) on a small synthetic company."""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

from salesplan import metrics as m
from salesplan import review as r
from salesplan.config import load_defaults, load_settings
from salesplan.settings import CustomerTiers, Settings
from salesplan.status import attainment_status

matplotlib.use("Agg")

THRESHOLDS = CustomerTiers(A=1000.0, B=500.0, C=100.0)


def _cube() -> pd.DataFrame:
    """Monthly facts 2023-01 .. 2026-03 for two regions, three customers and two reps.

    North/c1/r1 sells 100 a month in 2023 growing by 10 a year; South/c2/r2 sells 50 a month
    and stops after 2024; c3 (South, r2) starts in December 2024 with 80 a month.
    """
    rows = []
    for month in pd.date_range("2023-01-01", "2026-03-01", freq="MS"):
        growth = (month.year - 2023) * 10
        rows.append(("North", "P1", "core", "r1", "c1", "direct", month, 100.0 + growth, 60.0, 100.0 + growth, 10))
        if month.year <= 2024:
            rows.append(("South", "P2", "emerging", "r2", "c2", "online", month, 50.0, 20.0, 40.0, 5))
        if month >= pd.Timestamp("2024-12-01"):
            rows.append(("South", "P2", "emerging", "r2", "c3", "online", month, 80.0, 40.0, 80.0, 8))
    cols = [
        "region",
        "product_line",
        "tier",
        "rep_id",
        "customer_id",
        "channel",
        "month",
        "net_amount",
        "cost_amount",
        "paid_amount",
        "quantity",
    ]
    return pd.DataFrame(rows, columns=cols)


def _targets() -> pd.DataFrame:
    rows = []
    for version, amount in (("v1", 90.0), ("v2", 100.0)):
        for month in range(1, 13):
            rows.append((2025, month, "North", "P1", "r1", 120.0, version))
            rows.append((2025, month, "South", "P2", "r2", amount, version))
    return pd.DataFrame(rows, columns=["year", "month", "region", "product_line", "rep_id", "target_amount", "version"])


def _orders(cube: pd.DataFrame) -> pd.DataFrame:
    """One order per cube row on the 10th, except c1 who orders twice a month (SKU S1)."""
    rows = []
    for i, row in enumerate(cube.itertuples()):
        date = row.month + pd.Timedelta(days=9)
        sku = "S1" if row.customer_id == "c1" else "S2"
        if row.customer_id == "c1":
            half = row.net_amount / 2
            rows.append((date, f"o{i}a", row.customer_id, sku, row.quantity / 2, half))
            rows.append((date + pd.Timedelta(days=5), f"o{i}b", row.customer_id, sku, row.quantity / 2, half))
        else:
            rows.append((date, f"o{i}", row.customer_id, sku, row.quantity, row.net_amount))
    return pd.DataFrame(rows, columns=["order_date", "order_id", "customer_id", "sku", "quantity", "net_amount"])


REPS = pd.DataFrame(
    {
        "rep_id": ["r1", "r2"],
        "rep_name": ["Ann", "Bo"],
        "region": ["North", "South"],
        "level": ["senior", "junior"],
        "hire_date": pd.to_datetime(["2020-01-01", "2024-12-31"]),
    }
)


@pytest.fixture
def cube() -> pd.DataFrame:
    return _cube()


@pytest.fixture
def period(cube) -> r.ReviewPeriod:
    return r.review_period(cube, 2025)


class TestPeriod:
    def test_default_year(self):
        assert r.default_year("2026-11") == 2025
        assert r.default_year("2025-12") == 2025
        assert r.default_year(pd.Period("2026-01", "M")) == 2025

    def test_complete_and_partial(self, cube):
        full = r.review_period(cube, 2025)
        assert full.complete and full.months == tuple(range(1, 13))
        assert full.label() == "2025"
        part = r.review_period(cube, 2026)
        assert part.months == (1, 2, 3)
        assert part.label() == "2026 Jan-Mar"
        assert part.label(2025) == "2025 Jan-Mar"
        assert part.end == pd.Timestamp("2026-03-31")

    def test_last_month_caps_the_period(self, cube):
        assert r.review_period(cube, 2025, last_month="2025-06").months == tuple(range(1, 7))

    def test_year_outside_data(self, cube):
        with pytest.raises(r.ReviewInputError, match="2030"):
            r.review_period(cube, 2030)

    def test_empty_cube(self, cube):
        with pytest.raises(r.ReviewInputError, match="empty"):
            r.review_period(cube.iloc[0:0], 2025)


class TestTargets:
    def test_latest_version_only(self, period):
        t = r.targets_for_year(_targets(), period)
        assert set(t["version"]) == {"v2"}
        assert t["target_amount"].sum() == pytest.approx(12 * 220.0)

    def test_version_numbers_compare_as_numbers(self, period):
        t = _targets().replace({"version": {"v1": "v10"}})
        assert set(r.targets_for_year(t, period)["version"]) == {"v10"}

    def test_absent(self, period):
        assert r.targets_for_year(None, period) is None
        assert r.targets_for_year(_targets(), period, year=2024) is None


class TestHeadline:
    def test_figures(self, cube, period):
        h = r.headline_table(cube, period, orders=_orders(cube), targets=_targets()).set_index("metric")
        sales_2025 = 12 * 120.0 + 12 * 80.0
        sales_2024 = 12 * 110.0 + 12 * 50.0 + 80.0
        assert h.loc["Net sales", "current"] == pytest.approx(sales_2025)
        assert h.loc["Net sales", "previous"] == pytest.approx(sales_2024)
        assert h.loc["Net sales", "change"] == pytest.approx(sales_2025 / sales_2024 - 1)
        assert h.loc["YoY growth", "current"] == pytest.approx(sales_2025 / sales_2024 - 1)
        assert h.loc["Attainment", "current"] == pytest.approx(sales_2025 / (12 * 220.0))
        assert math.isnan(h.loc["Attainment", "previous"])  # no 2024 targets: not a number, not inf
        assert h.loc["Gross margin", "current"] == pytest.approx(1 - (12 * 60 + 12 * 40) / sales_2025)
        assert h.loc["Collection rate", "current"] == pytest.approx(1.0)
        assert h.loc["Active customers", "previous"] == 3
        assert h.loc["Active customers", "current"] == 2
        # c3 was first seen in December 2024: new in 2024, not in 2025
        assert h.loc["New customers", "previous"] == 1
        assert h.loc["New customers", "current"] == 0
        # c1 orders twice a month, c3 once a month: everyone repeats within the year
        assert h.loc["Repeat-purchase rate", "current"] == pytest.approx(1.0)
        assert h.loc["Gross margin", "change"] == pytest.approx(
            h.loc["Gross margin", "current"] - h.loc["Gross margin", "previous"]
        )

    def test_partial_year_compares_same_months(self, cube):
        part = r.review_period(cube, 2026)
        h = r.headline_table(cube, part).set_index("metric")
        assert h.loc["Net sales", "current"] == pytest.approx(3 * 130.0 + 3 * 80.0)
        assert h.loc["Net sales", "previous"] == pytest.approx(3 * 120.0 + 3 * 80.0)

    def test_without_costs_payments_or_targets(self, cube, period):
        bare = cube.drop(columns=["cost_amount"]).assign(paid_amount=np.nan)
        table = r.headline_table(bare, period)
        text = r.format_headline(table, period)
        assert "Collection rate" not in text.index
        assert "Gross margin" not in text.index
        assert "Attainment" not in text.index
        assert list(text.columns) == ["2024", "2025", "Change"]

    def test_format(self, cube, period):
        text = r.format_headline(r.headline_table(cube, period, targets=_targets()), period)
        assert text.loc["Net sales", "2025"] == "0.00 M"
        assert text.loc["Attainment", "2024"] == "–"
        assert text.loc["Gross margin", "Change"].endswith("pts")
        assert text.loc["Active customers", "2024"] == "3"


class TestBreakdown:
    def test_adds_up(self, cube, period):
        b = r.breakdown(cube, period, "region", targets=_targets())
        body = b.drop(index="Total")
        assert body["net_amount"].sum() == pytest.approx(b.loc["Total", "net_amount"])
        assert body["share"].sum() == pytest.approx(1.0)
        total_growth = b.loc["Total", "net_amount"] / b.loc["Total", "previous"] - 1
        assert body["contribution"].sum() == pytest.approx(total_growth)
        assert b.loc["Total", "yoy"] == pytest.approx(total_growth)
        assert b.loc["North", "attainment"] == pytest.approx(1.0)
        assert b.loc["South", "attainment"] == pytest.approx(960 / 1200)
        assert list(body.index) == ["North", "South"]  # largest first

    def test_dimension_without_targets(self, cube, period):
        b = r.breakdown(cube, period, "channel", targets=_targets())
        assert "attainment" not in b.columns
        assert b.loc["online", "gross_margin"] == pytest.approx(0.5)

    def test_movers_add_up(self, cube, period):
        b = r.breakdown(cube, period, "customer_id")
        mv = r.movers(b, n=1)
        assert mv.loc["c3", "direction"] == "up"
        assert mv.loc["c2", "direction"] == "down"
        shown = mv.drop(index="Total")
        assert shown["change"].sum() == pytest.approx(mv.loc["Total", "change"])
        assert shown["contribution"].sum() == pytest.approx(mv.loc["Total", "contribution"])
        assert mv.loc["Total", "change"] == pytest.approx(b.loc["Total", "change"])

    def test_missing_dimension(self, cube, period):
        with pytest.raises(m.MetricInputError, match="segment"):
            r.breakdown(cube, period, "segment")


def test_monthly_sales_three_years(cube):
    out = r.monthly_sales(cube, 2025)
    assert sorted(out["year"].unique()) == [2023, 2024, 2025]
    assert len(out) == 36
    assert m.seasonality_index(out)["index"].mean() == pytest.approx(1.0)


def test_customer_tiers_and_retention(cube, period):
    summary, retention = r.customer_tier_tables(cube, period, THRESHOLDS)
    # 2025: c1 1440 -> A, c3 960 -> B
    assert summary.loc["A", "customers"] == 1
    assert summary.loc["B", "customers"] == 1
    assert summary["share"].sum() == pytest.approx(1.0)
    # 2024 base: c1 (A), c2 (B, 600 -> churned), c3 (D, 80 in December -> retained)
    assert retention.loc["total", "customers_previous"] == 3
    assert retention.loc["B", "churn"] == pytest.approx(1.0)
    assert retention.loc["D", "retention"] == pytest.approx(1.0)
    assert retention.loc["total", "retention"] == pytest.approx(2 / 3)


def test_rfm_segments_cover_all(cube):
    table = m.rfm(_orders(cube), as_of="2025-12-31")
    seg = r.rfm_segments(table)
    assert list(seg.index) == list(m.RFM_SEGMENTS)
    assert seg["customers"].sum() == len(table)


class TestReps:
    def test_results(self, cube, period):
        res = r.rep_results(cube, period, REPS, _targets())
        assert res.loc["r1", "attainment"] == pytest.approx(1.0)
        assert res.loc["r1", "band"] == ">= 100 %"
        assert res.loc["r2", "band"] == "80-100 %"
        assert res.loc["r2", "tenure_years"] == pytest.approx(365 / 365.25)
        assert res.loc["r1", "rep_name"] == "Ann"
        dist = r.attainment_distribution(res)
        assert dist["reps"].sum() == 2
        assert dist.loc["< 80 %", "reps"] == 0
        assert dist["share"].sum() == pytest.approx(1.0)

    def test_no_targets(self, cube, period):
        res = r.rep_results(cube, period, REPS)
        assert (res["band"] == "no target").all()


def test_pvm_parts_add_up(cube, period):
    pvm = r.pvm_by_sku(_orders(cube), period)
    s = m.pvm_summary(pvm)
    assert s["volume"] + s["price"] + s["mix"] == pytest.approx(s["current"] - s["base"])
    assert s["change"] == pytest.approx(2400.0 - (1320.0 + 680.0))


class TestFindings:
    def test_written_from_the_data(self, cube, period):
        h = r.headline_table(cube, period, targets=_targets())
        b = {"region": r.breakdown(cube, period, "region")}
        out = r.findings(
            period,
            h,
            b,
            goals=load_settings().kpi.model_copy(update={"collection_goal": 0.95, "gross_margin_goal": 0.35}),
            unit="",
        )
        text = " ".join(out["finding"])
        growth = h.set_index("metric").loc["Net sales", "change"]
        assert f"grew {growth * 100:.1f} %" in text
        assert "South drove most of the growth" in text  # +280 against North +120
        assert "meeting the goal of 95.0 %" in text
        assert out["figure"].str.len().gt(0).all()

    def test_leaves_out_what_is_undefined(self, cube):
        early = r.review_period(cube, 2023)  # no year before: no growth, no targets
        h = r.headline_table(cube, early)
        out = r.findings(early, h, {})
        text = " ".join(out["finding"])
        assert "grew" not in text and "fell" not in text
        assert "target" not in text
        assert text.startswith("Net sales were")


def test_bands_follow_configured_bounds(cube, period):
    res = r.rep_results(cube, period, REPS, _targets(), bands=(0.85, 1.1))
    assert res.loc["r1", "band"] == "85-110 %"  # attainment exactly 1.0
    assert res.loc["r2", "band"] == "< 85 %"  # 0.8
    dist = r.attainment_distribution(res, bands=(0.85, 1.1))
    assert list(dist.index) == [">= 110 %", "85-110 %", "< 85 %", "no target"]
    assert dist["reps"].tolist() == [0, 1, 1, 0]


def test_year_before_the_data_has_no_figures(cube):
    first = r.review_period(cube, 2023)
    h = r.headline_table(cube, first).set_index("metric")
    assert h["previous"].isna().all()  # not zeros
    text = r.format_headline(h.reset_index(), first)
    assert text.loc["Net sales", "2022"] == "–"
    assert "YoY growth" not in text.index


# ------------------------------------------------------------------ the review in one call


def _month_context(cube: pd.DataFrame, month: str = "2026-03") -> SimpleNamespace:
    """A month context as the review reads it (the workbook's attributes it uses), on the
    small company above: one plan (2025, two versions), names for reps and customers."""
    config = copy.deepcopy(load_defaults())
    config["customer_tiers"] = THRESHOLDS.model_dump()
    orders = _orders(cube)
    plan = SimpleNamespace(
        headline_figure=lambda month: {"label": "Plan 2025", "value": "supplied targets table", "raw": None},
        describe=lambda month=None: "Plan for 2025: supplied targets table",
    )
    return SimpleNamespace(
        settings=Settings.model_validate(config),
        month=pd.Period(month, "M"),
        closed_cube=cube,
        order_totals=lambda: orders,
        sku_sales=lambda: orders,
        plans_table=lambda *years: _targets(),
        plan_for=lambda year: plan,
        data=SimpleNamespace(
            reps=REPS,
            customers=pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "customer_name": ["Acme", "Bolt", "Cato"]}),
        ),
    )


class TestBuildReview:
    def test_one_call_builds_the_page_and_its_checks_hold(self, cube):
        rv = r.build_review(_month_context(cube))
        assert rv.period.year == 2025 and rv.label == "2025" and rv.previous_label == "2024"
        assert rv.plan_month == 12
        assert rv.all_ok and len(rv.checks) >= 12
        assert set(rv.breakdowns) == set(r.REVIEW_DIMENSIONS)
        sales = rv.headline.set_index("metric").loc["Net sales", "current"]
        assert sales == pytest.approx(12 * 120 + 12 * 80)  # North grown to 120, c3 80 a month
        assert rv.breakdowns["region"].loc["Total", "net_amount"] == pytest.approx(sales)
        # Names, not ids, in the movers; customers as "name (id)".
        assert "Ann" in rv.rep_movers.index and "Cato (c3)" in rv.customer_movers.index
        assert r.checks_text(rv.checks).splitlines()[0].startswith("ok   ")

    def test_attainment_has_the_retrospective_status_everywhere(self, cube):
        rv = r.build_review(_month_context(cube))
        # r1 sells exactly its target (1.0), r2 80 of 100 (0.8): green and dark red, by the flag rule.
        assert rv.reps.loc["r1", "status"] == "green" and rv.reps.loc["r2", "status"] == "dark_red"
        assert rv.rep_status.loc["green", "reps"] == 1 and rv.rep_status.loc["dark_red", "reps"] == 1
        assert rv.rep_status.loc["dark_red", "label"] == "dark red"
        assert rv.rep_status["share"].sum() == pytest.approx(1.0)
        card = next(f for f in rv.figures if f["label"] == "Attainment")
        attainment = rv.headline.set_index("metric").loc["Attainment", "current"]
        assert attainment == pytest.approx(2400 / 2640)
        assert card["status"] == attainment_status(attainment, rv.thresholds)[0] == "yellow"

    def test_a_partial_year_reads_only_to_the_report_month(self, cube):
        rv = r.build_review(_month_context(cube), year=2026)
        assert rv.period.months == (1, 2, 3) and rv.plan_month == 3
        assert rv.headline.set_index("metric").loc["Net sales", "current"] == pytest.approx(3 * (130 + 80))
        assert rv.all_ok


class TestConsistencyChecks:
    @staticmethod
    def _parts(cube, period):
        head = r.headline_table(cube, period)
        breakdowns = {dim: r.breakdown(cube, period, dim) for dim in ("region", "channel")}
        tiers, _ = r.customer_tier_tables(cube, period, THRESHOLDS)
        active = r.customer_sales(cube, period)
        pvm_total = m.pvm_summary(r.pvm_by_sku(_orders(cube), period))
        season = m.seasonality_index(r.monthly_sales(cube, period.year, years=2))
        return head, breakdowns, tiers, active[active > 0], pvm_total, season

    def test_all_hold_on_consistent_tables(self, cube, period):
        checks = r.consistency_checks(*self._parts(cube, period))
        assert checks["ok"].all()
        assert "region contributions add up to total growth" in set(checks["check"])

    def test_a_group_that_does_not_add_up_fails_with_its_difference(self, cube, period):
        head, breakdowns, *rest = self._parts(cube, period)
        broken = breakdowns["channel"].copy()
        broken.loc["direct", "net_amount"] += 1.0
        checks = r.consistency_checks(head, {**breakdowns, "channel": broken}, *rest).set_index("check")
        assert not checks.loc["channel sales add up to the total", "ok"]
        assert checks.loc["channel sales add up to the total", "difference"] == pytest.approx(1.0)
        assert checks.drop(index="channel sales add up to the total")["ok"].all()
        assert "FAIL channel sales add up to the total" in r.checks_text(checks.reset_index())

    def test_no_year_before_no_growth_check(self, cube, period):
        head, *rest = self._parts(cube, period)
        no_growth = head.assign(change=lambda d: d["change"].where(d["metric"] != "Net sales"))
        checks = r.consistency_checks(no_growth, *rest)
        assert "region contributions add up to total growth" not in set(checks["check"])
