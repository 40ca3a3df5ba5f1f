"""The workshop facilitator's kit: team copies, scores, JupyterLab on a team folder, handouts, glossary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import salesplan.workshop as ws
from salesplan.cli import lab_arguments, main
from salesplan.config import PROJECT_ROOT
from salesplan.targets import targets_dir_for
from salesplan.workshop import kit

SOLUTIONS = ws.EXERCISE_DIR / "solutions"
NOTEBOOKS = ["01_annual_number", "02_gap", "03_phasing", "04_allocation", "05_retrospective"]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- copy


def test_copy_writes_cleared_exercises_and_refuses_to_overwrite(tmp_path: Path, capsys) -> None:
    code, out, _ = run_cli(["workshop", "copy", "--team", "team-a", "--out", str(tmp_path)], capsys)
    folder = tmp_path / "team-a"
    assert code == 0 and str(folder) in out
    assert sorted(p.stem for p in folder.glob("*.ipynb")) == NOTEBOOKS
    assert not (folder / "solutions").exists()
    for path in folder.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert "widgets" not in nb.metadata
        assert all(
            c.get("outputs", []) == [] and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"
        )
        assert "answer = None  # your answer here" in path.read_text(encoding="utf-8")

    work = folder / "02_gap.ipynb"
    work.write_text("the team's work", encoding="utf-8")
    code, _, err = run_cli(["workshop", "copy", "--team", "team-a", "--out", str(tmp_path)], capsys)
    assert code == 2 and str(folder) in err and "--force" in err
    assert work.read_text(encoding="utf-8") == "the team's work"  # nothing changed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["team-a"]  # no staging folder left behind

    code, _, _ = run_cli(["workshop", "copy", "--team", "team-a", "--out", str(tmp_path), "--force"], capsys)
    assert code == 0 and "answer = None" in work.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["team-a"]


@pytest.mark.parametrize("name", ["", "../up", "a/b", "=1+1", "-x", "x" * 41])
def test_copy_refuses_a_bad_team_name(tmp_path: Path, capsys, name: str) -> None:
    code, _, err = run_cli(["workshop", "copy", f"--team={name}", "--out", str(tmp_path)], capsys)
    assert code == 2 and "team name" in err
    assert list(tmp_path.iterdir()) == []


def test_copy_exercises_refuses_without_force_and_clears_outputs(tmp_path: Path) -> None:
    written = ws.copy_exercises(tmp_path / "t")
    assert all(not c.get("outputs") for p in written for c in nbformat.read(p, as_version=4).cells)
    written[0].write_text("scribbles", encoding="utf-8")
    with pytest.raises(kit.WorkshopKitError, match="already holds exercise notebooks"):
        ws.copy_exercises(tmp_path / "t", force=False)
    assert written[0].read_text(encoding="utf-8") == "scribbles"


def test_pack_copy_keeps_plans_and_lock_in_the_team_folder(tmp_path: Path) -> None:
    kit.copy_team("b", tmp_path, pack=True)
    folder = tmp_path / "b"
    data = folder / "data" / "raw"
    assert data.is_symlink() and data.readlink() == PROJECT_ROOT / "data" / "raw"
    # Drafts and approvals live beside the data folder; the month lock lives in the reports folder.
    assert targets_dir_for(data) == folder / "data" / "targets"
    assert (folder / "reports").is_dir() and (folder / "config" / "salesplan.yaml").is_file()


# --------------------------------------------------------------------------- score


def test_read_record_counts_a_part_by_its_last_check(tmp_path: Path) -> None:
    record = tmp_path / "r.jsonl"
    lines = [
        {"check": "2a gap and reconciled target", "status": "wrong"},
        {"check": "2a gap and reconciled target", "status": "correct"},
        {"check": "2b", "status": "correct"},
        {"check": "2b", "status": "invalid"},
    ]
    record.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n", encoding="utf-8")
    assert kit.read_record(record) == {"2a": "correct", "2b": "invalid"}
    assert kit.read_record(tmp_path / "missing.jsonl") == {}


def test_score_table_marks_stopped_notebooks() -> None:
    scores = pd.DataFrame(
        {"team": ["b", "b", "a"], "exercise": [1, 2, 1], "notebook": ["01", "02", "01"], "passed": [1, 0, 5],
         "checks": [5, 2, 5], "run": ["error", "timeout", "ran"]}
    )  # fmt: skip
    table = kit.score_table(scores)
    assert list(table.index) == ["b", "a"]  # teams in the order given
    assert table.loc["b", "ex 1"] == "1/5 !" and table.loc["b", "ex 2"] == "0/2 T"
    assert table.loc["a", "ex 2"] == "-" and table.loc["b", "total"] == "1/7" and table.loc["a", "total"] == "5/5"


def test_score_runs_two_team_folders(tmp_path: Path, capsys) -> None:
    # One short exercise per team keeps the test to two notebook runs.
    good, blank = tmp_path / "good", tmp_path / "blank"
    for folder, source in ((good, SOLUTIONS), (blank, ws.EXERCISE_DIR)):
        folder.mkdir()
        nb = kit.clear_notebook(nbformat.read(source / "02_gap.ipynb", as_version=4))
        nbformat.write(nb, folder / "02_gap.ipynb")
    csv = tmp_path / "out" / "scores.csv"
    code, out, _ = run_cli(["workshop", "score", str(good), str(blank), "--csv", str(csv)], capsys)
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("good ", "blank "))}
    n = len(ws.EXERCISES[1].parts)  # exercise 2's parts, each with one check
    assert n >= 2
    assert rows["good"][0] == f"{n}/{n}" and rows["blank"][0] == f"0/{n}"
    scores = pd.read_csv(csv, encoding="utf-8-sig")
    assert scores.set_index("team")["passed"].to_dict() == {"good": n, "blank": 0}
    assert scores.set_index("team").loc["good", "run"] == "ran" and set(scores["checks"]) == {n}
    # the team's own notebook is left as it was (the executed copy is thrown away)
    assert all(not c.get("outputs") for c in nbformat.read(good / "02_gap.ipynb", as_version=4).cells)


def test_score_refuses_a_folder_without_exercises_before_running(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["workshop", "score", str(tmp_path / "empty"), str(tmp_path / "nope")], capsys)
    assert code == 2 and "empty" in err and "no exercise notebooks" in err
    code, _, err = run_cli(["workshop", "score", str(SOLUTIONS)], capsys)
    assert code == 2 and "solutions" in err


# --------------------------------------------------------------------------- lab


def test_lab_opens_a_team_folder_inside_the_project() -> None:
    folder = PROJECT_ROOT / "notebooks" / "workshop"
    args = lab_arguments(uid=1000, folder=str(folder))
    assert "--LabApp.default_url=/lab/tree/notebooks/workshop" in args
    assert f"--ServerApp.root_dir={PROJECT_ROOT}" in args
    assert "--LabApp.default_url=/lab/tree/notebooks" in lab_arguments(uid=1000)


def test_lab_refuses_a_folder_outside_the_project(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["lab", "--folder", str(tmp_path), "--register-only"], capsys)
    assert code == 2 and str(tmp_path) in err and "outside the project" in err
    assert re.search("JupyterLab", err)


# --------------------------------------------------------------------------- handouts


@pytest.fixture(scope="module")
def handouts(tmp_path_factory) -> dict[str, str]:
    from salesplan.workshop.handouts import build_handouts

    paths = build_handouts(tmp_path_factory.mktemp("handouts"))
    return {p.stem: p.read_text(encoding="utf-8") for p in paths}


def _section(page: str, key: str) -> str:
    """The HTML of one part (from its heading to the next)."""
    start = page.index(f"<h2>{key} ")
    end = page.find("<h2>", start + 1)
    return page[start : end if end > 0 else None]


def _answers() -> dict[str, list[float]]:
    """Every part's answer amounts, from the checks module's expected values."""
    from salesplan.workshop import checks

    rec = checks.expected_reconciliation()
    baseline = checks.expected_baseline().set_index("step")["amount"]
    pvm = checks.expected_pvm()
    return {
        "1a": [baseline["baseline"]],
        "1b": [checks.expected_top_down()],
        "1c": [checks.expected_market_share()],
        "1d": list(checks.expected_regions()["bottom_up"]),
        "1e": list(checks.expected_reps()["bottom_up"]),
        "2a": [rec["gap"], rec["final"]],
        "2b": list(checks.expected_reconciled_regions().values()),
        "2c": [v for k, v in checks.expected_target_levels().items() if k != "base"],
        "3a": list(checks.expected_phasing()["target_amount"]),
        "3b": list(checks.expected_phasing("front_loaded")["target_amount"]),
        "3c": list(checks.expected_phasing("campaign")["target_amount"]),
        "4b": list(checks.expected_region_split().values()),
        "4c": list(checks.expected_rep_targets().values()),
        "5b": [pvm["volume"], pvm["price"], pvm["mix"]],
    }


def _spellings(value: float) -> set[str]:
    v = abs(float(value))
    return {f"{v:,.0f}", f"{v:.0f}", f"{v / 1e6:,.3f} M", f"{v / 1e6:,.2f} M", f"{v / 1e6:,.1f} M", f"{v / 1e3:,.0f} K"}


def _exercise(page: str) -> int:
    """The exercise a handout page belongs to (the glossary: after every exercise)."""
    return int(page[:2]) if page[:2].isdigit() else 99


def test_no_handout_prints_an_answer(handouts: dict[str, str]) -> None:
    """No page prints an answer of its own exercise or a later one; a later exercise may start from an
    earlier one's agreed results, as its notebook does (exercise 4 from 1e and 2b)."""
    leaks = [
        (page, key, text)
        for key, values in _answers().items()
        for value in values
        for text in _spellings(value)
        for page, html in handouts.items()
        if int(key[0]) >= _exercise(page) and text in html
    ]
    assert leaks == []
    # 2d's counts, as whole numbers anywhere in the text of exercise 2's page (outside the style sheet)
    from salesplan.workshop import checks

    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", handouts["02_gap"], flags=re.S)
    for count in checks.expected_process_targets().values():
        assert not re.search(rf"(?<![\d.,]){count:,}(?![\d.,])", text), count
    # 3a's part never prints the annual target (the team uses its own 2a)
    target = ws.annual_target()
    section_3a = _section(handouts["03_phasing"], "3a")
    assert not [t for t in _spellings(target) if t in section_3a]
    # the exercise 3 page names where the annual target comes from instead of printing it
    assert "your agreed number from exercise 2" in handouts["03_phasing"]
    # the campaign seasons are stated from the settings
    for season in ws.company().settings.targets.phasing.seasonal_templates["campaign"]:
        assert f"{season.name} (months {', '.join(map(str, season.months))}) {season.share * 100:g} %" in (
            _section(handouts["03_phasing"], "3c")
        )


def test_handouts_print_on_a4_without_cutting_rows(handouts: dict[str, str]) -> None:
    for html in handouts.values():
        assert "@page { size: A4" in html
        assert re.search(r"tr[^{]*\{[^}]*page-break-inside: avoid", html)


def test_availability_and_region_worksheets_are_in_their_parts(handouts: dict[str, str]) -> None:
    page = handouts["04_allocation"]
    sheet_4a = _section(page, "4a").split("Worksheet")[1]
    sheet_4b = _section(page, "4b").split("Worksheet")[1]
    # 4a: a rep per row and the 12 months as columns (the wide, smaller sheet); 4b: a row per region
    assert 'class="sheet wide"' in sheet_4a and "<th>12</th>" in sheet_4a and "<td>W2</td>" in sheet_4a
    assert "<td>North</td>" in sheet_4b and "<th>12</th>" not in sheet_4b and "<td>W2</td>" not in sheet_4b


def test_unit_prices_print_as_money(handouts: dict[str, str]) -> None:
    co = ws.company()
    section = _section(handouts["05_retrospective"], "5b")
    for price in co.pvm_plan["price"]:
        assert f">{price:,.0f}<" in section
    assert not re.search(r">0\.0\d+ M<", section)


def test_rep_handout_states_growth_and_ramp_from_the_settings(handouts: dict[str, str]) -> None:
    cfg = ws.company().settings.targets
    section = _section(handouts["01_annual_number"], "1e")
    assert f"Personal growth rate: {cfg.bottom_up.personal_growth * 100:g} %" in section
    assert " / ".join(f"{r * 100:g}" for r in cfg.ramp) + " %" in section
    for level, coefficient in cfg.bottom_up.level_coefficient.items():
        assert f"{level} {coefficient:g}" in section


# --------------------------------------------------------------------------- glossary


def test_glossary_uses_the_methods_terms() -> None:
    from salesplan.workshop.glossary import GLOSSARY, chinese

    assert chinese("capacity") == "团队承载力"
    assert chinese("production capacity") == "产能" and "plant" in GLOSSARY["production capacity"][1]
    assert chinese("quarterly adjustment coefficient") == "季度调节系数"
    assert chinese("dark red") == "深红"
    assert [chinese(f"level {n} response") for n in (1, 2, 3)] == ["一级响应", "二级响应", "三级响应"]
    assert all(x in GLOSSARY["escalation level"][1] for x in ("一级响应", "二级响应", "三级响应"))
    assert "margin" not in GLOSSARY["result target"][1] and "gross margin" in GLOSSARY["process target"][1]
    assert chinese("challenge target") == "挑战目标"


def test_every_term_an_exercise_uses_is_in_the_glossary() -> None:
    from salesplan.workshop.exercises import EXERCISES
    from salesplan.workshop.glossary import term

    for ex in EXERCISES:
        for part in ex.parts:
            for name in part.terms:
                assert "(" in term(name)


def test_later_parts_have_their_worksheets_and_givens(handouts: dict[str, str]) -> None:
    """4b and 4c show exercise 4's givens (2b's agreed years, 1e's bottom-up numbers); 2c, 2d, 3c, 3d and 5d
    each have a worksheet and state their settings or given table."""
    g4 = ws.givens(4)
    page4 = handouts["04_allocation"]
    for region, amount in g4["region_targets"].items():
        assert f"<th>{region}</th>" in _section(page4, "4b") and f"{amount:,}" in _section(page4, "4b")
    for rep, amount in g4["rep_bottom_up"].items():
        assert f"<th>{rep}</th>" in _section(page4, "4c") and f"{amount / 1e6:,.3f} M" in _section(page4, "4c")
    for page, key, rows in [
        ("02_gap", "2c", ["base", "challenge", "flexible"]),
        ("02_gap", "2d", ["deals", "leads", "visits"]),
        ("03_phasing", "3c", ["Jan", "Dec"]),
        ("03_phasing", "3d", ["Jan", "Dec"]),
        ("05_retrospective", "5d", list(ws.givens(5)["revision"]["quarter"])),
    ]:
        sheet = _section(handouts[page], key).split("Worksheet")[1]
        assert all(f"<td>{r}</td>" in sheet for r in rows), (key, sheet)
    cfg = ws.company().settings.targets
    assert f"{cfg.stretch_pct * 100:g} %" in _section(handouts["02_gap"], "2c")
    assert f"{cfg.process.fallback_win_rate * 100:g} %" in _section(handouts["02_gap"], "2d")
    for season in ws.givens(3)["seasons"]["name"]:
        assert f"<td>{season}</td>" in _section(handouts["03_phasing"], "3c")
    for plan in ws.givens(5)["revision"]["plan"]:
        assert f"{plan:,}" in _section(handouts["05_retrospective"], "5d")
    assert f"{cfg.revision_flag_share * 100:g} %" in _section(handouts["05_retrospective"], "5d")
