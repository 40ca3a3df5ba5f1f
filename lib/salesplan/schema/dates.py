"""Reading date columns: one layout decided per column from all its values."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd

from salesplan.schema.text import Reading, as_text, normalise_width, per_cell, text_codes

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
        text = as_text(series.where(is_text) if not is_text.all() else series)
        codes, uniques, first = text_codes(text)
        if uniques:
            counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
            found, rules = _read_date_texts(
                normalise_width(uniques), counts, first, series.index, date_format, text_serials, setting
            )
            cells = codes >= 0
            values[cells] = found[codes[cells]]
            problems.extend((per_cell(codes, flags), rule) for flags, rule in rules)
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
