"""The notebooks' entry point: configuration, validated data, monthly facts and the month.

Every notebook's second cell is::

    wb = open_workbook(month=month, data_dir=data_dir, config_path=config_path)

after which ``wb.config``, ``wb.data`` (a :class:`salesplan.io.Dataset`), ``wb.cube``
(monthly facts), ``wb.month`` (the month reported on, a ``pd.Period``) and ``wb.as_of``
(the last order date) are available and the chart theme is applied.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from salesplan.config import load_config, resolve_path
from salesplan.cube import build_cube, latest_complete_month
from salesplan.io import Dataset, load_data

MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

# The date column that tells how far each table reaches in time.
DATE_COLUMNS = {"orders": "order_date", "pipeline": "snapshot_date", "reps": "hire_date"}


class WorkbookError(ValueError):
    """A workbook parameter is invalid (e.g. a month outside the data)."""


@dataclass
class Workbook:
    """What a notebook works with: ``config``, ``data``, ``cube``, ``month``, ``data_dir``, ``as_of``."""

    config: dict[str, Any]
    data: Dataset
    cube: pd.DataFrame
    month: pd.Period
    data_dir: Path
    as_of: pd.Timestamp

    def summary(self) -> pd.DataFrame:
        """One row per table: ``table, files, rows, first_date, last_date`` (files as a
        comma-separated list; dates from the table's date column, NaT where it has none)."""
        rows = []
        for table, frame in self.data.tables().items():
            sources = self.data.sources[self.data.sources["table"] == table]
            first = last = pd.NaT
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


def resolve_month(month: str | pd.Period | None, orders: pd.DataFrame) -> pd.Period:
    """The report month: ``month`` ("YYYY-MM") checked against the data's complete months,
    or the latest complete month when ``month`` is None."""
    latest = latest_complete_month(orders)
    first = pd.Timestamp(orders["order_date"].min()).to_period("M")
    if latest < first:
        raise WorkbookError(
            f"the data holds no complete month (orders from {orders['order_date'].min():%Y-%m-%d} "
            f"to {orders['order_date'].max():%Y-%m-%d})"
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
    *,
    use_cache: bool = True,
) -> Workbook:
    """Load the configuration and the validated data, build the monthly facts, settle the
    report month and apply the chart theme.

    Relative ``data_dir`` and ``config_path`` are taken from the project root. ``month`` is
    "YYYY-MM" within the data's complete months; None picks the latest complete month.
    Raises ``DataValidationError`` for bad data and ``WorkbookError`` for a bad month.
    """
    config = load_config(config_path)
    folder = resolve_path(data_dir)
    data = load_data(folder, config, use_cache=use_cache)
    period = resolve_month(month, data.orders)
    _apply_theme()
    return Workbook(
        config=config,
        data=data,
        cube=build_cube(data),
        month=period,
        data_dir=folder,
        as_of=pd.Timestamp(data.orders["order_date"].max()),
    )
