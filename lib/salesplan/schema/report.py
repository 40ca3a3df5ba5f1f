"""The error report: one row per failure (``file, row, column, value, rule``), its order, its
counts, its text rendering and the exception that carries it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPORT_COLUMNS = ["file", "row", "column", "value", "rule"]
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
        out[col] = out[col].map(value_text, na_action="ignore").fillna("").astype(object)
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


def value_text(value: Any) -> str:
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
