"""The month context every notebook opens: the month's facts, built once and read by every page.

Every notebook's second cell is::

    wb = open_workbook(month=month, data_dir=data_dir, config_path=config_path, ...)

after which the notebook reads, never recomputes:

- ``wb.settings`` (typed, validated) and ``wb.config`` (the same as a nested dict),
- ``wb.data`` (a :class:`salesplan.io.Dataset` without the order lines), ``wb.agg`` (the
  order lines' sums, :mod:`salesplan.aggregates`: built once per set of input files, so a
  page reads small tables, never millions of lines), ``wb.cube`` (monthly facts; ``wb.closed_cube``
  up to the report month), ``wb.month`` (the month reported on, a ``pd.Period``) and ``wb.as_of``
  (the last order date), ``wb.order_totals()`` and ``wb.sku_sales()`` (what order-level and
  SKU-level formulas read),
- ``wb.plan`` (the plan in force for the month's year, :mod:`salesplan.plans`, with its
  provenance) and ``wb.plan_for(year)`` for another year,
- ``wb.forecast()`` and ``wb.landing()``: the forecast and year-end landing, fitted once per
  run and stored in the run folder (a notebook run by hand fits it if absent and keeps it in
  ``data/interim/forecast``),
- ``wb.previous_summary()``: last month's published summary, if there is one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from salesplan import aggregates
from salesplan.aggregates import Aggregates
from salesplan.config import PROJECT_ROOT, load_settings, resolve_path
from salesplan.cube import latest_complete_month
from salesplan.io import LINE_TABLES, Dataset, load_data
from salesplan.plans import PlanInForce, resolve_plan
from salesplan.settings import Settings

if TYPE_CHECKING:
    from salesplan.forecast.hierarchy import HierarchyForecast

MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

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


# What the order-level formulas read of the order totals (RFM, new vs returning, average order
# value, the receivables position); the line counts and quantities are left on disk.
ORDER_TOTAL_COLUMNS = ["order_id", "customer_id", "order_date", "rep_id", "region", "net_amount", "paid_amount"]


class WorkbookError(ValueError):
    """A workbook parameter is invalid (e.g. a month outside the data)."""


@dataclass
class MonthContext:
    """What a notebook works with (module docstring). ``plan_version``: an explicitly requested
    plan version (else the rule of :mod:`salesplan.plans`); ``output_dir``: the run folder
    being built (None by hand)."""

    settings: Settings
    config: dict[str, Any]
    data: Dataset
    cube: pd.DataFrame
    month: pd.Period
    data_dir: Path
    as_of: pd.Timestamp
    agg: Aggregates | None = None
    plan_version: str | None = None
    output_dir: Path | None = None
    _plans: dict[int, PlanInForce] = field(default_factory=dict, repr=False)
    _forecast: Any = field(default=None, repr=False)
    _landing: pd.DataFrame | None = field(default=None, repr=False)
    _order_totals: dict[pd.Timestamp, pd.DataFrame] = field(default_factory=dict, repr=False)
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
        return forecast_key(inputs, str(self.month), self.config["forecast"])

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
                    self.config["forecast"],
                    pipeline=self.data.pipeline,
                    reps=self.data.reps,
                    engine=self.settings.engine.forecast,
                    address=self.settings.engine.address,
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
                landing_table(self.cube, plan, self.month, by, self.config["forecast"], fc=fc)
                for by in (["region"], ["product_line"])
            ]
            table = pd.concat([parts[0], parts[1].iloc[1:]], ignore_index=True)
            table["status"] = landing_status(
                table["p_hit"],
                table["landing"],
                table["target"],
                self.config["retro"]["thresholds"],
                self.config["risk"]["probability"],
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
            self.config["commission"],
            self.data.reps,
            high_end if basis == "high-margin products" else None,
        )

    def table(self, name: str, columns: list[str] | None = None, filters: Any = None) -> pd.DataFrame | None:
        """Validated table ``name`` with only ``columns`` and the rows matching pyarrow ``filters``
        (``[("paid_date", "<=", end)]``); None when the data has no such table. The line tables
        (:data:`salesplan.io.LINE_TABLES`), not loaded with the month's data, are read from the
        validated cache: only what is asked for."""
        frame = getattr(self.data, name)
        if frame is None and name in LINE_TABLES and self.agg is not None and self.agg.folder is not None:
            return aggregates.read_validated(self.agg.folder.parent, name, columns, filters)
        return None if frame is None else aggregates.select(frame, name, columns, filters)

    def _line_profile(self, table: str) -> dict[str, Any] | None:
        """Rows, date span and empty cells of a line table left on disk (None when loaded or absent)."""
        if getattr(self.data, table) is not None or table not in LINE_TABLES or self.agg is None:
            return None
        if table == "orders":
            return self.agg.profile
        path = None if self.agg.folder is None else self.agg.folder.parent / f"{table}.parquet"
        return aggregates.profile_parquet(path, DATE_COLUMNS[table]) if path is not None and path.exists() else None

    @property
    def closed_cube(self) -> pd.DataFrame:
        """The cube up to and including the report month: what a page reads so that it reads as it
        did at the month's end (the month in progress, partly exported, is left out)."""
        return self.cube.loc[self.cube["month"] <= self.month.to_timestamp()]

    def order_totals(self, end: pd.Timestamp | None = None) -> pd.DataFrame:
        """Net, quantity and paid amount per order (the ``order_totals`` aggregate), ordered before
        ``end`` (default: the end of the report month): what every order-level formula reads."""
        end = (self.month + 1).to_timestamp() if end is None else pd.Timestamp(end)
        if self.agg is None:
            return self.data.orders.loc[self.data.orders["order_date"] < end]
        # Read once per page: at ten million lines it is millions of orders, read by several sections.
        if end not in self._order_totals:
            self._order_totals[end] = self.agg.read(
                "order_totals", columns=ORDER_TOTAL_COLUMNS, filters=[("order_date", "<", end)]
            )
        return self._order_totals[end]

    def payments(self) -> pd.DataFrame | None:
        """The ``receivables`` payments dated up to the end of the report month (None without that table)."""
        end = self.month.to_timestamp(how="end").normalize()
        return self.table("receivables", filters=[("paid_date", "<=", end)])

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
            self.cube, self.plan_rows(prev.year), prev, self.data.reps, self.config, plan.describe(prev.month)
        )
        return summary, (
            f"a recomputation from the current data cut at the end of {prev} (no published report of {prev} "
            "found; it has no landing to compare with)"
        )

    def summary(self) -> pd.DataFrame:
        """One row per table: ``table, files, rows, first_date, last_date`` (files as a
        comma-separated list; dates from the table's date column, NaT where it has none)."""
        rows = []
        for table, frame in self.data.tables().items():
            sources = self.data.sources[self.data.sources["table"] == table]
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
                }
            )
        out = pd.DataFrame(rows, columns=["table", "files", "rows", "first_date", "last_date"])
        return out.astype({"rows": "int64", "first_date": "datetime64[ns]", "last_date": "datetime64[ns]"})

    def missing_values(self) -> pd.DataFrame:
        """Empty cells per table and column: ``table, column, missing, share`` (share of
        the table's rows, 0-1), columns with none included."""
        parts = []
        for table, frame in self.data.tables().items():
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
    text = str(month).strip()
    if not MONTH_PATTERN.match(text):
        raise WorkbookError(f"month {month!r}: expected the form YYYY-MM, e.g. '{latest}'")
    period = pd.Period(text, freq="M")
    if not first <= period <= latest:
        raise WorkbookError(f"month {text} is outside the data's complete months {first} .. {latest}")
    return period


def _apply_theme() -> None:
    try:
        from salesplan import plots
    except ImportError:
        return
    apply = getattr(plots, "apply_theme", None)
    if callable(apply):
        apply()


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
    month and apply the chart theme; the plan, forecast and previous report are read on first use.

    Relative ``data_dir``, ``config_path`` and ``output_dir`` are taken from the project root.
    ``month`` is "YYYY-MM" within the data's complete months; None picks the latest complete
    month. ``plan_version``: an explicitly requested plan version ("v2"), checked here.
    Raises ``DataValidationError`` for bad data, ``ConfigError`` for bad settings,
    ``WorkbookError`` for a bad month and ``TargetVersionError`` for a missing version.
    """
    if not resolve_path(data_dir).is_dir():
        raise WorkbookError(
            f"data folder {resolve_path(data_dir)} does not exist: put the exports there, or write the sample "
            "company with `make sample-data` (or `salesplan sample`)"
        )
    settings = load_settings(config_path)
    config = settings.as_dict()
    folder = resolve_path(data_dir)
    if use_cache:
        # Validates the exports on first use; the pages then read sums, not lines.
        agg = aggregates.load(folder, config)
        data = load_data(folder, config, skip=LINE_TABLES)
    else:
        data = load_data(folder, config, use_cache=False)
        agg = aggregates.from_data(data)
        data.orders = None
    period = resolve_month(month, agg.date_span)
    _apply_theme()
    ctx = MonthContext(
        settings=settings,
        config=config,
        data=data,
        cube=agg.cube,
        month=period,
        data_dir=folder,
        as_of=agg.last_date,
        agg=agg,
        plan_version=None if plan_version in (None, "") else str(plan_version),
        output_dir=None if output_dir in (None, "") else resolve_path(output_dir),
    )
    ctx.plan_for(period.year)  # a requested version that does not exist fails here, before any page
    return ctx
