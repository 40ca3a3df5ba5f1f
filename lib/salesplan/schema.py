"""The data contract: per-table pandera schemas, cross-table rules and the error report.

Validation runs in three steps, and every failure of every step is collected before
anything is raised:

1. **Parse** (:func:`parse_table`): text cells become typed columns (dates, numbers,
   booleans; identifiers and labels stay strings with surrounding whitespace removed).
   A cell that cannot be parsed is a failure carrying the original text.
2. **Per-table checks** (:func:`validate_table`): a pandera ``DataFrameSchema`` built from
   :data:`TABLES` and ``config["validation"]`` checks required columns, types, non-null
   values, allowed values and plausible date ranges, lazily (all failures at once).
3. **Cross-table checks** (:func:`check_keys`, :func:`check_references`): duplicate keys
   across all files of a table and references to unknown reps, products and customers.

Failures are rows of a *report* with the columns ``file, row, column, value, rule``. ``row``
is the line number the user sees in the file: the header is line 1, the first data row is
line 2 (the same numbering is used for XLSX sheet rows and for Parquet records). Problems
that concern a whole file or column (a missing column, a missing table) have no row.

Frames handled here carry the source row numbers as their index and the source file
name in the column :data:`FILE_COL`; :mod:`salesplan.io` sets both and removes them from
the tables it returns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
from pandera.errors import SchemaErrors

REPORT_COLUMNS = ["file", "row", "column", "value", "rule"]
FILE_COL = "__file__"

Kind = Literal["str", "date", "int", "float", "bool"]

# Arrow-backed strings while parsing: trimming, membership tests and casts are vectorised
# and memory-light; the loaded tables convert them to plain Python ``str`` (object dtype).
ARROW_STR = pd.StringDtype("pyarrow")

DEFAULT_TRUE = ("true", "t", "yes", "y", "1", "是")
DEFAULT_FALSE = ("false", "f", "no", "n", "0", "否")


@dataclass(frozen=True)
class Field:
    """One contract column.

    ``allowed`` names the ``config["validation"]`` list of permitted values; ``in_date_range``
    applies the ``min_date`` .. today + ``max_days_after_today`` window; ``non_negative`` is
    the rule a negative value is refused with.
    """

    name: str
    kind: Kind = "str"
    required: bool = True
    nullable: bool = False
    allowed: str | None = None
    in_date_range: bool = False
    bounds: tuple[float, float] | None = None
    # An amount of money: may carry a currency marker (see read_numbers).
    money: bool = False
    # When set, a negative value is refused with this rule (the text says what to do instead).
    non_negative: str | None = None


RULE_NEGATIVE_SPEND = (
    "negative spend: amounts are >= 0; book a credit or refund as its own category "
    "(e.g. marketing_credit) with a positive amount"
)

TABLES: dict[str, tuple[Field, ...]] = {
    "orders": (
        Field("order_date", "date", in_date_range=True),
        Field("order_id"),
        Field("customer_id"),
        Field("rep_id"),
        Field("region"),
        Field("sku"),
        Field("channel", allowed="channels"),
        Field("quantity", "int"),
        Field("net_amount", "float", money=True),
        Field("cost_amount", "float", required=False, nullable=True, money=True),
        Field("paid_amount", "float", required=False, nullable=True, money=True),
    ),
    "products": (
        Field("sku"),
        Field("product_line"),
        Field("tier", allowed="product_tiers"),
        Field("high_margin", "bool", required=False, nullable=True),
    ),
    "customers": (
        Field("customer_id"),
        Field("customer_name"),
        Field("industry", required=False, nullable=True),
        Field("region", required=False, nullable=True),
    ),
    "reps": (
        Field("rep_id"),
        Field("rep_name"),
        Field("region"),
        Field("team", required=False, nullable=True),
        Field("level", allowed="rep_levels"),
        Field("hire_date", "date"),
        Field("leave_date", "date", required=False, nullable=True),
    ),
    "pipeline": (
        Field("opportunity_id"),
        Field("snapshot_date", "date", in_date_range=True),
        Field("customer_id"),
        Field("rep_id"),
        Field("region"),
        Field("product_line"),
        Field("stage"),
        Field("amount", "float", money=True),
        Field("expected_close_date", "date", in_date_range=True),
        Field("status", allowed="pipeline_status"),
        Field("probability", "float", required=False, nullable=True, bounds=(0.0, 1.0)),
    ),
    "targets": (
        Field("year", "int"),
        Field("month", "int", bounds=(1, 12)),
        Field("region"),
        Field("product_line"),
        # Region- or line-level target rows have no rep.
        Field("rep_id", nullable=True),
        Field("target_amount", "float", money=True),
        Field("version", required=False, nullable=True),
    ),
    # The action register a month's retrospective publishes (actions_YYYY-MM.xlsx), filled in
    # at the meeting and dropped back into the data folder for the next month's run.
    "actions": (
        Field("action_id"),
        Field("register_month", "date", in_date_range=True),
        Field("opened_month", "date", in_date_range=True),
        Field("level"),
        Field("item"),
        Field("owner"),
        Field("action_status", allowed="action_status"),
        Field("flag_status", required=False, nullable=True),
        Field("deviation", "float", required=False, nullable=True),
        # A float: an optional whole-number column would need a nullable integer type.
        Field("escalation_level", "float", required=False, nullable=True, bounds=(1, 3)),
        Field("cause_5why", required=False, nullable=True),
        Field("next_step", required=False, nullable=True),
        Field("due_date", "date", required=False, nullable=True, in_date_range=True),
        Field("resources", required=False, nullable=True),
    ),
    # Sales activities from the CRM: visits, calls, meetings (one row each).
    "activities": (
        Field("activity_date", "date", in_date_range=True),
        Field("rep_id"),
        Field("customer_id"),
        Field("activity_type"),
    ),
    # Sales and marketing spend per month (and region or channel where known) and category.
    # Never negative: a credit (refund, rebate, agency credit note) is a row of its own category
    # (e.g. "marketing_credit") with a positive amount, so no category's spend turns negative
    # and acquisition cost (kpi.acquisition_spend_categories) counts only what it names.
    "spend": (
        Field("month", "date", in_date_range=True),
        Field("category"),
        Field("amount", "float", money=True, non_negative=RULE_NEGATIVE_SPEND),
        Field("region", required=False, nullable=True),
        Field("channel", required=False, nullable=True, allowed="channels"),
    ),
    # Net Promoter Score survey answers (0-10, "how likely are you to recommend us?").
    "nps": (
        Field("survey_date", "date", in_date_range=True),
        Field("customer_id"),
        Field("score", "int", bounds=(0, 10)),
    ),
    # Cash received against orders, with its date: one row per payment, never dated before its
    # order; paid_amount >= 0, except a refund against a return order (an order whose net_amount
    # adds up to less than zero), which is negative as the orders' own paid_amount is
    # (check_payments).
    "receivables": (
        Field("order_id"),
        Field("paid_date", "date", in_date_range=True),
        Field("paid_amount", "float", money=True),
    ),
}

REQUIRED_TABLES: tuple[str, ...] = ("orders", "products", "customers", "reps")
OPTIONAL_TABLES: tuple[str, ...] = ("pipeline", "targets", "actions", "activities", "spend", "nps", "receivables")

# Primary keys: a repeated key is a failure (checked over all files of a table together).
KEYS: dict[str, tuple[str, ...]] = {
    "orders": ("order_id", "sku"),
    "products": ("sku",),
    "customers": ("customer_id",),
    "reps": ("rep_id",),
    "pipeline": ("opportunity_id", "snapshot_date"),
    # One line per action and register month (several months' registers may sit side by side).
    "actions": ("action_id", "register_month"),
}

# table -> column -> (referenced table, referenced key column)
REFERENCES: dict[str, dict[str, tuple[str, str]]] = {
    "orders": {"rep_id": ("reps", "rep_id"), "sku": ("products", "sku"), "customer_id": ("customers", "customer_id")},
    "pipeline": {"rep_id": ("reps", "rep_id"), "customer_id": ("customers", "customer_id")},
    "targets": {"rep_id": ("reps", "rep_id")},
    "activities": {"rep_id": ("reps", "rep_id"), "customer_id": ("customers", "customer_id")},
    "nps": {"customer_id": ("customers", "customer_id")},
    "receivables": {"order_id": ("orders", "order_id")},
}

# Tables without a primary key whose rows are counted or summed (visits, spend, answers, cash):
# an exact duplicate row (every column equal, extra columns included) is refused, since a
# repeated export line would count twice. Rows that legitimately repeat are told apart by a
# column of their own, named here; any extra column that differs makes rows distinct.
DISTINCT_ROWS: dict[str, str] = {
    "activities": "two equal activities on one day need a column telling them apart, e.g. activity_id or time",
    "spend": "two equal spend lines need a column telling them apart, e.g. invoice_id or campaign",
    "nps": "two equal answers on one day need a column telling them apart, e.g. response_id",
    "receivables": "two equal instalments on one day need a column telling them apart, e.g. payment_id",
}

RULE_MISSING_COLUMN = "required column missing"
RULE_NULL = "missing value"
MORE_PREFIX = "... and "


class DataValidationError(ValueError):
    """The input data breaks the contract. ``report`` holds every failure (``file, row,
    column, value, rule``); ``format_report()`` renders it as a readable text table."""

    def __init__(self, report: pd.DataFrame) -> None:
        self.report = normalise_report(report)
        super().__init__(self._summary())

    def _summary(self) -> str:
        report = self.report
        by_rule = count_problems(report)
        n = int(by_rule.sum())
        parts = ", ".join(f"{count} x {rule}" for rule, count in by_rule.head(5).items())
        more = f", and {len(by_rule) - 5} more kinds" if len(by_rule) > 5 else ""
        files = report["file"].nunique()
        return f"{n} data problem{'s' if n != 1 else ''} in {files} file{'s' if files != 1 else ''}: {parts}{more}"

    def format_report(self, max_rows: int = 50, csv_path: str | Path | None = None) -> str:
        """The failures as an aligned text table, at most ``max_rows`` rows plus a count of
        the rest; ``csv_path`` (if given) is named as the place of the full list."""
        return format_report(self.report, max_rows=max_rows, title=str(self), csv_path=csv_path)

    def write_csv(self, path: str | Path) -> Path:
        """Write the full report as UTF-8 CSV with BOM (opens correctly in Excel), bad values that
        look like formulas neutralised, and return the path."""
        from salesplan.csvsafe import write_spreadsheet_csv

        return write_spreadsheet_csv(self.report, path)


def empty_report() -> pd.DataFrame:
    """A report with no rows and the report's columns and dtypes."""
    return normalise_report(pd.DataFrame(columns=REPORT_COLUMNS))


def normalise_report(report: pd.DataFrame) -> pd.DataFrame:
    """Give a report its canonical columns and dtypes (``row`` nullable Int64, others str),
    sorted by file and row, with identical rows removed."""
    missing = [c for c in REPORT_COLUMNS if c not in report.columns]
    if missing:
        raise ValueError(f"a report needs the columns {REPORT_COLUMNS}; missing {missing}")
    out = report[REPORT_COLUMNS].copy()
    out["row"] = pd.to_numeric(out["row"], errors="coerce").astype("Int64")
    for col in ("file", "column", "value", "rule"):
        out[col] = out[col].map(_text, na_action="ignore").fillna("").astype(object)
    # File-wide problems first, then by line; the "... and N more" lines close their group.
    out["_more"] = out["value"].str.startswith(MORE_PREFIX)
    return (
        out.drop_duplicates()
        .sort_values(["file", "_more", "row", "column"], na_position="first", kind="stable")
        .drop(columns="_more")
        .reset_index(drop=True)
    )


# A rule's pointer to another line (where a repeated key first occurs, the order a payment
# contradicts): the same rule whatever line it points to.
_FIRST_AT = r", first at .*? row \d+| \([^()]* row \d+\)"


def count_problems(report: pd.DataFrame) -> pd.Series:
    """Number of problems per rule, most frequent first, counting the ones a capped
    report left out (its "... and N more" rows). Repeats count under one rule whatever
    the line they point to (``duplicate key, first at a.csv row 2`` -> ``duplicate key``)."""
    more = report["value"].astype(str).str.extract(rf"^{re.escape(MORE_PREFIX)}(\d+) more$")[0]
    weight = pd.to_numeric(more, errors="coerce").fillna(1).astype("int64")
    rules = report["rule"].astype(str).str.replace(_FIRST_AT, "", regex=True)
    counts = weight.groupby(rules.to_numpy()).sum()
    return counts.sort_values(ascending=False, kind="stable")


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else str(value)
    return str(value)


def format_report(
    report: pd.DataFrame, max_rows: int = 50, title: str | None = None, csv_path: str | Path | None = None
) -> str:
    """Render a report as a plain text table with aligned columns.

    Shows the first ``max_rows`` rows and a line counting the rest; long values are cut
    to 40 characters so the table stays readable in a terminal.
    """
    report = normalise_report(report)
    shown = report.head(max_rows)
    cells = [REPORT_COLUMNS] + [
        [
            "" if pd.isna(v) else _clip(str(v), 40 if c == "value" else 80)
            for c, v in zip(REPORT_COLUMNS, rec, strict=True)
        ]
        for rec in shown.itertuples(index=False)
    ]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(REPORT_COLUMNS))]
    # The row number is right-aligned like a number; text columns left-aligned.
    lines = [
        "  ".join(_pad(cell, w, right=i == 1) for i, (cell, w) in enumerate(zip(r, widths, strict=True))).rstrip()
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if title:
        lines.insert(0, title)
    if len(report) > max_rows:
        lines.append(f"... and {len(report) - max_rows} more")
    if csv_path is not None:
        lines.append(f"Full list: {csv_path}")
    return "\n".join(lines)


def _width(text: str) -> int:
    """Terminal width: Chinese (wide) characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * (width - _width(text))
    return fill + text if right else text + fill


def _clip(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 3] + "..."


def failures(file: str, rows: Iterable[Any], column: str, values: Iterable[Any], rule: str) -> pd.DataFrame:
    """Report rows for one rule in one column: ``rows`` and ``values`` run in parallel."""
    return pd.DataFrame(
        {
            "file": file,
            "row": np.asarray(list(rows), dtype=object),
            "column": column,
            "value": np.asarray(list(values), dtype=object),
            "rule": rule,
        },
        columns=REPORT_COLUMNS,
    )


def failure(file: str, column: str, rule: str, row: int | None = None, value: Any = "") -> pd.DataFrame:
    """A single report row, e.g. for a problem with a whole file or column."""
    return pd.DataFrame([[file, row, column, value, rule]], columns=REPORT_COLUMNS)


def cap_report(report: pd.DataFrame, max_per_rule: int | None) -> pd.DataFrame:
    """Keep at most ``max_per_rule`` rows per file, column and rule; the rest of each group
    is summarised by one row whose value says how many were left out."""
    if not max_per_rule or report.empty:
        return report
    keys = ["file", "column", "rule"]
    rank = report.groupby(keys, sort=False, dropna=False).cumcount()
    kept = report[rank < max_per_rule]
    over = report[rank >= max_per_rule].groupby(keys, sort=False, dropna=False).size()
    if over.empty:
        return kept
    extra = (
        over.rename("n").reset_index().assign(row=pd.NA, value=lambda d: d["n"].map(f"{MORE_PREFIX}{{}} more".format))
    )
    return pd.concat([kept, extra[REPORT_COLUMNS]], ignore_index=True)


# --------------------------------------------------------------------------- parsing


def _factorized(series: pd.Series, transform) -> pd.Series:
    """Apply ``transform`` (Index -> array-like) to the distinct values only and spread the
    result back: cheap for the repetitive columns of an export."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.asarray(transform(pd.Index(uniques)), dtype=object)
    out = np.empty(len(series), dtype=object)
    if len(mapped):
        out[:] = mapped.take(np.where(codes < 0, 0, codes))
    out[codes < 0] = np.nan
    return pd.Series(out, index=series.index, name=series.name)


def _as_text(series: pd.Series) -> pd.Series:
    """Trimmed text with empty cells as missing."""
    if not isinstance(series.dtype, pd.StringDtype):
        series = series.astype(ARROW_STR)
    out = series.str.strip()
    return out.mask(out == "")


def to_object_str(series: pd.Series) -> pd.Series:
    """Convert a text (or categorical) column to Python ``str`` objects (missing = NaN),
    sharing one object per distinct value so repetitive columns stay small in memory."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        labels = np.asarray(series.cat.categories.astype(str), dtype=object)
        codes = series.cat.codes.to_numpy()
        out = labels.take(np.where(codes < 0, 0, codes)) if len(labels) else np.full(len(codes), np.nan, dtype=object)
        out[codes < 0] = np.nan
        return pd.Series(out, index=series.index, name=series.name)
    return _factorized(series, lambda u: u.astype(str))


@dataclass
class Reading:
    """One column read into its contract type.

    ``values`` holds the typed values (missing where a cell was refused); ``problems``
    lists the refused cells as ``(mask, rule)`` pairs, ``mask`` a boolean array over the
    column's positions; ``currencies`` maps each currency marker found (amounts only) to
    its number of cells and the position of its first cell.
    """

    values: pd.Series
    problems: list[tuple[np.ndarray, str]] = dataclasses.field(default_factory=list)
    currencies: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)

    def refuse(self, mask: np.ndarray, rule: str) -> None:
        """Record ``rule`` for the cells in ``mask`` (if any) and blank their values."""
        if mask.any():
            self.problems.append((mask, rule))
            self.values = self.values.mask(mask)


def _codes(text: pd.Series) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Factorize text: codes per cell (-1 = missing), the distinct values in order of first
    appearance, and the position of each distinct value's first cell."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    values = [str(u) for u in uniques]
    first = np.full(len(values), -1, dtype=np.int64)
    present = np.flatnonzero(codes >= 0)
    first[codes[present][::-1]] = present[::-1]
    return codes, values, first


def _per_cell(codes: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """Spread a per-distinct-value boolean array to the cells (missing cells: False)."""
    if not len(flags):
        return np.zeros(len(codes), dtype=bool)
    return np.where(codes >= 0, flags[np.maximum(codes, 0)], False)


def _normalise_width(values: list[str]) -> list[str]:
    # Full-width digits, signs, separators and ￥ (typed with a Chinese IME) are the same
    # characters as their ASCII forms under NFKC; nothing else a number or date uses changes.
    return [v if v.isascii() else unicodedata.normalize("NFKC", v).strip() for v in values]


# Excel's 1900 date system counts a 29 February 1900 that never existed, so serial numbers
# from 61 on are days since 1899-12-30 (the dates the window accepts are all far beyond it).
EXCEL_EPOCH = np.datetime64("1899-12-30", "ns")
_DAY_NS = 86_400_000_000_000
_TIME = r"(?:[ T]+(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?"
_DATE_SHAPES = {
    # Year first (any of - / . or 年月日 between the parts): never ambiguous.
    "YYYY-MM-DD": re.compile(rf"(?P<y>\d{{4}})\s*[-/.年]\s*(?P<m>\d{{1,2}})\s*[-/.月]\s*(?P<d>\d{{1,2}})\s*日?{_TIME}"),
    "YYYYMMDD": re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"),
    # Year last: day-first or month-first, decided per column from all its values.
    "DD-MM-YYYY or MM-DD-YYYY": re.compile(rf"(?P<a>\d{{1,2}})(?P<s>[-/.])(?P<b>\d{{1,2}})(?P=s)(?P<y>\d{{4}}){_TIME}"),
}
_SERIAL_TEXT = re.compile(r"\d{1,7}(?:\.\d+)?")
RULE_NOT_DATE = "not a date"


def _canonical_dates(y: list[str], m: list[str], d: list[str], t: list[str | None]) -> np.ndarray:
    """datetime64[ns] of year/month/day/time parts; NaT where they are no real date."""
    text = [
        f"{yy}-{mm.zfill(2)}-{dd.zfill(2)}T{(tt if tt.count(':') == 2 else tt + ':00').zfill(8) if tt else '00:00:00'}"
        for yy, mm, dd, tt in zip(y, m, d, t, strict=True)
    ]
    # Every string here is a complete date and time, so ISO 8601 reads nothing partially.
    return pd.to_datetime(pd.Series(text, dtype=object), format="ISO8601", errors="coerce").to_numpy("datetime64[ns]")


def _example_format(value: str, day_first: bool) -> str:
    sep = next((c for c in value if c in "-/."), "-")
    date = f"%d{sep}%m{sep}%Y" if day_first else f"%m{sep}%d{sep}%Y"
    time = value.split(" ")[-1] if " " in value.strip() else ""
    return date + ({1: " %H:%M", 2: " %H:%M:%S"}.get(time.count(":"), "") if time else "")


def read_dates(
    series: pd.Series,
    *,
    date_format: str | None = None,
    text_serials: bool = False,
    excel_cells: bool = False,
    setting: str = "io.date_format",
) -> Reading:
    """Read a date column to ``datetime64[ns]``, deciding its layout from **all** its values.

    Rules (one per column, never one per cell):

    * Cells that already are dates (XLSX date cells, Parquet timestamps) are taken as they are.
    * Number cells of an XLSX sheet (``excel_cells``) are Excel serial dates (1900 system).
      Text that is a plain number (``45658``) is a serial date only when ``text_serials``
      (``io.csv_excel_serial_dates``), else refused: a CSV cannot say it meant a date.
    * With ``date_format`` (``io.date_format.<table>``, a strptime format) every text cell
      must match it, unless the column is wholly in a year-first layout (read as below).
    * Otherwise text is read by its layout: year first (``2025-03-01``, ``2025/3/1``,
      ``2025年3月1日``, optional time) or ``YYYYMMDD``; year last (``13-03-2025``) is
      day-first or month-first, whichever reads *every* such value of the column. When both
      read every value and some value means two different dates (``01-10-2026``), the column
      is refused as ambiguous (naming two examples and ``setting``); when neither does, it
      mixes both conventions and is refused. A column mixing layouts (``2025-03-01`` beside
      ``13/03/2025``) keeps its most frequent layout and refuses the other cells.
    * Unknown layouts (two-digit years, month names, time zones) are refused; name their
      strptime format in ``setting``.
    """
    n = len(series)
    if pd.api.types.is_datetime64_any_dtype(series):
        out = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) is not None else series
        return Reading(out.astype("datetime64[ns]"))
    values = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    reading = Reading(pd.Series(values, index=series.index, name=series.name))
    problems: list[tuple[np.ndarray, str]] = []
    is_text = np.ones(n, dtype=bool)
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        numbers = series.notna().to_numpy()
        problems.append((numbers, f"{RULE_NOT_DATE} (a number)"))
        is_text[:] = False
    elif series.dtype == object:
        # XLSX cells arrive typed: dates as datetime, numbers as int/float.
        kinds = series.map(_cell_kind, na_action="ignore").to_numpy(dtype=object)
        stamps = kinds == "date"
        if stamps.any():
            values[stamps] = pd.to_datetime(series[stamps].tolist()).to_numpy("datetime64[ns]")
        numbers = kinds == "number"
        if numbers.any():
            if excel_cells:
                serial = np.asarray(series[numbers].tolist(), dtype="float64")
                ok = (serial > 0) & (serial < 2_958_466)  # Excel's own range, to 9999-12-31
                values[np.flatnonzero(numbers)[ok]] = EXCEL_EPOCH + (serial[ok] * _DAY_NS).astype("timedelta64[ns]")
                bad = numbers.copy()
                bad[np.flatnonzero(numbers)[ok]] = False
                problems.append((bad, f"{RULE_NOT_DATE} (number outside Excel's date range)"))
            else:
                problems.append((numbers, f"{RULE_NOT_DATE} (a number)"))
        is_text = ~(stamps | numbers)
    if is_text.any():
        text = _as_text(series.where(is_text) if not is_text.all() else series)
        codes, uniques, first = _codes(text)
        if uniques:
            counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
            found, rules = _read_date_texts(
                _normalise_width(uniques), counts, first, series.index, date_format, text_serials, setting
            )
            cells = codes >= 0
            values[cells] = found[codes[cells]]
            problems.extend((_per_cell(codes, flags), rule) for flags, rule in rules)
    reading.values = pd.Series(values, index=series.index, name=series.name)
    for mask, rule in problems:
        reading.refuse(mask, rule)
    return reading


def _cell_kind(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp | np.datetime64):
        return "date"
    if isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_):
        return "number"
    return "text"


def _read_date_texts(
    uniques: list[str],
    counts: np.ndarray,
    first: np.ndarray,
    index: pd.Index,
    date_format: str | None,
    text_serials: bool,
    setting: str,
) -> tuple[np.ndarray, list[tuple[np.ndarray, str]]]:
    """Dates of distinct date texts and the refused ones as (per-distinct-value flags, rule)."""
    k = len(uniques)
    out = np.full(k, np.datetime64("NaT"), dtype="datetime64[ns]")
    rules: list[tuple[np.ndarray, str]] = []
    text = pd.Series(uniques, dtype=object)
    serial = text.str.fullmatch(_SERIAL_TEXT.pattern).to_numpy(dtype=bool)
    if date_format:
        out[:] = pd.to_datetime(text, format=date_format, errors="coerce").to_numpy("datetime64[ns]")
        serial &= np.isnat(out)
        year_first = [_DATE_SHAPES["YYYY-MM-DD"], _DATE_SHAPES["YYYYMMDD"]]
        rest = [u for u, s in zip(uniques, serial, strict=True) if not s]
        if np.isnat(out[~serial]).any() and all(any(p.fullmatch(u) for p in year_first) for u in rest):
            # A column wholly in a year-first layout cannot be misread: it is read as such
            # (e.g. older ISO exports beside new day-first ones under one table's format).
            date_format = None
            out[:] = np.datetime64("NaT")
    elif not serial.any():
        # Fast path: a clean ISO column (the usual export) is read in one vectorised call.
        try:
            return pd.to_datetime(text, format="%Y-%m-%d").to_numpy("datetime64[ns]"), rules
        except (ValueError, TypeError):
            pass
    if serial.any():
        if text_serials:
            days = text[serial].astype("float64").to_numpy()
            ok = days < 2_958_466
            idx = np.flatnonzero(serial)
            out[idx[ok]] = EXCEL_EPOCH + (days[ok] * _DAY_NS).astype("timedelta64[ns]")
        else:
            rules.append(
                (
                    serial,
                    f"{RULE_NOT_DATE}: a plain number (an Excel serial date? set io.csv_excel_serial_dates: true "
                    "to read such numbers as dates)",
                )
            )
    if date_format:
        rules.append((np.isnat(out) & ~serial, f"{RULE_NOT_DATE} in the format {date_format} ({setting})"))
        return out, rules

    # Which layout each distinct value has; every value gets at most one.
    shape = np.full(k, "", dtype=object)
    parts: dict[str, pd.DataFrame] = {}
    for name, pattern in _DATE_SHAPES.items():
        todo = (shape == "") & ~serial
        if not todo.any():
            break
        found = text[todo].str.extract(f"^(?:{pattern.pattern})$")
        hit = found.notna().any(axis=1).to_numpy() if not found.empty else np.zeros(int(todo.sum()), bool)
        rows = np.flatnonzero(todo)[hit]
        shape[rows] = name
        parts[name] = found[hit].set_axis(rows)
    unknown = (shape == "") & ~serial
    rules.append(
        (unknown, f"{RULE_NOT_DATE}: unknown layout (read are e.g. 2025-03-31, 31-03-2025, 20250331; set {setting})")
    )
    layouts = [name for name in _DATE_SHAPES if name in parts and len(parts[name])]
    if len(layouts) > 1:
        # A column mixing layouts was stitched from different sources; keep its most
        # frequent layout and refuse the rest rather than guess which cells are right.
        sizes = {name: int(counts[parts[name].index].sum()) for name in layouts}
        main = max(layouts, key=lambda name: (sizes[name], -layouts.index(name)))
        example = int(parts[main].index[np.argmin(first[parts[main].index])])
        for name in layouts:
            if name != main:
                flags = np.zeros(k, dtype=bool)
                flags[parts[name].index] = True
                rules.append(
                    (
                        flags,
                        f"date layout {name} differs from the column's {main} (e.g. row {index[first[example]]}: "
                        f"{uniques[example]}); use one layout or set {setting}",
                    )
                )
                del parts[name]
    for name, got in parts.items():
        rows = got.index.to_numpy()
        if name != "DD-MM-YYYY or MM-DD-YYYY":
            out[rows] = _canonical_dates(list(got["y"]), list(got["m"]), list(got["d"]), _times(got))
            invalid = np.zeros(k, dtype=bool)
            invalid[rows[np.isnat(out[rows])]] = True
            rules.append((invalid, RULE_NOT_DATE))
            continue
        times = _times(got)
        day_first = _canonical_dates(list(got["y"]), list(got["b"]), list(got["a"]), times)
        month_first = _canonical_dates(list(got["y"]), list(got["a"]), list(got["b"]), times)
        neither = np.isnat(day_first) & np.isnat(month_first)
        flags = np.zeros(k, dtype=bool)
        flags[rows[neither]] = True
        rules.append((flags, RULE_NOT_DATE))
        live = ~neither
        all_day, all_month = (~np.isnat(day_first))[live].all(), (~np.isnat(month_first))[live].all()
        order = np.argsort(first[rows], kind="stable")  # examples in file order
        # When the column is refused as a whole (ambiguous or mixed), its cells keep a reading
        # anyway: one report row says what is wrong, not one "missing value" per cell.
        out[rows] = np.where(np.isnat(day_first), month_first, day_first)
        if all_day and all_month:
            differ = live & (day_first != month_first)
            if not differ.any():
                continue
            ex = [int(i) for i in order if differ[i]][:2]
            rules.append(
                (
                    _only(k, rows[ex[0]]),
                    _ambiguous_rule(uniques, first, index, rows, ex, day_first, month_first, setting),
                )
            )
            continue
        if all_day or all_month:
            out[rows] = day_first if all_day else month_first
            continue
        only_day = [int(i) for i in order if live[i] and np.isnat(month_first[i])]
        only_month = [int(i) for i in order if live[i] and np.isnat(day_first[i])]
        a, b = rows[only_day[0]], rows[only_month[0]]
        rules.append(
            (
                _only(k, min(a, b, key=lambda r: first[r])),
                f"day-first and month-first dates in one column: {uniques[a]} (row {index[first[a]]}) is day-first, "
                f"{uniques[b]} (row {index[first[b]]}) month-first; set {setting}: "
                f'"{_example_format(uniques[a], True)}" or "{_example_format(uniques[a], False)}"',
            )
        )
    return out, rules


def _times(parts: pd.DataFrame) -> list[str | None]:
    if "time" not in parts.columns:
        return [None] * len(parts)
    return [t if isinstance(t, str) else None for t in parts["time"]]


def _only(k: int, position: int) -> np.ndarray:
    flags = np.zeros(k, dtype=bool)
    flags[position] = True
    return flags


def _ambiguous_rule(
    uniques: list[str],
    first: np.ndarray,
    index: pd.Index,
    rows: np.ndarray,
    examples: list[int],
    day_first: np.ndarray,
    month_first: np.ndarray,
    setting: str,
) -> str:
    shown = []
    for i in examples:
        d, m = pd.Timestamp(day_first[i]), pd.Timestamp(month_first[i])
        shown.append(f"{uniques[rows[i]]} (row {index[first[rows[i]]]}: {d:%-d %b %Y} or {m:%-d %b %Y})")
    sample = uniques[rows[examples[0]]]
    return (
        f"ambiguous dates: day-first and month-first both read every value but disagree, e.g. "
        f"{' and '.join(shown)}; set {setting}: "
        f'"{_example_format(sample, True)}" or "{_example_format(sample, False)}"'
    )


def parse_dates(series: pd.Series, **options: Any) -> pd.Series:
    """Dates of a column by the rules of :func:`read_dates` (``options`` are its keywords);
    refused cells become NaT."""
    return read_dates(series, **options).values


# Technical plausibility limits, not business assumptions: sums of up to a million lines of
# such values stay exact in int64 (quantities) and finite in float64 (amounts).
MAX_ABS_WHOLE = 1e12
MAX_ABS_AMOUNT = 1e15
RULE_NOT_NUMBER = "not a number"
RULE_NOT_FINITE = "not a finite number (inf / nan are refused)"
_CURRENCY = r"[¥$€£]|(?:CNY|RMB)\s*"
_NUMBER = re.compile(
    rf"(?P<c1>{_CURRENCY})?(?P<sign>[+-])?(?P<c2>{_CURRENCY})?(?P<open>\()?(?P<c3>{_CURRENCY})?"
    r"(?P<body>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"(?P<close>\))?",
    re.IGNORECASE,
)
_NON_FINITE = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"[+-]?\d+(?:\.\d{3})*,\d+")
CURRENCY_NAMES = {"¥": "¥ (CNY)", "CNY": "¥ (CNY)", "RMB": "¥ (CNY)", "$": "$", "€": "€", "£": "£"}


def _read_number_text(text: str) -> tuple[float, str | None, str | None, bool]:
    """Value, currency, rule (None = read) and whether the value could also be read with a
    decimal comma (``1,234``: a thousands separator and no decimal point)."""
    if _NON_FINITE.fullmatch(text):
        return np.nan, None, RULE_NOT_FINITE, False
    m = _NUMBER.fullmatch(text)
    if m is None or bool(m["open"]) != bool(m["close"]) or (m["open"] and m["sign"]):
        return np.nan, None, RULE_NOT_NUMBER, False
    marks = [c for c in (m["c1"], m["c2"], m["c3"]) if c]
    if len(marks) > 1:
        return np.nan, None, RULE_NOT_NUMBER, False
    value = float(m["body"].replace(",", ""))
    if not np.isfinite(value):
        return np.nan, None, RULE_NOT_FINITE, False
    negative = m["sign"] == "-" or bool(m["open"])
    currency = CURRENCY_NAMES[marks[0].strip().upper()] if marks else None
    return (-value if negative else value), currency, None, "," in m["body"] and "." not in m["body"]


def read_numbers(series: pd.Series, *, money: bool = False, limit: float | None = None) -> Reading:
    """Read a number column to float64.

    Rules: plain decimals with a point (``1234.5``, ``-7``, ``1e5``) are read as they are.
    Also read, because they have one meaning only: a thousands separator ``,`` between
    groups of three digits (``1,234.50``), an accounting negative in parentheses
    (``(1,234)`` = -1234), full-width characters (``１２３``, NFKC), and in amount columns
    (``money``) one currency marker before the number (``¥ ￥ $ € £``, ``CNY``/``RMB``
    prefixes), whose currency is counted in ``Reading.currencies`` so the caller can
    require one currency. Refused: ``inf``/``nan`` (and numbers too large for float64),
    decimal commas (``12,5``), and, in a column that has any decimal comma, grouped values
    like ``1,234`` (they could mean 1.234); currency markers outside amount columns; values
    beyond ±``limit`` when given.
    """
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        reading = Reading(series.astype("float64"))
        vals = reading.values.to_numpy()
        reading.refuse(np.isinf(vals), RULE_NOT_FINITE)
        _refuse_beyond(reading, limit)
        return reading
    text = _as_text(series)
    try:
        # Fast path: Arrow's cast reads a clean column in one pass and fails on any bad cell.
        values = text.array._pa_array.cast("float64").to_numpy(zero_copy_only=False)
        reading = Reading(pd.Series(values, index=series.index, name=series.name))
        # Arrow reads "inf" and "nan" too; a present cell must come out finite.
        reading.refuse(~np.isfinite(values) & text.notna().to_numpy(), RULE_NOT_FINITE)
    except Exception:  # noqa: BLE001 - any cast failure means "some cells need the full rules"
        reading = _read_numbers_slowly(text, money)
    _refuse_beyond(reading, limit)
    return reading


def _refuse_beyond(reading: Reading, limit: float | None) -> None:
    if limit is not None:
        values = reading.values.to_numpy(dtype="float64", na_value=np.nan)
        reading.refuse(np.abs(np.nan_to_num(values)) > limit, f"implausibly large (beyond ±{limit:.0e})")


def _read_numbers_slowly(text: pd.Series, money: bool) -> Reading:
    codes, uniques, first = _codes(text)
    k = len(uniques)
    plain = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce").to_numpy(dtype="float64")
    values = plain.copy()
    rule = np.full(k, None, dtype=object)
    currency = np.full(k, None, dtype=object)
    grouped = np.zeros(k, dtype=bool)
    rule[np.isinf(plain)] = RULE_NOT_FINITE
    normalised = _normalise_width(uniques)
    for i in np.flatnonzero(np.isnan(plain)):
        values[i], currency[i], rule[i], grouped[i] = _read_number_text(normalised[i])
    decimal_comma = np.array([bool(_DECIMAL_COMMA.fullmatch(v)) and not grouped[i] for i, v in enumerate(normalised)])
    if decimal_comma.any():
        example = int(np.flatnonzero(decimal_comma)[np.argmin(first[decimal_comma])])
        rule[decimal_comma] = "decimal comma is not read (export numbers with a decimal point)"
        rule[grouped & (rule == None)] = (  # noqa: E711 - elementwise comparison on an object array
            f"comma could be a thousands or a decimal separator: this column also has {uniques[example]}"
        )
    has_currency = currency != None  # noqa: E711 - elementwise comparison on an object array
    if not money:
        rule[has_currency & (rule == None)] = "currency marker in a column that is not an amount"  # noqa: E711
    cells = np.where(codes >= 0, values[np.maximum(codes, 0)] if k else np.nan, np.nan)
    reading = Reading(pd.Series(cells, index=text.index, name=text.name))
    for name in sorted({r for r in rule if r}):
        reading.refuse(_per_cell(codes, rule == name), name)
    if money:
        ok = has_currency & (rule == None)  # noqa: E711
        cell_counts = np.bincount(codes[codes >= 0], minlength=k)
        for i in np.flatnonzero(ok)[np.argsort(first[ok], kind="stable")]:
            count, position = reading.currencies.get(currency[i], (0, int(first[i])))
            reading.currencies[currency[i]] = (count + int(cell_counts[i]), position)
    return reading


def parse_numbers(series: pd.Series) -> pd.Series:
    """Numbers of a column by the rules of :func:`read_numbers`; refused cells become NaN."""
    return read_numbers(series, money=True).values


def parse_bools(series: pd.Series, true_values: Iterable[str], false_values: Iterable[str]) -> pd.Series:
    """Map yes/no text to booleans (case-insensitive). Unknown text stays as it is, so the
    schema can report it; missing stays missing."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(object)
    lookup = {str(v).casefold(): True for v in true_values} | {str(v).casefold(): False for v in false_values}

    def convert(uniques: pd.Index) -> list[Any]:
        return [lookup.get(str(u).casefold(), u) for u in uniques]

    if pd.api.types.is_numeric_dtype(series):
        return _factorized(series, lambda u: [lookup.get(_text(v), v) for v in u])
    return _factorized(_as_text(series), convert)


def _canonical_values(series: pd.Series, allowed: list[Any]) -> pd.Series:
    """Match allowed labels case-insensitively (``Direct`` -> ``direct``); others unchanged."""
    lookup = {str(v).casefold(): str(v) for v in allowed}
    return _factorized(series, lambda u: [lookup.get(str(v).casefold(), v) for v in u]).astype(ARROW_STR)


def parse_table(
    frame: pd.DataFrame,
    table: str,
    config: dict[str, Any],
    file: str,
    *,
    excel_cells: bool = False,
    currencies: list[CurrencySighting] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn a raw frame (text or typed cells, row numbers as index) into contract types.

    Returns the parsed frame and the parse failures (cells refused by :func:`read_dates`,
    :func:`read_numbers`, yes/no parsing or the text rules, reported with their original
    text). Columns not in the contract are kept as they are. ``excel_cells``: the frame
    comes from an XLSX sheet, whose number cells in a date column are Excel serial dates.
    ``currencies``, when given, receives the currency markers found in amount columns
    (the caller checks that the data speaks one currency).
    """
    validation = config.get("validation", {})
    io_config = config["io"]
    # A table without a configured format is detected from its values (None).
    date_format = io_config["date_format"].get(table)
    out = frame.copy()
    found: list[pd.DataFrame] = []
    for fld in TABLES[table]:
        if fld.name not in out.columns:
            continue
        raw = out[fld.name]
        if fld.kind == "str":
            text = _as_text(raw)
            found.append(_long_cells(text, raw, file, fld.name))
            out[fld.name] = _canonical_values(text, validation.get(fld.allowed, [])) if fld.allowed else text
            continue
        if fld.kind == "date":
            # Raw cells: an XLSX column holds typed dates and numbers beside text.
            reading = read_dates(
                raw,
                date_format=date_format,
                text_serials=bool(io_config["csv_excel_serial_dates"]),
                excel_cells=excel_cells,
                setting=f"io.date_format.{table}",
            )
        source = _as_text(raw) if _is_textual(raw) else raw
        if fld.kind in ("int", "float"):
            limit = MAX_ABS_WHOLE if fld.kind == "int" else MAX_ABS_AMOUNT
            reading = read_numbers(source, money=fld.money, limit=limit)
            if fld.kind == "int":
                parsed = reading.values
                reading.refuse((parsed.notna() & (parsed % 1 != 0)).to_numpy(), "not a whole number")
            if currencies is not None:
                currencies.extend(
                    CurrencySighting(file, int(raw.index[pos]), fld.name, _text(raw.iloc[pos]), currency, count)
                    for currency, (count, pos) in reading.currencies.items()
                )
        elif fld.kind == "bool":
            present = source.notna()
            parsed = parse_bools(
                source, validation.get("true_values", DEFAULT_TRUE), validation.get("false_values", DEFAULT_FALSE)
            )
            bad = present & ~parsed.map(lambda v: isinstance(v, bool | np.bool_), na_action="ignore").fillna(
                False
            ).astype(bool)
            reading = Reading(parsed)
            reading.refuse(bad.to_numpy(), "not a yes/no value")
        for mask, rule in reading.problems:
            found.append(failures(file, raw.index[mask], fld.name, raw[mask], rule))
        out[fld.name] = reading.values
    report = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=REPORT_COLUMNS)
    return out, report


# A contract cell this long is a broken export (an unclosed quote swallowing lines, a pasted
# document), not an id, a name or a label.
MAX_CELL_CHARS = 1000


def _long_cells(text: pd.Series, raw: pd.Series, file: str, column: str) -> pd.DataFrame:
    """Report contract text cells longer than :data:`MAX_CELL_CHARS` characters."""
    lengths = text.str.len()
    long = (lengths > MAX_CELL_CHARS).fillna(False).to_numpy(dtype=bool)
    if not long.any():
        return pd.DataFrame(columns=REPORT_COLUMNS)
    shown = [f"{v[:60]}... ({len(v)} characters)" for v in text[long]]
    return failures(file, raw.index[long], column, shown, f"cell longer than {MAX_CELL_CHARS} characters")


@dataclass(frozen=True)
class CurrencySighting:
    """Where a currency marker was first seen in one amount column of one file."""

    file: str
    row: int
    column: str
    value: str
    currency: str
    cells: int


def check_currencies(sightings: Iterable[CurrencySighting]) -> pd.DataFrame:
    """Amounts are summed across files and tables, so the data must speak one currency: the
    markers found (:func:`read_numbers`) may name one currency only. The most used one is
    kept; every file and column using another is reported at its first such cell."""
    sightings = list(sightings)
    totals: dict[str, int] = {}
    for s in sightings:
        totals[s.currency] = totals.get(s.currency, 0) + s.cells
    if len(totals) < 2:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    main = max(totals, key=lambda c: totals[c])
    ref = next(s for s in sightings if s.currency == main)
    rows = [
        [
            s.file,
            s.row,
            s.column,
            s.value,
            f"amounts in {s.currency} ({s.cells} cell{'s' if s.cells != 1 else ''}) but in {main} elsewhere (e.g. {ref.file} row {ref.row}); "
            "one currency per data folder",
        ]
        for s in sightings
        if s.currency != main
    ]
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


# Unicode control characters (category Cc) other than tab, line feed and carriage return,
# which are field and line separators or legitimate inside a quoted cell.
CONTROL_CHARS = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]"
_CONTROL = re.compile(CONTROL_CHARS)


def check_text(frame: pd.DataFrame, file: str) -> pd.DataFrame:
    """Report cells (and headers) holding control characters, e.g. a NUL byte: each with
    its row, the file's column header and the 1-based character offset of the first one.
    Tab, line feed and carriage return are allowed."""
    found: list[pd.DataFrame] = []
    for i, header in enumerate(frame.columns):
        if m := _CONTROL.search(str(header)):
            found.append(failure(file, f"column {i + 1}", _control_rule(m), row=1, value=_visible(str(header))))
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        if not _is_textual(col):
            continue
        text = col if isinstance(col.dtype, pd.StringDtype) else col.map(_str_or_none).astype(ARROW_STR)
        hit = text.str.contains(CONTROL_CHARS, regex=True).fillna(False).to_numpy(dtype=bool)
        for row, value in zip(col.index[hit], text[hit], strict=True):
            found.append(
                failure(file, str(frame.columns[i]), _control_rule(_CONTROL.search(value)), row, _visible(value))
            )
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=REPORT_COLUMNS)


def _str_or_none(value: Any) -> Any:
    return value if isinstance(value, str) else None


def _control_rule(match: re.Match[str]) -> str:
    return f"control character U+{ord(match.group()):04X} at character {match.start() + 1}"


def _visible(value: str) -> str:
    """The text with control characters spelled out (``\\x00``), cut to 80 characters."""
    shown = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _is_textual(series: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)


# --------------------------------------------------------------------------- pandera


def date_window(config: dict[str, Any], today: pd.Timestamp | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The plausible date window: ``validation.min_date`` .. today + ``max_days_after_today``."""
    validation = config.get("validation", {})
    today = (today or pd.Timestamp.today()).normalize()
    return pd.Timestamp(validation.get("min_date", "2000-01-01")), today + pd.Timedelta(
        days=int(validation.get("max_days_after_today", 400))
    )


def build_schema(table: str, config: dict[str, Any], today: pd.Timestamp | None = None) -> pa.DataFrameSchema:
    """The pandera schema of one table, after :func:`parse_table`: required columns,
    types, non-null values, allowed values from ``config["validation"]``, plausible dates."""
    validation = config.get("validation", {})
    low, high = date_window(config, today)
    columns: dict[str, pa.Column] = {}
    for field in TABLES[table]:
        checks: list[pa.Check] = []
        if field.allowed:
            allowed = [str(v) for v in validation.get(field.allowed, [])]
            checks.append(
                pa.Check(
                    lambda s, a=tuple(allowed): s.isin(a), name=f"not one of: {', '.join(allowed)}", ignore_na=True
                )
            )
        if field.in_date_range:
            checks.append(
                pa.Check(
                    lambda s, lo=low, hi=high: s.between(lo, hi),
                    name=f"date outside {low:%Y-%m-%d} .. {high:%Y-%m-%d}",
                    ignore_na=True,
                )
            )
        if field.bounds:
            lo, hi = field.bounds
            checks.append(
                pa.Check(lambda s, lo=lo, hi=hi: s.between(lo, hi), name=f"outside {lo:g} .. {hi:g}", ignore_na=True)
            )
        if field.non_negative:
            checks.append(pa.Check(lambda s: s >= 0, name=field.non_negative, ignore_na=True))
        if field.kind == "bool":
            checks.append(pa.Check(lambda s: s.isin([True, False]), name="not a yes/no value", ignore_na=True))
        dtype = {"date": "datetime64[ns]", "int": "float64", "float": "float64"}.get(field.kind)
        columns[field.name] = pa.Column(dtype, checks=checks, nullable=field.nullable, required=field.required)
    return pa.DataFrameSchema(columns, name=table, strict=False, coerce=False)


def _rule_from_pandera(check: str) -> str:
    if check == "column_in_dataframe":
        return RULE_MISSING_COLUMN
    if check == "not_nullable":
        return RULE_NULL
    if check.startswith("dtype("):
        return f"wrong type, expected {check[6:-1].strip(chr(39))}"
    return check


def validate_table(
    frame: pd.DataFrame,
    table: str,
    config: dict[str, Any],
    file: str,
    today: pd.Timestamp | None = None,
    *,
    excel_cells: bool = False,
    currencies: list[CurrencySighting] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse and check one file's frame of ``table``; return the typed frame and every failure.

    ``frame`` has the file's row numbers as index. Cells that failed to parse are reported
    once (as "not a date" etc.), not again as missing values. ``excel_cells`` and
    ``currencies`` are passed to :func:`parse_table`.
    """
    parsed, parse_report = parse_table(frame, table, config, file, excel_cells=excel_cells, currencies=currencies)
    schema = build_schema(table, config, today)
    try:
        with warnings.catch_warnings():
            # pandera's own report assembly triggers a pandas deprecation notice; not ours to act on.
            warnings.filterwarnings("ignore", category=FutureWarning, module="pandera")
            schema.validate(parsed, lazy=True)
        schema_report = pd.DataFrame(columns=REPORT_COLUMNS)
    except SchemaErrors as err:
        cases = err.failure_cases
        schema_report = pd.DataFrame(
            {
                "file": file,
                "row": cases["index"].where(cases["check"] != "column_in_dataframe"),
                "column": cases["column"].where(cases["check"] != "column_in_dataframe", cases["failure_case"]),
                "value": cases["failure_case"].where(~cases["check"].isin(["column_in_dataframe", "not_nullable"]), ""),
                "rule": cases["check"].astype(str).map(_rule_from_pandera),
            }
        )
        if not parse_report.empty:
            # A cell that did not parse shows up as missing too; keep the parse failure only.
            seen = pd.MultiIndex.from_frame(parse_report[["row", "column"]].astype({"row": "int64"}))
            rows = pd.to_numeric(schema_report["row"], errors="coerce")
            is_null = schema_report["rule"].eq(RULE_NULL) & rows.notna()
            key = pd.MultiIndex.from_arrays([rows.fillna(-1).astype("int64"), schema_report["column"].astype(str)])
            schema_report = schema_report[~(is_null & key.isin(seen))]
    report = pd.concat(
        [r for r in (parse_report, schema_report) if not r.empty] or [pd.DataFrame(columns=REPORT_COLUMNS)]
    )
    return parsed, report.reset_index(drop=True)


# --------------------------------------------------------------------------- cross-table


def _file_rows(frame: pd.DataFrame) -> tuple[pd.Series, pd.Index]:
    files = frame[FILE_COL] if FILE_COL in frame.columns else pd.Series("", index=frame.index)
    return files, frame.index


def _repeats(frame: pd.DataFrame, columns: list[str], rule: str, hint: str = "") -> pd.DataFrame:
    """Report rows of ``frame`` repeating an earlier row's ``columns`` (over all its files),
    each naming where the first one is: ``<rule>, first at <file> row <n>[; <hint>]``."""
    keys = frame[columns].reset_index(drop=True)
    repeated = keys.duplicated(keep="first").to_numpy()
    if not repeated.any():
        return pd.DataFrame(columns=REPORT_COLUMNS)
    files, rows = _file_rows(frame)
    files, rows = files.to_numpy(), np.asarray(rows)
    # Rows with equal values get one group number; the first row of each group is where it began.
    group = keys.groupby(columns, sort=False, dropna=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(keys))).groupby(group).transform("min").to_numpy()[repeated]
    value = keys[repeated].map(_cell_text).agg(" + ".join, axis=1)
    tail = f"; {hint}" if hint else ""
    return pd.DataFrame(
        {
            "file": files[repeated],
            "row": rows[repeated],
            "column": " + ".join(columns),
            "value": value.to_numpy(),
            "rule": [f"{rule}, first at {f} row {r}{tail}" for f, r in zip(files[first], rows[first], strict=True)],
        }
    )


def _cell_text(value: Any) -> str:
    return "" if pd.isna(value) else _text(value)


def check_keys(tables: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Report repeated primary keys (:data:`KEYS`), and in the tables of :data:`DISTINCT_ROWS`
    exact duplicate rows (every column equal, extra columns included), over all files of a
    table together. Every occurrence after the first is reported, naming where the first one
    is: ``duplicate key, first at ...`` / ``exact duplicate row, first at ...; <how to tell
    legitimate repeats apart>``."""
    found: list[pd.DataFrame] = []
    for table, key in KEYS.items():
        frame = tables.get(table)
        if frame is None or frame.empty or not set(key) <= set(frame.columns):
            continue
        found.append(_repeats(frame, list(key), "duplicate key"))
    for table, hint in DISTINCT_ROWS.items():
        frame = tables.get(table)
        if frame is None or frame.empty:
            continue
        columns = [c for c in frame.columns if c != FILE_COL]
        found.append(_repeats(frame, columns, "exact duplicate row", hint))
    found = [f for f in found if not f.empty]
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=REPORT_COLUMNS)


RULE_NEGATIVE_PAYMENT = (
    "negative payment: paid_amount is >= 0; only a refund against a return order "
    "(net_amount below zero in orders) is negative"
)

RULE_PAYMENT_ON_RETURN = (
    "positive payment on a return order (net_amount below zero in orders): a refund is a negative paid_amount"
)


def check_payments(tables: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Report payments (``receivables``) that contradict their order in ``orders``.

    Rules, per payment whose ``order_id`` is known (unknown ones are reported by
    :func:`check_references`):

    * a payment is not dated before its order (the order's earliest ``order_date``):
      ``payment dated before its order (order_date <date>, <file> row <n>)``;
    * ``paid_amount`` is >= 0, except a refund against a return order (an order whose
      ``net_amount`` adds up to less than zero), which is <= 0: a negative payment on a sale
      and a positive one on a return are refused.
    """
    pays, orders = tables.get("receivables"), tables.get("orders")
    need_pays, need_orders = {"order_id", "paid_date", "paid_amount"}, {"order_id", "order_date", "net_amount"}
    if pays is None or orders is None or pays.empty or orders.empty:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    if not (need_pays <= set(pays.columns) and need_orders <= set(orders.columns)):
        return pd.DataFrame(columns=REPORT_COLUMNS)
    first_date, net = _per_order(orders, pays["order_id"])
    known = ~np.isnat(first_date) | ~np.isnan(net)
    paid = pays["paid_amount"].to_numpy(dtype="float64", na_value=np.nan)
    paid_date = pays["paid_date"].to_numpy(dtype="datetime64[ns]")
    files, rows = _file_rows(pays)
    files, rows = files.to_numpy(), np.asarray(rows)
    found: list[pd.DataFrame] = []

    early = known & (paid_date < first_date)  # NaT compares False: unreadable dates are reported already
    if early.any():
        where = _order_lines(orders, pays["order_id"].to_numpy()[early], first_date[early])
        found.append(
            pd.DataFrame(
                {
                    "file": files[early],
                    "row": rows[early],
                    "column": "paid_date",
                    "value": pays["paid_date"].to_numpy()[early],
                    "rule": [f"payment dated before its order (order_date {d:%Y-%m-%d}, {w})" for d, w in where],
                }
            )
        )
    refund_on_sale = known & (paid < 0) & (net >= 0)
    payment_on_return = known & (paid > 0) & (net < 0)
    for mask, rule in ((refund_on_sale, RULE_NEGATIVE_PAYMENT), (payment_on_return, RULE_PAYMENT_ON_RETURN)):
        if mask.any():
            found.append(
                pd.DataFrame(
                    {"file": files[mask], "row": rows[mask], "column": "paid_amount", "value": paid[mask], "rule": rule}
                )
            )
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=REPORT_COLUMNS)


def _per_order(orders: pd.DataFrame, ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each id's order: its earliest ``order_date`` and its total ``net_amount`` (NaT and NaN
    for an id not in ``orders``). Order lines are numbered by Arrow's hash lookup of the ids
    and grouped by that number: grouping 300,000 lines by their text id took 0.3-0.45 s."""
    try:
        wanted = pyarrow.array(ids, from_pandas=True)
        distinct = pc.unique(wanted.drop_null())
        line = pc.index_in(pyarrow.array(orders["order_id"], from_pandas=True), value_set=distinct)
        line = line.fill_null(-1).to_numpy(zero_copy_only=False)
        at = pc.index_in(wanted, value_set=distinct).fill_null(-1).to_numpy(zero_copy_only=False)
    except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError, pyarrow.ArrowNotImplementedError):
        distinct = pd.Index(pd.Series(ids, dtype=object).dropna().unique())
        line = distinct.get_indexer(pd.Series(orders["order_id"], dtype=object))
        at = distinct.get_indexer(pd.Series(ids, dtype=object))
    hit = line >= 0
    per_order = (
        pd.DataFrame({"date": orders["order_date"].to_numpy()[hit], "net": orders["net_amount"].to_numpy()[hit]})
        .groupby(line[hit])
        .agg(date=("date", "min"), net=("net", "sum"))
        .reindex(np.arange(len(distinct)))
    )
    take = np.maximum(at, 0)
    dates = per_order["date"].to_numpy(dtype="datetime64[ns]")
    nets = per_order["net"].to_numpy(dtype="float64")
    if not len(dates):
        return np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]"), np.full(len(ids), np.nan)
    return np.where(at >= 0, dates[take], np.datetime64("NaT")).astype("datetime64[ns]"), np.where(
        at >= 0, nets[take], np.nan
    )


def _order_lines(orders: pd.DataFrame, ids: np.ndarray, dates: np.ndarray) -> list[tuple[pd.Timestamp, str]]:
    """For each (order id, date): the date and ``<file> row <n>`` of the order's first line of that date."""
    files, rows = _file_rows(orders)
    wanted = _known(orders["order_id"], pd.Series(ids, dtype=object)) & orders["order_id"].notna().to_numpy()
    lines = pd.DataFrame(
        {
            "order_id": orders["order_id"].to_numpy()[wanted].astype(object),
            "date": orders["order_date"].to_numpy()[wanted],
            "where": [f"{f} row {r}" for f, r in zip(files.to_numpy()[wanted], np.asarray(rows)[wanted], strict=True)],
        }
    ).drop_duplicates(["order_id", "date"])
    where = lines.set_index(["order_id", "date"])["where"]
    return [(pd.Timestamp(d), where.get((str(i), pd.Timestamp(d)), "orders")) for i, d in zip(ids, dates, strict=True)]


# Labels another table should know, but whose absence is only worth a warning (a target for
# a product line about to launch is legitimate).
SOFT_REFERENCES: dict[str, dict[str, tuple[str, str]]] = {
    "pipeline": {"product_line": ("products", "product_line")},
    "targets": {"product_line": ("products", "product_line")},
}


def _known(values: pd.Series, reference: pd.Series) -> np.ndarray:
    """Whether each value is missing or among ``reference``'s values. Arrow's hash-set lookup
    when both are Arrow-backed text (the validated columns are): pandas' ``isin`` took 5.5 s
    to check a receivables table's order ids against three million order lines."""
    try:
        lookup = pc.unique(pyarrow.array(reference.dropna(), from_pandas=True))
        found = pc.is_in(pyarrow.array(values, from_pandas=True), value_set=lookup)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool) | values.isna().to_numpy()
    except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError, pyarrow.ArrowNotImplementedError):
        return (values.isna() | values.isin(reference.dropna().unique())).to_numpy()


def check_references(
    tables: dict[str, pd.DataFrame | None], references: dict[str, dict[str, tuple[str, str]]] | None = None
) -> pd.DataFrame:
    """Report ids that the referenced table does not know (``references``, default
    :data:`REFERENCES`), e.g. an order's ``rep_id`` missing from reps. Missing ids are left
    to the null checks. With the default references, payments are also checked against their
    orders (:func:`check_payments`: not dated before the order, the order's sign)."""
    found: list[pd.DataFrame] = [] if references is not None else [check_payments(tables)]
    for table, refs in (REFERENCES if references is None else references).items():
        frame = tables.get(table)
        if frame is None or frame.empty:
            continue
        files, rows = _file_rows(frame)
        for column, (ref_table, ref_column) in refs.items():
            target = tables.get(ref_table)
            if column not in frame.columns or target is None or ref_column not in target.columns:
                continue
            values = frame[column]
            unknown = ~_known(values, target[ref_column])
            if unknown.any():
                found.append(
                    pd.DataFrame(
                        {
                            "file": files.to_numpy()[unknown],
                            "row": np.asarray(rows)[unknown],
                            "column": column,
                            "value": values.to_numpy()[unknown],
                            "rule": f"unknown {column} (not in {ref_table})",
                        }
                    )
                )
    found = [f for f in found if not f.empty]
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=REPORT_COLUMNS)
