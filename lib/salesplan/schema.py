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
    applies the ``min_date`` .. today + ``max_days_after_today`` window.
    """

    name: str
    kind: Kind = "str"
    required: bool = True
    nullable: bool = False
    allowed: str | None = None
    in_date_range: bool = False
    bounds: tuple[float, float] | None = None


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
        Field("net_amount", "float"),
        Field("cost_amount", "float", required=False, nullable=True),
        Field("paid_amount", "float", required=False, nullable=True),
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
        Field("amount", "float"),
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
        Field("target_amount", "float"),
        Field("version", required=False, nullable=True),
    ),
}

REQUIRED_TABLES: tuple[str, ...] = ("orders", "products", "customers", "reps")
OPTIONAL_TABLES: tuple[str, ...] = ("pipeline", "targets")

# Primary keys: a repeated key is a failure (checked over all files of a table together).
KEYS: dict[str, tuple[str, ...]] = {
    "orders": ("order_id", "sku"),
    "products": ("sku",),
    "customers": ("customer_id",),
    "reps": ("rep_id",),
    "pipeline": ("opportunity_id", "snapshot_date"),
}

# table -> column -> (referenced table, referenced key column)
REFERENCES: dict[str, dict[str, tuple[str, str]]] = {
    "orders": {"rep_id": ("reps", "rep_id"), "sku": ("products", "sku"), "customer_id": ("customers", "customer_id")},
    "pipeline": {"rep_id": ("reps", "rep_id"), "customer_id": ("customers", "customer_id")},
    "targets": {"rep_id": ("reps", "rep_id")},
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


def count_problems(report: pd.DataFrame) -> pd.Series:
    """Number of problems per rule, most frequent first, counting the ones a capped
    report left out (its "... and N more" rows)."""
    more = report["value"].astype(str).str.extract(rf"^{re.escape(MORE_PREFIX)}(\d+) more$")[0]
    weight = pd.to_numeric(more, errors="coerce").fillna(1).astype("int64")
    counts = weight.groupby(report["rule"].to_numpy()).sum()
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


def parse_dates(series: pd.Series) -> pd.Series:
    """Parse date text to ``datetime64[ns]``: ISO 8601 first (``2024-01-31``,
    ``2024-01-31 00:00:00``), then other common layouts (``2024/1/31``, ``2024年1月31日``).
    Unparseable cells become NaT."""
    if pd.api.types.is_datetime64_any_dtype(series):
        out = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) is not None else series
        return out.astype("datetime64[ns]")

    def parse(uniques: pd.Index) -> np.ndarray:
        text = pd.Series(uniques.astype(str), dtype=object)
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
        retry = parsed.isna()
        if retry.any():
            alt = text[retry].str.replace(r"(\d+)\s*年\s*(\d+)\s*月\s*(\d+)\s*日?", r"\1-\2-\3", regex=True)
            parsed[retry] = pd.to_datetime(alt, format="mixed", errors="coerce")
        return parsed.to_numpy(dtype="datetime64[ns]")

    return pd.to_datetime(_factorized(_as_text(series), parse)).astype("datetime64[ns]")


def parse_numbers(series: pd.Series) -> pd.Series:
    """Parse number text to float64, allowing thousands separators (``1,234.5``).
    Unparseable cells become NaN."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    if pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    text = _as_text(series)
    if text.str.contains(",", regex=False).any():
        grouped = text.str.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?").fillna(False).astype(bool)
        text = text.where(~grouped, text.str.replace(",", "", regex=False))
    try:
        # Fast path: Arrow's cast handles a clean column in one pass and fails on any bad cell.
        return pd.Series(text.array._pa_array.cast("float64").to_numpy(zero_copy_only=False), index=series.index)
    except Exception:  # noqa: BLE001 - any cast failure means "some cells are not numbers"
        return pd.to_numeric(text.astype(object), errors="coerce").astype("float64")


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
    frame: pd.DataFrame, table: str, config: dict[str, Any], file: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn a raw frame (text or typed cells, row numbers as index) into contract types.

    Returns the parsed frame and the parse failures (cells that are not a date, number,
    whole number or yes/no value, reported with their original text). Columns not in the
    contract are kept as they are.
    """
    validation = config.get("validation", {})
    out = frame.copy()
    found: list[pd.DataFrame] = []
    for field in TABLES[table]:
        if field.name not in out.columns:
            continue
        raw = out[field.name]
        if field.kind == "str":
            text = _as_text(raw)
            out[field.name] = _canonical_values(text, validation.get(field.allowed, [])) if field.allowed else text
            continue
        source = _as_text(raw) if _is_textual(raw) else raw
        present = source.notna()
        if field.kind == "date":
            parsed = parse_dates(source)
            bad = parsed.isna() & present
            rule = "not a date"
        elif field.kind in ("int", "float"):
            parsed = parse_numbers(source)
            bad = parsed.isna() & present
            rule = "not a number"
            if field.kind == "int":
                fractional = parsed.notna() & (parsed % 1 != 0)
                if fractional.any():
                    found.append(
                        failures(file, raw.index[fractional], field.name, raw[fractional], "not a whole number")
                    )
                    parsed = parsed.mask(fractional)
        else:
            parsed = parse_bools(
                source, validation.get("true_values", DEFAULT_TRUE), validation.get("false_values", DEFAULT_FALSE)
            )
            bad = present & ~parsed.map(lambda v: isinstance(v, bool | np.bool_), na_action="ignore").fillna(
                False
            ).astype(bool)
            rule = "not a yes/no value"
            parsed = parsed.mask(bad)
        if bad.any():
            found.append(failures(file, raw.index[bad], field.name, raw[bad], rule))
        out[field.name] = parsed
    report = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=REPORT_COLUMNS)
    return out, report


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
    frame: pd.DataFrame, table: str, config: dict[str, Any], file: str, today: pd.Timestamp | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse and check one file's frame of ``table``; return the typed frame and every failure.

    ``frame`` has the file's row numbers as index. Cells that failed to parse are reported
    once (as "not a date" etc.), not again as missing values.
    """
    parsed, parse_report = parse_table(frame, table, config, file)
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


def check_keys(tables: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Report repeated primary keys (:data:`KEYS`), over all files of a table together.
    Every occurrence after the first is reported, naming where the first one is."""
    found: list[pd.DataFrame] = []
    for table, key in KEYS.items():
        frame = tables.get(table)
        if frame is None or frame.empty or not set(key) <= set(frame.columns):
            continue
        keys = frame[list(key)].reset_index(drop=True)
        repeated = keys.duplicated(keep="first").to_numpy()
        if not repeated.any():
            continue
        files, rows = _file_rows(frame)
        files, rows = files.to_numpy(), np.asarray(rows)
        group = keys.groupby(list(key), sort=False, dropna=False).ngroup().to_numpy()
        first = pd.Series(np.arange(len(keys))).groupby(group).transform("min").to_numpy()[repeated]
        dup = keys[repeated]
        value = dup.map(_text).agg(" + ".join, axis=1) if len(key) > 1 else dup[key[0]].map(_text)
        found.append(
            pd.DataFrame(
                {
                    "file": files[repeated],
                    "row": rows[repeated],
                    "column": " + ".join(key),
                    "value": value.to_numpy(),
                    "rule": [
                        f"duplicate key, first at {f} row {r}" for f, r in zip(files[first], rows[first], strict=True)
                    ],
                }
            )
        )
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=REPORT_COLUMNS)


# Labels another table should know, but whose absence is only worth a warning (a target for
# a product line about to launch is legitimate).
SOFT_REFERENCES: dict[str, dict[str, tuple[str, str]]] = {
    "pipeline": {"product_line": ("products", "product_line")},
    "targets": {"product_line": ("products", "product_line")},
}


def check_references(
    tables: dict[str, pd.DataFrame | None], references: dict[str, dict[str, tuple[str, str]]] | None = None
) -> pd.DataFrame:
    """Report ids that the referenced table does not know (``references``, default
    :data:`REFERENCES`), e.g. an order's ``rep_id`` missing from reps. Missing ids are left
    to the null checks."""
    found: list[pd.DataFrame] = []
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
            unknown = (values.notna() & ~values.isin(target[ref_column].dropna().unique())).to_numpy()
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
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=REPORT_COLUMNS)
