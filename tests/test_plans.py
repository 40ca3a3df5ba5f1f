"""The plan in force: requested > approved (with forward revisions) > supplied targets > none."""

import hashlib

import pandas as pd
import pytest

from salesplan.plans import PlanInForceError, approve_command, plan_folder, resolve_plan
from salesplan.targets import TargetVersionError, approve_version, save_plan

ASSUMPTIONS = {"plan_year": 2026}


def _plan(per_month: int, year: int = 2026) -> pd.DataFrame:
    """Two cells per month, ``per_month`` split 3:1 over North/South."""
    rows = []
    for m in range(1, 13):
        rows.append((year, m, "North", "A", "R1", per_month * 3 // 4))
        rows.append((year, m, "South", "A", "R2", per_month - per_month * 3 // 4))
    return pd.DataFrame(rows, columns=["year", "month", "region", "product_line", "rep_id", "target_amount"])


@pytest.fixture
def data_dir(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    return raw


def _monthly(plan) -> list[int]:
    return plan.frame.groupby("month")["target_amount"].sum().astype(int).tolist()


def test_plans_live_beside_the_data_folder(data_dir):
    assert plan_folder(data_dir) == data_dir.parent / "targets"


def test_no_plan_says_so(data_dir):
    plan = resolve_plan(2026, data_dir)
    assert not plan.has_plan and plan.frame.empty
    assert (plan.months["source"] == "none").all()
    assert plan.describe().startswith("No plan for 2026")


def test_supplied_table_is_used_until_a_version_is_approved(data_dir):
    supplied = _plan(1000)
    sources = pd.DataFrame({"table": ["targets"], "file": ["targets.csv"], "sha256": ["ab" * 32]})
    folder = plan_folder(data_dir)
    # Drafts (any scenario) are never in force.
    save_plan(_plan(1200), ASSUMPTIONS, 2026, targets_dir=folder)
    save_plan(_plan(1500), ASSUMPTIONS, 2026, targets_dir=folder, scenario="stretch")
    plan = resolve_plan(2026, data_dir, supplied=supplied, supplied_files=sources)
    assert set(plan.months["source"]) == {"supplied"}
    assert plan.frame["target_amount"].sum() == 12_000
    assert "targets table supplied with the data (targets.csv, sha256 abababababab)" in plan.describe()

    approve_version(2026, "v1", folder, by="Li Wei", note="board")
    plan = resolve_plan(2026, data_dir, supplied=supplied, supplied_files=sources)
    assert set(plan.months["source"]) == {"approved"}
    assert plan.frame["target_amount"].sum() == 14_400
    assert plan.month(5)["approved_by"] == "Li Wei"
    digest = hashlib.sha256((folder / "targets_2026_v1.csv").read_bytes()).hexdigest()
    assert plan.month("2026-05")["sha256"] == digest
    assert "approved version v1" in plan.describe(5) and 'by Li Wei ("board")' in plan.describe(5)


def test_requested_version_wins_and_must_exist(data_dir):
    folder = plan_folder(data_dir)
    save_plan(_plan(1200), ASSUMPTIONS, 2026, targets_dir=folder)
    save_plan(_plan(1500), ASSUMPTIONS, 2026, targets_dir=folder)
    approve_version(2026, "v1", folder, by="A")
    plan = resolve_plan(2026, data_dir, requested="v2")
    assert set(plan.months["source"]) == {"requested"} and plan.frame["target_amount"].sum() == 18_000
    with pytest.raises(TargetVersionError, match="v7 not found"):
        resolve_plan(2026, data_dir, requested="v7")


def test_forward_revision_changes_only_months_from_its_start(data_dir):
    folder = plan_folder(data_dir)
    save_plan(_plan(1000), ASSUMPTIONS, 2026, targets_dir=folder)
    save_plan(_plan(1300), ASSUMPTIONS, 2026, targets_dir=folder)
    save_plan(_plan(1050), ASSUMPTIONS, 2026, targets_dir=folder)
    approve_version(2026, "v1", folder, by="A")
    before = resolve_plan(2026, data_dir, revision_flag_share=0.10)
    approve_version(2026, "v2", folder, by="B", note="Q3 push", from_month="2026-08")
    after = resolve_plan(2026, data_dir, revision_flag_share=0.10)
    assert _monthly(before) == [1000] * 12
    assert _monthly(after) == [1000] * 7 + [1300] * 5  # January-July keep what they were measured against
    assert after.month(7)["version"] == "v1" and after.month(8)["version"] == "v2"
    assert after.approvals[["version", "from_month", "by", "note"]].values.tolist() == [
        ["v1", "2026-01", "A", ""],
        ["v2", "2026-08", "B", "Q3 push"],
    ]
    segments = after.segments()
    assert segments["months"].tolist() == ["2026-01 .. 2026-07", "2026-08 .. 2026-12"]
    # +30 % on the touched months of Q3 and Q4: beyond the 10 % the method allows without an exception.
    rev = after.revisions.set_index("quarter")
    assert rev.loc["Q3", "before"] == 2000 and rev.loc["Q3", "after"] == 2600
    assert rev["flagged"].all()
    # A later, smaller revision from October: flagged only where it moves a quarter by more than 10 %.
    approve_version(2026, "v3", folder, by="C", from_month="2026-10")
    latest = resolve_plan(2026, data_dir, revision_flag_share=0.10)
    assert _monthly(latest) == [1000] * 7 + [1300] * 2 + [1050] * 3
    last = latest.revisions[latest.revisions["version"] == "v3"].set_index("quarter")
    assert last.loc["Q4", "change"] == pytest.approx(1050 / 1300 - 1) and bool(last.loc["Q4", "flagged"])


def test_re_approving_from_january_replaces_the_whole_year(data_dir):
    folder = plan_folder(data_dir)
    save_plan(_plan(1000), ASSUMPTIONS, 2026, targets_dir=folder)
    save_plan(_plan(1100), ASSUMPTIONS, 2026, targets_dir=folder)
    approve_version(2026, "v1", folder, by="A")
    approve_version(2026, "v2", folder, by="A")
    assert _monthly(resolve_plan(2026, data_dir)) == [1100] * 12


def test_an_approved_plan_file_that_changed_is_refused(data_dir):
    folder = plan_folder(data_dir)
    save_plan(_plan(1000), ASSUMPTIONS, 2026, targets_dir=folder)
    approve_version(2026, "v1", folder, by="A")
    path = folder / "targets_2026_v1.csv"
    path.write_text(path.read_text().replace(",750,", ",751,", 1))
    with pytest.raises(PlanInForceError, match="changed after it was approved"):
        resolve_plan(2026, data_dir)


def test_other_years_and_other_data_folders_stay_apart(tmp_path):
    one, two = tmp_path / "a" / "raw", tmp_path / "b" / "raw"
    one.mkdir(parents=True)
    two.mkdir(parents=True)
    save_plan(_plan(1000), ASSUMPTIONS, 2026, targets_dir=plan_folder(one))
    approve_version(2026, "v1", plan_folder(one), by="A")
    assert resolve_plan(2026, one).has_plan
    assert not resolve_plan(2026, two).has_plan
    assert not resolve_plan(2027, one).has_plan


def test_approve_command_names_the_data_folder_only_when_needed():
    assert approve_command(2027, "v1") == (
        'salesplan targets approve --year 2027 --version v1 --by "NAME" --note "WHAT WAS AGREED"'
    )
    assert "--data /tmp/x/raw" in approve_command(2027, "1", "/tmp/x/raw")


def test_closed_months_move_only_through_a_restating_approval(data_dir):
    from salesplan.targets.versions import ClosedMonthError

    folder = plan_folder(data_dir)
    closed = ["2026-01", "2026-02", "2026-03"]
    for per_month in (1000, 1200, 1500):
        save_plan(_plan(per_month), ASSUMPTIONS, 2026, targets_dir=folder)
    approve_version(2026, "v1", folder, by="A")
    published = _monthly(resolve_plan(2026, data_dir))[:3]
    # A revision after the closed months moves only open months.
    approve_version(2026, "v2", folder, by="B", from_month="2026-04", closed_months=closed)
    plan = resolve_plan(2026, data_dir)
    assert _monthly(plan)[:3] == published and _monthly(plan)[3:] == [1200] * 9
    # One that reaches back into them is refused and changes nothing.
    with pytest.raises(ClosedMonthError):
        approve_version(2026, "v3", folder, by="C", from_month="2026-03", closed_months=closed)
    assert _monthly(resolve_plan(2026, data_dir)) == _monthly(plan)
    # Restated, it moves them, and the plan's approval log says so.
    approve_version(2026, "v3", folder, by="C", from_month="2026-03", closed_months=closed, restate=True)
    plan = resolve_plan(2026, data_dir)
    # March only: from April the revision with the later first month (v2) stays in force.
    assert _monthly(plan) == [1000, 1000, 1500] + [1200] * 9
    assert plan.approvals["restate"].tolist() == [False, False, True]
    assert plan.approvals["restated_months"].iloc[-1] == ("2026-03",)
