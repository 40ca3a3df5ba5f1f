import pandas as pd

from salesplan.csvsafe import neutralise_formulas, write_spreadsheet_csv
from salesplan.schema import DataValidationError


def test_formula_like_text_is_quoted_numbers_untouched(tmp_path):
    frame = pd.DataFrame(
        {"name": ['=HYPERLINK("x")', "@SUM(A1)", "华东", "+1", "-cmd"], "amount": [-5.0, 1.0, 2.0, 3.0, 4.0]}
    )
    out = neutralise_formulas(frame)
    assert out["name"].tolist() == ['\'=HYPERLINK("x")', "'@SUM(A1)", "华东", "'+1", "'-cmd"]
    assert out["amount"].tolist() == [-5.0, 1.0, 2.0, 3.0, 4.0]
    path = write_spreadsheet_csv(frame, tmp_path / "x.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    assert "华东" in raw.decode("utf-8-sig")


def test_validation_report_csv_neutralises_bad_values(tmp_path):
    report = pd.DataFrame(
        {
            "file": ["orders.csv"],
            "row": [2],
            "column": ["rep_id"],
            "value": ["=cmd|' /C calc'!A0"],
            "rule": ["unknown rep_id"],
        }
    )
    path = DataValidationError(report).write_csv(tmp_path / "report.csv")
    text = path.read_text(encoding="utf-8-sig")
    assert "'=cmd" in text
