"""Data that passed validation never fails later: whatever small export ``load_data``
accepts, the monthly cube and its totals are built without error and hold finite numbers
that add up to the order lines. Anything found to crash here became a validation rule
(e.g. the ±1e15 amount and ±1e12 quantity limits keep sums finite and exact)."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from salesplan.config import load_config
from salesplan.cube import MEASURES, build_cube, monthly_totals
from salesplan.io import load_data
from salesplan.schema import DataValidationError

pytestmark = pytest.mark.slow  # hundreds of generated exports through the whole reader: make test-all

TODAY = pd.Timestamp("2026-06-30")
ORDER_COLUMNS = ["order_date", "order_id", "customer_id", "rep_id", "region", "sku", "channel", "quantity"]

# Labels: any printable text, with the awkward characters exports carry (quotes, separators,
# CJK, emoji, line breaks, a control character now and then).
# Mostly plain labels (so that a good share of examples is accepted), sometimes any text.
plain = st.sampled_from(["North", "华东", "Zoë", "a,b", 'say "hi"', "line\nbreak", "=1+1", "nan", "  padded  "])
labels = st.one_of(
    plain,
    plain,
    plain,
    st.text(
        alphabet=st.one_of(
            st.characters(blacklist_categories=("Cs",)),
            st.sampled_from(list(',;"\t\n\r 　·é北京有限公司😀\x00=+-')),
        ),
        min_size=1,
        max_size=12,
    ),
)
ids = st.one_of(st.sampled_from(["A", "007", "C-1", "客户1", "0", " R1 "]), labels)


def number_text(value: float, style: str) -> str:
    """One way an export might write ``value``."""
    if style == "repr":
        return repr(value)
    if style == "grouped":
        return f"{value:,.2f}"
    if style == "yuan":
        return f"¥{value:.2f}"
    if style == "parens":
        return f"({abs(value):,.2f})" if value < 0 else f"{value:.2f}"
    if style == "fullwidth":
        return f"{value:.2f}".translate(str.maketrans("0123456789.-", "０１２３４５６７８９．－"))
    return style  # a literal (junk) cell


amounts = st.builds(
    number_text,
    st.one_of(
        st.just(0.0),
        st.floats(-1e6, 1e6, allow_nan=False),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    st.one_of(
        st.sampled_from(["repr", "grouped", "yuan", "parens", "fullwidth"]),
        st.sampled_from(["repr", "grouped", "yuan", "parens", "fullwidth"]),
        st.sampled_from(["", "inf", "nan", "1e400", "-", "$5"]),
    ),
)
# Readable amounts, edge magnitudes included: 0, tiny, and as large as float64 goes (the
# last two are what the ±1e15 limit exists for: sums of such amounts overflow to inf).
readable = st.builds(
    number_text,
    st.one_of(st.just(0.0), st.floats(-1e9, 1e9, allow_nan=False)),
    st.sampled_from(["repr", "grouped", "yuan", "parens", "fullwidth"]),
)
huge_amounts = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1.7976931348623157e+308", "1e308", "1e16", "5e-324"]),
)
huge_quantities = st.integers(-(10**20), 10**20).map(str)


def mostly(usual: st.SearchStrategy[str], rare: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``usual`` values, and ``rare`` ones about once in ten draws (an explicit choice:
    ``one_of`` would try the rare branch far more often, refusing most examples)."""
    return st.integers(0, 9).flatmap(lambda n: rare if n == 7 else usual)


good_amounts = mostly(readable, huge_amounts)
good_quantities = mostly(st.integers(-5, 50).map(str), huge_quantities)
quantities = st.one_of(
    st.integers(-5, 50).map(str),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["0", "(2)", "1,000", "２", "1.5", ""]),
)
good_dates = st.dates(pd.Timestamp("2000-01-01").date(), pd.Timestamp("2026-06-30").date()).map(lambda d: d.isoformat())
dates = st.one_of(
    st.dates(pd.Timestamp("1998-01-01").date(), pd.Timestamp("2027-12-31").date()).map(lambda d: d.isoformat()),
    st.sampled_from(["2025-01-01", "2025-01-01 23:59:59", "2025/1/1", "20250101", "01-02-2025", "45658", "soon"]),
)


@st.composite
def exports(draw: st.DrawFn) -> dict[str, list[list[str]]]:
    """Small exports: a clean example (ids from the master tables, readable values) or a
    messy one (any id, any value); both with awkward labels and edge values."""
    messy = draw(st.integers(0, 3)) == 0  # one example in four
    names = labels if messy else plain
    keys = ids if messy else st.sampled_from(["A", "007", "C-1", "客户1", "0", " R1 ", "North", "Zoë"])
    skus = draw(st.lists(keys, min_size=1, max_size=3, unique_by=str.strip))
    customers = draw(st.lists(keys, min_size=1, max_size=3, unique_by=str.strip))
    reps = draw(st.lists(keys, min_size=1, max_size=2, unique_by=str.strip))

    def pick(known: list[str]) -> str:
        return draw(st.one_of(st.sampled_from(known), ids) if messy else st.sampled_from(known))

    # One-day data is a case of its own: every line on the same date.
    one_day = draw(st.booleans())
    day = draw(dates if messy else good_dates)
    orders = []
    for i in range(draw(st.integers(1, 8))):
        orders.append(
            [
                day if one_day else draw(dates if messy else good_dates),
                f"SO-{i}",
                pick(customers),
                pick(reps),
                draw(names),
                pick(skus),
                draw(st.sampled_from(["direct", "Online", "distributor", "mail"] if messy else ["direct", "Online"])),
                draw(quantities if messy else good_quantities),
                draw(amounts if messy else good_amounts),
                draw(st.one_of(st.just(""), amounts if messy else good_amounts)),
                draw(st.one_of(st.just(""), amounts if messy else good_amounts)),
            ]
        )
    return {
        "orders.csv": [[*ORDER_COLUMNS, "net_amount", "cost_amount", "paid_amount"], *orders],
        "products.csv": [["sku", "product_line", "tier"]]
        + [[s, draw(names), draw(st.sampled_from(["core", "emerging", "long_tail"]))] for s in skus],
        "customers.csv": [["customer_id", "customer_name"]] + [[c, draw(names)] for c in customers],
        "reps.csv": [["rep_id", "rep_name", "region", "level", "hire_date"]]
        + [[r, draw(names), draw(names), "mid", "2020-01-01"] for r in reps],
    }


def write(folder: Path, files: dict[str, list[list[str]]]) -> None:
    for name, rows in files.items():
        with (folder / name).open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(rows)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(exports())
def test_accepted_data_builds_a_finite_cube(files: dict[str, list[list[str]]]) -> None:
    config = load_config(None)
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp), files)
        try:
            data = load_data(tmp, config, use_cache=False, today=TODAY)
        except DataValidationError as err:
            # Refusals are fine, but they must be the report, complete in every row.
            event("refused")
            assert not err.report.empty
            assert err.report["rule"].str.len().gt(0).all() and err.report["file"].str.len().gt(0).all()
            return
    event("accepted")
    cube = build_cube(data)
    assert len(cube) >= 1
    for measure in ("net_amount", "quantity", "lines", "gross_amount", "return_amount"):
        assert np.isfinite(cube[measure].to_numpy(dtype="float64")).all(), measure
    for measure in ("cost_amount", "paid_amount"):
        values = cube[measure].to_numpy(dtype="float64")
        assert not np.isinf(values).any(), measure
    assert cube["quantity"].sum() == data.orders["quantity"].sum()
    assert cube["net_amount"].sum() == pytest.approx(data.orders["net_amount"].sum(), rel=1e-9, abs=1e-6)
    assert cube["lines"].sum() == len(data.orders)
    # Whole numbers are read exactly (no silent int64 wrap-around).
    written = [row[7] for row in files["orders.csv"][1:]]
    if all(q.lstrip("-").isdigit() for q in written):
        assert sorted(data.orders["quantity"].tolist()) == sorted(int(q) for q in written)
    for by in ([], ["region"], ["product_line", "channel"], ["rep_id", "customer_id"]):
        totals = monthly_totals(cube, by=by, value=[m for m in MEASURES if m not in ("cost_amount", "paid_amount")])
        numbers = totals.drop(columns=["month", *by]).to_numpy(dtype="float64")
        assert np.isfinite(numbers).all(), by
        assert totals["net_amount"].sum() == pytest.approx(cube["net_amount"].sum(), rel=1e-9, abs=1e-6)


# --------------------------------------------------------------------------- optional tables


@st.composite
def payments_and_spend(draw: st.DrawFn) -> dict[str, list[list[str]]]:
    """Clean orders (one or two lines each, returns among them) with dated payments and spend
    drawn near the edges of the optional tables' rules: payments a day before to a day after
    their order, negative, zero and positive amounts, repeated rows."""
    start = pd.Timestamp("2025-01-10")
    orders, pays = [], []
    for i in range(draw(st.integers(1, 3))):
        net = draw(st.sampled_from(["-80.0", "0", "150.0"]))
        for sku in draw(st.sampled_from([["P1"], ["P1", "P2"]])):
            day = start + pd.Timedelta(days=draw(st.integers(0, 3)))
            orders.append([day.date().isoformat(), f"SO-{i}", "C1", "R1", "North", sku, "direct", "1", net, "", ""])
    ids = sorted({row[1] for row in orders})
    for _ in range(draw(st.integers(0, 5))):
        day = start + pd.Timedelta(days=draw(st.integers(-1, 5)))
        row = [draw(st.sampled_from(ids)), day.date().isoformat(), draw(st.sampled_from(["-50.0", "0", "50.0"]))]
        pays.append(draw(st.sampled_from([row, *pays[-1:]])))  # now and then the previous row again
    spend = []
    for _ in range(draw(st.integers(0, 4))):
        row = [
            draw(st.sampled_from(["2025-01-01", "2025-02-01"])),
            draw(st.sampled_from(["marketing", "marketing_credit"])),
            draw(st.sampled_from(["-10.0", "0", "10.0"])),
        ]
        spend.append(draw(st.sampled_from([row, *spend[-1:]])))
    return {
        "orders.csv": [[*ORDER_COLUMNS, "net_amount", "cost_amount", "paid_amount"], *orders],
        "products.csv": [["sku", "product_line", "tier"], ["P1", "Pumps", "core"], ["P2", "Valves", "core"]],
        "customers.csv": [["customer_id", "customer_name"], ["C1", "Acme"]],
        "reps.csv": [
            ["rep_id", "rep_name", "region", "level", "hire_date"],
            ["R1", "Li", "North", "mid", "2020-01-01"],
        ],
        **({"receivables.csv": [["order_id", "paid_date", "paid_amount"], *pays]} if pays else {}),
        **({"spend.csv": [["month", "category", "amount"], *spend]} if spend else {}),
    }


def broken_lines(files: dict[str, list[list[str]]]) -> set[tuple[str, int]]:
    """The lines the optional tables' contract refuses, worked out row by row."""
    first_date: dict[str, str] = {}
    net: dict[str, float] = {}
    for row in files["orders.csv"][1:]:
        first_date[row[1]] = min(first_date.get(row[1], row[0]), row[0])
        net[row[1]] = net.get(row[1], 0.0) + float(row[8])
    bad = set()
    seen: set[tuple[str, ...]] = set()
    for line, (order, day, paid) in enumerate(files.get("receivables.csv", [[]])[1:], start=2):
        amount = float(paid)
        wrong_sign = (amount < 0 <= net[order]) or (amount > 0 > net[order])
        if day < first_date[order] or wrong_sign or (order, day, paid) in seen:
            bad.add(("receivables.csv", line))
        seen.add((order, day, paid))
    seen = set()
    for line, row in enumerate(files.get("spend.csv", [[]])[1:], start=2):
        if float(row[2]) < 0 or tuple(row) in seen:
            bad.add(("spend.csv", line))
        seen.add(tuple(row))
    return bad


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payments_and_spend())
def test_optional_tables_refuse_exactly_the_broken_lines(files: dict[str, list[list[str]]]) -> None:
    expected = broken_lines(files)
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp), files)
        try:
            data = load_data(tmp, load_config(None), use_cache=False, today=TODAY)
        except DataValidationError as err:
            event("refused")
            reported = {(f, int(r)) for f, r in err.report[["file", "row"]].itertuples(index=False)}
            assert reported == expected
            return
    event("accepted")
    assert expected == set()
    # What is accepted is what the loop may sum: never negative spend, one row per payment.
    if data.spend is not None:
        assert (data.spend["amount"] >= 0).all()
    if data.receivables is not None:
        assert not data.receivables.duplicated().any()
