"""Saved target versions: content-addressed, write-once, approvals in a separate registry."""

import hashlib

import pandas as pd
import pytest

from salesplan.targets import (
    TargetInputError,
    TargetVersionError,
    approve_version,
    list_versions,
    load_assumptions,
    read_approvals,
    read_version,
    save_plan,
)


def _plan(amount: int = 100, year: int = 2026, whole_year: bool = True) -> pd.DataFrame:
    """January ``amount`` and February 75 over two reps; March to December rows of 0 (a plan has every month)."""
    months = [f"{year}-01-01", f"{year}-02-01", f"{year}-02-01"]
    plan = pd.DataFrame(
        {
            "year": year,
            "month": pd.to_datetime(months),
            "region": ["North", "North", "South"],
            "product_line": ["A", "A", "B"],
            "rep_id": ["R1", "R1", "R2"],
            "target_amount": [amount, 50, 25],
        }
    )
    if not whole_year:
        return plan
    rest = pd.DataFrame(
        {"year": year, "month": pd.date_range(f"{year}-03-01", periods=10, freq="MS"), "region": "North",
         "product_line": "A", "rep_id": "R1", "target_amount": 0}
    )  # fmt: skip
    return pd.concat([plan, rest], ignore_index=True)


ASSUMPTIONS = {"plan_year": 2026, "scenario": "base", "targets": {"top_down": {"multiplier": 1.4}}}


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_first_save_writes_v1_with_contract_columns(tmp_path):
    res = save_plan(_plan(), ASSUMPTIONS, 2026, targets_dir=tmp_path)
    assert res.created and res.version == "v1"
    assert res.path == tmp_path / "targets_2026_v1.csv"
    saved = pd.read_csv(res.path)
    assert list(saved.columns) == [
        "year", "month", "region", "product_line", "rep_id", "target_amount", "quota_amount", "version",
    ]  # fmt: skip
    assert saved["month"].tolist() == [1, 2, 2, *range(3, 13)]
    assert saved["target_amount"].sum() == 175
    assert (saved["version"] == "v1").all()
    meta = load_assumptions(2026, "v1", targets_dir=tmp_path)
    assert meta["assumptions"] == ASSUMPTIONS
    assert meta["total"] == 175


def test_identical_rerun_writes_nothing_and_keeps_files_byte_identical(tmp_path):
    save_plan(_plan(), ASSUMPTIONS, 2026, targets_dir=tmp_path)
    before = _digests(tmp_path)
    # Row order and an unrelated note do not make a plan different.
    again = save_plan(_plan().iloc[::-1], ASSUMPTIONS, 2026, targets_dir=tmp_path, note="monthly re-run")
    assert not again.created
    assert again.version == "v1"
    assert "unchanged" in again.message
    assert _digests(tmp_path) == before


def test_changed_assumption_adds_a_version_and_leaves_old_files(tmp_path):
    save_plan(_plan(), ASSUMPTIONS, 2026, targets_dir=tmp_path)
    before = _digests(tmp_path)
    changed = {**ASSUMPTIONS, "targets": {"top_down": {"multiplier": 1.5}}}
    res = save_plan(_plan(), changed, 2026, targets_dir=tmp_path)
    assert res.created and res.version == "v2"
    after = _digests(tmp_path)
    assert {k: after[k] for k in before} == before
    assert set(after) - set(before) == {"targets_2026_v2.csv", "targets_2026_v2.assumptions.yaml"}


def test_changed_plan_adds_a_version(tmp_path):
    save_plan(_plan(100), ASSUMPTIONS, 2026, targets_dir=tmp_path)
    assert save_plan(_plan(101), ASSUMPTIONS, 2026, targets_dir=tmp_path).version == "v2"
    # Going back to the first plan finds it again instead of adding v3.
    back = save_plan(_plan(100), ASSUMPTIONS, 2026, targets_dir=tmp_path)
    assert (back.version, back.created) == ("v1", False)


def test_existing_version_file_is_never_overwritten(tmp_path):
    # A stray file under the next version's name (e.g. a half-finished save) is skipped, not replaced.
    (tmp_path / "targets_2026_v1.assumptions.yaml").write_text("sha256: other\n")
    res = save_plan(_plan(), ASSUMPTIONS, 2026, targets_dir=tmp_path)
    assert res.version == "v2"
    assert (tmp_path / "targets_2026_v1.assumptions.yaml").read_text() == "sha256: other\n"


def test_list_shows_drafts_and_approvals(tmp_path):
    save_plan(_plan(100), ASSUMPTIONS, 2026, targets_dir=tmp_path)
    save_plan(_plan(200), ASSUMPTIONS, 2026, targets_dir=tmp_path, scenario="stretch")
    approve_version(2026, "v1", targets_dir=tmp_path, by="Li Wei", note="board 2025-12-12")
    before = _digests(tmp_path)
    save_plan(_plan(300), ASSUMPTIONS, 2026, targets_dir=tmp_path)  # a later run adds a draft v3
    assert {k: v for k, v in _digests(tmp_path).items() if k in before and k != "approvals.jsonl"} == {
        k: v for k, v in before.items() if k != "approvals.jsonl"
    }
    versions = list_versions(tmp_path)
    assert versions["version"].tolist() == ["v1", "v2", "v3"]
    assert versions["status"].tolist() == ["approved by Li Wei", "draft", "draft"]
    assert versions["scenario"].tolist() == ["base", "stretch", "base"]
    assert versions["total"].tolist() == [175, 275, 375]
    assert versions["sha256"].str.len().eq(64).all()


def test_approvals_are_an_append_only_log(tmp_path):
    save_plan(_plan(100), ASSUMPTIONS, 2026, targets_dir=tmp_path)
    save_plan(_plan(200), ASSUMPTIONS, 2026, targets_dir=tmp_path)
    first = approve_version(2026, "v1", targets_dir=tmp_path, by="Li Wei")
    log = (tmp_path / "approvals.jsonl").read_bytes()
    second = approve_version(2026, "v2", targets_dir=tmp_path, by="Wang Fang", note="Q3", from_month="2026-07")
    assert (tmp_path / "approvals.jsonl").read_bytes().startswith(log)  # earlier lines never rewritten
    assert [a.version for a in read_approvals(tmp_path)] == ["v1", "v2"]
    assert first.from_month == "2026-01" and second.from_month == "2026-07"
    assert second.sha256 == hashlib.sha256((tmp_path / "targets_2026_v2.csv").read_bytes()).hexdigest()


def test_errors_are_clear(tmp_path):
    save_plan(_plan(), ASSUMPTIONS, 2026, targets_dir=tmp_path)
    with pytest.raises(TargetVersionError, match="cannot approve v9 of 2026"):
        approve_version(2026, "v9", targets_dir=tmp_path, by="A")
    with pytest.raises(TargetVersionError, match="v5 not found"):
        read_version(2026, 5, targets_dir=tmp_path)
    with pytest.raises(TargetVersionError, match="not of the form"):
        approve_version(2026, "latest", targets_dir=tmp_path, by="A")
    with pytest.raises(TargetVersionError, match="--by NAME"):
        approve_version(2026, "v1", targets_dir=tmp_path, by=" ")
    with pytest.raises(TargetVersionError, match="a month of 2026"):
        approve_version(2026, "v1", targets_dir=tmp_path, by="A", from_month="2027-03")
    with pytest.raises(TargetInputError, match="expected only 2027"):
        save_plan(_plan(), ASSUMPTIONS, 2027, targets_dir=tmp_path)
    with pytest.raises(TargetInputError, match="whole currency units"):
        save_plan(_plan(whole_year=False).assign(target_amount=[1.5, 2, 3]), ASSUMPTIONS, 2026, targets_dir=tmp_path)
    with pytest.raises(TargetInputError, match="missing column"):
        save_plan(_plan().drop(columns="rep_id"), ASSUMPTIONS, 2026, targets_dir=tmp_path)


def test_years_are_versioned_independently(tmp_path):
    save_plan(_plan(), ASSUMPTIONS, 2026, targets_dir=tmp_path)
    res = save_plan(_plan(year=2027), ASSUMPTIONS, 2027, targets_dir=tmp_path)
    assert res.version == "v1" and res.created


def test_rep_month_targets_from_contract_or_dates():
    from salesplan.targets import rep_month_targets

    contract = _plan(whole_year=False).assign(month=[1, 2, 2])
    out = rep_month_targets(contract)
    assert out["month"].tolist() == list(pd.to_datetime(["2026-01-01", "2026-02-01", "2026-02-01"]))
    assert out.set_index(["rep_id", "month"])["target"].to_dict() == {
        ("R1", pd.Timestamp("2026-01-01")): 100,
        ("R1", pd.Timestamp("2026-02-01")): 50,
        ("R2", pd.Timestamp("2026-02-01")): 25,
    }
    assert rep_month_targets(_plan())["target"].sum() == 175


def test_concurrent_saves_never_mix_files(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    plans = [_plan(100 + i) for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda p: save_plan(p, ASSUMPTIONS, 2026, targets_dir=tmp_path), plans))
    assert all(r.created for r in results)
    assert sorted(int(r.version[1:]) for r in results) == list(range(1, 9))
    # Each version's plan file and assumptions file belong together.
    for r in results:
        saved = pd.read_csv(r.path)
        assert saved["target_amount"].sum() == load_assumptions(2026, r.version, targets_dir=tmp_path)["total"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_targets_dir_sits_beside_the_data(tmp_path):
    from salesplan.config import PROJECT_ROOT
    from salesplan.targets import targets_dir_for

    assert targets_dir_for("data/raw") == PROJECT_ROOT / "data" / "targets"
    assert targets_dir_for(tmp_path / "raw") == tmp_path / "targets"


def test_an_approval_of_closed_months_is_refused_unless_it_restates(tmp_path):
    from salesplan.targets.versions import ClosedMonthError, restated_by

    save_plan(_plan(100), ASSUMPTIONS, 2026, targets_dir=tmp_path)
    closed = ["2025-12", "2026-01", "2026-02", "2026-03"]  # December 2025 is another year's: never restated
    assert restated_by("2026-02", closed) == ["2026-02", "2026-03"]
    assert restated_by("2026-04", closed) == []
    with pytest.raises(ClosedMonthError, match="2026-02 and 2026-03 are closed") as refused:
        approve_version(2026, "v1", targets_dir=tmp_path, by="A", from_month="2026-02", closed_months=closed)
    assert refused.value.closed == ["2026-02", "2026-03"]
    assert "approve from 2026-04" in str(refused.value)
    assert not (tmp_path / "approvals.jsonl").exists()  # nothing written
    later = approve_version(2026, "v1", targets_dir=tmp_path, by="A", from_month="2026-04", closed_months=closed)
    assert not later.restate and later.restated_months == ()
    restating = approve_version(2026, "v1", targets_dir=tmp_path, by="B", closed_months=closed, restate=True)
    assert restating.restate and restating.restated_months == ("2026-01", "2026-02", "2026-03")
    assert [(a.restate, a.restated_months) for a in read_approvals(tmp_path)] == [
        (False, ()),
        (True, ("2026-01", "2026-02", "2026-03")),
    ]
    assert list_versions(tmp_path)["status"].iloc[0].endswith("by B, restating 2026-01, 2026-02, 2026-03")


def test_an_approval_log_of_an_earlier_release_still_reads(tmp_path):
    save_plan(_plan(100), ASSUMPTIONS, 2026, targets_dir=tmp_path)
    (tmp_path / "approvals.jsonl").write_text(
        '{"approved_at": "2026-01-05T09:00:00Z", "by": "Li Wei", "from_month": "2026-01", "note": "board", '
        '"sha256": null, "version": "v1", "year": 2026}\n',
        encoding="utf-8",
    )
    (old,) = read_approvals(tmp_path)
    assert (old.version, old.by, old.restate, old.restated_months) == ("v1", "Li Wei", False, ())
    assert list_versions(tmp_path)["status"].tolist() == ["approved by Li Wei"]


def test_page_words_for_the_saved_versions_and_the_reconciliation() -> None:
    from salesplan.targets.views import reconciliation_words, saved_versions

    versions = pd.DataFrame(
        {
            "year": [2027, 2027, 2026],
            "version": ["v1", "v2", "v1"],
            "created": ["2026-12-07T15:01:31Z", "2026-12-07T15:28:54Z", "2025-12-01T09:00:00Z"],
            "scenario": ["base"] * 3,
            "total": [1.0, 2.0, 3.0],
            "note": ["", "", ""],
            "status": ["draft", "approved", "approved"],
            "sha256": ["ab"] * 3,
        }
    )
    shown = saved_versions(versions, 2027)
    assert list(shown["version"]) == ["v1", "v2"] and "sha256" not in shown and "year" not in shown
    assert list(shown["created"]) == ["2026-12-07 15:01 UTC", "2026-12-07 15:28 UTC"]
    assert "scale_to_top_down" not in reconciliation_words({"rule": "scale_to_top_down"})
    assert reconciliation_words({"rule": "blend", "weight": 0.7}) == "closed by a blend: 70 % top-down, 30 % bottom-up"
