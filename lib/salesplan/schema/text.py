"""Text cells: trimming, distinct-value tricks for repetitive exports, a column's reading into
its contract type, and control characters."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from salesplan.schema.report import REPORT_COLUMNS, failure

# Arrow-backed strings while parsing: trimming, membership tests and casts are vectorised
# and memory-light; the loaded tables convert them to plain Python ``str`` (object dtype).
ARROW_STR = pd.StringDtype("pyarrow")


def factorized(series: pd.Series, transform) -> pd.Series:
    """Apply ``transform`` (Index -> array-like) to the distinct values only and spread the
    result back: cheap for the repetitive columns of an export."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.asarray(transform(pd.Index(uniques)), dtype=object)
    out = np.empty(len(series), dtype=object)
    if len(mapped):
        out[:] = mapped.take(np.where(codes < 0, 0, codes))
    out[codes < 0] = np.nan
    return pd.Series(out, index=series.index, name=series.name)


def as_text(series: pd.Series) -> pd.Series:
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
    return factorized(series, lambda u: u.astype(str))


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


def text_codes(text: pd.Series) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Factorize text: codes per cell (-1 = missing), the distinct values in order of first
    appearance, and the position of each distinct value's first cell."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    values = [str(u) for u in uniques]
    first = np.full(len(values), -1, dtype=np.int64)
    present = np.flatnonzero(codes >= 0)
    first[codes[present][::-1]] = present[::-1]
    return codes, values, first


def per_cell(codes: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """Spread a per-distinct-value boolean array to the cells (missing cells: False)."""
    if not len(flags):
        return np.zeros(len(codes), dtype=bool)
    return np.where(codes >= 0, flags[np.maximum(codes, 0)], False)


def normalise_width(values: list[str]) -> list[str]:
    # Full-width digits, signs, separators and ￥ (typed with a Chinese IME) are the same
    # characters as their ASCII forms under NFKC; nothing else a number or date uses changes.
    return [v if v.isascii() else unicodedata.normalize("NFKC", v).strip() for v in values]


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
        if not is_textual(col):
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


def is_textual(series: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)
