"""Reading the exports in ``data/raw``: files, encodings, header mapping, validation, cache.

``load_data(data_dir, config)`` is the one entry point. It finds the files of each table
(names starting with ``orders``, ``products``, ``customers``, ``reps`` and the optional
``pipeline``, ``targets``, ``actions``, ``activities``, ``spend``, ``nps``, ``receivables``;
``.csv``, ``.xlsx`` or ``.parquet``; several files of a table are read together), maps their headers to the contract names (the settings' ``columns.<table>``: source
header -> contract name; surrounding whitespace ignored), parses and validates them
(:mod:`salesplan.schema`) and returns a :class:`Dataset`.

CSV encodings are detected: UTF-16 with its byte-order mark, then UTF-8 (with or without
BOM) strictly, then GB18030 (which covers GBK and GB2312), then ``charset-normalizer``'s
best guess. A file that starts with a UTF-8 BOM but is not UTF-8 (e.g. GBK behind the mark)
is refused, as is a binary file (a ZIP/XLSX, PDF, image ... named ``.csv``). Every cell is
read as text, so identifiers keep their leading zeros.

What is refused rather than guessed (``docs/data-policy.md`` has the full list): a file
with a header but no data rows, a title row above the header, control characters (NUL
...; tab and line breaks are allowed) at their file, row, column and character offset, and
every value rule of :mod:`salesplan.schema`. An XLSX workbook is read from the sheet named
in the settings' ``io.sheet.<table>``, else from the only sheet holding the table's required
columns; several or none is an error listing the sheets.

Types after loading: dates ``datetime64[ns]``; identifiers and labels Python ``str``
(object dtype, missing = NaN); ``quantity``, ``year`` and ``month`` ``int64``; amounts
``float64``; ``high_margin`` ``bool``. Optional contract columns a file lacks are added
empty (NaN / NaT; ``high_margin`` false) and noted in ``Dataset.warnings``.

The validated tables are cached as Parquet under ``data/interim/cache/<key>/``, where the
key hashes the files' contents (SHA-256 of their bytes), the header mapping, the
validation settings and the package version: an unchanged set of exports is not parsed
twice, and any change to one of them builds a new entry.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from salesplan import __version__
from salesplan.config import as_settings, resolve_path
from salesplan.dates import as_dates
from salesplan.files import replace_folder_atomically
from salesplan.schema import (
    ARROW_STR,
    FILE_COL,
    OPTIONAL_TABLES,
    REPORT_COLUMNS,
    REQUIRED_TABLES,
    SOFT_REFERENCES,
    TABLES,
    CurrencySighting,
    DataValidationError,
    cap_report,
    check_currencies,
    check_keys,
    check_references,
    check_text,
    failure,
    failures,
    normalise_report,
    to_object_str,
    validate_table,
)
from salesplan.settings import Settings

log = logging.getLogger(__name__)

SUFFIXES = (".csv", ".xlsx", ".parquet")
DELIMITERS = (",", ";", "\t", "|")
ALL_TABLES: tuple[str, ...] = REQUIRED_TABLES + OPTIONAL_TABLES
DEFAULT_CACHE_DIR = "data/interim/cache"
# Bump when the cached layout or the meaning of the cleaned tables changes.
CACHE_FORMAT = 4
CACHE_KEEP = 5
_CHUNK = 1 << 22
_ARROW_TEXT = {pa.string(): ARROW_STR, pa.large_string(): ARROW_STR}
# Control bytes a text export never holds (tab, LF and CR are structure). In UTF-8 and GB18030
# these byte values only ever encode themselves, so a byte scan finds every such character.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_OTHER_BYTES = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")  # U+0080..U+009F, the C1 controls, in UTF-8
# File signatures of the binary files most often saved under a ".csv" name by mistake.
_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive (an XLSX workbook? name it .xlsx)",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook (save it as .xlsx or CSV)",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip archive",
    b"PAR1": "a Parquet file (name it .parquet)",
}


# The tables with a row per order line or payment: millions of rows in a large export, so a
# month's pages read their aggregates or a column-pruned slice, never the whole table.
LINE_TABLES: tuple[str, ...] = ("orders", "receivables")


@dataclass
class Dataset:
    """The validated input tables, where they came from, and non-fatal findings."""

    orders: pd.DataFrame | None
    """The order lines; None when left out with ``load_data(skip=...)`` (read their aggregates:
    :mod:`salesplan.aggregates`)."""
    products: pd.DataFrame
    customers: pd.DataFrame
    reps: pd.DataFrame
    pipeline: pd.DataFrame | None = None
    targets: pd.DataFrame | None = None
    actions: pd.DataFrame | None = None
    activities: pd.DataFrame | None = None
    spend: pd.DataFrame | None = None
    nps: pd.DataFrame | None = None
    receivables: pd.DataFrame | None = None
    sources: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["table", "file", "sha256", "rows"]))
    warnings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REPORT_COLUMNS))

    def tables(self) -> dict[str, pd.DataFrame | None]:
        """The tables by name (:data:`ALL_TABLES`; absent optional ones as ``None``)."""
        return {name: getattr(self, name) for name in ALL_TABLES}


# --------------------------------------------------------------------------- files


def discover_files(data_dir: Path) -> dict[str, list[Path]]:
    """The data files of each table in ``data_dir``, sorted by name. Hidden files and
    Excel's ``~$`` lock files are skipped."""
    found: dict[str, list[Path]] = {name: [] for name in ALL_TABLES}
    for path in sorted(data_dir.iterdir()):
        name = path.name.lower()
        if not path.is_file() or name.startswith((".", "~$")) or path.suffix.lower() not in SUFFIXES:
            continue
        for table in ALL_TABLES:
            if name.startswith(table):
                found[table].append(path)
                break
    return found


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _is_utf8(data: bytes) -> bool:
    # Chunked so a large export is checked without holding a decoded copy in memory.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        for start in range(0, len(data), _CHUNK):
            decoder.decode(data[start : start + _CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(data: bytes, name: str = "<data>") -> str:
    """The text encoding of CSV bytes: ``utf-16`` if they start with a UTF-16 byte-order
    mark, ``utf-8-sig`` (UTF-8, BOM optional) if they decode strictly as UTF-8, else
    ``gb18030`` if they decode strictly as that, else charset-normalizer's best guess.

    Raises ``DataValidationError`` when nothing fits, and when the bytes start with a UTF-8
    byte-order mark but are not UTF-8: the mark and the text disagree (GBK saved behind a
    UTF-8 mark, or two files pasted together), so any reading would be a guess."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            data.decode("utf-16")
            return "utf-16"
        except UnicodeDecodeError:
            pass
    if _is_utf8(data):
        return "utf-8-sig"
    if data.startswith(codecs.BOM_UTF8):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise DataValidationError(
                failure(
                    name,
                    "",
                    "starts with a UTF-8 byte-order mark but is not UTF-8 from this line on (GBK behind a UTF-8 "
                    "mark, or files of two encodings pasted together); save it again as UTF-8",
                    row=line,
                    value=f"bytes {data[exc.start : exc.start + 8].hex(' ')} at offset {exc.start}",
                )
            ) from None
    try:
        data.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise DataValidationError(
            failure(name, "", "cannot decode the text (tried UTF-8, GB18030 and detection); save it as UTF-8")
        )
    return best.encoding


def _rows_after_skips(n: int, skipped: list[int]) -> np.ndarray:
    """Line numbers of ``n`` parsed records when the lines in ``skipped`` were dropped."""
    rows = np.arange(n, dtype=np.int64) + 2
    for line in sorted(skipped):
        rows[rows >= line] += 1
    return rows


def _binary_kind(data: bytes) -> str | None:
    """What a file that is no text export is (by its signature or its control bytes), else
    None. A few stray control bytes in text are left to the per-cell check."""
    for magic, kind in _SIGNATURES.items():
        if data.startswith(magic):
            return kind
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    head = data[: 1 << 16]
    controls = len(head.translate(None, _OTHER_BYTES))
    # Text with a stray NUL is text (its cells are reported one by one); bytes of which more
    # than 5 % are control bytes are not (random or compressed data has about 11 %).
    return "binary data, not text" if controls >= 16 and controls > 0.05 * len(head) else None


def _fields(line: str, delimiter: str) -> list[str]:
    """The fields of one line; a line cut inside a quoted cell (or holding a bare carriage
    return) is split plainly, which is all the header and title checks need."""
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return line.split(delimiter)


def _title_rows(lines: list[str], delimiter: str) -> tuple[int, int, int] | None:
    """If line 1 looks like a title above the header: (fields on line 1, fields on the lines
    below, the line that looks like the header). Else None."""
    counts: list[tuple[int, int]] = []
    for number, line in enumerate(lines[:20], start=1):
        if line.strip():
            counts.append((number, sum(1 for f in _fields(line, delimiter) if f.strip())))
    if len(counts) < 2 or counts[0][0] != 1:
        return None
    below = [c for _, c in counts[1:]]
    usual = max(set(below), key=below.count)
    if usual >= 3 and counts[0][1] * 2 <= usual:
        header = next(number for number, c in counts[1:] if c == usual)
        return counts[0][1], usual, header
    return None


def _line_numbers(
    frame_rows: np.ndarray, extra_lines: np.ndarray, bad_rows: list[int], bad_extra: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Physical line numbers of records numbered by record (header = 1) when some records
    span several lines (line breaks inside quoted cells): every later record moves down."""
    records = np.concatenate([frame_rows, np.asarray(bad_rows, dtype=np.int64)])
    extra = np.concatenate([extra_lines, np.asarray(bad_extra, dtype=np.int64)])
    order = np.argsort(records, kind="stable")
    shift = np.empty_like(extra)
    shift[order] = np.cumsum(extra[order]) - extra[order]
    lines = records + shift
    return lines[: len(frame_rows)], lines[len(frame_rows) :]


def read_csv(path: Path, data: bytes | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a CSV export as text columns (Arrow-backed strings), index = line numbers
    (header = line 1, a record spanning lines counted at its first line). The field
    separator (``,`` ``;`` tab ``|``) is the one the header line uses most. Returns the
    frame and a report of malformed lines and control characters.

    Refused as a whole (empty frame, one report row): an empty or binary file, a file whose
    encoding cannot be told (:func:`detect_encoding`), a title row above the header.
    """
    data = path.read_bytes() if data is None else data
    empty = pd.DataFrame(index=pd.Index([], dtype="int64"))
    kind = _binary_kind(data)
    if kind is not None:
        return empty, failure(path.name, "", f"not a text export: the bytes are {kind}", value=data[:8].hex(" "))
    encoding = detect_encoding(data, path.name)
    if encoding == "utf-8-sig":
        data = data.removeprefix(codecs.BOM_UTF8)
    else:
        # Read everything else as UTF-8 once: Arrow parses it natively and the byte-level
        # checks below hold for one encoding.
        data = data.decode(encoding).removeprefix("\ufeff").encode("utf-8")
    head = data[: 1 << 16].decode("utf-8", errors="replace").split("\n")
    first_line = head[0].rstrip("\r")
    # Exports from some locales separate fields with ";" or tabs; the header line tells.
    delimiter = max(DELIMITERS, key=first_line.count)
    delimiter = delimiter if first_line.count(delimiter) else ","
    header = _fields(first_line, delimiter)
    if not header or all(not h.strip() for h in header):
        return empty, failure(path.name, "", "file is empty or has no header line")
    # The last piece of the sample may be a cut line; the title check needs whole ones.
    lines = [line.rstrip("\r") for line in (head[:-1] if len(head) > 1 else head)]
    best = max(DELIMITERS, key=lambda d: sum(line.count(d) for line in lines[1:21]))
    title = _title_rows(lines, best)
    if title is not None:
        fields, usual, header_line = title
        return empty, failure(
            path.name,
            "",
            f"a title row above the header? line 1 has {fields} field(s), the lines below {usual}; "
            f"delete the line(s) above the header (line {header_line})",
            row=1,
            value=first_line[:80],
        )
    names = [f"c{i}" for i in range(len(header))]

    def parse(use_threads: bool) -> tuple[pa.Table, list[Any]]:
        bad: list[Any] = []

        def on_invalid(row: Any) -> str:
            bad.append(row)
            return "skip"

        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(
                use_threads=use_threads, skip_rows=1, column_names=names, encoding="utf8", block_size=1 << 24
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, invalid_row_handler=on_invalid, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True, null_values=[""]
            ),
        )
        return table, bad

    try:
        table, bad = parse(use_threads=True)
        if bad and any(row.number is None for row in bad):
            # Line numbers of malformed lines are only known from a single-threaded parse.
            table, bad = parse(use_threads=False)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        return empty, failure(path.name, "", f"cannot parse CSV: {exc}")
    bad_numbers = [row.number for row in bad]
    rows = _rows_after_skips(table.num_rows, bad_numbers)
    bad_lines = np.asarray(bad_numbers, dtype=np.int64)
    if b'"' in data:
        # Only a quoted cell can hold a line break; count them so line numbers stay true.
        extra = np.zeros(table.num_rows, dtype=np.int64)
        for column in table.columns:
            extra += pc.count_substring(column, "\n").fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        bad_extra = [row.text.count("\n") for row in bad]
        if extra.any() or any(bad_extra):
            rows, bad_lines = _line_numbers(rows, extra, bad_numbers, bad_extra)
    frame = table.to_pandas(types_mapper=_ARROW_TEXT.get)
    frame.columns = list(header)
    frame.index = pd.Index(rows, name="row")
    # Blank lines parse as all-empty records; drop them but keep everyone's line numbers.
    maybe_blank = frame.iloc[:, 0].isna().to_numpy()
    if maybe_blank.any():
        blank = frame[maybe_blank].isna().all(axis=1)
        frame = frame.drop(index=blank.index[blank.to_numpy()])
    rule = f"wrong number of fields (header has {len(header)})"
    last_line = data.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    # A last line without its line break that also lacks fields is a cut-off export.
    cut = [bool(last_line.strip()) and row.text == last_line.rstrip("\r") for row in bad]
    reports = [
        failures(
            path.name,
            bad_lines[~np.array(cut, dtype=bool)] if bad else [],
            "",
            [r.text[:80] for r, c in zip(bad, cut, strict=True) if not c],
            rule,
        ),
        failures(
            path.name,
            bad_lines[np.array(cut, dtype=bool)] if bad else [],
            "",
            [r.text[:80] for r, c in zip(bad, cut, strict=True) if c],
            f"{rule}; the file ends mid-line: a truncated export?",
        ),
    ]
    if data.translate(None, _OTHER_BYTES) or _C1_UTF8.search(data):
        reports.append(check_text(frame, path.name))
    return frame, pd.concat(reports, ignore_index=True)


def _cell_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _xlsx_cell(value: Any) -> Any:
    """An XLSX cell as read: dates as Timestamps and numbers as numbers (a date column reads
    them as dates and Excel serials), everything else as text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return pd.Timestamp(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return _cell_text(value)


def _xlsx_as_text(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Turn the typed cells of an XLSX frame into text, except in the table's date columns
    (which read typed dates and serial numbers themselves)."""
    dates = {f.name for f in TABLES[table] if f.kind == "date"}
    out = frame.copy(deep=False)
    for i, name in enumerate(out.columns):
        if name not in dates:
            out.isetitem(i, out.iloc[:, i].map(_cell_text, na_action="ignore").astype(ARROW_STR))
    return out


def _sheet_header(sheet: Any) -> list[str]:
    for values in sheet.iter_rows(min_row=1, max_row=50, values_only=True):
        cells = ["" if v is None else str(_cell_text(v)).strip() for v in values]
        if any(cells):
            return cells
    return []


def _pick_sheet(book: Any, file: str, table: str | None, config: Settings | None) -> tuple[Any, pd.DataFrame]:
    """The sheet holding ``table``: the one named in ``io.sheet``, else the only one, else
    the only one whose header has the table's required columns (after header mapping)."""
    names = list(book.sheetnames)
    wanted = config.io.sheet.get(table) if config is not None and table is not None else None
    if wanted is not None:
        if wanted in names:
            return book[wanted], pd.DataFrame(columns=REPORT_COLUMNS)
        listed = ", ".join(repr(n) for n in names)
        return None, failure(file, "", f"sheet {wanted!r} (io.sheet.{table}) not found; the workbook has {listed}")
    if len(names) == 1 or table is None or config is None:
        return book.worksheets[0], pd.DataFrame(columns=REPORT_COLUMNS)
    mapping = {str(k).strip(): str(v).strip() for k, v in (getattr(config.columns, table, None) or {}).items()}
    required = [f.name for f in TABLES[table] if f.required]
    lacks: dict[str, list[str]] = {}
    for name in names:
        header = {mapping.get(h, h) for h in _sheet_header(book[name])}
        lacks[name] = [c for c in required if c not in header]
    holders = [name for name in names if not lacks[name]]
    if len(holders) == 1:
        return book[holders[0]], pd.DataFrame(columns=REPORT_COLUMNS)
    if holders:
        rule = f"sheets {', '.join(repr(n) for n in holders)} all hold the {table} columns; set io.sheet.{table}"
    else:
        listed = "; ".join(f"{n!r} lacks {', '.join(lacks[n])}" for n in names)
        rule = f"no sheet holds the {table} columns: {listed}; set io.sheet.{table}"
    return None, failure(file, "", rule)


RULE_FORMULA_NO_VALUE = (
    "formula without a saved value: open and save the file in Excel (which stores each formula's value) "
    "or type the value"
)
"""A formula cell whose file holds no computed value (written by a script, never saved by Excel)."""


def _has_formulas(path: Path) -> bool:
    """Whether any worksheet of the XLSX file holds a formula (an ``<f>`` element), read in
    chunks so that a large export is not loaded twice when it has none."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                    continue
                with archive.open(name) as member:
                    tail = b""
                    while chunk := member.read(1 << 20):
                        block = tail + chunk
                        if b"<f>" in block or b"<f " in block or b":f>" in block or b":f " in block:
                            return True
                        tail = block[-3:]
    except (OSError, zipfile.BadZipFile):
        return False
    return False


def _formulas_without_value(path: Path, title: str) -> dict[tuple[int, int], str]:
    """Formula cells of sheet ``title`` that have no saved value: ``(row, column index) ->
    formula``. Excel stores each formula's last value beside it, which is what the sheet is
    read by; a file written by a script and never saved by Excel has none, and reading such a
    cell as blank would silently drop what was typed (a due date ``=DATE(2026,10,20)``)."""
    import itertools

    import openpyxl

    formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
    values = openpyxl.load_workbook(path, read_only=True, data_only=True)
    found: dict[tuple[int, int], str] = {}
    try:
        rows = zip(
            formulas[title].iter_rows(min_row=1, values_only=True),
            values[title].iter_rows(min_row=1, values_only=True),
            strict=False,
        )
        for number, (typed, saved) in enumerate(rows, start=1):
            for col, (formula, value) in enumerate(itertools.zip_longest(typed, saved)):
                if value is None and isinstance(formula, str) and formula.startswith("="):
                    found[(number, col)] = formula
    finally:
        formulas.close()
        values.close()
    return found


def read_xlsx(
    path: Path, table: str | None = None, config: Settings | Mapping[str, Any] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read an XLSX export, index = sheet row numbers. The first non-empty row is the
    header. Cells keep their type (text, number, date; see :func:`_xlsx_cell`).

    The sheet is the settings' ``io.sheet.<table>`` when set, else the only sheet, else the
    only sheet holding the table's required columns (:func:`_pick_sheet`); otherwise an
    error lists the sheets and the columns each lacks. Without ``config`` (or ``table``) the
    first sheet is read.

    A formula cell is read by the value Excel saved with it; a formula without a saved value is
    refused (:data:`RULE_FORMULA_NO_VALUE`), naming its cell address and formula, rather than
    read as blank."""
    import openpyxl

    empty = pd.DataFrame(index=pd.Index([], dtype="int64"))
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a broken file
        return empty, failure(path.name, "", f"cannot open XLSX: {exc}")
    try:
        settings = as_settings(config) if config is not None else None
        sheet, problem = _pick_sheet(book, path.name, table, settings)
        if sheet is None:
            return empty, problem
        unsaved = _formulas_without_value(path, sheet.title) if _has_formulas(path) else {}
        header: list[str] | None = None
        header_row = 0
        records: list[list[Any]] = []
        numbers: list[int] = []
        for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            cells = [_xlsx_cell(v) for v in values]
            if not any(c is not None and str(c).strip() for c in cells):
                continue
            if header is None:
                header, header_row = ["" if c is None else str(_cell_text(c)) for c in cells], number
                continue
            records.append(cells)
            numbers.append(number)
    finally:
        book.close()
    if header is None:
        return empty, failure(path.name, "", "sheet is empty")
    filled = sum(1 for h in header if h.strip())
    if records and filled <= 1 and sum(1 for c in records[0] if c is not None and str(c).strip()) >= 3:
        return empty, failure(
            path.name,
            "",
            f"a title row above the header? row {header_row} has {filled} cell(s), row {numbers[0]} more; "
            "delete the row(s) above the header",
            row=header_row,
            value=next((h for h in header if h.strip()), ""),
        )
    width = len(header)
    spill = [n for n, r in zip(numbers, records, strict=True) if any(c is not None for c in r[width:])]
    report = failures(path.name, spill, "", [""] * len(spill), f"cells beyond the header's {width} columns")
    if unsaved:
        from openpyxl.utils import get_column_letter

        listed = set(numbers)
        cells = sorted((r, c) for r, c in unsaved if r in listed and c < width)
        report = pd.concat(
            [report]
            + [
                failure(
                    path.name,
                    header[c],
                    RULE_FORMULA_NO_VALUE,
                    row=r,
                    value=f"{get_column_letter(c + 1)}{r}: {unsaved[(r, c)]}",
                )
                for r, c in cells
            ],
            ignore_index=True,
        )
    rows = [(r + [None] * width)[:width] for r in records]
    frame = pd.DataFrame(rows, columns=range(width), index=pd.Index(numbers, dtype="int64", name="row"), dtype=object)
    frame.columns = header
    # Columns without a header and without data are artefacts of the sheet's used range.
    keep = [i for i, h in enumerate(header) if h.strip() or frame.iloc[:, i].notna().any()]
    frame = frame.iloc[:, keep]
    if header_row != 1:
        log.info("%s: header found on row %d", path.name, header_row)
    return frame, pd.concat([report, check_text(frame, path.name)], ignore_index=True)


def read_parquet(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a Parquet export with its stored types; records numbered as if exported with a
    header line (first record = 2)."""
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a broken file
        return pd.DataFrame(index=pd.Index([], dtype="int64")), failure(path.name, "", f"cannot read Parquet: {exc}")
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    frame.index = pd.Index(np.arange(len(frame), dtype=np.int64) + 2, name="row")
    return frame, check_text(frame, path.name)


def read_file(
    path: Path, table: str | None = None, config: Settings | Mapping[str, Any] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read one export by its suffix; returns the raw frame (row numbers as index) and a
    report of file-level problems. ``table`` and ``config`` choose an XLSX workbook's sheet."""
    try:
        suffix = path.suffix.lower()
        if suffix == ".xlsx":
            return read_xlsx(path, table, config)
        return read_csv(path) if suffix == ".csv" else read_parquet(path)
    except DataValidationError as err:
        return pd.DataFrame(index=pd.Index([], dtype="int64")), err.report


def map_headers(frame: pd.DataFrame, mapping: dict[str, str] | None, file: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rename source headers to contract names. Headers are compared without surrounding
    whitespace (and without a stray BOM); unmapped headers are kept as they are. Two
    headers landing on the same name are a failure (the first one is kept)."""
    lookup = {str(k).strip(): str(v).strip() for k, v in (mapping or {}).items()}
    names = []
    for header in frame.columns:
        clean = str(header).strip().lstrip("\ufeff").strip()
        names.append(lookup.get(clean, clean))
    out = frame.copy(deep=False)
    out.columns = names
    repeated = pd.Index(names).duplicated()
    report = failures(
        file,
        [None] * int(repeated.sum()),
        "",
        [n for n, r in zip(names, repeated, strict=True) if r],
        "duplicate column header",
    )
    return out.loc[:, ~repeated], report


# --------------------------------------------------------------------------- tables


def _finalise(table: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Give a validated table its documented dtypes, contract columns first; returns the
    optional contract columns that had to be added empty."""
    frame = frame.drop(columns=[FILE_COL], errors="ignore").reset_index(drop=True)
    added: list[str] = []
    for fld in TABLES[table]:
        if fld.name not in frame.columns:
            added.append(fld.name)
            frame[fld.name] = {"date": pd.NaT, "bool": False}.get(fld.kind, np.nan)
        col = frame[fld.name]
        if fld.kind == "str":
            if col.dtype != object:
                frame[fld.name] = to_object_str(col)
        elif fld.kind == "date":
            if col.dtype != "datetime64[ns]":
                frame[fld.name] = as_dates(col).astype("datetime64[ns]")
        elif fld.kind == "int":
            if col.dtype != "int64":
                frame[fld.name] = col.astype("float64").astype("int64")
        elif fld.kind == "float":
            frame[fld.name] = col.astype("float64")
        elif col.dtype != bool:
            frame[fld.name] = col.astype(object).where(col.notna(), False).astype(bool)
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.StringDtype | pd.CategoricalDtype):
            frame[name] = to_object_str(frame[name])
    contract = [f.name for f in TABLES[table]]
    return frame[contract + [c for c in frame.columns if c not in contract]], added


def _sign_warnings(orders: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """Order lines whose quantity and amount point in opposite directions (a return with
    a positive amount or a sale with a negative one)."""
    if not {"quantity", "net_amount"} <= set(orders.columns):
        return pd.DataFrame(columns=REPORT_COLUMNS)
    qty = pd.to_numeric(orders["quantity"], errors="coerce")
    amount = pd.to_numeric(orders["net_amount"], errors="coerce")
    odd = ((qty < 0) & (amount > 0)) | ((qty > 0) & (amount < 0))
    if not odd.any():
        return pd.DataFrame(columns=REPORT_COLUMNS)
    report = failures(
        "",
        orders.index[odd],
        "net_amount",
        amount[odd],
        "quantity and net_amount have opposite signs (return with positive amount?)",
    )
    report["file"] = orders.loc[odd, FILE_COL].astype(str).to_numpy() if FILE_COL in orders.columns else ""
    return cap_report(report, limit)


def _parse_all(
    files: dict[str, list[Path]], config: Settings, today: pd.Timestamp | None
) -> tuple[dict[str, pd.DataFrame | None], pd.DataFrame, pd.DataFrame]:
    problems: list[pd.DataFrame] = []
    notes: list[pd.DataFrame] = []
    tables: dict[str, pd.DataFrame | None] = {}
    currencies: list[CurrencySighting] = []
    for table in ALL_TABLES:
        paths = files.get(table, [])
        if not paths:
            tables[table] = None
            if table in REQUIRED_TABLES:
                problems.append(
                    failure(
                        f"{table}.*", "", f"required table missing: no {table}*.csv, {table}*.xlsx or {table}*.parquet"
                    )
                )
            continue
        parts: list[pd.DataFrame] = []
        unreadable = False
        names = [path.name for path in paths]
        for number, path in enumerate(paths):
            raw, read_report = read_file(path, table, config)
            problems.append(read_report)
            if raw.columns.empty:
                unreadable = True
                continue
            if raw.empty:
                # An export that stopped after its header is a failed export, not a quiet month.
                problems.append(failure(path.name, "", "file has a header but no data rows"))
                continue
            mapped, header_report = map_headers(raw, getattr(config.columns, table, None), path.name)
            problems.append(header_report)
            excel = path.suffix.lower() == ".xlsx"
            if excel:
                mapped = _xlsx_as_text(mapped, table)
            typed, report = validate_table(
                mapped, table, config, path.name, today, excel_cells=excel, currencies=currencies
            )
            problems.append(report)
            for fld in TABLES[table]:
                if not fld.required and fld.name not in typed.columns:
                    notes.append(failure(path.name, fld.name, "optional column absent (left empty)"))
            # The same categories in every part keep the column categorical through concat.
            origin = pd.Categorical.from_codes(np.full(len(typed), number, dtype=np.int16), categories=names)
            parts.append(typed.assign(**{FILE_COL: origin}))
        tables[table] = pd.concat(parts) if parts else None
        # A table whose file could not be read at all has that problem reported already.
        if table in REQUIRED_TABLES and not unreadable and (tables[table] is None or tables[table].empty):
            problems.append(failure(f"{table}.*", "", "table has no data rows"))
    problems.append(check_currencies(currencies))
    problems.append(check_keys(tables))
    problems.append(check_references(tables))
    limit = config.validation.max_failures_per_rule
    if tables.get("orders") is not None:
        notes.append(_sign_warnings(tables["orders"], limit))
    notes.append(cap_report(check_references(tables, SOFT_REFERENCES), limit))
    report = cap_report(
        pd.concat([p for p in problems if not p.empty] or [pd.DataFrame(columns=REPORT_COLUMNS)]), limit
    )
    warnings = pd.concat([n for n in notes if not n.empty] or [pd.DataFrame(columns=REPORT_COLUMNS)])
    return tables, report, warnings


# --------------------------------------------------------------------------- cache


def cache_key(sources: pd.DataFrame, config: Settings | Mapping[str, Any] | None) -> str:
    """Hash of everything the cleaned tables depend on: file contents, header mapping
    (``columns``), reading (``io``) and validation (``validation``) settings, package version
    and cache layout."""
    settings = as_settings(config)
    payload = {
        "format": CACHE_FORMAT,
        "version": __version__,
        "columns": settings.columns.model_dump(),
        "io": settings.io.model_dump(),
        "validation": settings.validation.model_dump(),
        "files": sources[["table", "file", "sha256"]].values.tolist(),
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_cache(entry: Path, skip: Sequence[str] = ()) -> Dataset | None:
    meta_file = entry / "meta.json"
    if not meta_file.exists():
        return None
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        tables: dict[str, pd.DataFrame | None] = {}
        for table in ALL_TABLES:
            if table in meta["tables"] and table not in skip:
                # Text comes back Arrow-backed and is turned into shared str objects by
                # _finalise: far faster than letting pyarrow build millions of objects.
                frame = pq.read_table(entry / f"{table}.parquet").to_pandas(types_mapper=_ARROW_TEXT.get)
                # Only all-empty text columns come back as object, holding None, not NaN.
                for name in [c for c in frame.columns if pd.api.types.is_object_dtype(frame[c])]:
                    frame[name] = frame[name].where(frame[name].notna(), np.nan)
                tables[table], _ = _finalise(table, frame)
            else:
                tables[table] = None
        sources = pd.read_parquet(entry / "sources.parquet")
        warnings = normalise_report(pd.read_parquet(entry / "warnings.parquet"))
        # The Arrow buffers are freed once the tables are in pandas; hand them back to the system.
        pa.default_memory_pool().release_unused()
        return Dataset(**tables, sources=sources, warnings=warnings)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - any unreadable entry is rebuilt, whatever broke it
        log.warning("ignoring unreadable cache entry %s (%s); rebuilding", entry, exc)
        shutil.rmtree(entry, ignore_errors=True)
        return None


def _write_cache(entry: Path, data: Dataset) -> None:
    """Store the validated tables as the cache entry ``entry``, built aside and moved into
    place whole (:func:`salesplan.files.replace_folder_atomically`: a kernel reading the cache
    meanwhile never sees half an entry; when another run stored the same entry first, theirs
    is kept), then prune the oldest entries beyond :data:`CACHE_KEEP`."""
    with replace_folder_atomically(entry) as tmp:
        present = [name for name, frame in data.tables().items() if frame is not None]
        for name in present:
            getattr(data, name).to_parquet(tmp / f"{name}.parquet", index=False)
        data.sources.to_parquet(tmp / "sources.parquet", index=False)
        data.warnings.astype({"row": "float64"}).to_parquet(tmp / "warnings.parquet", index=False)
        (tmp / "meta.json").write_text(
            json.dumps({"tables": present, "version": __version__, "format": CACHE_FORMAT}), encoding="utf-8"
        )
    _prune(entry.parent, keep=CACHE_KEEP)


def _prune(cache_dir: Path, keep: int) -> None:
    entries = [p for p in cache_dir.iterdir() if p.is_dir() and len(p.name) == 64 and not p.name.startswith(".")]
    for old in sorted(entries, key=lambda p: p.stat().st_mtime, reverse=True)[keep:]:
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- entry point


def input_files(
    data_dir: str | os.PathLike[str],
    config: Settings | Mapping[str, Any] | None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[dict[str, list[Path]], pd.DataFrame, Path]:
    """The exports in ``data_dir`` by table, their ``table, file, sha256`` and the cache entry they
    are validated into (keyed by the files' SHA-256, header mapping, reading and validation
    settings and the package version), whether or not it exists yet."""
    folder = resolve_path(data_dir)
    if not folder.is_dir():
        raise DataValidationError(failure(str(folder), "", "data folder not found"))
    files = discover_files(folder)
    sources = pd.DataFrame(
        [(table, path.name, file_sha256(path)) for table, paths in files.items() for path in paths],
        columns=["table", "file", "sha256"],
    )
    return files, sources, resolve_path(cache_dir or DEFAULT_CACHE_DIR) / cache_key(sources, config)


def load_data(
    data_dir: str | os.PathLike[str] = "data/raw",
    config: Settings | Mapping[str, Any] | None = None,
    use_cache: bool = True,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    today: pd.Timestamp | None = None,
    skip: Sequence[str] = (),
) -> Dataset:
    """Load, validate and return the exports in ``data_dir`` (relative to the project root).

    ``skip`` names tables left out of the result (None there), typically the line tables
    (:data:`LINE_TABLES`): they are validated and cached all the same, and a reader that only
    needs their sums loads :mod:`salesplan.aggregates`, or reads the columns and rows it
    needs from the cache (:func:`salesplan.aggregates.cached_table`), instead of millions of lines.

    ``config`` is the settings (:class:`~salesplan.settings.Settings`; a nested dict is
    validated over the defaults, None gives the defaults); its ``columns`` section maps
    headers, its ``io`` section reads dates and sheets and its ``validation`` section sets the rules.
    ``cache_dir`` defaults to ``data/interim/cache``; ``today`` (default: the current date)
    anchors the plausible date window.

    Raises ``salesplan.schema.DataValidationError`` listing every problem found (missing
    tables or columns, unparseable cells, disallowed values, duplicate keys, unknown ids).
    """
    config = as_settings(config)
    files, sources, entry = input_files(data_dir, config, cache_dir)
    if use_cache:
        cached = _read_cache(entry, skip=skip)
        if cached is not None:
            log.info("loaded validated data from cache %s", entry)
            return cached

    tables, report, warnings = _parse_all(files, config, today)
    if not report.empty:
        raise DataValidationError(report)

    counts = {name: frame[FILE_COL].value_counts().to_dict() for name, frame in tables.items() if frame is not None}
    sources["rows"] = [int(counts.get(t, {}).get(f, 0)) for t, f in zip(sources["table"], sources["file"], strict=True)]
    clean: dict[str, pd.DataFrame | None] = {}
    for table in ALL_TABLES:
        # Released table by table so the parsed and the final copy of orders never pile up.
        frame = tables.pop(table)
        clean[table] = None if frame is None else _finalise(table, frame)[0]
        del frame
    data = Dataset(**clean, sources=sources, warnings=normalise_report(warnings))  # type: ignore[arg-type]
    if use_cache:
        try:
            _write_cache(entry, data)
        except OSError as exc:
            log.warning("could not write cache entry %s: %s", entry, exc)
    for table in skip:
        setattr(data, table, None)
    return data


def read_table(
    path: str | os.PathLike[str],
    table: str,
    config: Settings | Mapping[str, Any] | None = None,
    *,
    today: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One export of ``table`` (a filled-in action register, say) read and checked as
    :func:`load_data` reads it: header mapping, XLSX cells (formulas by their saved value), every
    rule of the table and its keys; the typed table, contract columns first and every other
    column kept. Checks that need the other tables (references) are left to :func:`load_data`.
    Raises ``DataValidationError`` naming file, row, column, value and rule."""
    tables, report, _ = _parse_all({table: [Path(path)]}, as_settings(config), today)
    # The other tables are absent on purpose: their absence is not this file's problem.
    others = {f"{name}.*" for name in ALL_TABLES if name != table}
    report = report.loc[~report["file"].astype(str).isin(others)]
    if not report.empty:
        raise DataValidationError(report)
    frame = tables[table]
    if frame is None:
        raise DataValidationError(failure(Path(path).name, "", "file has no data rows"))
    return _finalise(table, frame)[0]
