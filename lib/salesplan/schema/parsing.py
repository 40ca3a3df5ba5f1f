"""Parsing a raw frame into contract types: every refused cell reported with its original text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from salesplan.config import as_settings
from salesplan.schema.contract import TABLES
from salesplan.schema.dates import read_dates
from salesplan.schema.numbers import MAX_ABS_AMOUNT, MAX_ABS_WHOLE, CurrencySighting, read_numbers
from salesplan.schema.report import REPORT_COLUMNS, failures, value_text
from salesplan.schema.text import ARROW_STR, Reading, as_text, factorized, is_textual
from salesplan.settings import Settings


def parse_bools(series: pd.Series, true_values: Iterable[str], false_values: Iterable[str]) -> pd.Series:
    """Map yes/no text to booleans (case-insensitive). Unknown text stays as it is, so the
    schema can report it; missing stays missing."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(object)
    lookup = {str(v).casefold(): True for v in true_values} | {str(v).casefold(): False for v in false_values}

    def convert(uniques: pd.Index) -> list[Any]:
        return [lookup.get(str(u).casefold(), u) for u in uniques]

    if pd.api.types.is_numeric_dtype(series):
        return factorized(series, lambda u: [lookup.get(value_text(v), v) for v in u])
    return factorized(as_text(series), convert)


def _canonical_values(series: pd.Series, allowed: list[Any]) -> pd.Series:
    """Match allowed labels case-insensitively (``Direct`` -> ``direct``); others unchanged."""
    lookup = {str(v).casefold(): str(v) for v in allowed}
    return factorized(series, lambda u: [lookup.get(str(v).casefold(), v) for v in u]).astype(ARROW_STR)


def parse_table(
    frame: pd.DataFrame,
    table: str,
    config: Settings | Mapping[str, Any],
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
    settings = as_settings(config)
    validation = settings.validation
    # A table without a configured format is detected from its values (None).
    date_format = settings.io.date_format.get(table)
    out = frame.copy()
    found: list[pd.DataFrame] = []
    for fld in TABLES[table]:
        if fld.name not in out.columns:
            continue
        raw = out[fld.name]
        if fld.kind == "str":
            text = as_text(raw)
            found.append(long_cells(text, raw, file, fld.name))
            out[fld.name] = _canonical_values(text, getattr(validation, fld.allowed)) if fld.allowed else text
            continue
        if fld.kind == "date":
            # Raw cells: an XLSX column holds typed dates and numbers beside text.
            reading = read_dates(
                raw,
                date_format=date_format,
                text_serials=bool(settings.io.csv_excel_serial_dates),
                excel_cells=excel_cells,
                setting=f"io.date_format.{table}",
            )
        source = as_text(raw) if is_textual(raw) else raw
        if fld.kind in ("int", "float"):
            limit = MAX_ABS_WHOLE if fld.kind == "int" else MAX_ABS_AMOUNT
            reading = read_numbers(source, money=fld.money, limit=limit)
            if fld.kind == "int":
                parsed = reading.values
                reading.refuse((parsed.notna() & (parsed % 1 != 0)).to_numpy(), "not a whole number")
            if currencies is not None:
                currencies.extend(
                    CurrencySighting(file, int(raw.index[pos]), fld.name, value_text(raw.iloc[pos]), currency, count)
                    for currency, (count, pos) in reading.currencies.items()
                )
        elif fld.kind == "bool":
            present = source.notna()
            parsed = parse_bools(source, validation.true_values, validation.false_values)
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


def long_cells(text: pd.Series, raw: pd.Series, file: str, column: str) -> pd.DataFrame:
    """Report contract text cells longer than :data:`MAX_CELL_CHARS` characters."""
    lengths = text.str.len()
    long = (lengths > MAX_CELL_CHARS).fillna(False).to_numpy(dtype=bool)
    if not long.any():
        return pd.DataFrame(columns=REPORT_COLUMNS)
    shown = [f"{v[:60]}... ({len(v)} characters)" for v in text[long]]
    return failures(file, raw.index[long], column, shown, f"cell longer than {MAX_CELL_CHARS} characters")
