"""Closed months stay closed, end to end on the sample: three published retrospectives, a
revision reaching back into them refused without ``--restate`` and restated with it, and the
next month's retrospective showing each restated month and rep as published and as restated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from salesplan import cli
from salesplan.config import PROJECT_ROOT
from salesplan.retro import page
from salesplan.retro.month import build_retrospective, write_retrospective
from salesplan.targets import read_approvals, save_plan
from salesplan.workbook import open_workbook

pytestmark = pytest.mark.slow  # published months restated through the pack: make test-all

SAMPLE = PROJECT_ROOT / "data" / "raw"
CLOSED = ["2026-07", "2026-08", "2026-09"]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not any(SAMPLE.glob("orders*")):
        pytest.fail("the sample company is missing from data/raw: run `make sample-data` first")
    root = tmp_path_factory.mktemp("restate")
    raw = root / "raw"
    shutil.copytree(SAMPLE, raw, ignore=shutil.ignore_patterns(".*"))
    reports = root / "reports"
    for month in CLOSED:
        wb = open_workbook(month=month, data_dir=raw, output_dir=reports / month)
        write_retrospective(build_retrospective(wb), wb, reports / month)
    return {"raw": raw, "reports": reports}


def _approve(paths: dict[str, Path], *extra: str) -> int:
    return cli.main(
        ["targets", "approve", "--year", "2026", "--version", "v1", "--by", "Board", "--from-month", "2026-07",
         "--data", str(paths["raw"]), "--reports", str(paths["reports"]), *extra]
    )  # fmt: skip


def test_a_revision_into_published_months_is_refused_then_restated(
    published: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    raw, reports = published["raw"], published["reports"]
    wb = open_workbook(month="2026-10", data_dir=raw)
    # The revision: every rep's target 10 % higher from July on, a plan nobody has paid on yet.
    plan = wb.plan.frame.assign(target_amount=lambda d: (d["target_amount"] * 1.1).round(0))
    save_plan(plan, {"note": "revision"}, 2026, targets_dir=raw.parent / "targets")
    published_sept = pd.read_excel(reports / "2026-09" / "pack_2026-09.xlsx", sheet_name="Commissions")

    assert _approve(published) == 2
    err = capsys.readouterr().err
    assert all(m in err for m in CLOSED) and "--restate" in err
    assert read_approvals(raw.parent / "targets") == []  # refused: nothing recorded

    assert _approve(published, "--restate") == 0
    (approval,) = read_approvals(raw.parent / "targets")
    assert approval.restate and list(approval.restated_months) == CLOSED

    wb = open_workbook(month="2026-10", data_dir=raw, output_dir=reports / "2026-10")
    retro = build_retrospective(wb)
    table = retro.restatement
    assert sorted(table["month"].unique()) == CLOSED
    assert (table["difference"] == table["payout_restated"] - table["payout_published"]).all()
    # Targets went up by 10 %: attainment falls for every rep who had a target, and so does the pay.
    changed = table.loc[table["attainment_published"] > 0]
    assert (changed["attainment_restated"] < changed["attainment_published"]).all()
    assert table["difference"].sum() < 0
    # "As published" is what the September pack paid.
    sept = table.loc[table["month"] == "2026-09"].set_index("rep_id")["payout_published"]
    paid = published_sept.loc[published_sept["month"].astype(str).str.startswith("2026-09")]
    if len(paid):
        paid = paid.groupby(paid["rep_id"].astype(str))["total_payout"].sum()
        assert sept.reindex(paid.index).to_numpy() == pytest.approx(paid.to_numpy(), abs=0.01)
    # The page and the pack show it, and the summary records it so later packs do not repeat it.
    html = page.restatement_table(retro).to_html()
    assert "2026-09" in html and "restated" in html
    written = write_retrospective(retro, wb, reports / "2026-10")
    sheets = pd.read_excel(next(p for p in written if p.suffix == ".xlsx" and p.name.startswith("pack")), None)
    assert len(sheets["Restatement"]) == len(table)
