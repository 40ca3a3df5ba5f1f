"""The sample company's CRM and finance extras: sales activities, spend, NPS answers and dated
payments, so the whole monthly loop (process targets, acquisition cost, NPS, receivables) shows
on the bundled data.

:func:`write_extras` runs after :func:`salesplan.sample.write_sample` has written the core
tables and reads them back from the folder: it sees exactly what a user's exports would hold.

* ``activities``: each rep on board visits ``VISITS_PER_REP_MONTH`` customers a month on
  average, scaled by a personal diligence factor (some reps visit far less), mostly customers
  of their own book, plus calls and meetings; many open opportunities get a follow-up in the
  week before a pipeline snapshot, some do not.
* ``spend``: per region and month a sales and marketing budget of ``BUDGET_SHARE`` of the
  region's net sales, split by the method's budget example (marketing 32 %, channel 20 %,
  incentives 16 %, systems 12 %, reserve 8 %).
* ``nps``: in the last month of each quarter about ``NPS_SAMPLE`` of the customers active in
  the past year answer the 0-10 question.
* ``receivables``: one payment per order that was paid (``paid_amount`` of its lines), dated
  by the customer's payment habit (15-90 days after the order), never after ``as_of``.

Determinism: one ``numpy.random.Generator`` seeded with ``(seed, EXTRAS_STREAM)``, a stream apart
from the core company's, so adding these tables changes none of the core files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.random import PCG64, Generator

from salesplan.dates import as_dates

EXTRAS_STREAM = 0x5A1E5
EXTRA_TABLES = ("activities", "spend", "nps", "receivables")
ACTIVITY_MONTHS = 23
"""Months of activity history up to ``as_of`` (the CRM went live the year before last)."""
VISITS_PER_REP_MONTH = 22.0
DILIGENCE = (0.55, 1.30)
"""A rep's visits are the average x a factor drawn uniformly from this range."""
CALL_SHARE, MEETING_SHARE = 0.6, 0.15
"""Calls and meetings per visit."""
FOLLOW_UP_SHARE = 0.55
"""Share of open opportunities followed up in the week before each snapshot."""
BUDGET_SHARE = 0.035
BUDGET_SPLIT = {"marketing": 0.32, "channel": 0.20, "incentives": 0.16, "systems": 0.12, "reserve": 0.08}
NPS_SAMPLE = 0.12
NPS_SCORES = np.array([0.01, 0.01, 0.02, 0.02, 0.03, 0.04, 0.06, 0.12, 0.22, 0.25, 0.22])
"""Probability of each answer 0-10: promoters 47 %, detractors 19 %, NPS about +28."""
PAYMENT_DAYS = (15, 90)


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def _write(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    """Write like the core sample: dates as YYYY-MM-DD text, amounts with two decimals,
    atomically (a temporary file renamed into place)."""
    frame = frame.assign(
        **{c: frame[c].dt.strftime("%Y-%m-%d") for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])}
    )
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "csv":
        frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n", float_format="%.2f")
    else:
        frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def _month_starts(first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    return pd.date_range(first.to_period("M").to_timestamp(), last.to_period("M").to_timestamp(), freq="MS")


def _activities(
    rng: Generator, orders: pd.DataFrame, reps: pd.DataFrame, pipeline: pd.DataFrame | None, as_of: pd.Timestamp
) -> pd.DataFrame:
    months = _month_starts(as_of - pd.DateOffset(months=ACTIVITY_MONTHS - 1), as_of)
    reps = reps.sort_values("rep_id").reset_index(drop=True)
    diligence = rng.uniform(*DILIGENCE, size=len(reps))
    hire = as_dates(reps["hire_date"])
    leave = pd.to_datetime(reps["leave_date"], errors="coerce")
    books = orders.groupby("rep_id")["customer_id"].unique().to_dict()
    region_customers = orders.groupby("region")["customer_id"].unique().to_dict()
    parts: list[pd.DataFrame] = []
    for start in months:
        end = min(start + pd.offsets.MonthEnd(0), as_of)
        days = (end - start).days + 1
        for i, rep in reps.iterrows():
            if hire[i] > end or (pd.notna(leave[i]) and leave[i] < start):
                continue
            on_board = min(1.0, ((end - max(hire[i], start)).days + 1) / days)
            visits = int(rng.poisson(VISITS_PER_REP_MONTH * diligence[i] * on_board * days / 30.4))
            calls = int(rng.poisson(visits * CALL_SHARE))
            meetings = int(rng.poisson(visits * MEETING_SHARE))
            n = visits + calls + meetings
            if n == 0:
                continue
            pool = books.get(rep["rep_id"])
            if pool is None or len(pool) == 0:
                pool = region_customers.get(rep["region"], orders["customer_id"].unique())
            parts.append(
                pd.DataFrame(
                    {
                        "activity_date": start + pd.to_timedelta(rng.integers(0, days, size=n), unit="D"),
                        "rep_id": rep["rep_id"],
                        "customer_id": rng.choice(np.sort(np.asarray(pool, dtype=object)), size=n),
                        "activity_type": ["visit"] * visits + ["call"] * calls + ["meeting"] * meetings,
                    }
                )
            )
    if pipeline is not None and len(pipeline):
        snaps = pipeline.assign(snapshot_date=as_dates(pipeline["snapshot_date"]))
        snaps = snaps.loc[(snaps["status"] == "open") & (snaps["snapshot_date"] >= months[0])]
        snaps = snaps.sort_values(["snapshot_date", "opportunity_id"])
        follow = snaps.loc[rng.random(len(snaps)) < FOLLOW_UP_SHARE]
        parts.append(
            pd.DataFrame(
                {
                    "activity_date": follow["snapshot_date"] - pd.to_timedelta(rng.integers(0, 7, len(follow)), "D"),
                    "rep_id": follow["rep_id"].to_numpy(),
                    "customer_id": follow["customer_id"].to_numpy(),
                    "activity_type": np.where(rng.random(len(follow)) < 0.5, "visit", "call"),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    # Random draws can give one rep the same customer twice on one day: one activity, not two
    # (the data contract refuses exact duplicate rows).
    out = out.loc[out["activity_date"] <= as_of].drop_duplicates()
    return out.sort_values(["activity_date", "rep_id", "customer_id"], kind="stable").reset_index(drop=True)


def _spend(rng: Generator, orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    month = orders["order_date"].dt.to_period("M").dt.to_timestamp()
    sales = orders.groupby([month.rename("month"), orders["region"]])["net_amount"].sum()
    rows = []
    for (m, region), amount in sales.items():
        if m > as_of:
            continue
        budget = max(float(amount), 0.0) * BUDGET_SHARE
        for category, share in BUDGET_SPLIT.items():
            rows.append((m, region, category, round(budget * share * rng.uniform(0.85, 1.15), 2)))
    return pd.DataFrame(rows, columns=["month", "region", "category", "amount"])


def _nps(rng: Generator, orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    first = orders["order_date"].min()
    quarter_ends = [m for m in _month_starts(first, as_of) if m.month % 3 == 0 and m + pd.offsets.MonthEnd(0) <= as_of]
    parts = []
    for m in quarter_ends:
        year_before = orders.loc[(orders["order_date"] > m - pd.DateOffset(years=1)) & (orders["order_date"] <= m)]
        active = np.sort(year_before["customer_id"].unique())
        if len(active) == 0:
            continue
        asked = active[rng.random(len(active)) < NPS_SAMPLE]
        parts.append(
            pd.DataFrame(
                {
                    "survey_date": m + pd.to_timedelta(rng.integers(0, m.days_in_month, len(asked)), unit="D"),
                    "customer_id": asked,
                    "score": rng.choice(11, size=len(asked), p=NPS_SCORES / NPS_SCORES.sum()),
                }
            )
        )
    return (
        pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["survey_date", "customer_id", "score"])
    )


def _receivables(rng: Generator, orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    paid = orders.loc[orders["paid_amount"].fillna(0.0) != 0.0]
    per_order = (
        paid.groupby("order_id", sort=True)
        .agg(order_date=("order_date", "min"), customer_id=("customer_id", "first"), paid_amount=("paid_amount", "sum"))
        .reset_index()
    )
    customers = np.sort(orders["customer_id"].unique())
    habit = pd.Series(rng.integers(PAYMENT_DAYS[0], PAYMENT_DAYS[1] + 1, size=len(customers)), index=customers)
    delay = per_order["customer_id"].map(habit).to_numpy() + rng.integers(-10, 11, size=len(per_order))
    dates = per_order["order_date"] + pd.to_timedelta(np.clip(delay, 0, None), unit="D")
    return pd.DataFrame(
        {
            "order_id": per_order["order_id"],
            "paid_date": dates.where(dates <= as_of, as_of),
            "paid_amount": per_order["paid_amount"].round(2),
        }
    )


def write_extras(out: Path, written: Mapping[str, Path], seed: int, as_of: str, fmt: str) -> dict[str, Path]:
    """Write ``activities``, ``spend``, ``nps`` and ``receivables`` beside the core tables in
    ``written`` (table -> path, as :func:`salesplan.sample.write_sample` returns it), in the same
    format ``fmt``; extras of an earlier run (either format) are removed first. Returns table -> path."""
    out = Path(out)
    for old in sorted(out.iterdir()):
        if old.is_file() and old.stem in EXTRA_TABLES and old.suffix in (".csv", ".parquet"):
            old.unlink()
    rng = Generator(PCG64([int(seed), EXTRAS_STREAM]))
    cutoff = pd.Timestamp(as_of)
    orders = pd.concat([_read(p) for name, p in sorted(written.items()) if name.startswith("orders_")])
    orders = orders.assign(
        order_date=as_dates(orders["order_date"]),
        net_amount=pd.to_numeric(orders["net_amount"]),
        paid_amount=pd.to_numeric(orders["paid_amount"]),
    )
    reps = _read(written["reps"])
    pipeline = _read(written["pipeline"]) if "pipeline" in written else None
    tables = {
        "activities": _activities(rng, orders, reps, pipeline, cutoff),
        "spend": _spend(rng, orders, cutoff),
        "nps": _nps(rng, orders, cutoff),
        "receivables": _receivables(rng, orders, cutoff),
    }
    return {name: _write(frame, out / f"{name}.{fmt}", fmt) for name, frame in tables.items()}
