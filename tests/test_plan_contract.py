"""One contract for plans: a hand-made, drafted or edited plan is checked before it is approved or
used, the approvals log is written all or nothing, and the approve command pages print runs as printed."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pandas as pd
import pytest

from salesplan import cli, config, plans, targets
from salesplan.config import PROJECT_ROOT
from salesplan.targets.versions import PlanContractError, PlanReference, check_plan


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    assert cli.main(["sample", "--out", str(out), "--scale", "0.02", "--seed", "7"]) == 0
    return out


@pytest.fixture()
def data(sample_dir: Path, tmp_path: Path) -> Path:
    """A copy of the sample outside the project, in a folder whose name needs quoting."""
    target = tmp_path / "exports of 2026" / "raw"
    shutil.copytree(sample_dir, target)
    return target


def _supplied(data: Path) -> pd.DataFrame:
    from salesplan.io import load_data

    supplied = load_data(data, config.load_config("config/salesplan.yaml")).targets
    return supplied[supplied["year"] == 2026][["year", "month", "region", "product_line", "rep_id", "target_amount"]]


def _hand_made(data: Path, plan: pd.DataFrame, version: str = "v1") -> Path:
    """A plan file written by hand into the plan folder (no assumptions file, amounts as typed)."""
    folder = plans.plan_folder(data)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"targets_2026_{version}.csv"
    plan.to_csv(path, index=False)
    return path


def _approve(data: Path, tmp_path: Path, capsys, version: str = "v1", *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(
        ["targets", "approve", "--year", "2026", "--version", version, "--by", "CFO", "--data", str(data),
         "--reports", str(tmp_path / "reports"), *extra]
    )  # fmt: skip
    out, err = capsys.readouterr()
    return code, out, err


def _log(data: Path) -> bytes:
    log = plans.plan_folder(data) / "approvals.jsonl"
    return log.read_bytes() if log.exists() else b"<no log>"


def _line(plan: pd.DataFrame, position: int) -> int:
    """The line of the file a plan row is written on (header = line 1)."""
    return position + 2


def _refused_cases(plan: pd.DataFrame, leaver: str, leave_month: int) -> dict[str, tuple[pd.DataFrame, int, str]]:
    """Hand-made plans that break one rule each: the plan, the line of the bad cell, the rule's words."""
    amounts = plan["target_amount"].astype("int64").astype(str)
    negative = plan.assign(target_amount=amounts.where(plan.index != plan.index[3], "-5000"))
    unknown = plan.assign(rep_id=plan["rep_id"].where(plan.index != plan.index[4], "R999"))
    text = plan.assign(target_amount=amounts.where(plan.index != plan.index[5], "about 1000"))
    decimal_comma = plan.assign(target_amount=amounts.where(plan.index != plan.index[6], "1000,5"))
    december = plan.index[plan["month"] == 12][0]
    after_leave = plan.assign(rep_id=plan["rep_id"].where(plan.index != december, leaver))
    return {
        "negative": (negative, _line(plan, 3), "negative amount"),
        "unknown rep": (unknown, _line(plan, 4), "unknown rep_id"),
        "text amount": (text, _line(plan, 5), "not a number"),
        "decimal comma": (decimal_comma, _line(plan, 6), "decimal comma"),
        "rep after leaving": (
            after_leave,
            _line(plan, plan.index.get_loc(december)),
            f"left in 2026-{leave_month:02d}",
        ),
        "missing month": (plan[plan["month"] != 3], None, "month missing"),
    }


def test_a_plan_breaking_the_contract_is_refused_with_its_table_and_the_log_untouched(
    data: Path, tmp_path: Path, capsys
) -> None:
    plan = _supplied(data).reset_index(drop=True)
    reps = pd.read_csv(data / "reps.csv", parse_dates=["leave_date"])
    gone = reps.dropna(subset=["leave_date"]).query("leave_date < '2026-12-01'").iloc[0]
    # An earlier, valid approval: the log has a line to keep byte-identical.
    _hand_made(data, plan, "v1")
    assert _approve(data, tmp_path, capsys, "v1")[0] == 0
    before = _log(data)
    for case, (bad, line, rule) in _refused_cases(plan, gone["rep_id"], gone["leave_date"].month).items():
        _hand_made(data, bad, "v2")
        code, out, err = _approve(data, tmp_path, capsys, "v2")
        assert code == 2, (case, out, err)
        assert "Approved" not in out and "Traceback" not in err
        assert "cannot approve v2 of 2026: the plan breaks the plan contract; nothing was written" in err
        header = next(x for x in err.splitlines() if x.startswith("file"))
        assert header.split() == ["file", "row", "column", "value", "rule"], case
        problem = next(x for x in err.splitlines() if rule in x and x.startswith("targets_2026_v2.csv"))
        if line is not None:
            assert f" {line} " in problem, (case, problem)
        assert _log(data) == before, case
        # The year's plan still settles and lists: v1 stays in force.
        assert plans.resolve_plan(2026, data).months["version"].eq("v1").all()
        code, out, _ = cli.main(["targets", "list", "--data", str(data)]), *capsys.readouterr()
        assert code == 0 and re.search(r"2026 2026-01 \.\. 2026-12 +approved +v1 ", out), case


def test_a_thousands_separator_is_read_by_the_documented_number_rules(data: Path, tmp_path: Path, capsys) -> None:
    plan = _supplied(data).reset_index(drop=True)
    typed = plan.assign(target_amount=plan["target_amount"].astype("int64").astype(str))
    typed.loc[0, "target_amount"] = "1,000"  # as Excel shows it; read as 1000 (a grouping comma)
    _hand_made(data, typed)
    code, out, err = _approve(data, tmp_path, capsys)
    assert code == 0, err
    assert "Approved v1 of 2026 for the whole year by CFO" in out
    in_force = plans.resolve_plan(2026, data).frame
    assert in_force["target_amount"].sum() == plan["target_amount"].iloc[1:].sum() + 1000
    assert in_force["target_amount"].dtype == "int64"
    code, out, _ = cli.main(["targets", "list", "--data", str(data), "--year", "2026"]), *capsys.readouterr()
    assert code == 0 and "approved by CFO" in out


def test_an_approved_version_is_immutable(data: Path, tmp_path: Path, capsys) -> None:
    plan = _supplied(data).reset_index(drop=True)
    path = _hand_made(data, plan)
    approved = path.read_bytes()
    assert _approve(data, tmp_path, capsys)[0] == 0
    before = _log(data)
    _hand_made(data, plan.assign(target_amount=plan["target_amount"] + 1))  # re-edited after approval
    code, out, err = _approve(data, tmp_path, capsys, "v1", "--from-month", "2026-07")
    assert code == 2 and "Approved" not in out
    assert "has changed since it was approved" in err and "save the edited plan as a new version" in err
    assert _log(data) == before
    # Saved as a new version (the copy names itself by its file), it is approved.
    shutil.copy(path, path.with_name("targets_2026_v2.csv"))
    path.write_bytes(approved)  # v1 restored to what was approved
    code, _, err = _approve(data, tmp_path, capsys, "v2", "--from-month", "2026-07")
    assert code == 0, err
    frame = plans.resolve_plan(2026, data).frame
    assert set(frame.loc[frame["month"] >= 7, "version"]) == {"v2"}
    assert set(frame.loc[frame["month"] < 7, "version"]) == {"v1"}


def test_approving_on_a_corrupt_log_appends_nothing_and_names_the_line(data: Path, tmp_path: Path, capsys) -> None:
    plan = _supplied(data).reset_index(drop=True)
    _hand_made(data, plan, "v1")
    _hand_made(data, plan.assign(target_amount=plan["target_amount"] * 2), "v2")
    assert _approve(data, tmp_path, capsys, "v1")[0] == 0
    log = plans.plan_folder(data) / "approvals.jsonl"
    log.write_bytes(log.read_bytes() + b'{"year": 2026, "version": "v1", "by": "CF\n')  # a line cut short
    before = log.read_bytes()
    for _ in range(2):  # a retry changes nothing either
        code, out, err = _approve(data, tmp_path, capsys, "v2")
        assert code == 2 and "Approved" not in out and "Traceback" not in err
        assert "approvals.jsonl, line 2: not a valid approval record" in err and "repair that line" in err
        assert log.read_bytes() == before
    with pytest.raises(plans.PlanInForceError, match="line 2"):
        plans.resolve_plan(2026, data)
    # A run reading the plan says what is wrong without naming an option nobody typed.
    capsys.readouterr()
    code = cli.main(["run", "--data", str(data), "--reports", str(tmp_path / "reports"), "--only", "00"])
    err = capsys.readouterr().err
    assert code == 2 and "line 2" in err and "--plan" not in err and "Traceback" not in err
    assert not (tmp_path / "reports").exists()


def test_the_printed_approve_command_runs_as_printed_for_data_outside_the_project(
    data: Path, tmp_path: Path, capsys
) -> None:
    plan = _supplied(data)
    version = targets.save_plan(
        plan.assign(target_amount=plan["target_amount"] * 1.05).round(), {}, 2026, plans.plan_folder(data)
    ).version
    reports = tmp_path / "reports of 2026"
    command = plans.approve_command(2026, version, str(data), reports_dir=str(reports))
    assert f"--data {shlex.quote(str(data))}" in command  # absolute: the data are outside the project
    args = shlex.split(command)
    assert args[0] == "salesplan"
    capsys.readouterr()
    code = cli.main(args[1:])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"Approved {version} of 2026 for the whole year by NAME" in out
    assert [a.note for a in targets.read_approvals(plans.plan_folder(data))] == ["WHAT WAS AGREED"]


def test_printed_paths_are_relative_inside_the_project_and_as_given_when_relative() -> None:
    assert "--data" not in plans.approve_command(2027, "v1", PROJECT_ROOT / "data" / "raw")
    assert " --data data/other " in plans.approve_command(2027, "v1", PROJECT_ROOT / "data" / "other")
    assert " --data ../exports/raw " in plans.approve_command(2027, "v1", "../exports/raw")
    assert " --reports '/srv/my reports' " in plans.approve_command(2027, "v1", reports_dir="/srv/my reports")
    assert " --config config/other.yaml " in plans.approve_command(2027, "v1", config_path="config/other.yaml")


def test_check_plan_without_data_still_checks_amounts_cells_and_months() -> None:
    plan = pd.DataFrame(
        {"year": 2026, "month": [1, 1, 2], "region": "North", "product_line": "A", "rep_id": ["R1", "R1", None],
         "target_amount": [10.0, 10.0, 2.5]},
        index=[2, 3, 4],
    )  # fmt: skip
    report = check_plan(plan, 2026, file="plan.csv")
    rules = report.groupby("rule")["row"].apply(list).to_dict()
    assert rules["repeated plan cell, first at row 2"] == [3]
    assert rules["not a whole amount: targets are whole currency units"] == [4]
    missing = report.loc[report["rule"].str.startswith("month missing"), "value"].tolist()
    assert missing == [f"2026-{m:02d}" for m in range(3, 13)]
    reps = pd.DataFrame({"rep_id": ["R1"], "hire_date": [pd.Timestamp("2026-02-10")], "leave_date": [pd.NaT]})
    reference = PlanReference(regions=frozenset({"North"}), product_lines=frozenset({"A"}), reps=reps)
    report = check_plan(plan.iloc[[0, 2]], 2026, file="plan.csv", reference=reference, whole_year=False)
    assert report.loc[report["rule"].str.startswith("hired in 2026-02"), "row"].tolist() == [2]


def test_a_plan_contract_error_is_a_data_problem_table() -> None:
    from salesplan.schema import DataValidationError

    assert issubclass(PlanContractError, DataValidationError)
