"""End to end: the monthly run measures against the plan in force, and only that.

On a small sample company: with no plan anywhere every page says so and nothing is flagged;
with the supplied targets table the retrospective measures against it; drafts and what-if
scenarios change nothing; after an approval and a forward revision the pack follows them,
month by month.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from salesplan import cli, plans, targets
from salesplan.config import load_config
from salesplan.io import load_data
from salesplan.sample import write_sample

pytestmark = pytest.mark.slow  # the pack run under each plan state: make test-all

MONTH = "2026-10"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plan-sample")
    write_sample(root / "raw", scale=0.02)
    return root / "raw"


def _copy(sample: Path, tmp_path: Path, *, with_targets: bool) -> Path:
    raw = tmp_path / "company" / "raw"
    shutil.copytree(sample, raw, ignore=None if with_targets else shutil.ignore_patterns("targets*"))
    return raw


def _summary(reports: Path) -> dict:
    return json.loads((reports / MONTH / "retro_summary.json").read_text(encoding="utf-8"))


def _ytd(plan: pd.DataFrame, months: range) -> float:
    rows = plan[(plan["year"] == 2026) & plan["month"].isin(list(months))]
    return float(rows["target_amount"].sum())


def test_without_any_plan_every_page_says_so_and_nothing_is_flagged(sample: Path, tmp_path: Path) -> None:
    raw = _copy(sample, tmp_path, with_targets=False)
    reports = tmp_path / "reports"
    assert cli.main(["run", "--data", str(raw), "--reports", str(reports), "--jobs", "2"]) == 0
    month_dir = reports / MONTH
    assert "No plan for 2026" in (month_dir / "index.html").read_text(encoding="utf-8")
    for page in ("00_data_check", "03_forecast", "04_retrospective", "05_commissions"):
        assert "No plan for 2026" in (month_dir / f"{page}.html").read_text(encoding="utf-8"), page
    assert "No plan for 2025" in (month_dir / "01_review.html").read_text(encoding="utf-8")
    flags = pd.read_csv(month_dir / "flags.csv", encoding="utf-8-sig")
    assert set(flags["status"]) == {"no_target"}
    summary = _summary(reports)
    assert summary["figures"]["ytd_target"] == 0 and summary["figures"]["annual_target"] == 0
    assert "No plan for 2026" in summary["targets_source"]
    run = json.loads((month_dir / "run.json").read_text(encoding="utf-8"))
    assert run["plan"]["has_plan"] is False
    # The forecast is fitted once per run: by the forecast page, then read by the retrospective.
    assert (
        "Forecast: fitted by this page and stored in the run folder." in (month_dir / "03_forecast.ipynb").read_text()
    )
    assert "Forecast: read from the run folder." in (month_dir / "04_retrospective.ipynb").read_text()
    assert not list(month_dir.glob(".*"))  # nothing hidden (locks, temporary files) is published
    # The targets page drafted next year's plan beside the data; a draft is never in force.
    assert (raw.parent / "targets" / "targets_2027_v1.csv").exists()
    assert not plans.resolve_plan(2027, raw).has_plan


def test_the_pack_follows_supplied_then_approved_and_revised_plans(sample: Path, tmp_path: Path, capsys) -> None:
    raw = _copy(sample, tmp_path, with_targets=True)
    reports = tmp_path / "reports"
    supplied = load_data(raw, load_config("config/salesplan.yaml")).targets
    run = ["run", "--data", str(raw), "--reports", str(reports), "--only", "04"]

    assert cli.main(run) == 0
    assert _summary(reports)["figures"]["ytd_target"] == pytest.approx(_ytd(supplied, range(1, 11)))

    # A stretch what-if saves a draft and changes nothing in the pack.
    assert cli.main([*run[:-1], "02", "-p", "scenario", "stretch"]) == 0
    versions = targets.list_versions(plans.plan_folder(raw))
    assert set(versions["status"]) == {"draft"} and "stretch" in set(versions["scenario"])
    assert cli.main(run) == 0
    assert _summary(reports)["figures"]["ytd_target"] == pytest.approx(_ytd(supplied, range(1, 11)))

    # Approve a plan 10 % above the supplied one, then revise it from July to 20 % above.
    folder = plans.plan_folder(raw)
    plan_2026 = supplied[supplied["year"] == 2026]
    v_up = targets.save_plan(
        plan_2026.assign(target_amount=(plan_2026["target_amount"] * 1.1).round()), {}, 2026, folder
    )
    v_rev = targets.save_plan(
        plan_2026.assign(target_amount=(plan_2026["target_amount"] * 1.2).round()), {"rev": 1}, 2026, folder
    )
    base = ["targets", "approve", "--year", "2026", "--data", str(raw), "--by", "CFO", "--reports", str(reports)]
    # October's pack is published: approving over it is a restatement, refused unless said so.
    assert cli.main([*base, "--version", v_up.version, "--note", "budget"]) == 2
    assert "2026-10 is closed" in capsys.readouterr().err
    assert targets.read_approvals(folder) == []
    assert cli.main([*base, "--version", v_up.version, "--note", "budget", "--restate"]) == 0
    assert cli.main([*base, "--version", v_rev.version, "--from-month", "2026-07", "--restate"]) == 0
    assert [a.restated_months for a in targets.read_approvals(folder)] == [("2026-10",), ("2026-10",)]
    capsys.readouterr()
    assert cli.main(run) == 0
    up, rev = (targets.read_version(2026, v, folder)[0] for v in (v_up.version, v_rev.version))
    expected = _ytd(up, range(1, 7)) + _ytd(rev, range(7, 11))
    summary = _summary(reports)
    assert summary["figures"]["ytd_target"] == pytest.approx(expected)
    assert summary["figures"]["month_target"] == pytest.approx(_ytd(rev, range(10, 11)))
    book = load_workbook(reports / MONTH / f"pack_{MONTH}.xlsx", read_only=True)
    assert {"Summary", "Plan in force", "Flags", "Commissions", "Landing", "Forecast", "KPIs"} <= set(book.sheetnames)
    rows = {r[0]: r[1] for r in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert rows["Year-to-date target"] == pytest.approx(expected)
    header, *plan_rows = book["Plan in force"].iter_rows(values_only=True)
    amount = header.index("target_amount")  # by name: the sheet puts rep names beside rep ids
    assert sum(r[amount] for r in plan_rows) == pytest.approx(_ytd(up, range(1, 7)) + _ytd(rev, range(7, 13)))
    index = (reports / MONTH / "index.html").read_text(encoding="utf-8")
    assert f"pack_{MONTH}.xlsx" in index
    assert f"2026-01 .. 2026-06: approved version {v_up.version}" in index
    assert f"2026-07 .. 2026-12: approved version {v_rev.version}" in index and "by CFO" in index

    # An explicitly requested version that does not exist stops the run before anything runs.
    assert cli.main([*run, "--plan", "v99"]) == 2
    assert "v99 not found" in capsys.readouterr().err
