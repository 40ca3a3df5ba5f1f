"""The `salesplan` command: exit codes and messages, never a traceback for bad input."""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from salesplan import cli, config, plans, targets
from salesplan import run as runner

MONTH = "2026-10"


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    assert cli.main(["sample", "--out", str(out), "--scale", "0.02", "--seed", "7"]) == 0
    return out


@pytest.fixture()
def data_copy(sample_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(sample_dir, target)
    return target


@pytest.fixture()
def previous_report(tmp_path: Path) -> Path:
    """An existing report of the month that every failing command must leave alone."""
    reports = tmp_path / "reports"
    month_dir = reports / MONTH
    month_dir.mkdir(parents=True)
    (month_dir / "index.html").write_text("<html>earlier run</html>", encoding="utf-8")
    (month_dir / "run.json").write_text('{"month": "2026-10"}', encoding="utf-8")
    return reports


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


def trivial_notebooks(folder: Path, body: str = "print(month)") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("month = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "00_trivial.ipynb")
    return folder


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = cli.main(args)
    except SystemExit as exc:  # argparse errors and --help
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def orders_file(data: Path) -> Path:
    return sorted(data.glob("orders_*.csv"))[-1]


def corrupt(data: Path, column: str, value: str | None) -> tuple[Path, str]:
    """Set ``column`` of the first data line of the latest orders file to ``value``
    (None drops the column); return the file and the line number the user sees."""
    path = orders_file(data)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if value is None:
        frame = frame.drop(columns=[column])
    else:
        frame.loc[0, column] = value
    frame.to_csv(path, index=False)
    return path, "2"


# --------------------------------------------------------------------------- bad data


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("order_date", "2026-02-30", "2026-02-30"),
        ("rep_id", "R999", "R999"),
        ("net_amount", "twelve", "twelve"),
        ("sku", None, "sku"),
    ],
    ids=["bad-date", "unknown-rep", "text-amount", "missing-column"],
)
def test_run_on_corrupted_orders_prints_the_error_table_and_exits_2(
    data_copy: Path, previous_report: Path, capsys, column: str, value: str | None, expected: str
) -> None:
    path, line = corrupt(data_copy, column, value)
    before = digest(previous_report)
    code, out, err = run_cli(
        ["run", "--month", MONTH, "--data", str(data_copy), "--reports", str(previous_report)], capsys
    )
    assert code == 2
    assert "failed validation" in err
    table = err.splitlines()
    header = next(i for i, text in enumerate(table) if re.match(r"\s*file\s+row\s+column\s+value\s+rule", text))
    body = "\n".join(table[header + 1 :])
    assert path.name in body and expected in body
    if value is not None:  # a cell problem names its line; a missing column concerns the whole file
        assert re.search(rf"{re.escape(path.name)}\s+{line}\s+{column}", body), body
    assert digest(previous_report) == before  # nothing written, not even a lock file


def test_validate_reports_good_and_bad_data(data_copy: Path, capsys) -> None:
    code, out, _ = run_cli(["validate", "--data", str(data_copy)], capsys)
    assert code == 0
    assert re.search(r"orders\s+orders_2023\.csv.*\s6\d{3}\s+2023-01-0\d\s+2026-11-15", out), out
    assert f"Latest complete month: {MONTH}" in out
    corrupt(data_copy, "quantity", "many")
    code, _, err = run_cli(["validate", "--data", str(data_copy)], capsys)
    assert code == 2 and "many" in err


def test_missing_data_folder_and_config_exit_2(tmp_path: Path, data_copy: Path, capsys) -> None:
    code, _, err = run_cli(["validate", "--data", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "nowhere" in err
    code, _, err = run_cli(["run", "--data", str(data_copy), "--config", str(tmp_path / "missing.yaml")], capsys)
    assert code == 2 and "missing.yaml" in err and "not found" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("nonsense_section: {a: 1}\n", encoding="utf-8")
    code, _, err = run_cli(["validate", "--data", str(data_copy), "--config", str(bad)], capsys)
    assert code == 2 and "nonsense_section" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--month", "2026-13"], "YYYY-MM"),
        (["run", "--month", "October"], "YYYY-MM"),
        (["run", "--jobs", "0"], "at least 1"),
        (["run", "--only", "99_nothing"], "99_nothing"),
        (["sample", "--format", "xlsx"], "invalid choice"),
        (["sample", "--scale", "-1"], "greater than 0"),
        (["forecast", "--horizon", "3", "--out", "x.csv"], "--input"),
        (["forecast", "--input", "no/such/file.csv", "--horizon", "3", "--out", "x.csv"], "does not exist"),
        (
            ["forecast", "--input", "x.csv", "--horizon", "3", "--levels", "80", "120", "--out", "x.csv"],
            "between 1 and 99",
        ),
        (["targets", "approve", "--year", "2027"], "--version"),
        (["targets", "approve", "--year", "2027", "--version", "v1", "--from-month", "July"], "YYYY-MM"),
        (["targets", "delete"], "invalid choice"),
        ([], "COMMAND"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args: list[str], message: str, capsys) -> None:
    code, out, err = run_cli(args, capsys)
    assert code == 2
    assert message in out + err


def test_month_outside_the_data_exits_2(data_copy: Path, tmp_path: Path, capsys) -> None:
    notebooks = trivial_notebooks(tmp_path / "nb")
    code, _, err = run_cli(
        [
            "run",
            "--month",
            "2031-01",
            "--data",
            str(data_copy),
            "--notebooks",
            str(notebooks),
            "--reports",
            str(tmp_path / "r"),
        ],
        capsys,
    )
    assert code == 2 and "2031-01" in err
    assert not (tmp_path / "r").exists()


def test_locked_month_exits_3_with_the_holder(data_copy: Path, previous_report: Path, tmp_path: Path, capsys) -> None:
    notebooks = trivial_notebooks(tmp_path / "nb")
    before = digest(previous_report / MONTH)
    with runner.run_lock(previous_report, MONTH):
        code, _, err = run_cli(
            [
                "run",
                "--month",
                MONTH,
                "--data",
                str(data_copy),
                "--notebooks",
                str(notebooks),
                "--reports",
                str(previous_report),
            ],
            capsys,
        )
    assert code == 3
    assert re.search(rf"another run of {MONTH} is in progress \(pid \d+, started 20", err), err
    assert digest(previous_report / MONTH) == before


def test_failing_notebook_exits_1_naming_notebook_cell_and_error(
    data_copy: Path, previous_report: Path, tmp_path: Path, capsys
) -> None:
    notebooks = trivial_notebooks(tmp_path / "nb", body="total = 1\nraise KeyError('region_x')")
    before = digest(previous_report / MONTH)
    code, out, err = run_cli(
        ["run", "--data", str(data_copy), "--notebooks", str(notebooks), "--reports", str(previous_report)], capsys
    )
    assert code == 1
    assert "00_trivial.ipynb failed in cell" in err and "'total = 1'" in err and "KeyError: 'region_x'" in err
    assert str(previous_report / f"{MONTH}.failed" / "00_trivial.ipynb") in err
    assert "[1/1] 00_trivial" in out and "failed" in out
    assert digest(previous_report / MONTH) == before


def test_forecast_reads_its_settings_from_config(tmp_path: Path, monkeypatch, capsys) -> None:
    import salesplan.forecast as forecast

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(forecast, "forecast_file_on", lambda source, **kwargs: calls.append(kwargs))
    series = tmp_path / "series.csv"
    series.write_text("unique_id,ds,y\na,2026-01-01,1\n", encoding="utf-8")
    settings = tmp_path / "salesplan.yaml"
    settings.write_text(
        "forecast: {levels: [90], season_length: 4}\nengine: {forecast: dask, address: 'tcp://h:8786'}\n",
        encoding="utf-8",
    )
    base = ["forecast", "--input", str(series), "--horizon", "2", "--out", str(tmp_path / "out.csv")]
    assert run_cli([*base, "--config", str(settings)], capsys)[0] == 0
    assert {k: calls[-1][k] for k in ("levels", "season_length", "engine", "address")} == {
        "levels": [90], "season_length": 4, "engine": "dask", "address": "tcp://h:8786",
    }  # fmt: skip
    # The command line wins; an engine named there does not borrow the settings' address.
    assert run_cli([*base, "--config", str(settings), "--engine", "local", "--levels", "80"], capsys)[0] == 0
    assert (calls[-1]["engine"], calls[-1]["address"], calls[-1]["levels"]) == ("local", None, [80])
    settings.write_text("forecast: {levelz: [90]}\n", encoding="utf-8")
    code, out, err = run_cli([*base, "--config", str(settings)], capsys)
    assert code == 2 and "forecast.levelz" in out + err and len(calls) == 2


def test_every_command_has_help(capsys) -> None:
    for command in ([], ["run"], ["validate"], ["sample"], ["forecast"], ["targets"], ["workshop"]):
        code, out, _ = run_cli([*command, "--help"], capsys)
        assert code == 0 and "usage: salesplan" in out
    code, out, _ = run_cli(["run", "--help"], capsys)
    for option in ("--month", "--data", "--only", "--config", "--reports", "--jobs"):
        assert option in out


def test_targets_commands_report_library_errors_without_traceback(data_copy: Path, capsys) -> None:
    code, out, _ = run_cli(["targets", "list", "--data", str(data_copy)], capsys)
    assert code == 0 and "none (drafts are saved by notebooks/02_targets)" in out
    assert re.search(r"2026 2026-01 \.\. 2026-12 +supplied +supplied +targets\.csv", out)
    code, _, err = run_cli(
        ["targets", "approve", "--year", "2027", "--version", "v9", "--by", "A", "--data", str(data_copy)], capsys
    )
    assert code == 2 and "v9" in err and "2027" in err
    code, _, err = run_cli(
        ["targets", "approve", "--year", "2027", "--version", "v1", "--data", str(data_copy)], capsys
    )
    assert code == 2 and "--by" in err


def _save_draft(data_dir: Path, factor: float, from_month: int = 1) -> str:
    from salesplan.io import load_data

    supplied = load_data(data_dir, config.load_config("config/salesplan.yaml")).targets
    plan = supplied[supplied["year"] == 2026].copy()
    plan.loc[plan["month"] >= from_month, "target_amount"] = (
        plan.loc[plan["month"] >= from_month, "target_amount"] * factor
    ).round()
    return targets.save_plan(plan, {"factor": factor}, 2026, targets_dir=plans.plan_folder(data_dir)).version


def test_the_approve_command_pages_print_works_as_printed(data_copy: Path, tmp_path: Path, capsys) -> None:
    version = _save_draft(data_copy, 1.02)
    command = plans.approve_command(2026, version, data_copy, reports_dir=tmp_path / "reports")
    args = shlex.split(command)
    assert args[0] == "salesplan"
    code, out, err = run_cli(args[1:], capsys)
    assert code == 0, err
    assert f"Approved {version} of 2026 for the whole year by NAME" in out
    code, out, _ = run_cli(["targets", "list", "--data", str(data_copy), "--year", "2026"], capsys)
    assert code == 0 and "approved by NAME" in out
    assert re.search(rf"2026 2026-01 \.\. 2026-12 +approved +{version} .*NAME", out)


def test_a_revision_applies_forward_and_a_large_one_is_flagged(data_copy: Path, tmp_path: Path, capsys) -> None:
    reports = ["--reports", str(tmp_path / "reports")]  # no month published: nothing closed
    base = _save_draft(data_copy, 1.0)
    assert (
        run_cli(
            ["targets", "approve", "--year", "2026", "--version", base, "--by", "CFO", "--data", str(data_copy),
             *reports],
            capsys,
        )[0]
        == 0
    )  # fmt: skip
    revised = _save_draft(data_copy, 1.25, from_month=10)
    code, out, _ = run_cli(
        ["targets", "approve", "--year", "2026", "--version", revised, "--from-month", "2026-10", "--by", "CFO",
         "--note", "Q4 push", "--data", str(data_copy), *reports],
        capsys,
    )  # fmt: skip
    assert code == 0
    assert "for 2026-10 onwards" in out
    assert "Flagged: Q4 moves +25.0 %" in out
    assert "2026-01 .. 2026-09: approved version " + base in out
    assert "2026-10 .. 2026-12: approved version " + revised in out


def _publish(reports: Path, *months: str) -> None:
    """Published retrospectives of ``months`` (a summary is what closes a month)."""
    for month in months:
        (reports / month).mkdir(parents=True, exist_ok=True)
        (reports / month / "retro_summary.json").write_text('{"schema": 1}', encoding="utf-8")


def test_approve_refuses_a_revision_of_closed_months_and_writes_nothing(
    data_copy: Path, tmp_path: Path, capsys
) -> None:
    reports = tmp_path / "reports"
    _publish(reports, "2026-07", "2026-08", "2026-09")
    (reports / "2026-10.failed").mkdir()  # a failed run publishes nothing: October stays open
    (reports / "2026-10.failed" / "retro_summary.json").write_text("{}", encoding="utf-8")
    revised = _save_draft(data_copy, 0.9, from_month=7)
    log = plans.plan_folder(data_copy) / "approvals.jsonl"
    before = log.read_bytes() if log.exists() else b""
    for extra in (["--from-month", "2026-07"], ["--from-month", "2026-09"], []):  # [] = January, whole year
        code, out, err = run_cli(
            ["targets", "approve", "--year", "2026", "--version", revised, "--by", "CFO", "--data", str(data_copy),
             "--reports", str(reports), *extra],
            capsys,
        )  # fmt: skip
        assert code == 2, out
        assert "2026-09" in err and "--restate" in err and "Nothing was written" in err
        assert (log.read_bytes() if log.exists() else b"") == before
    assert "2026-07, 2026-08 and 2026-09 are closed" in err
    assert targets.read_approvals(plans.plan_folder(data_copy)) == []


def test_restate_records_the_restatement_and_list_shows_it(data_copy: Path, tmp_path: Path, capsys) -> None:
    reports = tmp_path / "reports"
    _publish(reports, "2026-07", "2026-08", "2026-09", "2025-12")
    revised = _save_draft(data_copy, 0.9, from_month=8)
    code, out, err = run_cli(
        ["targets", "approve", "--year", "2026", "--version", revised, "--from-month", "2026-08", "--by", "CFO",
         "--data", str(data_copy), "--reports", str(reports), "--restate"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "Restates 2026-08, 2026-09" in out
    (entry,) = targets.read_approvals(plans.plan_folder(data_copy))
    assert entry.restate and entry.restated_months == ("2026-08", "2026-09")  # July keeps its plan
    line = (plans.plan_folder(data_copy) / "approvals.jsonl").read_text(encoding="utf-8")
    assert '"restate": true' in line and '"restated_months": ["2026-08", "2026-09"]' in line
    code, out, _ = run_cli(["targets", "list", "--data", str(data_copy), "--year", "2026"], capsys)
    assert code == 0
    assert "2026-08, 2026-09" in out and "restating 2026-08, 2026-09" in out


def test_a_revision_after_the_closed_months_needs_no_restate(data_copy: Path, tmp_path: Path, capsys) -> None:
    reports = tmp_path / "reports"
    _publish(reports, "2026-07", "2026-08", "2026-09")
    revised = _save_draft(data_copy, 1.05, from_month=10)
    code, out, err = run_cli(
        ["targets", "approve", "--year", "2026", "--version", revised, "--from-month", "2026-10", "--by", "CFO",
         "--data", str(data_copy), "--reports", str(reports)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    (entry,) = targets.read_approvals(plans.plan_folder(data_copy))
    assert not entry.restate and entry.restated_months == ()
    assert "2026-01 .. 2026-09: targets table supplied with the data" in out


def test_library_bugs_keep_their_traceback(monkeypatch) -> None:
    # Only the library's own, deliberate errors become exit 2; a built-in error is a bug to see.
    monkeypatch.setattr(cli, "cmd_validate", lambda args: {}["boom"])
    with pytest.raises(KeyError):
        cli.main(["validate"])


def test_long_problem_lists_are_saved_in_full_outside_reports(data_copy: Path, previous_report: Path, capsys) -> None:
    path = orders_file(data_copy)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[: cli.SHOWN_PROBLEMS + 9, "channel"] = "telepathy"  # 60 bad lines
    frame.to_csv(path, index=False)
    before = digest(previous_report)
    code, _, err = run_cli(["validate", "--data", str(data_copy)], capsys)
    assert code == 2
    assert err.count("telepathy") == cli.SHOWN_PROBLEMS
    csv = re.search(r"(\S+validation_report\.csv)", err)
    assert csv, err
    saved = pd.read_csv(csv.group(1), dtype=str)
    assert (saved["value"] == "telepathy").sum() == cli.SHOWN_PROBLEMS + 10
    assert digest(previous_report) == before


def test_workshop_handouts_are_written_self_contained(tmp_path: Path, capsys) -> None:
    code, out, _ = run_cli(["workshop", "handouts", "--out", str(tmp_path / "h")], capsys)
    assert code == 0 and "glossary.html" in out
    pages = sorted((tmp_path / "h").glob("*.html"))
    assert len(pages) == 6
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<script" not in text and "http://" not in text and "https://" not in text


def test_run_refuses_unknown_parameters_and_bad_files(data_copy: Path, previous_report: Path, capsys) -> None:
    before = digest(previous_report)
    args = ["run", "--data", str(data_copy), "--reports", str(previous_report), "--month", MONTH]
    code, _, err = run_cli([*args, "-p", "senario", "stretch"], capsys)
    assert code == 2 and "senario" in err and "02_targets: plan_year, scenario, version_note" in err
    code, _, err = run_cli([*args, "-p", "month", "2026-09"], capsys)
    assert code == 2 and "use --month" in err
    code, _, err = run_cli([*args, "-f", str(data_copy / "nope.yaml")], capsys)
    assert code == 2 and "nope.yaml" in err
    code, _, err = run_cli([*args, "--timeout", "30.5"], capsys)
    assert code == 2 and "whole number" in err
    assert digest(previous_report) == before
