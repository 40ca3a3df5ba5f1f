"""Month-over-month comparison, the flags CSV and the summary file next month reads."""

import json

import numpy as np
import pandas as pd
import pytest

from salesplan.csvsafe import neutralise_formulas
from salesplan.retro.export import (
    build_summary,
    read_summary,
    write_flags_csv,
    write_summary,
    write_year_review,
)
from salesplan.retro.flags import FLAG_COLUMNS
from salesplan.retro.mom import bridge_text, flag_changes, landing_bridge, previous_summary_path
from salesplan.retro.periods import RetroInputError, previous_month, report_modes, window


def _flags(statuses: dict[str, str], period: str = "ytd") -> pd.DataFrame:
    rows = []
    for key, status in statuses.items():
        row = dict.fromkeys(FLAG_COLUMNS, "")
        row.update(
            period=period,
            period_label="2026 to date",
            level="region",
            key=key,
            item=key,
            region=key,
            actual=90.0,
            target=100.0,
            gap=-10.0,
            attainment=0.9,
            deviation=-0.1,
            status=status,
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=FLAG_COLUMNS)


def test_flag_changes_name_the_direction():
    prev = _flags({"East": "green", "West": "red", "North": "yellow", "Gone": "green"})
    cur = _flags({"East": "yellow", "West": "green", "North": "yellow", "South": "ahead"})
    out = flag_changes(cur, prev.to_dict(orient="records")).set_index("key")
    assert out.loc["East", "change"] == "worse"
    assert out.loc["West", "change"] == "better"
    assert out.loc["South", "change"] == "new"
    assert out.loc["Gone", "change"] == "gone"
    assert "North" not in out.index  # unchanged items are left out by default
    assert out["change"].iloc[0] == "worse"
    assert len(flag_changes(cur, prev, only_changed=False)) == 5
    # No previous report at all: every item is new.
    assert flag_changes(cur, [])["change"].eq("new").all()


def _summary(month: str, landing: float | None, ytd: float, forecast: dict[str, float]) -> dict:
    figures = {"landing": landing, "ytd_actual": ytd, "month_actual": 0.0}
    return build_summary(month, figures, _flags({"East": "green"}), forecast)


def test_landing_bridge_adds_up_exactly():
    prev = _summary("2026-09", 1000.0, 700.0, {"2026-10": 80.0, "2026-11": 90.0})
    current = {"landing": 970.0, "ytd_actual": 772.0, "month_actual": 70.0}
    bridge = landing_bridge(prev, current, "2026-10").set_index("step")["amount"]
    assert bridge["revisions to earlier months"] == pytest.approx(2.0)  # 772 - 70 - 700
    assert bridge["this month vs forecast"] == pytest.approx(-10.0)
    assert bridge["outlook for the remaining months"] == pytest.approx(-30 - 2 + 10)
    assert bridge.iloc[1:-1].sum() == pytest.approx(bridge.iloc[-1] - bridge.iloc[0])
    text = bridge_text(landing_bridge(prev, current, "2026-10"))
    assert "down by 30" in text and "outlook" in text


def test_landing_bridge_without_monthly_forecast_or_across_years():
    prev = _summary("2026-09", 1000.0, 700.0, {})
    bridge = landing_bridge(prev, {"landing": 1010.0, "ytd_actual": 780.0, "month_actual": 80.0}, "2026-10")
    assert len(bridge) == 4 and bridge["amount"].iloc[1:-1].sum() == pytest.approx(10.0)
    december = _summary("2025-12", 1000.0, 1000.0, {})
    assert landing_bridge(december, {"landing": 90.0, "ytd_actual": 10.0, "month_actual": 10.0}, "2026-01") is None
    assert "No comparable" in bridge_text(None)


def test_flags_csv_opens_in_excel_with_chinese_and_no_formulas(tmp_path):
    flags = _flags({"华东": "red", '=HYPERLINK("x")': "green", "+1": "yellow", "@sum": "green"})
    flags.loc[0, "owner"] = "王伟"
    flags.loc[1, "gap"] = -10.5
    path = write_flags_csv(flags, tmp_path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert back.loc[0, "item"] == "华东" and back.loc[0, "owner"] == "王伟"
    assert back.loc[1, "item"] == '\'=HYPERLINK("x")'
    assert back.loc[2, "item"] == "'+1" and back.loc[3, "item"] == "'@sum"
    assert back.loc[1, "gap"] == -10.5  # numbers stay numbers
    assert back["cause_5why"].isna().all()
    with pytest.raises(RetroInputError, match="owner"):
        write_flags_csv(flags.drop(columns="owner"), tmp_path)


def test_neutralise_formulas_leaves_plain_text_alone():
    frame = pd.DataFrame({"a": ["-5", "ok", "\tx", None], "n": [-1.0, 2.0, 3.0, 4.0]})
    out = neutralise_formulas(frame)
    assert out["a"].tolist()[:3] == ["'-5", "ok", "'\tx"] and out["a"].iloc[3] is None
    assert out["n"].tolist() == [-1.0, 2.0, 3.0, 4.0]


def test_summary_round_trip_and_damaged_file(tmp_path):
    summary = build_summary(
        "2026-09",
        {"landing": np.float64(1.5), "p_hit": float("nan")},
        _flags({"East": "red"}),
        {"2026-10": 3.0},
        "approved v2",
    )
    path = write_summary(summary, tmp_path / "2026-09")
    assert path == previous_summary_path(tmp_path, "2026-10")
    back = read_summary(path)
    assert back["figures"] == {"landing": 1.5, "p_hit": None}
    assert back["flags"][0]["status"] == "red" and back["month"] == "2026-09"
    assert json.loads(path.read_text(encoding="utf-8"))["targets_source"] == "approved v2"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(RetroInputError, match="bad.json"):
        read_summary(bad)
    bad.write_text('{"schema": 99}', encoding="utf-8")
    with pytest.raises(RetroInputError, match="schema"):
        read_summary(bad)


@pytest.mark.parametrize(
    ("month", "modes"),
    [
        ("2026-01", ["month", "ytd"]),
        ("2026-03", ["month", "ytd", "quarter"]),
        ("2026-06", ["month", "ytd", "quarter", "half"]),
        ("2026-09", ["month", "ytd", "quarter"]),
        ("2026-12", ["month", "ytd", "quarter", "half", "year"]),
    ],
)
def test_report_modes(month, modes):
    assert report_modes(month) == modes


def test_windows():
    q = window("2026-08", "quarter")
    assert (q.start, q.end, q.months, q.label) == (pd.Timestamp("2026-07-01"), pd.Timestamp("2026-09-01"), 3, "Q3 2026")
    assert window("2026-08", "qtd").months == 2
    assert window("2026-08", "htd").start == pd.Timestamp("2026-07-01")
    assert window("2026-08", "ytd").months == 8
    assert str(previous_month("2026-01")) == "2025-12"
    with pytest.raises(RetroInputError, match="2026-13"):
        window("2026-13", "month")
    with pytest.raises(RetroInputError, match="weekly"):
        window("2026-01", "weekly")


def test_year_review_csv_is_rounded_and_excel_safe(tmp_path):
    view = pd.DataFrame(
        {
            "level": ["region", "rep"],
            "item": ["华东", "=cmd|' /C calc'!A0"],
            "actual": [1234.5678, 10.0],
            "target": [1000.0, 0.0],
            "attainment": [1.2345678, np.nan],
            "gap": [234.5678, 10.0],
            "previous_year": [1000.0, np.nan],
            "yoy": [0.2345678, np.nan],
        }
    )
    path = write_year_review(view, tmp_path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert back.loc[0, "item"] == "华东" and back.loc[1, "item"].startswith("'=")
    assert back.loc[0, "actual"] == 1234.57 and back.loc[0, "attainment"] == 1.2346
