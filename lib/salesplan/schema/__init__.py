"""The data contract: per-table pandera schemas, cross-table rules and the error report.

Validation runs in three steps, and every failure of every step is collected before
anything is raised:

1. **Parse** (:func:`parse_table`, :mod:`.parsing` with :mod:`.dates`, :mod:`.numbers` and
   :mod:`.text`): text cells become typed columns (dates, numbers, booleans; identifiers and
   labels stay strings with surrounding whitespace removed). A cell that cannot be parsed is a
   failure carrying the original text.
2. **Per-table checks** (:func:`validate_table`, :mod:`.rules`): a pandera ``DataFrameSchema``
   built from :data:`TABLES` (:mod:`.contract`) and ``config["validation"]`` checks required
   columns, types, non-null values, allowed values and plausible date ranges, lazily (all
   failures at once).
3. **Cross-table checks** (:func:`check_keys`, :func:`check_references`, :mod:`.cross_table`):
   duplicate keys across all files of a table and references to unknown reps, products and
   customers.

Failures are rows of a *report* (:mod:`.report`) with the columns ``file, row, column, value,
rule``. ``row`` is the line number the user sees in the file: the header is line 1, the first
data row is line 2 (the same numbering is used for XLSX sheet rows and for Parquet records).
Problems that concern a whole file or column (a missing column, a missing table) have no row.

Frames handled here carry the source row numbers as their index and the source file
name in the column :data:`FILE_COL`; :mod:`salesplan.io` sets both and removes them from
the tables it returns.
"""

from __future__ import annotations

from salesplan.schema.contract import (
    DISTINCT_ROWS,
    FILE_COL,
    KEYS,
    OPTIONAL_TABLES,
    REFERENCES,
    REQUIRED_TABLES,
    RULE_NEGATIVE_SPEND,
    SOFT_REFERENCES,
    TABLES,
    Field,
    Kind,
    validation_section,
)
from salesplan.schema.cross_table import (
    RULE_NEGATIVE_PAYMENT,
    RULE_PAYMENT_ON_RETURN,
    check_keys,
    check_payments,
    check_references,
)
from salesplan.schema.dates import EXCEL_EPOCH, RULE_NOT_DATE, parse_dates, read_dates
from salesplan.schema.numbers import (
    CURRENCY_NAMES,
    MAX_ABS_AMOUNT,
    MAX_ABS_WHOLE,
    RULE_NOT_FINITE,
    RULE_NOT_NUMBER,
    CurrencySighting,
    check_currencies,
    parse_numbers,
    read_numbers,
)
from salesplan.schema.parsing import MAX_CELL_CHARS, parse_bools, parse_table
from salesplan.schema.report import (
    MORE_PREFIX,
    REPORT_COLUMNS,
    DataValidationError,
    cap_report,
    count_problems,
    empty_report,
    failure,
    failures,
    format_report,
    normalise_report,
)
from salesplan.schema.rules import RULE_MISSING_COLUMN, RULE_NULL, build_schema, date_window, validate_table
from salesplan.schema.text import ARROW_STR, CONTROL_CHARS, Reading, check_text, to_object_str

__all__ = [
    "ARROW_STR",
    "CONTROL_CHARS",
    "CURRENCY_NAMES",
    "DISTINCT_ROWS",
    "EXCEL_EPOCH",
    "FILE_COL",
    "KEYS",
    "MAX_ABS_AMOUNT",
    "MAX_ABS_WHOLE",
    "MAX_CELL_CHARS",
    "MORE_PREFIX",
    "OPTIONAL_TABLES",
    "REFERENCES",
    "REPORT_COLUMNS",
    "REQUIRED_TABLES",
    "RULE_MISSING_COLUMN",
    "RULE_NEGATIVE_PAYMENT",
    "RULE_NEGATIVE_SPEND",
    "RULE_NOT_DATE",
    "RULE_NOT_FINITE",
    "RULE_NOT_NUMBER",
    "RULE_NULL",
    "RULE_PAYMENT_ON_RETURN",
    "SOFT_REFERENCES",
    "TABLES",
    "CurrencySighting",
    "DataValidationError",
    "Field",
    "Kind",
    "Reading",
    "build_schema",
    "cap_report",
    "check_currencies",
    "check_keys",
    "check_payments",
    "check_references",
    "check_text",
    "count_problems",
    "date_window",
    "empty_report",
    "failure",
    "failures",
    "format_report",
    "normalise_report",
    "parse_bools",
    "parse_dates",
    "parse_numbers",
    "parse_table",
    "read_dates",
    "read_numbers",
    "to_object_str",
    "validate_table",
    "validation_section",
]
