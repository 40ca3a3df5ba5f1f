"""CSV files people open in a spreadsheet: Excel-friendly encoding and no formula injection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

# A spreadsheet treats a cell starting with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` where every text cell starting with ``= + - @``, a tab or a carriage
    return is prefixed with a single quote, so a spreadsheet shows it as text instead of
    running it as a formula. Numbers are left as numbers."""

    def fix(value: Any) -> Any:
        return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(fix)
    return out


def write_spreadsheet_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as UTF-8 CSV with BOM (Excel reads Chinese names correctly) and CRLF
    line ends, with formula-like text neutralised. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_formulas(frame).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    return path
