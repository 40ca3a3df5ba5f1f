"""The month context every notebook opens: the month's facts, built once and read by every page.

Every notebook's second cell is::

    wb = open_workbook(month=month, data_dir=data_dir, config_path=config_path, ...)

after which the notebook reads, never recomputes:

- ``wb.settings`` (typed, validated: pages read ``wb.settings.forecast.horizon``, never a key),
- ``wb.data`` (a :class:`salesplan.io.Dataset` without the order lines), ``wb.agg`` (the
  order lines' sums, :mod:`salesplan.aggregates`: built once per set of input files, so a
  page reads small tables, never millions of lines), ``wb.cube`` (monthly facts up to the report
  month; ``wb.closed_cube`` reads the same; ``wb.agg.cube`` is the whole export's), ``wb.month``
  (the month reported on, a ``pd.Period``) and ``wb.as_of`` (the export's last order date),
  ``wb.order_totals()``, ``wb.payments()`` and ``wb.sku_sales()`` (what order-level and
  SKU-level formulas read),
- ``wb.plan`` (the plan in force for the month's year, :mod:`salesplan.plans`, with its
  provenance) and ``wb.plan_for(year)`` for another year,
- ``wb.forecast()`` and ``wb.landing()``: the forecast and year-end landing, fitted once per
  run and stored in the run folder (a notebook run by hand fits it if absent and keeps it in
  ``data/interim/forecast``); the series it fits are kept in ``data/interim/fits``
  (``wb.fit_store``), where later runs find those they fit again,
- ``wb.previous_summary()``: last month's published summary, if there is one.

**As of the month's end.** Everything the pages read is what was known on the report month's
last day (:func:`as_of_filters`, the one rule, applied once here): ``wb.data``'s tables are cut
by their date column (:data:`DATE_COLUMNS`), ``wb.cube`` holds the months up to the report
month, the line tables read through :meth:`MonthContext.table` are cut the same way, and when
the data has dated payments (table ``receivables``) the orders' ``paid_amount`` (as exported,
so counting later payments) is restated to the cash received by the month's end
(:func:`paid_as_of`) in the cube and the order totals. Only the data check reads the whole
export: ``wb.summary()`` (with the rows dated after the month, ``after_month_end``) and
``wb.missing_values()``.
"""

from __future__ import annotations

import dataclasses
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salesplan import aggregates
from salesplan.aggregates import Aggregates
from salesplan.config import PROJECT_ROOT, load_settings, resolve_path
from salesplan.cube import cube_from_lines, latest_complete_month
from salesplan.dates import as_dates
from salesplan.files import remove_folder, replace_folder_atomically
from salesplan.io import LINE_TABLES, Dataset, load_data
from salesplan.month import Month, MonthError
from salesplan.plans import PlanInForce, resolve_plan
from salesplan.settings import Settings
from salesplan.targets.versions import PlanReference

FIT_STORE = "data/interim/fits"
"""Where the month's forecasts keep their fitted series (:mod:`salesplan.forecast.fitstore`),
from the project root: a run finds there the series an earlier run fitted (its P(hit) backtest
refits the history of the forecasts of 12 and 24 months before)."""

if TYPE_CHECKING:
    from salesplan.forecast.hierarchy import HierarchyForecast

# The date column that tells how far each table reaches in time.
DATE_COLUMNS = {
    "orders": "order_date",
    "pipeline": "snapshot_date",
    "reps": "hire_date",
    "actions": "register_month",
    "activities": "activity_date",
    "spend": "month",
    "nps": "survey_date",
    "receivables": "paid_date",
}


PAID_TOLERANCE = 0.005
"""An order's exported paid amount counts as its dated payments when they differ by less (half a cent)."""


def month_end(month: pd.Period) -> pd.Timestamp:
    """The last day of ``month`` (midnight): the date a month's pack is as of."""
    return month.to_timestamp(how="end").normalize()


def as_of_filters(table: str, month: pd.Period) -> list[tuple[str, str, pd.Timestamp]] | None:
    """The one rule deciding what of ``table`` a pack of ``month`` reads: the rows whose date
    column (:data:`DATE_COLUMNS`: order, payment, activity, survey, spend month, snapshot,
    register month, hire date) is on or before the month's last day, as pyarrow filters
    ``[(column, "<=", month end)]``; None for a table that is not dated by events (products,
    customers, the targets: the plan covers the whole year)."""
    column = DATE_COLUMNS.get(table)
    return None if column is None else [(column, "<=", month_end(month))]


def cut_table(table: str, frame: pd.DataFrame | None, month: pd.Period) -> pd.DataFrame | None:
    """``frame`` (validated table ``table``) as known at the end of ``month``: the rows
    :func:`as_of_filters` keeps; a rep's ``leave_date`` after the month's end is not known yet
    (left empty: she has not left)."""
    rule = as_of_filters(table, month)
    if frame is None or rule is None:
        return frame
    column, _, end = rule[0]
    if column not in frame.columns:
        return frame
    dates = frame[column] if pd.api.types.is_datetime64_any_dtype(frame[column]) else as_dates(frame[column])
    out = frame.loc[~(dates > end)]  # undated rows stay: the data check reports them
    if table == "reps" and "leave_date" in out.columns:
        leave = as_dates(out["leave_date"])
        out = out.assign(leave_date=leave.where(~(leave > end)))
    return out


def cut_dataset(data: Dataset, month: pd.Period) -> Dataset:
    """``data`` with every table cut at the end of ``month`` (:func:`cut_table`); its sources
    and warnings are the whole export's."""
    return dataclasses.replace(data, **{name: cut_table(name, frame, month) for name, frame in data.tables().items()})


def paid_as_of(rows: pd.DataFrame, collected: pd.Series) -> pd.Series:
    """The rows' ``paid_amount`` as of the payments' date.

    ``rows``: order lines or order totals (``order_id, net_amount, paid_amount``, the paid
    amount as exported); ``collected``: cash received per order id (the dated payments up to
    the cut; an order without one has received nothing). An order whose exported paid amount
    equals its collected cash (within :data:`PAID_TOLERANCE`) keeps its rows' values; otherwise
    its collected cash is spread over its rows in proportion to the paid amount the export shows
    on each, else to their net amount, else equally."""
    codes, ids = pd.factorize(rows["order_id"], sort=False)
    n = len(ids)
    paid = rows["paid_amount"].to_numpy(dtype="float64")
    paid0 = np.nan_to_num(paid)
    net = np.nan_to_num(rows["net_amount"].to_numpy(dtype="float64"))
    paid_o = np.bincount(codes, weights=paid0, minlength=n)[codes]
    net_o = np.bincount(codes, weights=net, minlength=n)[codes]
    count_o = np.bincount(codes, minlength=n)[codes]
    per_order = collected if collected.index.is_unique else collected.groupby(level=0).sum()
    cash = per_order.reindex(pd.Index(ids)).fillna(0.0).to_numpy(dtype="float64")[codes]
    changed = np.abs(cash - paid_o) >= PAID_TOLERANCE
    share = np.where(
        paid_o != 0,
        np.divide(paid0, paid_o, out=np.zeros_like(paid0), where=paid_o != 0),
        np.where(net_o != 0, np.divide(net, net_o, out=np.zeros_like(net), where=net_o != 0), 1.0 / count_o),
    )
    return pd.Series(np.where(changed, cash * share, paid), index=rows.index, name="paid_amount")


# What the order-level formulas read of the order totals (RFM, new vs returning, average order
# value, the receivables position); the line counts and quantities are left on disk.
# 2: the month's order totals' restated paid amounts are stored too (order_paid.parquet).
RESTATED_FORMAT = 2
"""Version of the stored as-of-month-end paid amounts (:meth:`MonthContext.restate_paid`)."""
ORDER_TOTAL_COLUMNS = ["order_id", "customer_id", "order_date", "rep_id", "region", "net_amount", "paid_amount"]


def _totals_fit(totals: pd.DataFrame | None) -> dict[str, Any]:
    """What stored order-level paid amounts must fit: the order totals' rows and net sales."""
    if totals is None:
        return {}
    return {"order_rows": len(totals), "order_net_amount": round(float(totals["net_amount"].sum()), 2)}


class WorkbookError(ValueError):
    """A workbook parameter is invalid (e.g. a month outside the data)."""


@dataclass
class MonthContext:
    """What a notebook works with (module docstring). ``plan_version``: an explicitly requested
    plan version (else the rule of :mod:`salesplan.plans`); ``output_dir``: the run folder
    being built (None by hand)."""

    settings: Settings
    data: Dataset
    cube: pd.DataFrame
    month: pd.Period
    data_dir: Path
    as_of: pd.Timestamp
    agg: Aggregates | None = None
    export: Dataset | None = None
    """The whole export, only for the data check (``summary``, ``missing_values``); None: ``data``."""
    plan_version: str | None = None
    output_dir: Path | None = None
    # Fitted series kept across runs (salesplan.forecast.fitstore); None fits every series afresh.
    fit_store: Path | None = None
    _plans: dict[int, PlanInForce] = field(default_factory=dict, repr=False)
    _forecast: Any = field(default=None, repr=False)
    _landing: pd.DataFrame | None = field(default=None, repr=False)
    _order_totals: dict[pd.Timestamp, pd.DataFrame] = field(default_factory=dict, repr=False)
    _collected: pd.Series | None = field(default=None, repr=False)
    _collected_file: Path | None = field(default=None, repr=False)
    _order_paid_file: Path | None = field(default=None, repr=False)
    _order_paid_fit: dict[str, Any] = field(default_factory=dict, repr=False)
    paid_basis: str = "orders.paid_amount as exported, not dated"
    """Where collected cash comes from: the dated payments up to the month's end when the data
    has them (:meth:`restate_paid`), else the orders' paid amount as exported."""
    forecast_origin: str = ""
    """After :meth:`forecast`: whether this page fitted the forecast or read the stored one."""

    # ------------------------------------------------------------------ the plan in force

    def plan_for(self, year: int) -> PlanInForce:
        """The plan in force for ``year`` (the requested version applies to the report year only)."""
        year = int(year)
        if year not in self._plans:
            self._plans[year] = resolve_plan(
                year,
                self.data_dir,
                requested=self.plan_version if year == self.month.year else None,
                supplied=self.data.targets,
                supplied_files=self.data.sources,
                revision_flag_share=self.settings.targets.revision_flag_share,
                # Checked against the whole export: a rep hired after this month may carry later targets.
                reference=PlanReference.from_data(self.export if self.export is not None else self.data),
            )
        return self._plans[year]

    @property
    def plan(self) -> PlanInForce:
        """The plan in force for the report month's year."""
        return self.plan_for(self.month.year)

    def plan_rows(self, *years: int) -> pd.DataFrame:
        """The plan rows in force for ``years`` (default: the report year) in the tidy form the
        retrospective uses (``month`` a first-of-month timestamp); no rows without a plan."""
        from salesplan.retro.flags import empty_plan, plan_months

        rows = self.plans_table(*(years or (self.month.year,)))
        return plan_months(rows) if rows is not None else empty_plan()

    # ------------------------------------------------------------------ forecast and landing

    def _forecast_folder(self) -> Path:

        if self.output_dir is not None:
            return Path(self.output_dir) / "forecast"
        return PROJECT_ROOT / "data" / "interim" / "forecast" / self._forecast_key()[:16]

    def _forecast_key(self) -> str:
        from salesplan.forecast.store import forecast_key

        inputs = self.data.sources[["table", "sha256"]].to_dict(orient="records")
        return forecast_key(inputs, str(self.month), self.settings.forecast.model_dump())

    def forecast(self) -> HierarchyForecast:
        """The forecast of every series as of the report month: read from the run folder, or
        fitted (with the P(hit) recalibration) and stored there when absent."""
        if self._forecast is None:
            from salesplan.forecast import forecast_hierarchy
            from salesplan.forecast.store import load_or_fit

            cut = self.closed_cube
            folder = self._forecast_folder()
            self._forecast, fitted = load_or_fit(
                folder,
                self._forecast_key(),
                lambda: forecast_hierarchy(
                    cut,
                    self.month,
                    self.settings.forecast,
                    pipeline=self.data.pipeline,
                    reps=self.data.reps,
                    engine=self.settings.engine.forecast,
                    address=self.settings.engine.address,
                    store=self.fit_store,
                ),
            )
            where = "the run folder" if self.output_dir is not None else "data/interim/forecast"
            self.forecast_origin = f"fitted by this page and stored in {where}" if fitted else f"read from {where}"
        return self._forecast

    def landing(self) -> pd.DataFrame:
        """Year-end landing of the total, each region and each product line against the plan in
        force: ``unique_id, dimension, item, ytd, landing, lo_L, hi_L, target, gap`` (landing -
        target, negative = short), ``run_rate_needed, p_hit_model, p_hit, status``
        (:func:`salesplan.status.landing_status`)."""
        if self._landing is None:
            from salesplan.forecast import landing_table
            from salesplan.status import landing_status

            fc = self.forecast()
            plan = self.plan.frame if self.plan.has_plan else None
            parts = [
                landing_table(self.cube, plan, self.month, by, self.settings.forecast, fc=fc)
                for by in (["region"], ["product_line"])
            ]
            table = pd.concat([parts[0], parts[1].iloc[1:]], ignore_index=True)
            table["status"] = landing_status(
                table["p_hit"],
                table["landing"],
                table["target"],
                self.settings.retro.thresholds,
                self.settings.risk.probability,
            )
            self._landing = table
        return self._landing

    def landing_total(self) -> dict[str, Any]:
        """The company total's landing: ``landing, low, high, level`` (the first interval level),
        ``p_hit``, ``gap`` and ``status``, as the first screen and the summary use it."""
        row = self.landing().set_index("unique_id").loc["total"]
        level = int(self.settings.forecast.levels[0])
        return {
            "landing": float(row["landing"]),
            "low": float(row[f"lo_{level}"]),
            "high": float(row[f"hi_{level}"]),
            "level": float(level),
            "p_hit": float(row["p_hit"]),
            "gap": float(row["gap"]),
            "status": str(row["status"]),
        }

    def plans_table(self, *years: int) -> pd.DataFrame | None:
        """The plan rows in force for ``years`` in contract form (``month`` 1-12), None without any."""
        parts = [self.plan_for(y).frame for y in years]
        parts = [p for p in parts if len(p)]
        return pd.concat(parts, ignore_index=True) if parts else None

    def commissions(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The month's commission lines per rep and the year-to-date statement against the plan in
        force (:func:`salesplan.retro.pay.commission_report`); empty without a plan."""
        from salesplan.retro import kpi, pay

        high_end, basis = kpi.high_end_monthly(self.cube, self.sku_sales(), self.data.products)
        return pay.commission_report(
            self.cube,
            self.plan_rows(),
            self.month,
            self.settings.commission,
            self.data.reps,
            high_end if basis == "high-margin products" else None,
        )

    def table(self, name: str, columns: list[str] | None = None, filters: Any = None) -> pd.DataFrame | None:
        """Validated table ``name`` with only ``columns`` and the rows matching pyarrow ``filters``
        (``[("paid_date", "<=", end)]``); None when the data has no such table. The line tables
        (:data:`salesplan.io.LINE_TABLES`), not loaded with the month's data, are read from the
        validated cache: only what is asked for. Every table is cut at the end of the report
        month (:func:`as_of_filters`)."""
        rule = as_of_filters(name, self.month)
        if rule is not None:
            filters = rule + list(filters or [])
        frame = getattr(self.data, name)
        if frame is None and name in LINE_TABLES and self.agg is not None and self.agg.folder is not None:
            return aggregates.read_validated(self.agg.folder.parent, name, columns, filters)
        return None if frame is None else aggregates.select(frame, name, columns, filters)

    def _line_profile(self, table: str) -> dict[str, Any] | None:
        """Rows, date span and empty cells of a line table left on disk (None when loaded or absent)."""
        if getattr(self._export, table) is not None or table not in LINE_TABLES or self.agg is None:
            return None
        if table == "orders":
            return self.agg.profile
        path = None if self.agg.folder is None else self.agg.folder.parent / f"{table}.parquet"
        return aggregates.profile_parquet(path, DATE_COLUMNS[table]) if path is not None and path.exists() else None

    @property
    def _export(self) -> Dataset:
        return self.data if self.export is None else self.export

    @property
    def closed_cube(self) -> pd.DataFrame:
        """The cube up to and including the report month: what a page reads so that it reads as it
        did at the month's end (the month in progress, partly exported, is left out). The month
        context's ``cube`` is already cut (:func:`open_workbook`); this name reads the same."""
        return self.cube.loc[self.cube["month"] <= self.month.to_timestamp()]

    def restate_paid(self, lines: Callable[[list[str]], pd.DataFrame | None], store: Path | None = None) -> None:
        """Collected cash as of the month's end: when the data has dated payments (table
        ``receivables``), each order's cash is the payments dated up to the month's end, and the
        cube's ``paid_amount`` (sum of the lines' paid amounts as exported) is restated where an
        order's differs (:func:`paid_as_of` on the ``lines`` of those orders, ``lines(ids)``).
        Without dated payments the exported paid amount stays, and ``paid_basis`` says so.

        ``store``: a folder keyed by the input files and the month (beside the stored
        aggregates), where the restated cube's paid amounts and each order's collected cash are
        kept: the first page of a month computes them (at ten million lines about half a
        minute), every later page and run reads them back."""
        basis = f"payments in table receivables dated up to {month_end(self.month):%Y-%m-%d}"
        if store is not None and self._read_restated(store, basis):
            return
        payments = self.payments()
        if payments is None:
            return
        self._collected = payments.groupby(payments["order_id"].astype(str))["paid_amount"].sum()
        self.paid_basis = basis
        self._order_totals.clear()
        end = (self.month + 1).to_timestamp()
        raw = self._raw_order_totals(end)
        restated = raw.assign(paid_amount=paid_as_of(raw, self._collected))
        restated.attrs["paid_basis"] = self.paid_basis
        self._order_totals[end] = restated  # what order_totals() gives: read once
        moved = ~np.isclose(restated["paid_amount"].fillna(0.0), raw["paid_amount"].fillna(0.0), rtol=0, atol=1e-9)
        changed = raw.loc[moved]
        cube = self.cube.copy()
        cube.attrs["paid_basis"] = self.paid_basis
        ids = sorted(changed["order_id"].astype(str).unique())
        part = lines(ids) if ids else None
        if part is not None and len(part):
            part = part.loc[part["order_id"].astype(str).isin(ids)]
            delta = paid_as_of(part, self._collected) - part["paid_amount"].fillna(0.0)
            keys = ["month", *aggregates.DIMENSIONS]
            shift = cube_from_lines(part.assign(paid_amount=delta), self.data.products)[[*keys, "paid_amount"]]
            shift = aggregates.normalise(shift, {c: aggregates.SCHEMAS["cube"][c] for c in shift.columns})
            merged = cube[keys].merge(shift.rename(columns={"paid_amount": "_delta"}), on=keys, how="left")
            moved = merged["_delta"].notna().to_numpy()
            cube["paid_amount"] = np.where(
                moved,
                cube["paid_amount"].fillna(0.0).to_numpy() + merged["_delta"].fillna(0.0).to_numpy(),
                cube["paid_amount"].to_numpy(),
            )
        self.cube = cube
        if store is not None:
            self._write_restated(store)

    def _restated_meta(self) -> dict[str, Any]:
        # What the stored paid amounts must fit: this month, the same cube rows and net sales.
        return {
            "format": RESTATED_FORMAT,
            "month": str(self.month),
            "rows": len(self.cube),
            "net_amount": round(float(self.cube["net_amount"].sum()), 2),
        }

    def _write_restated(self, store: Path) -> None:
        collected = self._collected
        if collected is None:
            return
        totals = self._order_totals.get((self.month + 1).to_timestamp())
        meta = {**self._restated_meta(), "paid_basis": self.paid_basis, **_totals_fit(totals)}
        try:
            # Written only when the store held nothing usable: one of an older format (or a
            # half-read one) would otherwise win over this one forever (the first folder wins).
            remove_folder(store)
            with replace_folder_atomically(store) as staged:
                self.cube[["paid_amount"]].to_parquet(staged / "cube_paid.parquet", index=False)
                collected.rename_axis("order_id").reset_index().to_parquet(staged / "collected.parquet", index=False)
                if totals is not None:
                    totals[["paid_amount"]].to_parquet(staged / "order_paid.parquet", index=False)
                (staged / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        except OSError:
            pass  # a read-only cache: every page restates for itself, as without a store

    def _read_restated(self, store: Path, basis: str) -> bool:
        try:
            meta = json.loads((store / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if {k: meta.get(k) for k in self._restated_meta()} != self._restated_meta() or meta.get("paid_basis") != basis:
            return False
        paid = pd.read_parquet(store / "cube_paid.parquet")["paid_amount"].to_numpy()
        cube = self.cube.copy()
        cube["paid_amount"] = paid
        cube.attrs["paid_basis"] = basis
        self.cube = cube
        self.paid_basis = basis
        self._collected_file = store / "collected.parquet"
        self._order_paid_file = store / "order_paid.parquet" if "order_rows" in meta else None
        self._order_paid_fit = {k: meta[k] for k in ("order_rows", "order_net_amount") if k in meta}
        self._order_totals.clear()
        return True

    def collected_cash(self) -> pd.Series | None:
        """Cash received per order id by the month's end: the ``receivables`` payments dated up
        to it, summed per order (None without that table: the exported paid amounts stand).
        Kept once per month beside the restatement, so a page does not read the payments again."""
        if self._collected is None and self._collected_file is not None:
            frame = pd.read_parquet(self._collected_file)
            self._collected = pd.Series(
                frame["paid_amount"].to_numpy(), index=frame["order_id"].astype(str), name="paid_amount"
            )
        return self._collected

    def _stored_order_paid(self, totals: pd.DataFrame) -> np.ndarray | None:
        """The month's order totals' restated paid amounts as the first page stored them, row
        for row (None when not stored, or when ``totals`` are not the rows they were made for)."""
        if self._order_paid_file is None or _totals_fit(totals) != self._order_paid_fit:
            return None
        try:
            return pd.read_parquet(self._order_paid_file)["paid_amount"].to_numpy()
        except (OSError, ValueError, KeyError):
            return None

    def _raw_order_totals(self, end: pd.Timestamp) -> pd.DataFrame:
        if self.agg is None:
            return self.data.orders.loc[self.data.orders["order_date"] < end]
        return self.agg.read("order_totals", columns=ORDER_TOTAL_COLUMNS, filters=[("order_date", "<", end)])

    def order_totals(self, end: pd.Timestamp | None = None) -> pd.DataFrame:
        """Net, quantity and paid amount per order (the ``order_totals`` aggregate), ordered before
        ``end`` (default, and at the latest: the end of the report month): what every order-level
        formula reads. ``paid_amount``: the cash received by the month's end (``paid_basis``)."""
        latest = (self.month + 1).to_timestamp()
        end = latest if end is None else min(pd.Timestamp(end), latest)
        # Read once per page: at ten million lines it is millions of orders, read by several sections.
        if end not in self._order_totals:
            totals = self._raw_order_totals(end)
            stored = self._stored_order_paid(totals) if end == latest else None
            if stored is not None:
                totals = totals.assign(paid_amount=stored)
            elif (collected := self.collected_cash()) is not None:
                totals = totals.assign(paid_amount=paid_as_of(totals, collected))
            totals.attrs["paid_basis"] = self.paid_basis
            self._order_totals[end] = totals
        return self._order_totals[end]

    def payments(self) -> pd.DataFrame | None:
        """The ``receivables`` payments dated up to the end of the report month (None without that table)."""
        return self.table("receivables")

    def sku_sales(self) -> pd.DataFrame:
        """Quantity and net sales per month, SKU and rep as dated lines
        (:meth:`salesplan.aggregates.Aggregates.sku_lines`), up to the end of the report month."""
        end = (self.month + 1).to_timestamp()
        if self.agg is None:
            return self.data.orders.loc[self.data.orders["order_date"] < end]
        return self.agg.sku_lines(filters=[("month", "<", end)])

    def forecast_months(self) -> dict[str, float]:
        """The total's forecast for each remaining month of the year ("YYYY-MM" -> amount), which
        next month's report compares its actual with."""
        total = self.forecast().forecast
        total = total.loc[total["unique_id"] == "total"].sort_values("ds")
        rest = total.loc[(total["ds"] > self.month.to_timestamp()) & (total["ds"].dt.year == self.month.year)]
        return {f"{ds:%Y-%m}": float(v) for ds, v in zip(rest["ds"], rest["blended"], strict=True)}

    # ------------------------------------------------------------------ the previous report

    @property
    def reports_root(self) -> Path:
        """The reports folder: the parent of the run folder being built, else the project's ``reports``."""
        return Path(self.output_dir).parent if self.output_dir is not None else PROJECT_ROOT / "reports"

    def previous_summary(self) -> tuple[dict[str, Any], str]:
        """Last month's retrospective summary and a sentence saying where it came from: the
        published ``retro_summary.json`` of that month, else its flags and actual-vs-plan
        figures recomputed from the data cut at that month's end (no landing: a landing is only
        compared with a published one)."""
        from salesplan.retro import export, mom, report
        from salesplan.retro.periods import previous_month

        prev = previous_month(self.month)
        path = mom.previous_summary_path(self.reports_root, self.month)
        if path.exists():
            return export.read_summary(path), f"the published report of {prev} ({path.parent.name}/{path.name})"
        plan = self.plan_for(prev.year)
        summary = report.summary_for_month(
            self.cube, self.plan_rows(prev.year), prev, self.data.reps, self.settings.retro, plan.describe(prev.month)
        )
        return summary, (
            f"a recomputation from the current data cut at the end of {prev} (no published report of {prev} "
            "found; it has no landing to compare with)"
        )

    def _after_month_end(self, table: str, frame: pd.DataFrame | None) -> int:
        """Rows of the export's ``table`` dated after the report month's end (not used by the pack)."""
        rule = as_of_filters(table, self.month)
        if rule is None:
            return 0
        column, _, end = rule[0]
        if frame is not None:
            return int((_table_dates(table, frame) > end).sum()) if column in frame.columns else 0
        if table == "orders" and self.agg is not None:
            cube = self.agg.cube  # the lines of the months after the report month
            return int(cube.loc[cube["month"] > end, "lines"].sum())
        if self.agg is not None and self.agg.folder is not None:
            later = aggregates.read_validated(self.agg.folder.parent, table, [column], [(column, ">", end)])
            return 0 if later is None else len(later)
        return 0

    def summary(self) -> pd.DataFrame:
        """One row per table of the whole export: ``table, files, rows, first_date, last_date,
        after_month_end`` (files as a comma-separated list; dates from the table's date column,
        NaT where it has none; ``after_month_end``: rows dated after the report month's last day,
        which the pack does not use, 0 for tables not cut by date)."""
        rows = []
        for table, frame in self._export.tables().items():
            sources = self._export.sources[self._export.sources["table"] == table]
            first = last = pd.NaT
            profile = self._line_profile(table)
            if profile is not None:
                rows.append(
                    {
                        "table": table,
                        "files": ", ".join(sources["file"]),
                        "rows": profile["lines"],
                        "first_date": pd.Timestamp(profile["first_date"]) if profile["first_date"] else pd.NaT,
                        "last_date": pd.Timestamp(profile["last_date"]) if profile["last_date"] else pd.NaT,
                        "after_month_end": self._after_month_end(table, None),
                    }
                )
                continue
            if frame is not None and not frame.empty:
                dates = _table_dates(table, frame)
                if dates is not None and dates.notna().any():
                    first, last = dates.min(), dates.max()
            rows.append(
                {
                    "table": table,
                    "files": ", ".join(sources["file"]) if len(sources) else "(none)",
                    "rows": 0 if frame is None else len(frame),
                    "first_date": first,
                    "last_date": last,
                    "after_month_end": self._after_month_end(table, frame),
                }
            )
        columns = ["table", "files", "rows", "first_date", "last_date", "after_month_end"]
        out = pd.DataFrame(rows, columns=columns)
        return out.astype(
            {"rows": "int64", "first_date": "datetime64[ns]", "last_date": "datetime64[ns]", "after_month_end": "int64"}
        )

    def missing_values(self) -> pd.DataFrame:
        """Empty cells per table and column: ``table, column, missing, share`` (share of
        the table's rows, 0-1), columns with none included."""
        parts = []
        for table, frame in self._export.tables().items():
            profile = self._line_profile(table)
            if profile is not None:
                parts.append(
                    aggregates.missing_table(profile).assign(table=table)[["table", "column", "missing", "share"]]
                )
                continue
            if frame is None:
                continue
            missing = frame.isna().sum()
            parts.append(
                pd.DataFrame(
                    {
                        "table": table,
                        "column": missing.index.astype(str),
                        "missing": missing.to_numpy(dtype="int64"),
                        "share": missing.to_numpy(dtype="float64") / len(frame) if len(frame) else 0.0,
                    }
                )
            )
        if not parts:
            return pd.DataFrame(columns=["table", "column", "missing", "share"])
        return pd.concat(parts, ignore_index=True)


def _table_dates(table: str, frame: pd.DataFrame) -> pd.Series | None:
    if table == "targets":
        return pd.to_datetime(pd.DataFrame({"year": frame["year"], "month": frame["month"], "day": 1}), errors="coerce")
    column = DATE_COLUMNS.get(table)
    return frame[column] if column in frame.columns else None


def resolve_month(month: str | pd.Period | None, orders: pd.DataFrame | pd.Series) -> pd.Period:
    """The report month: ``month`` ("YYYY-MM") checked against the data's complete months,
    or the latest complete month when ``month`` is None. ``orders``: the orders table or its
    order dates (the first and the last are enough)."""
    dates = orders["order_date"] if isinstance(orders, pd.DataFrame) else pd.Series(orders)
    latest = latest_complete_month(dates)
    first = pd.Timestamp(dates.min()).to_period("M")
    if latest < first:
        raise WorkbookError(
            f"the data holds no complete month (orders from {dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d})"
        )
    if month is None:
        return latest
    try:
        parsed = Month.parse(month)
    except MonthError as exc:
        raise WorkbookError(f"{exc}; the data's latest complete month is {latest}") from None
    period = pd.Period(year=parsed.year, month=parsed.number, freq="M")
    if not first <= period <= latest:
        raise WorkbookError(f"month {parsed} is outside the data's complete months {first} .. {latest}")
    return period


def apply_chart_theme() -> None:
    """Apply the chart theme (:func:`salesplan.plots.apply_theme`) now; a page that draws with
    matplotlib before importing it may call this, the workbook otherwise does it for it
    (:func:`_theme_when_charting`)."""
    from salesplan import plots

    try:
        apply = plots.apply_theme
    except AttributeError:  # called while ``salesplan.plots`` itself is being imported
        from salesplan.plots.base import apply_theme as apply
    apply()


class _ThemeOnCharts(importlib.abc.MetaPathFinder):
    """Applies the chart theme once, right after the first import of ``matplotlib.pyplot``
    (every chart goes through it) or of ``salesplan.plots.base`` (which imports pyplot, so
    the theme waits for it to be complete), then removes itself."""

    WATCHED = ("matplotlib.pyplot", "salesplan.plots.base")

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.WATCHED:
            return None
        # Found by the other finders (this one steps aside for the look-up), then wrapped.
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_then_theme(module: types.ModuleType) -> None:
            execute(module)
            # pyplot imported by the chart module itself: the theme comes when that is complete.
            if fullname == "matplotlib.pyplot" and "salesplan.plots.base" in sys.modules:
                return
            _remove_theme_hook()
            apply_chart_theme()

        spec.loader.exec_module = exec_then_theme  # type: ignore[method-assign]
        return spec


def _remove_theme_hook() -> None:
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _ThemeOnCharts)]


def _theme_when_charting() -> None:
    """The chart theme, applied when charts come, not before: importing matplotlib takes
    seconds, which the run's own process (it opens the workbook to settle the month) and a page
    or script without charts need not pay. Rule: when ``matplotlib.pyplot`` is already imported
    (a page imports its charts before opening the workbook) the theme is applied now; else
    once, right after the first import of pyplot or of the chart module (:class:`_ThemeOnCharts`)."""
    if "matplotlib.pyplot" in sys.modules:
        apply_chart_theme()
    elif not any(isinstance(finder, _ThemeOnCharts) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ThemeOnCharts())


def open_workbook(
    month: str | None = None,
    data_dir: str | os.PathLike[str] = "data/raw",
    config_path: str | os.PathLike[str] = "config/salesplan.yaml",
    plan_version: str | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    *,
    use_cache: bool = True,
) -> MonthContext:
    """Load the settings and the validated data, build the monthly facts, settle the report
    month and see to the chart theme (applied when charts come: :func:`_theme_when_charting`); the plan, forecast and previous report are read on first use.

    Relative ``data_dir``, ``config_path`` and ``output_dir`` are taken from the project root.
    ``month`` is "YYYY-MM" within the data's complete months; None picks the latest complete
    month. ``plan_version``: an explicitly requested plan version ("v2"), checked here.
    ``use_cache=False`` validates the exports afresh and keeps nothing: no cache, no stored fits.
    Raises ``DataValidationError`` for bad data, ``ConfigError`` for bad settings,
    ``WorkbookError`` for a bad month and ``TargetVersionError`` for a missing version.
    """
    if not resolve_path(data_dir).is_dir():
        raise WorkbookError(
            f"data folder {resolve_path(data_dir)} does not exist: put the exports there, or write the sample "
            "company with `make sample-data` (or `salesplan sample`)"
        )
    settings = load_settings(config_path)
    folder = resolve_path(data_dir)
    lines_in_memory: pd.DataFrame | None = None
    if use_cache:
        # Validates the exports on first use; the pages then read sums, not lines.
        agg = aggregates.load(folder, settings)
        data = load_data(folder, settings, skip=LINE_TABLES)
    else:
        data = load_data(folder, settings, use_cache=False)
        agg = aggregates.from_data(data)
        lines_in_memory, data.orders = data.orders, None
    period = resolve_month(month, agg.date_span)
    _theme_when_charting()
    line_columns = ["order_date", "order_id", "sku", "quantity", "net_amount", "paid_amount", *aggregates.DIMENSIONS]
    line_columns = [c for c in dict.fromkeys(line_columns) if c not in ("product_line", "tier")]

    def lines_of(ids: list[str]) -> pd.DataFrame | None:
        """The order lines of the orders ``ids`` (for the paid amounts as of the month's end)."""
        if lines_in_memory is not None:
            return lines_in_memory.loc[lines_in_memory["order_id"].astype(str).isin(ids), line_columns]
        if agg.folder is None:
            return None
        end = month_end(period)
        return aggregates.read_validated(
            agg.folder.parent, "orders", line_columns, [("order_date", "<=", end), ("order_id", "in", ids)]
        )

    # As of the month's end (module docstring): the pages get only what was dated by then.
    cube = agg.cube
    ctx = MonthContext(
        settings=settings,
        data=cut_dataset(data, period),
        export=data,
        cube=cube.loc[cube["month"] <= period.to_timestamp()].reset_index(drop=True),
        month=period,
        data_dir=folder,
        as_of=agg.last_date,
        agg=agg,
        plan_version=None if plan_version in (None, "") else str(plan_version),
        output_dir=None if output_dir in (None, "") else resolve_path(output_dir),
        fit_store=resolve_path(FIT_STORE) if use_cache else None,
    )
    # Kept beside the aggregates of the same input files, once per month.
    ctx.restate_paid(lines_of, None if agg.folder is None else agg.folder.parent / "as_of" / str(period))
    ctx.plan_for(period.year)  # a requested version that does not exist fails here, before any page
    return ctx
