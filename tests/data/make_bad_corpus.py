"""Write the corpus of damaged exports: ``tests/data/bad/<case>/``.

Each case folder is a complete small data folder: a copy of the good fixture
(``tests/fixtures/good/``) with one file damaged in one way. ``tests/test_bad_corpus.py``
loads every case and checks its documented outcome (``docs/data-policy.md``).

Regenerate after changing a case (the output is byte-for-byte reproducible; a test
checks that the committed folders are what this script writes)::

    .venv/bin/python tests/data/make_bad_corpus.py
"""

from __future__ import annotations

import csv
import io
import shutil
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent
GOOD = HERE.parent / "fixtures" / "good"
BAD = HERE / "bad"
ORDERS = "orders_2025.csv"
HEADER = "order_date,order_id,customer_id,rep_id,region,sku,channel,quantity,net_amount,cost_amount,paid_amount"
# Fixed timestamp for everything inside an XLSX file, so regenerating gives the same bytes.
ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def good_orders() -> list[list[str]]:
    """The records of the good orders_2025.csv (without header), as text cells."""
    lines = (GOOD / ORDERS).read_text(encoding="utf-8").splitlines()
    return [line.split(",") for line in lines[1:]]


def csv_bytes(rows: list[list[str]], delimiter: str = ",", newline: str = "\n", header: str = HEADER) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header.split(","))
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def with_column(rows: list[list[str]], column: str, values: list[str]) -> list[list[str]]:
    i = HEADER.split(",").index(column)
    return [row[:i] + [v] + row[i + 1 :] for row, v in zip(rows, values, strict=True)]


def xlsx_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    """An XLSX workbook with the given sheets, with fixed timestamps (reproducible bytes)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    raw = io.BytesIO()
    book.save(raw)
    # openpyxl stamps the save time into docProps/core.xml and every zip entry; pin both.
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _pin_dates(data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=ZIP_TIME), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _pin_dates(core: bytes) -> bytes:
    import re

    return re.sub(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", b"2026-01-01T00:00:00Z", core)


def orders_sheet(date_cells: list[object] | None = None) -> list[list[object]]:
    """orders_2025 as sheet rows with typed numbers; ``date_cells`` replace the dates."""
    rows: list[list[object]] = [HEADER.split(",")]
    for i, row in enumerate(good_orders()):
        date: object = row[0] if date_cells is None else date_cells[i]
        rows.append([date, *row[1:7], int(row[7]), *(float(v) for v in row[8:])])
    return rows


# --------------------------------------------------------------------------- the cases
# Each returns {file name: bytes or None}: files written over the good copy (None deletes).

Damage = Callable[[], dict[str, bytes | None]]
CASES: dict[str, Damage] = {}


def case(name: str) -> Callable[[Damage], Damage]:
    def register(fn: Damage) -> Damage:
        CASES[name] = fn
        return fn

    return register


@case("empty_file")
def _() -> dict[str, bytes | None]:
    return {ORDERS: b""}


@case("header_only")
def _() -> dict[str, bytes | None]:
    return {ORDERS: (HEADER + "\n").encode()}


@case("semicolon_delimiter")
def _() -> dict[str, bytes | None]:
    return {ORDERS: csv_bytes(good_orders(), delimiter=";")}


@case("tab_delimiter")
def _() -> dict[str, bytes | None]:
    return {ORDERS: csv_bytes(good_orders(), delimiter="\t")}


@case("title_row")
def _() -> dict[str, bytes | None]:
    return {ORDERS: b"Sales order lines 2025 (exported 2025-03-01)\n" + csv_bytes(good_orders())}


@case("dates_mixed_layouts")
def _() -> dict[str, bytes | None]:
    # ISO in two rows, day-first with slashes in the third.
    return {ORDERS: csv_bytes(with_column(good_orders(), "order_date", ["2025-01-03", "2025-01-31", "28/02/2025"]))}


@case("dates_ambiguous")
def _() -> dict[str, bytes | None]:
    # Every value reads day-first and month-first; 03-01 and 01-02 mean different dates each way.
    return {ORDERS: csv_bytes(with_column(good_orders(), "order_date", ["03-01-2025", "01-02-2025", "02-02-2025"]))}


@case("dates_day_first")
def _() -> dict[str, bytes | None]:
    # 31-01-2025 and 28-02-2025 only read day-first, so the whole column is day-first.
    return {ORDERS: csv_bytes(with_column(good_orders(), "order_date", ["03-01-2025", "31-01-2025", "28-02-2025"]))}


@case("dates_day_and_month_first")
def _() -> dict[str, bytes | None]:
    # 31-01-2025 is only day-first, 02-28-2025 only month-first: two conventions in one column.
    return {ORDERS: csv_bytes(with_column(good_orders(), "order_date", ["03-01-2025", "31-01-2025", "02-28-2025"]))}


@case("excel_serial_xlsx")
def _() -> dict[str, bytes | None]:
    # 45660 = 2025-01-03, 45688 = 2025-01-31, 45716 = 2025-02-28 (plain number cells).
    return {ORDERS: None, "orders_2025.xlsx": xlsx_bytes({"Sheet1": orders_sheet([45660, 45688, 45716])})}


@case("excel_serial_csv")
def _() -> dict[str, bytes | None]:
    return {ORDERS: csv_bytes(with_column(good_orders(), "order_date", ["45660", "45688", "45716"]))}


@case("currency_symbols")
def _() -> dict[str, bytes | None]:
    rows = with_column(good_orders(), "net_amount", ["¥400.00", "￥1,500.00", "CNY 100"])
    rows = with_column(rows, "cost_amount", ["RMB240", "¥750", "60"])
    return {ORDERS: csv_bytes(rows)}


@case("currency_mixed")
def _() -> dict[str, bytes | None]:
    return {ORDERS: csv_bytes(with_column(good_orders(), "net_amount", ["$400.00", "$1500.00", "€100.00"]))}


@case("thousands_separators")
def _() -> dict[str, bytes | None]:
    rows = with_column(good_orders(), "net_amount", ["400.0", "1,500.0", "100"])
    return {ORDERS: csv_bytes(with_column(rows, "paid_amount", ["400", "1,000", "100.00"]))}


@case("accounting_negatives")
def _() -> dict[str, bytes | None]:
    # The third line becomes a return: quantity and amounts in parentheses.
    rows = good_orders()
    rows[2] = rows[2][:7] + ["(1)", "(100.0)", "(60.0)", "(100.0)"]
    return {ORDERS: csv_bytes(rows)}


@case("fullwidth_digits")
def _() -> dict[str, bytes | None]:
    rows = with_column(good_orders(), "net_amount", ["４００.０", "１，５００．０", "１００"])
    return {ORDERS: csv_bytes(with_column(rows, "quantity", ["４", "６", "１"]))}


@case("decimal_comma")
def _() -> dict[str, bytes | None]:
    # A German-style export: semicolons, decimal commas; 1,500 could be 1.5 or 1500.
    rows = with_column(good_orders(), "net_amount", ["400,50", "1,500", "100,00"])
    return {ORDERS: csv_bytes(rows, delimiter=";")}


@case("non_finite_numbers")
def _() -> dict[str, bytes | None]:
    rows = with_column(good_orders(), "net_amount", ["inf", "1500.0", "-inf"])
    return {ORDERS: csv_bytes(with_column(rows, "cost_amount", ["240.0", "nan", "60.0"]))}


@case("duplicate_lines")
def _() -> dict[str, bytes | None]:
    rows = good_orders()
    return {ORDERS: csv_bytes([*rows, rows[1]])}


@case("same_order_two_files")
def _() -> dict[str, bytes | None]:
    # SO-0001 / P-001 is already in orders_2024.csv (its line 2).
    again = ["2024-01-05", "SO-0001", "007", "R01", "North", "P-001", "direct", "10", "1000.0", "600.0", "1000.0"]
    return {ORDERS: csv_bytes([*good_orders(), again])}


@case("unknown_ids")
def _() -> dict[str, bytes | None]:
    rows = good_orders()
    rows[0][3] = "R99"  # rep
    rows[1][5] = "P-999"  # SKU
    rows[2][2] = "C404"  # customer
    return {ORDERS: csv_bytes(rows)}


@case("date_in_future")
def _() -> dict[str, bytes | None]:
    return {ORDERS: csv_bytes(with_column(good_orders(), "order_date", ["2025-01-03", "2099-01-31", "2025-02-28"]))}


@case("date_before_2000")
def _() -> dict[str, bytes | None]:
    return {ORDERS: csv_bytes(with_column(good_orders(), "order_date", ["1999-12-31", "2025-01-31", "2025-02-28"]))}


@case("empty_required_cells")
def _() -> dict[str, bytes | None]:
    rows = good_orders()
    rows[0][2] = ""  # customer_id
    rows[2][7] = ""  # quantity
    return {ORDERS: csv_bytes(rows)}


@case("long_cell")
def _() -> dict[str, bytes | None]:
    text = (GOOD / "customers.csv").read_bytes().decode("gb18030")
    text = text.replace("Beijing Tools", "B" * 10_000)
    return {"customers.csv": text.encode("gb18030")}


@case("nul_byte")
def _() -> dict[str, bytes | None]:
    rows = good_orders()
    rows[1][4] = "So\x00uth"
    return {ORDERS: csv_bytes(rows)}


@case("truncated_last_line")
def _() -> dict[str, bytes | None]:
    data = csv_bytes(good_orders())
    return {ORDERS: data[: data.rindex(b",100.0,60.0")]}  # cut inside the last line, no line break


@case("crlf_line_ends")
def _() -> dict[str, bytes | None]:
    return {ORDERS: csv_bytes(good_orders(), newline="\r\n")}


@case("xlsx_two_sheets")
def _() -> dict[str, bytes | None]:
    notes = [["Exported by CRM", None], ["Contact", "sales-ops"]]
    return {ORDERS: None, "orders_2025.xlsx": xlsx_bytes({"Notes": notes, "Orders": orders_sheet()})}


@case("xlsx_two_order_sheets")
def _() -> dict[str, bytes | None]:
    draft = orders_sheet()[:2]
    return {ORDERS: None, "orders_2025.xlsx": xlsx_bytes({"Draft": draft, "Final": orders_sheet()})}


@case("gbk_with_utf8_bom")
def _() -> dict[str, bytes | None]:
    # A UTF-8 byte-order mark in front of GBK text (the good customers.csv is GB18030).
    return {"customers.csv": b"\xef\xbb\xbf" + (GOOD / "customers.csv").read_bytes()}


@case("binary_named_csv")
def _() -> dict[str, bytes | None]:
    # A workbook saved under the CSV's name.
    return {ORDERS: xlsx_bytes({"Sheet1": orders_sheet()})}


# --------------------------------------------------------------------------- optional tables
# The good fixture has none: each case adds the table it damages (orders as in the fixture:
# SO-0101 dated 2025-01-03, SO-0102 2025-01-31, SO-0103 2025-02-28).

SPEND = "month,category,amount,region"
NPS = "survey_date,customer_id,score"
ACTIVITIES = "activity_date,rep_id,customer_id,activity_type"
RECEIVABLES = "order_id,paid_date,paid_amount"


def table_csv(header: str, rows: list[str]) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


@case("spend_negative")
def _() -> dict[str, bytes | None]:
    # A credit booked as a negative marketing line; the same credit as its own category is fine.
    rows = [
        "2025-01-01,marketing,1200.0,North",
        "2025-01-01,marketing,-345.2,South",
        "2025-01-01,marketing_credit,200,North",
    ]
    return {"spend.csv": table_csv(SPEND, rows)}


@case("spend_duplicate_rows")
def _() -> dict[str, bytes | None]:
    rows = ["2025-01-01,marketing,1200.0,North", "2025-01-01,channel,500.0,North", "2025-01-01,marketing,1200.0,North"]
    return {"spend.csv": table_csv(SPEND, rows)}


@case("nps_scores_outside_0_10")
def _() -> dict[str, bytes | None]:
    rows = ["2025-01-15,007,9", "2025-01-15,C002,11", "2025-01-16,C003,7.5", "2025-01-17,C002,-1", "2025-01-18,C003,0"]
    return {"nps.csv": table_csv(NPS, rows)}


@case("nps_duplicate_rows")
def _() -> dict[str, bytes | None]:
    return {"nps.csv": table_csv(NPS, ["2025-01-15,007,4", "2025-01-15,C002,9", "2025-01-15,007,4"])}


@case("activities_duplicate_rows")
def _() -> dict[str, bytes | None]:
    # The same export pasted twice into two files: every line of the second repeats the first.
    rows = ["2025-01-03,R01,C003,visit", "2025-01-03,R01,C003,call", "2025-01-04,R02,007,visit"]
    return {"activities_2025-01.csv": table_csv(ACTIVITIES, rows), "activities_copy.csv": table_csv(ACTIVITIES, rows)}


@case("receivables_duplicate_rows")
def _() -> dict[str, bytes | None]:
    rows = ["SO-0101,2025-01-20,400.0", "SO-0102,2025-02-15,1000.0", "SO-0102,2025-02-15,1000.0"]
    return {"receivables.csv": table_csv(RECEIVABLES, rows)}


@case("receivables_two_instalments")
def _() -> dict[str, bytes | None]:
    # Two equal instalments on one day, told apart by their payment id: accepted.
    rows = ["SO-0102,2025-02-15,500.0,PAY-1", "SO-0102,2025-02-15,500.0,PAY-2", "SO-0101,2025-01-20,400.0,PAY-3"]
    return {"receivables.csv": table_csv(RECEIVABLES + ",payment_id", rows)}


@case("payment_before_order")
def _() -> dict[str, bytes | None]:
    rows = ["SO-0101,2025-01-02,400.0", "SO-0102,2025-01-31,1000.0", "SO-0103,2025-02-27,100.0"]
    return {"receivables.csv": table_csv(RECEIVABLES, rows)}


@case("payment_negative")
def _() -> dict[str, bytes | None]:
    return {"receivables.csv": table_csv(RECEIVABLES, ["SO-0101,2025-01-20,400.0", "SO-0102,2025-02-15,-1000.0"])}


@case("optional_dates_outside_window")
def _() -> dict[str, bytes | None]:
    return {
        "activities.csv": table_csv(ACTIVITIES, ["2025-01-03,R01,C003,visit", "2099-01-03,R01,C003,visit"]),
        "nps.csv": table_csv(NPS, ["1999-12-31,007,9", "2025-01-15,C002,8"]),
        "spend.csv": table_csv(SPEND, ["2025-01-01,marketing,1200.0,North", "2099-01-01,marketing,1200.0,North"]),
    }


# --------------------------------------------------------------------------- writing


def write_case(name: str, target: Path) -> Path:
    """Write case ``name`` as a complete data folder ``target / name``."""
    folder = target / name
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(GOOD, folder)
    for file, data in CASES[name]().items():
        if data is None:
            (folder / file).unlink()
        else:
            (folder / file).write_bytes(data)
    return folder


def write_corpus(target: Path = BAD) -> list[Path]:
    """Write every case under ``target`` (stale case folders removed)."""
    target.mkdir(parents=True, exist_ok=True)
    for old in target.iterdir():
        if old.is_dir() and old.name not in CASES:
            shutil.rmtree(old)
    return [write_case(name, target) for name in CASES]


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else BAD
    for path in write_corpus(out):
        print(path.relative_to(out.parent) if out == BAD else path)
