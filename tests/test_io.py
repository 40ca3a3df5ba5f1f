"""Reading the exports: files, encodings, header mapping, formats, the report and the cache."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from salesplan import io as sio
from salesplan.config import as_settings, load_config
from salesplan.io import Dataset, detect_encoding, discover_files, load_data
from salesplan.schema import DataValidationError

FIXTURES = Path(__file__).parent / "fixtures" / "good"
CUSTOMER_HEADERS = {"客户编号": "customer_id", "客户名称": "customer_name", "行业": "industry", "区域": "region"}
ORDER_HEADER = "order_date,order_id,customer_id,rep_id,region,sku,channel,quantity,net_amount,cost_amount,paid_amount\n"


@pytest.fixture
def config() -> dict:
    return load_config(None, overrides={"columns": {"customers": CUSTOMER_HEADERS}})


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    target = tmp_path / "raw"
    shutil.copytree(FIXTURES, target)
    return target


def load(data_dir: Path, config: dict, **kwargs) -> Dataset:
    kwargs.setdefault("cache_dir", data_dir.parent / "cache")
    return load_data(data_dir, config, **kwargs)


def report_of(data_dir: Path, config: dict) -> pd.DataFrame:
    with pytest.raises(DataValidationError) as info:
        load(data_dir, config, use_cache=False)
    return info.value.report


# --------------------------------------------------------------------------- happy path


def test_fixture_files_have_the_encodings_the_tests_rely_on() -> None:
    assert (FIXTURES / "reps.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    raw = (FIXTURES / "customers.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("gb18030").startswith("客户编号")


def test_loads_every_table_with_contract_columns(data_dir: Path, config: dict) -> None:
    data = load(data_dir, config, use_cache=False)
    assert len(data.orders) == 9  # 6 lines in orders_2024.csv + 3 in orders_2025.csv
    assert list(data.customers.columns[:4]) == ["customer_id", "customer_name", "industry", "region"]
    assert data.customers.loc[data.customers["customer_id"] == "007", "customer_name"].item() == "上海机械有限公司"
    assert list(data.reps["rep_id"]) == ["R01", "R02"]  # BOM not part of the first header
    assert data.pipeline is None
    assert data.targets is not None and len(data.targets) == 3


def test_ids_are_strings_with_leading_zeros(data_dir: Path, config: dict) -> None:
    data = load(data_dir, config, use_cache=False)
    assert "007" in set(data.orders["customer_id"])
    assert "007" in set(data.customers["customer_id"])
    assert all(isinstance(v, str) for v in data.orders["order_id"])


def test_documented_dtypes(data_dir: Path, config: dict) -> None:
    data = load(data_dir, config, use_cache=False)
    orders = data.orders
    assert orders["order_date"].dtype == "datetime64[ns]"
    assert orders["quantity"].dtype == "int64"
    assert orders["net_amount"].dtype == "float64"
    assert orders["rep_id"].dtype == object
    assert data.products["high_margin"].dtype == bool
    assert data.products.set_index("sku")["high_margin"].to_dict() == {"P-001": True, "P-002": False, "P-003": True}
    assert data.reps["leave_date"].dtype == "datetime64[ns]" and data.reps["leave_date"].isna().all()
    assert data.targets["month"].dtype == "int64"


def test_allowed_values_are_matched_case_insensitively(data_dir: Path, config: dict) -> None:
    data = load(data_dir, config, use_cache=False)
    # orders_2025.csv writes "Direct"; the contract value is "direct".
    assert set(data.orders["channel"]) == {"direct", "distributor", "online"}


def test_sources_list_every_file_with_hash_and_rows(data_dir: Path, config: dict) -> None:
    data = load(data_dir, config, use_cache=False)
    sources = data.sources.set_index("file")
    assert sources.loc["orders_2024.csv", "rows"] == 6 and sources.loc["orders_2025.csv", "rows"] == 3
    digest = hashlib.sha256((data_dir / "customers.csv").read_bytes()).hexdigest()
    assert sources.loc["customers.csv", "sha256"] == digest
    assert set(sources["table"]) == {"orders", "products", "customers", "reps", "targets"}


def test_absent_optional_column_is_added_empty_and_noted(data_dir: Path, config: dict) -> None:
    data = load(data_dir, config, use_cache=False)
    assert data.targets["version"].isna().all()
    note = data.warnings[(data.warnings["file"] == "targets.csv") & (data.warnings["column"] == "version")]
    assert len(note) == 1 and "optional column absent" in note["rule"].item()


def test_discover_files_by_prefix_and_suffix(tmp_path: Path) -> None:
    for name in ["orders_2024.csv", "Orders_2025.XLSX", "orders.parquet", "orders.txt", "~$orders.xlsx", "notes.csv"]:
        (tmp_path / name).write_text("x")
    found = discover_files(tmp_path)
    assert [p.name for p in found["orders"]] == ["Orders_2025.XLSX", "orders.parquet", "orders_2024.csv"]
    assert found["products"] == []


# --------------------------------------------------------------------------- encodings and headers


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8-sig"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030"), ("gbk", "gb18030")],
)
def test_detect_encoding(encoding: str, expected: str) -> None:
    text = "客户编号,客户名称\nC01,上海机械有限公司\n"
    assert detect_encoding(text.encode(encoding)) == expected


def test_undecodable_file_is_reported_by_name(data_dir: Path, config: dict) -> None:
    # Every byte value: far too many control bytes for text, so refused as binary.
    (data_dir / "products.csv").write_bytes(bytes(range(256)) * 8)
    report = report_of(data_dir, config)
    row = report[report["file"] == "products.csv"]
    assert row["rule"].tolist() == ["not a text export: the bytes are binary data, not text"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_chinese_order_headers_mapped_in_any_encoding(data_dir: Path, config: dict, encoding: str) -> None:
    mapping = {"订单日期": "order_date", "订单号": "order_id", " 客户 ": "customer_id", "销售代表": "rep_id"}
    config["columns"]["orders"] = mapping
    for path in data_dir.glob("orders*.csv"):
        text = path.read_bytes().decode("utf-8")
        header, rest = text.split("\n", 1)
        header = header.replace("order_date", "订单日期").replace("order_id", "订单号")
        header = header.replace("customer_id", "  客户").replace("rep_id", "销售代表 ")
        path.write_bytes((header + "\n" + rest).encode(encoding))
    data = load(data_dir, config, use_cache=False)
    assert {"order_date", "order_id", "customer_id", "rep_id"} <= set(data.orders.columns)
    assert len(data.orders) == 9


def test_two_headers_on_one_name_are_reported(data_dir: Path, config: dict) -> None:
    config["columns"]["products"] = {"line": "product_line"}
    (data_dir / "products.csv").write_text(
        "sku,product_line,tier,line\nP-001,Pumps,core,X\nP-002,Valves,core,Y\nP-003,Parts,core,Z\n"
    )
    report = report_of(data_dir, config)
    assert ((report["rule"] == "duplicate column header") & (report["value"] == "product_line")).any()


# --------------------------------------------------------------------------- formats


def write_xlsx(path: Path, rows: list[list]) -> None:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)


def test_xlsx_and_parquet_load_like_csv(data_dir: Path, config: dict) -> None:
    expected = load(data_dir, config, use_cache=False)
    (data_dir / "products.csv").unlink()
    write_xlsx(
        data_dir / "products.xlsx",
        [
            ["sku ", "product_line", "tier", "high_margin"],
            ["P-001", "Pumps", "core", True],
            ["P-002", "Valves", "emerging", "否"],
            ["P-003", "Parts", "long_tail", 1],
        ],
    )
    (data_dir / "reps.csv").unlink()
    expected.reps.drop(columns=["leave_date"]).to_parquet(data_dir / "reps.parquet")
    data = load(data_dir, config, use_cache=False)
    pd.testing.assert_frame_equal(data.products, expected.products)
    pd.testing.assert_frame_equal(data.reps, expected.reps)


def test_xlsx_report_uses_sheet_row_numbers(data_dir: Path, config: dict) -> None:
    (data_dir / "products.csv").unlink()
    write_xlsx(
        data_dir / "products.xlsx",
        [
            ["sku", "product_line", "tier"],
            ["P-001", "Pumps", "core"],
            [None, None, None],
            ["P-002", "Valves", "gold"],
            ["P-003", "Parts", "core"],
        ],
    )
    report = report_of(data_dir, config)
    bad = report[report["column"] == "tier"]
    assert bad[["file", "row", "value"]].values.tolist() == [["products.xlsx", 4, "gold"]]


def test_xlsx_numeric_ids_and_dates(data_dir: Path, config: dict) -> None:
    (data_dir / "reps.csv").unlink()
    write_xlsx(
        data_dir / "reps.xlsx",
        [
            ["rep_id", "rep_name", "region", "level", "hire_date"],
            ["R01", "张伟", "North", "senior", pd.Timestamp("2019-03-01").to_pydatetime()],
            ["R02", "Li Na", "South", "junior", pd.Timestamp("2023-07-15").to_pydatetime()],
            [3, "Wang", "South", "mid", "2024-01-02"],
        ],
    )
    data = load(data_dir, config, use_cache=False)
    assert list(data.reps["rep_id"]) == ["R01", "R02", "3"]
    assert list(data.reps["hire_date"].dt.strftime("%Y-%m-%d")) == ["2019-03-01", "2023-07-15", "2024-01-02"]


# --------------------------------------------------------------------------- the error report


def test_corrupted_orders_file_reports_all_problems_together(data_dir: Path, config: dict) -> None:
    # A monthly export with no channel column, a bad date, an unknown rep and text in an amount.
    (data_dir / "orders_2025.csv").write_text(
        "order_date,order_id,customer_id,rep_id,region,sku,quantity,net_amount\n"
        "2025-01-03,SO-0101,C003,R01,North,P-001,4,400.0\n"
        "2025-02-30,SO-0102,007,R02,South,P-002,6,1500.0\n"
        "2025-02-28,SO-0103,C002,R99,South,P-001,1,100.0\n"
        "2025-02-28,SO-0104,C002,R02,South,P-001,1,abc\n",
        encoding="utf-8",
    )
    report = report_of(data_dir, config)
    got = report[["file", "row", "column", "value", "rule"]].astype({"row": object}).values.tolist()
    assert got == [
        ["orders_2025.csv", pd.NA, "channel", "", "required column missing"],
        ["orders_2025.csv", 3, "order_date", "2025-02-30", "not a date"],
        ["orders_2025.csv", 4, "rep_id", "R99", "unknown rep_id (not in reps)"],
        ["orders_2025.csv", 5, "net_amount", "abc", "not a number"],
    ]


def test_row_numbers_survive_blank_and_malformed_lines(data_dir: Path, config: dict) -> None:
    (data_dir / "orders_2025.csv").write_text(
        ORDER_HEADER
        + "2025-01-03,SO-0101,C003,R01,North,P-001,direct,4,400.0,,\n"
        + "\n"
        + "2025-01-04,SO-0102,C003,R01,North,P-001,direct,4\n"
        + "2025-01-05,SO-0103,C003,R01,North,P-001,direct,4,400.0,,\n"
        + "2025-01-06,SO-0104,C003,R01,North,P-001,mail,4,400.0,,\n"
    )
    report = report_of(data_dir, config)
    assert report[["row", "rule"]].astype({"row": int}).values.tolist() == [
        [4, "wrong number of fields (header has 11)"],
        [6, "not one of: direct, distributor, online"],
    ]


def test_duplicate_order_lines_across_files(data_dir: Path, config: dict) -> None:
    with (data_dir / "orders_2025.csv").open("a", encoding="utf-8") as fh:
        fh.write("2025-02-28,SO-0001,007,R01,North,P-002,direct,2,500.0,250.0,500.0\n")
    report = report_of(data_dir, config)
    assert report[["file", "row", "column", "value"]].values.tolist() == [
        ["orders_2025.csv", 5, "order_id + sku", "SO-0001 + P-002"]
    ]
    assert report["rule"].item() == "duplicate key, first at orders_2024.csv row 3"


def test_missing_required_table(data_dir: Path, config: dict) -> None:
    (data_dir / "reps.csv").unlink()
    report = report_of(data_dir, config)
    missing = report[report["rule"].str.startswith("required table missing")]
    assert missing["file"].tolist() == ["reps.*"]
    # The orders' rep ids cannot be checked without reps; they are not reported as unknown.
    assert not report["rule"].str.startswith("unknown rep_id").any()


def test_missing_data_folder(tmp_path: Path, config: dict) -> None:
    with pytest.raises(DataValidationError, match="data folder not found"):
        load_data(tmp_path / "nowhere", config)


def test_opposite_signs_are_a_warning_not_an_error(data_dir: Path, config: dict) -> None:
    with (data_dir / "orders_2025.csv").open("a", encoding="utf-8") as fh:
        fh.write("2025-02-28,SO-0104,C002,R02,South,P-001,online,-1,50.0,,\n")
    data = load(data_dir, config, use_cache=False)
    signs = data.warnings[data.warnings["column"] == "net_amount"]
    assert signs[["file", "row"]].values.tolist() == [["orders_2025.csv", 5]]


def test_failures_per_rule_are_capped(data_dir: Path, config: dict) -> None:
    config["validation"]["max_failures_per_rule"] = 2
    lines = "".join(f"2025-02-{d:02d},SO-9{d:03d},C002,R02,South,P-001,online,1,x{d},,\n" for d in range(1, 8))
    (data_dir / "orders_2025.csv").write_text(ORDER_HEADER + lines)
    report = report_of(data_dir, config)
    assert report["value"].tolist() == ["x1", "x2", "... and 5 more"]
    assert report["row"].isna().tolist() == [False, False, True]
    assert set(report["rule"]) == {"not a number"}
    assert str(DataValidationError(report)).startswith("7 data problems in 1 file")


# --------------------------------------------------------------------------- cache


def test_second_load_comes_from_cache(data_dir: Path, config: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load(data_dir, config)

    def must_not_read(path: Path, *args):
        raise AssertionError(f"{path} parsed again although unchanged")

    monkeypatch.setattr(sio, "read_file", must_not_read)
    second = load(data_dir, config)
    for name, frame in first.tables().items():
        if frame is None:
            assert getattr(second, name) is None
        else:
            pd.testing.assert_frame_equal(getattr(second, name), frame)
    pd.testing.assert_frame_equal(second.sources, first.sources)
    pd.testing.assert_frame_equal(second.warnings, first.warnings)


def test_changed_file_or_mapping_invalidates_cache(
    data_dir: Path, config: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(data_dir, config)
    calls: list[str] = []
    real = sio.read_file

    def counting(path: Path, *args):
        calls.append(path.name)
        return real(path, *args)

    monkeypatch.setattr(sio, "read_file", counting)
    with (data_dir / "orders_2025.csv").open("a", encoding="utf-8") as fh:
        fh.write("2025-02-28,SO-0104,C002,R02,South,P-001,online,1,50.0,,\n")
    data = load(data_dir, config)
    assert "orders_2025.csv" in calls and len(data.orders) == 10
    calls.clear()
    config["columns"]["orders"] = {"unused header": "order_date"}
    load(data_dir, config)
    assert calls, "a different header mapping must not reuse the cache"


def test_corrupt_cache_entry_is_rebuilt(data_dir: Path, config: dict) -> None:
    first = load(data_dir, config)
    cache = data_dir.parent / "cache"
    entries = [p for p in cache.iterdir() if p.is_dir()]
    assert len(entries) == 1 and not [p for p in cache.iterdir() if p.name.startswith(".")]
    (entries[0] / "orders.parquet").write_bytes(b"not parquet")
    again = load(data_dir, config)
    pd.testing.assert_frame_equal(again.orders, first.orders)
    assert (entries[0] / "orders.parquet").read_bytes()[:4] == b"PAR1"


def test_invalid_data_is_not_cached(data_dir: Path, config: dict) -> None:
    (data_dir / "reps.csv").unlink()
    with pytest.raises(DataValidationError):
        load(data_dir, config)
    cache = data_dir.parent / "cache"
    assert not cache.exists() or not any(cache.iterdir())


def test_target_for_unknown_product_line_is_a_warning(data_dir: Path, config: dict) -> None:
    with (data_dir / "targets.csv").open("a", encoding="utf-8") as fh:
        fh.write("2025,3,North,Drones,R01,100\n")
    data = load(data_dir, config, use_cache=False)
    note = data.warnings[data.warnings["column"] == "product_line"]
    assert note[["file", "row", "value"]].values.tolist() == [["targets.csv", 5, "Drones"]]


def test_semicolon_separated_export(data_dir: Path, config: dict) -> None:
    text = (data_dir / "products.csv").read_text(encoding="utf-8").replace(",", ";")
    (data_dir / "products.csv").write_text(text, encoding="utf-8")
    data = load(data_dir, config, use_cache=False)
    assert list(data.products["sku"]) == ["P-001", "P-002", "P-003"]


# --------------------------------------------------------------------------- read faithfully or refuse


def test_line_breaks_inside_quoted_cells_keep_line_numbers(data_dir: Path, config: dict) -> None:
    (data_dir / "orders_2025.csv").write_text(
        ORDER_HEADER
        + '2025-01-03,SO-0101,C003,R01,"North\nEast",P-001,direct,4,400.0,,\n'
        + "2025-01-04,SO-0102,C003,R01,North,P-001,mail,4,400.0,,\n"
        + "2025-01-05,SO-0103,C003,R01,North,P-001,direct,4\n"
        + "2025-01-06,SO-0104,C003,R01,North,P-001,mail,4,400.0,,\n",
        encoding="utf-8",
    )
    report = report_of(data_dir, config)
    # The first record spans lines 2-3, so the following records are on lines 4, 5 and 6.
    assert report[["row", "rule"]].astype({"row": int}).values.tolist() == [
        [4, "not one of: direct, distributor, online"],
        [5, "wrong number of fields (header has 11)"],
        [6, "not one of: direct, distributor, online"],
    ]


def test_utf16_export_with_bom_is_read(data_dir: Path, config: dict) -> None:
    text = (data_dir / "products.csv").read_text(encoding="utf-8")
    (data_dir / "products.csv").write_bytes(text.encode("utf-16"))
    data = load(data_dir, config, use_cache=False)
    assert list(data.products["sku"]) == ["P-001", "P-002", "P-003"]


def test_c1_control_character_is_located(data_dir: Path, config: dict) -> None:
    (data_dir / "products.csv").write_text(
        "sku,product_line,tier\nP-001,Pumps,core\nP-002,Val\u0085ves,core\nP-003,Parts,core\n", encoding="utf-8"
    )
    report = report_of(data_dir, config)
    assert report[["file", "row", "column", "value", "rule"]].values.tolist() == [
        ["products.csv", 3, "product_line", "Val\\x85ves", "control character U+0085 at character 4"]
    ]


def test_xlsx_without_a_sheet_holding_the_columns_lists_every_sheet(data_dir: Path, config: dict) -> None:
    (data_dir / "products.csv").unlink()
    book = openpyxl.Workbook()
    book.active.title = "Lines"
    book.active.append(["sku", "line"])
    book.create_sheet("Tiers").append(["sku", "tier"])
    book.save(data_dir / "products.xlsx")
    report = report_of(data_dir, config)
    assert report[report["file"] == "products.xlsx"]["rule"].tolist() == [
        "no sheet holds the products columns: 'Lines' lacks product_line, tier; 'Tiers' lacks product_line; "
        "set io.sheet.products"
    ]


def test_xlsx_sheet_choice_follows_header_mapping(data_dir: Path, config: dict) -> None:
    config["columns"]["products"] = {"型号": "sku"}
    (data_dir / "products.csv").unlink()
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["exported", "2026-03-01"])
    sheet = book.create_sheet("Data")
    for row in [["型号", "product_line", "tier"], ["P-001", "Pumps", "core"], ["P-002", "Valves", "core"]]:
        sheet.append(row)
    sheet.append(["P-003", "Parts", "core"])
    book.save(data_dir / "products.xlsx")
    assert list(load(data_dir, config, use_cache=False).products["sku"]) == ["P-001", "P-002", "P-003"]


def test_xlsx_title_row_is_refused(data_dir: Path, config: dict) -> None:
    (data_dir / "products.csv").unlink()
    write_xlsx(
        data_dir / "products.xlsx",
        [["Product master"], ["sku", "product_line", "tier"], ["P-001", "Pumps", "core"]],
    )
    report = report_of(data_dir, config)
    assert report[report["file"] == "products.xlsx"][["row", "value"]].values.tolist() == [[1, "Product master"]]


def test_xlsx_date_cells_pass_a_configured_text_format(data_dir: Path, config: dict) -> None:
    config["io"]["date_format"] = {"reps": "%d.%m.%Y"}
    (data_dir / "reps.csv").unlink()
    write_xlsx(
        data_dir / "reps.xlsx",
        [
            ["rep_id", "rep_name", "region", "level", "hire_date"],
            ["R01", "张伟", "North", "senior", pd.Timestamp("2019-03-01").to_pydatetime()],
            ["R02", "Li Na", "South", "junior", "15.07.2023"],
        ],
    )
    data = load(data_dir, config, use_cache=False)
    assert list(data.reps["hire_date"].dt.strftime("%Y-%m-%d")) == ["2019-03-01", "2023-07-15"]


def test_parquet_infinity_and_control_characters_are_refused(data_dir: Path, config: dict) -> None:
    (data_dir / "targets.csv").unlink()
    pd.DataFrame(
        {
            "year": [2025, 2025],
            "month": [1, 2],
            "region": ["North", "So\x00uth"],
            "product_line": ["Pumps", "Pumps"],
            "rep_id": ["R01", "R02"],
            "target_amount": [float("inf"), 10.0],
        }
    ).to_parquet(data_dir / "targets.parquet")
    report = report_of(data_dir, config)
    assert report[["row", "column", "rule"]].values.tolist() == [
        [2, "target_amount", "not a finite number (inf / nan are refused)"],
        [3, "region", "control character U+0000 at character 3"],
    ]


def test_reading_settings_are_part_of_the_cache_key(data_dir: Path, config: dict) -> None:
    sources = pd.DataFrame({"table": ["orders"], "file": ["o.csv"], "sha256": ["x"]})
    same = load_config(None, overrides={"columns": {"customers": CUSTOMER_HEADERS}})
    other = load_config(None, overrides={"columns": {"customers": CUSTOMER_HEADERS}, "io": {"sheet": {"orders": "A"}}})
    assert sio.cache_key(sources, config) == sio.cache_key(sources, same)
    assert sio.cache_key(sources, config) != sio.cache_key(sources, other)
    # The typed settings key the cache exactly as their nested dict does.
    assert sio.cache_key(sources, as_settings(config)) == sio.cache_key(sources, config)


# --------------------------------------------------------------------------- the loop's optional tables


ACTIONS_HEADER = "action_id,register_month,opened_month,level,item,owner,action_status,next_step,due_date\n"


def test_optional_loop_tables_load_with_contract_types(data_dir: Path, config: dict) -> None:
    (data_dir / "actions_2024-12.csv").write_text(
        ACTIONS_HEADER + "rep:R01,2024-12-01,2024-11-01,rep,张伟 (R01),张伟,in_progress,拜访客户,2025-01-15\n",
        encoding="utf-8",
    )
    (data_dir / "activities.csv").write_text(
        "activity_date,rep_id,customer_id,activity_type\n2025-01-03,R01,007,visit\n", encoding="utf-8"
    )
    (data_dir / "spend.csv").write_text(
        'month,region,category,amount\n2025-01-01,North,marketing,"1,200.50"\n', encoding="utf-8"
    )
    (data_dir / "nps.csv").write_text("survey_date,customer_id,score\n2025-01-20,007,9\n", encoding="utf-8")
    (data_dir / "receivables.csv").write_text(
        "order_id,paid_date,paid_amount\nSO-0001,2024-02-01,1500.0\n", encoding="utf-8"
    )
    data = load(data_dir, config, use_cache=False)
    assert data.actions["due_date"].iloc[0] == pd.Timestamp("2025-01-15")
    assert data.actions["register_month"].dtype == "datetime64[ns]"
    assert data.actions["deviation"].isna().all()  # optional column added empty
    assert data.activities["customer_id"].iloc[0] == "007"  # leading zeros kept
    assert data.spend["amount"].iloc[0] == 1200.5 and data.spend["channel"].isna().all()
    assert data.nps["score"].dtype == "int64" and data.nps["score"].iloc[0] == 9
    assert data.receivables["paid_amount"].iloc[0] == 1500.0
    assert set(data.sources["table"]) >= {"actions", "activities", "spend", "nps", "receivables"}


def test_actions_table_is_validated_with_every_failure_located(data_dir: Path, config: dict) -> None:
    (data_dir / "actions_2024-12.csv").write_text(
        ACTIONS_HEADER
        + "rep:R01,2024-12-01,2024-11-01,rep,R01,张伟,finished,,2025-01-15\n"  # status not allowed
        + "rep:R02,2024-12-01,2024-11-01,rep,R02,Li Na,open,,next week\n"  # not a date
        + "rep:R01,2024-12-01,2024-12-01,rep,R01,张伟,open,,\n",  # same action twice in one register
        encoding="utf-8",
    )
    report = report_of(data_dir, config)
    rows = {(r.file, r.row, r.column): r.rule for r in report.itertuples()}
    assert rows[("actions_2024-12.csv", 2, "action_status")].startswith("not one of: open, in_progress, done")
    assert rows[("actions_2024-12.csv", 3, "due_date")].startswith("not a date")
    assert rows[("actions_2024-12.csv", 4, "action_id + register_month")].startswith(
        "duplicate key, first at actions_2024-12.csv row 2"
    )


def test_actions_without_a_key_column_and_unknown_references_are_refused(data_dir: Path, config: dict) -> None:
    (data_dir / "actions.csv").write_text(
        "action_id,opened_month,level,item,owner,action_status\nrep:R01,2024-11-01,rep,R01,张伟,open\n",
        encoding="utf-8",
    )
    (data_dir / "nps.csv").write_text("survey_date,customer_id,score\n2025-01-20,C999,11\n", encoding="utf-8")
    (data_dir / "receivables.csv").write_text("order_id,paid_date,paid_amount\nSO-9999,2024-02-01,1.0\n")
    report = report_of(data_dir, config)
    rules = {(r.file, r.column): r.rule for r in report.itertuples()}
    assert rules[("actions.csv", "register_month")] == "required column missing"
    assert rules[("nps.csv", "score")] == "outside 0 .. 10"
    assert rules[("nps.csv", "customer_id")] == "unknown customer_id (not in customers)"
    assert rules[("receivables.csv", "order_id")] == "unknown order_id (not in orders)"


def test_published_action_register_reads_back_as_the_actions_table(data_dir: Path, config: dict) -> None:
    from salesplan.retro.actions import REGISTER_COLUMNS, write_register

    register = pd.DataFrame(
        {
            "action_id": ["rep:R01"],
            "register_month": [pd.Timestamp("2025-01-01")],
            "opened_month": [pd.Timestamp("2024-12-01")],
            "months_open": [1],
            "level": ["rep"],
            "item": ["张伟 (R01)"],
            "owner": ["=HYPERLINK(1)"],  # formula-like text stays text
            "flag_status": ["red"],
            "deviation": [-0.12],
            "gap": [-120.0],
            "escalation_level": [2],
            "escalation": ["Level 2"],
            "carry": ["carried"],
            "cause_5why": [""],
            "next_step": [""],
            "due_date": [pd.NaT],
            "resources": [""],
            "action_status": ["open"],
        }
    )[REGISTER_COLUMNS]
    xlsx, csv = write_register(register, data_dir.parent / "out", "2025-01")
    for path in (xlsx, csv):
        target = data_dir / path.name
        shutil.copy(path, target)
        data = load(data_dir, config, use_cache=False)
        row = data.actions.iloc[0]
        assert row["register_month"] == pd.Timestamp("2025-01-01") and pd.isna(row["due_date"])
        assert row["owner"] == "'=HYPERLINK(1)" and row["escalation_level"] == 2 and row["deviation"] == -0.12
        target.unlink()
