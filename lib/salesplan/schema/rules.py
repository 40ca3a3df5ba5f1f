"""The per-table rules as a pandera schema: required columns, types, non-null, allowed values,
plausible dates; run after parsing, all failures collected at once."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from salesplan.schema.contract import TABLES, validation_section
from salesplan.schema.numbers import CurrencySighting
from salesplan.schema.parsing import parse_table
from salesplan.schema.report import REPORT_COLUMNS

RULE_MISSING_COLUMN = "required column missing"
RULE_NULL = "missing value"


def date_window(config: dict[str, Any], today: pd.Timestamp | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The plausible date window: ``validation.min_date`` .. today + ``validation.max_days_after_today``
    (a key the configuration lacks takes its ``defaults.yaml`` value)."""
    validation = validation_section(config)
    today = (today or pd.Timestamp.today()).normalize()
    return pd.Timestamp(validation["min_date"]), today + pd.Timedelta(days=int(validation["max_days_after_today"]))


def build_schema(table: str, config: dict[str, Any], today: pd.Timestamp | None = None) -> pa.DataFrameSchema:
    """The pandera schema of one table, after :func:`parse_table`: required columns,
    types, non-null values, allowed values from ``config["validation"]``, plausible dates."""
    validation = validation_section(config)
    low, high = date_window(config, today)
    columns: dict[str, pa.Column] = {}
    for field in TABLES[table]:
        checks: list[pa.Check] = []
        if field.allowed:
            allowed = [str(v) for v in validation[field.allowed]]
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
