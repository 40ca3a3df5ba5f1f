"""Reading the exports in ``data/raw``: files, encodings, header mapping, validation, cache.

``load_data(data_dir, config)`` is the one entry point. It finds the files of each table
(names starting with ``orders``, ``products``, ``customers``, ``reps``, ``pipeline``,
``targets``; ``.csv``, ``.xlsx`` or ``.parquet``; several files of a table are read
together), maps their headers to the contract names (``config["columns"][table]``: source
header -> contract name; surrounding whitespace ignored), parses and validates them
(:mod:`salesplan.schema`) and returns a :class:`Dataset`.

CSV encodings are detected: UTF-8 (with or without BOM) is tried strictly first, then
GB18030 (which covers GBK and GB2312), then ``charset-normalizer``'s best guess. Every
cell is read as text, so identifiers keep their leading zeros.

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
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from salesplan import __version__
from salesplan.config import load_config, resolve_path
from salesplan.schema import (
    ARROW_STR,
    FILE_COL,
    OPTIONAL_TABLES,
    REPORT_COLUMNS,
    REQUIRED_TABLES,
    SOFT_REFERENCES,
    TABLES,
    DataValidationError,
    cap_report,
    check_keys,
    check_references,
    failure,
    failures,
    normalise_report,
    to_object_str,
    validate_table,
)

log = logging.getLogger(__name__)

SUFFIXES = (".csv", ".xlsx", ".parquet")
DELIMITERS = (",", ";", "\t", "|")
ALL_TABLES: tuple[str, ...] = REQUIRED_TABLES + OPTIONAL_TABLES
DEFAULT_CACHE_DIR = "data/interim/cache"
# Bump when the cached layout or the meaning of the cleaned tables changes.
CACHE_FORMAT = 1
CACHE_KEEP = 5
_CHUNK = 1 << 22
_ARROW_TEXT = {pa.string(): ARROW_STR, pa.large_string(): ARROW_STR}


@dataclass
class Dataset:
    """The validated input tables, where they came from, and non-fatal findings."""

    orders: pd.DataFrame
    products: pd.DataFrame
    customers: pd.DataFrame
    reps: pd.DataFrame
    pipeline: pd.DataFrame | None = None
    targets: pd.DataFrame | None = None
    sources: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["table", "file", "sha256", "rows"]))
    warnings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REPORT_COLUMNS))

    def tables(self) -> dict[str, pd.DataFrame | None]:
        """The six tables by name (absent optional ones as ``None``)."""
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
    """The text encoding of CSV bytes: ``utf-8-sig`` (UTF-8, BOM optional) if the bytes
    decode strictly as UTF-8, else ``gb18030`` if they decode strictly as that, else
    charset-normalizer's best guess. Raises ``DataValidationError`` when nothing fits."""
    if _is_utf8(data):
        return "utf-8-sig"
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


def read_csv(path: Path, data: bytes | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a CSV export as text columns (Arrow-backed strings), index = line numbers
    (header = line 1). The field separator (``,`` ``;`` tab ``|``) is the one the header
    line uses most. Returns the frame and a report of malformed lines."""
    data = path.read_bytes() if data is None else data
    encoding = detect_encoding(data, path.name)
    if encoding == "utf-8-sig":
        data = data.removeprefix(codecs.BOM_UTF8)
        encoding = "utf8"
    first_line = data.split(b"\n", 1)[0].decode(encoding if encoding != "utf8" else "utf-8", errors="replace")
    # Exports from some locales separate fields with ";" or tabs; the header line tells.
    delimiter = max(DELIMITERS, key=first_line.count)
    delimiter = delimiter if first_line.count(delimiter) else ","
    header = next(csv.reader([first_line.rstrip("\r")], delimiter=delimiter), [])
    if not header or all(not h.strip() for h in header):
        return pd.DataFrame(index=pd.Index([], dtype="int64")), failure(
            path.name, "", "file is empty or has no header line"
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
                use_threads=use_threads, skip_rows=1, column_names=names, encoding=encoding, block_size=1 << 24
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
        return pd.DataFrame(index=pd.Index([], dtype="int64")), failure(path.name, "", f"cannot parse CSV: {exc}")
    frame = table.to_pandas(types_mapper=_ARROW_TEXT.get)
    frame.columns = list(header)
    frame.index = pd.Index(_rows_after_skips(len(frame), [row.number for row in bad]), name="row")
    # Blank lines parse as all-empty records; drop them but keep everyone's line numbers.
    maybe_blank = frame.iloc[:, 0].isna().to_numpy()
    if maybe_blank.any():
        blank = frame[maybe_blank].isna().all(axis=1)
        frame = frame.drop(index=blank.index[blank.to_numpy()])
    report = failures(
        path.name,
        [row.number for row in bad],
        "",
        [row.text[:80] for row in bad],
        f"wrong number of fields (header has {len(header)})",
    )
    return frame, report


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


def read_xlsx(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the first sheet of an XLSX export as text columns, index = sheet row numbers.
    The first non-empty row is the header."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a broken file
        return pd.DataFrame(index=pd.Index([], dtype="int64")), failure(path.name, "", f"cannot open XLSX: {exc}")
    try:
        sheet = book.worksheets[0]
        header: list[str] | None = None
        header_row = 0
        records: list[list[Any]] = []
        numbers: list[int] = []
        for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            if not any(c is not None and str(c).strip() for c in cells):
                continue
            if header is None:
                header, header_row = ["" if c is None else str(c) for c in cells], number
                continue
            records.append(cells)
            numbers.append(number)
    finally:
        book.close()
    if header is None:
        return pd.DataFrame(index=pd.Index([], dtype="int64")), failure(path.name, "", "sheet is empty")
    width = len(header)
    spill = [n for n, r in zip(numbers, records, strict=True) if any(c is not None for c in r[width:])]
    report = failures(path.name, spill, "", [""] * len(spill), f"cells beyond the header's {width} columns")
    rows = [(r + [None] * width)[:width] for r in records]
    frame = pd.DataFrame(rows, columns=range(width), index=pd.Index(numbers, dtype="int64", name="row"), dtype=object)
    frame = frame.astype(ARROW_STR) if width else frame
    frame.columns = header
    # Columns without a header and without data are artefacts of the sheet's used range.
    keep = [i for i, h in enumerate(header) if h.strip() or frame.iloc[:, i].notna().any()]
    frame = frame.iloc[:, keep]
    if header_row != 1:
        log.info("%s: header found on row %d", path.name, header_row)
    return frame, report


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
    return frame, pd.DataFrame(columns=REPORT_COLUMNS)


READERS: dict[str, Callable[[Path], tuple[pd.DataFrame, pd.DataFrame]]] = {
    ".csv": read_csv,
    ".xlsx": read_xlsx,
    ".parquet": read_parquet,
}


def read_file(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read one export by its suffix; returns the raw frame (row numbers as index) and a
    report of file-level problems."""
    try:
        return READERS[path.suffix.lower()](path)
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
                frame[fld.name] = pd.to_datetime(col).astype("datetime64[ns]")
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
    files: dict[str, list[Path]], config: dict[str, Any], today: pd.Timestamp | None
) -> tuple[dict[str, pd.DataFrame | None], pd.DataFrame, pd.DataFrame]:
    columns_cfg = config.get("columns", {}) or {}
    problems: list[pd.DataFrame] = []
    notes: list[pd.DataFrame] = []
    tables: dict[str, pd.DataFrame | None] = {}
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
        names = [path.name for path in paths]
        for number, path in enumerate(paths):
            raw, read_report = read_file(path)
            problems.append(read_report)
            if raw.columns.empty:
                continue
            mapped, header_report = map_headers(raw, columns_cfg.get(table), path.name)
            problems.append(header_report)
            typed, report = validate_table(mapped, table, config, path.name, today)
            problems.append(report)
            for fld in TABLES[table]:
                if not fld.required and fld.name not in typed.columns:
                    notes.append(failure(path.name, fld.name, "optional column absent (left empty)"))
            # The same categories in every part keep the column categorical through concat.
            origin = pd.Categorical.from_codes(np.full(len(typed), number, dtype=np.int16), categories=names)
            parts.append(typed.assign(**{FILE_COL: origin}))
        tables[table] = pd.concat(parts) if parts else None
        if table in REQUIRED_TABLES and (tables[table] is None or tables[table].empty):
            problems.append(failure(f"{table}.*", "", "table has no data rows"))
    problems.append(check_keys(tables))
    problems.append(check_references(tables))
    limit = config.get("validation", {}).get("max_failures_per_rule")
    if tables.get("orders") is not None:
        notes.append(_sign_warnings(tables["orders"], limit))
    notes.append(cap_report(check_references(tables, SOFT_REFERENCES), limit))
    report = cap_report(
        pd.concat([p for p in problems if not p.empty] or [pd.DataFrame(columns=REPORT_COLUMNS)]), limit
    )
    warnings = pd.concat([n for n in notes if not n.empty] or [pd.DataFrame(columns=REPORT_COLUMNS)])
    return tables, report, warnings


# --------------------------------------------------------------------------- cache


def cache_key(sources: pd.DataFrame, config: dict[str, Any]) -> str:
    """Hash of everything the cleaned tables depend on: file contents, header mapping,
    validation settings, package version and cache layout."""
    payload = {
        "format": CACHE_FORMAT,
        "version": __version__,
        "columns": config.get("columns", {}),
        "validation": config.get("validation", {}),
        "files": sources[["table", "file", "sha256"]].values.tolist(),
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_cache(entry: Path) -> Dataset | None:
    meta_file = entry / "meta.json"
    if not meta_file.exists():
        return None
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        tables: dict[str, pd.DataFrame | None] = {}
        for table in ALL_TABLES:
            if table in meta["tables"]:
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
        return Dataset(**tables, sources=sources, warnings=warnings)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - any unreadable entry is rebuilt, whatever broke it
        log.warning("ignoring unreadable cache entry %s (%s); rebuilding", entry, exc)
        shutil.rmtree(entry, ignore_errors=True)
        return None


def _write_cache(entry: Path, data: Dataset) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name[:16]}-", dir=entry.parent))
    try:
        present = [name for name, frame in data.tables().items() if frame is not None]
        for name in present:
            getattr(data, name).to_parquet(tmp / f"{name}.parquet", index=False)
        data.sources.to_parquet(tmp / "sources.parquet", index=False)
        data.warnings.astype({"row": "float64"}).to_parquet(tmp / "warnings.parquet", index=False)
        (tmp / "meta.json").write_text(
            json.dumps({"tables": present, "version": __version__, "format": CACHE_FORMAT}), encoding="utf-8"
        )
        try:
            os.replace(tmp, entry)
        except OSError:
            # Another run stored the same entry first; theirs is as good as ours.
            shutil.rmtree(tmp, ignore_errors=True)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(entry.parent, keep=CACHE_KEEP)


def _prune(cache_dir: Path, keep: int) -> None:
    entries = [p for p in cache_dir.iterdir() if p.is_dir() and len(p.name) == 64 and not p.name.startswith(".")]
    for old in sorted(entries, key=lambda p: p.stat().st_mtime, reverse=True)[keep:]:
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- entry point


def load_data(
    data_dir: str | os.PathLike[str] = "data/raw",
    config: dict[str, Any] | None = None,
    use_cache: bool = True,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    today: pd.Timestamp | None = None,
) -> Dataset:
    """Load, validate and return the exports in ``data_dir`` (relative to the project root).

    ``config`` is the loaded configuration (``salesplan.config.load_config()`` when omitted);
    its ``columns`` section maps headers and its ``validation`` section sets the rules.
    ``cache_dir`` defaults to ``data/interim/cache``; ``today`` (default: the current date)
    anchors the plausible date window.

    Raises ``salesplan.schema.DataValidationError`` listing every problem found (missing
    tables or columns, unparseable cells, disallowed values, duplicate keys, unknown ids).
    """
    config = load_config() if config is None else config
    folder = resolve_path(data_dir)
    if not folder.is_dir():
        raise DataValidationError(failure(str(folder), "", "data folder not found"))
    files = discover_files(folder)
    sources = pd.DataFrame(
        [(table, path.name, file_sha256(path)) for table, paths in files.items() for path in paths],
        columns=["table", "file", "sha256"],
    )
    entry = resolve_path(cache_dir or DEFAULT_CACHE_DIR) / cache_key(sources, config)
    if use_cache:
        cached = _read_cache(entry)
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
    return data
