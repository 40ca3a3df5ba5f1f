"""The monthly runner and the headline publisher, on small stand-in notebooks."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest

from salesplan import cards, publish
from salesplan import run as runner

MONTH = "2026-10"
PARAMS = {"month": MONTH, "data_dir": "data/dir-marker", "config_path": "config/salesplan.yaml"}
FULL_PARAMETERS = 'month = None\ndata_dir = "data/raw"\nconfig_path = "config/salesplan.yaml"'


def make_notebook(path: Path, parameters: str | None, cells: list[str], title: str = "Stand-in") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell(f"# {title}\n\nProse."))
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells.extend(nbformat.v4.new_code_cell(src) for src in cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


HEADLINE_CELL = (
    "from salesplan.cards import headline\n"
    'headline("Data <check>", [{"label": "Order lines", "value": "1,234", "raw": 1234, "status": "green"}], '
    "primary=True)\n"
    'headline("Secondary", [{"label": "Region <b>", "value": "7", "raw": 7, "note": "n", "status": None}])'
)


@pytest.fixture()
def notebooks(tmp_path: Path) -> Path:
    folder = tmp_path / "notebooks"
    make_notebook(
        folder / "00_check.ipynb",
        FULL_PARAMETERS,
        ['CODE_MARKER = 1\nprint(f"month={month} data={data_dir}")', HEADLINE_CELL],
        title="Data check",
    )
    make_notebook(
        folder / "01_only_month.ipynb",
        "month = None\noutput_dir = None",
        ["print(month)", "from pathlib import Path\nPath(output_dir, 'flags <1>.csv').write_text('a,b')"],
        title="Only month",
    )
    (folder / "helper.ipynb").write_text("{}")  # not numbered: never run
    return folder


# --------------------------------------------------------------------------- selection and parsing


def test_discover_lists_numbered_notebooks_in_order(tmp_path: Path) -> None:
    for name in ("10_late.ipynb", "02_b.ipynb", "01_a.ipynb", "scratch.ipynb", "1_short.ipynb"):
        make_notebook(tmp_path / name, None, [])
    assert [p.name for p in runner.discover_notebooks(tmp_path)] == ["01_a.ipynb", "02_b.ipynb", "10_late.ipynb"]


def test_discover_missing_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(runner.RunInputError, match="does not exist"):
        runner.discover_notebooks(tmp_path / "nope")


@pytest.mark.parametrize(
    ("only", "expected"),
    [
        (None, ["00_data_check", "01_review", "04_retrospective"]),
        ("04,00", ["00_data_check", "04_retrospective"]),
        ("00_data_check", ["00_data_check"]),
        ("01_review.ipynb", ["01_review"]),
        (["0"], ["00_data_check", "01_review", "04_retrospective"]),
        ("04_retro, 04", ["04_retrospective"]),
    ],
)
def test_select_by_name_or_prefix_keeps_numbered_order(only, expected) -> None:
    paths = [Path(f"{n}.ipynb") for n in ("00_data_check", "01_review", "04_retrospective")]
    assert [p.stem for p in runner.select_notebooks(paths, only)] == expected


def test_select_rejects_unknown_names_and_lists_the_available_ones() -> None:
    paths = [Path("00_data_check.ipynb"), Path("01_review.ipynb")]
    with pytest.raises(runner.RunInputError) as info:
        runner.select_notebooks(paths, "00,99_nothing")
    assert "'99_nothing'" in str(info.value) and "00_data_check, 01_review" in str(info.value)
    assert info.value.exit_code == 2
    with pytest.raises(runner.RunInputError):
        runner.select_notebooks(paths, " , ")


def test_notebook_parameters_come_from_papermill(tmp_path: Path) -> None:
    full = make_notebook(tmp_path / "a.ipynb", FULL_PARAMETERS + "\nlevels = [80, 95]  # interval levels", ["pass"])
    params = runner.notebook_parameters(full)
    assert list(params) == ["month", "data_dir", "config_path", "levels"]
    assert params["levels"]["help"] == "interval levels"
    assert runner.notebook_parameters(make_notebook(tmp_path / "b.ipynb", None, ["month = 1"])) == {}


def test_the_project_pack_declares_every_notebook_and_its_order() -> None:
    pack = runner.load_pack()
    names = [e.name for e in pack]
    assert names == sorted(p.stem for p in (runner.PROJECT_ROOT / "notebooks").glob(runner.NOTEBOOK_GLOB))
    deps = runner.dependencies(pack)
    # The retrospective reads the forecast the forecast notebook stores; nothing else waits.
    assert deps["04_retrospective"] == {"03_forecast"}
    assert all(not d for name, d in deps.items() if name != "04_retrospective")


def test_pack_file_errors_are_input_errors(tmp_path: Path) -> None:
    make_notebook(tmp_path / "00_a.ipynb", FULL_PARAMETERS, ["pass"])
    (tmp_path / "pack.yaml").write_text("notebooks:\n  - name: 00_a\n    reeds: [data]\n", encoding="utf-8")
    with pytest.raises(runner.RunInputError, match=r"notebooks\[0\]\.reeds: unknown key"):
        runner.load_pack(tmp_path)
    (tmp_path / "pack.yaml").write_text("notebooks:\n  - name: 01_missing\n", encoding="utf-8")
    with pytest.raises(runner.RunInputError, match="01_missing.ipynb does not exist"):
        runner.load_pack(tmp_path)


def test_user_parameters_reach_only_declaring_notebooks_and_unknown_ones_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "nb"
    make_notebook(folder / "00_a.ipynb", FULL_PARAMETERS + "\nscenario = 'base'", ["print(scenario)"])
    make_notebook(folder / "01_b.ipynb", FULL_PARAMETERS, ["print(month)"])
    pack = runner.load_pack(folder)
    with pytest.raises(runner.RunInputError, match=r"unknown parameter\(s\) senario.*00_a: scenario; 01_b: \(none\)"):
        runner.run_notebooks(
            MONTH, pack, parameters=PARAMS, user_parameters={"senario": "x"}, reports_dir=tmp_path / "r"
        )
    with pytest.raises(runner.RunInputError, match="use --month"):
        runner.run_notebooks(MONTH, pack, parameters=PARAMS, user_parameters={"month": "x"}, reports_dir=tmp_path / "r")
    assert not (tmp_path / "r" / MONTH).exists()
    result = runner.run_notebooks(
        MONTH,
        pack,
        parameters=PARAMS,
        user_parameters={"scenario": "stretch"},
        reports_dir=tmp_path / "r",
        progress=None,
    )
    by_name = {r.name: r for r in result.notebooks}
    assert by_name["00_a"].parameters["scenario"] == "stretch"
    assert "scenario" not in by_name["01_b"].parameters
    executed = nbformat.read(tmp_path / "r" / MONTH / "00_a.ipynb", as_version=4)
    assert "stretch" in "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))


def test_parse_parameter_follows_papermill() -> None:
    assert [runner.parse_parameter(v) for v in ("True", "None", "3", "2.5", "v2")] == [True, None, 3, 2.5, "v2"]


def test_dependent_notebooks_wait_for_what_they_read(tmp_path: Path) -> None:
    folder = tmp_path / "nb"
    # 01 writes a file 02 reads; 00 is independent. With two jobs 02 must still see 01's file.
    make_notebook(folder / "00_a.ipynb", FULL_PARAMETERS + "\noutput_dir = None", ["import time; time.sleep(1)"])
    make_notebook(
        folder / "01_b.ipynb",
        FULL_PARAMETERS + "\noutput_dir = None",
        ["import pathlib, time; time.sleep(2); (pathlib.Path(output_dir) / 'b.txt').write_text('from b')"],
    )
    make_notebook(
        folder / "02_c.ipynb",
        FULL_PARAMETERS + "\noutput_dir = None",
        ["import pathlib; print((pathlib.Path(output_dir) / 'b.txt').read_text())"],
    )
    (folder / "pack.yaml").write_text(
        "notebooks:\n  - {name: 00_a, reads: [data]}\n  - {name: 01_b, reads: [data], writes: [b]}\n"
        "  - {name: 02_c, reads: [b]}\n",
        encoding="utf-8",
    )
    result = runner.run_notebooks(
        MONTH, runner.load_pack(folder), parameters=PARAMS, reports_dir=tmp_path / "r", jobs=2, progress=None
    )
    assert [r.status for r in result.notebooks] == ["ok", "ok", "ok"]
    c = {r.name: r for r in result.notebooks}
    assert c["02_c"].started >= c["01_b"].started


def test_kernels_started_side_by_side_use_unix_sockets_not_tcp_ports(tmp_path: Path) -> None:
    # A TCP port is picked free, released and only then bound by the kernel: a kernel started
    # at the same moment by the other worker could take it, and the first kernel died.
    cell = "from ipykernel.kernelapp import IPKernelApp\napp = IPKernelApp.instance()\nprint(app.transport, app.ip)"
    folder = tmp_path / "nb"
    for name in ("00_a", "01_b", "02_c", "03_d"):
        make_notebook(folder / f"{name}.ipynb", FULL_PARAMETERS, [cell])
    result = runner.run_notebooks(
        MONTH, runner.discover_notebooks(folder), parameters=PARAMS, reports_dir=tmp_path / "r", jobs=2, progress=None
    )
    assert [r.status for r in result.notebooks] == ["ok"] * 4
    addresses = []
    for name in ("00_a", "01_b", "02_c", "03_d"):
        nb = nbformat.read(result.report_dir / f"{name}.ipynb", as_version=4)
        transport, address = nb.cells[-1].outputs[0]["text"].split()
        assert transport == "ipc"
        addresses.append(address)
        # The socket folder is the run's own and is gone once the notebook is done.
        assert not Path(address).parent.exists()
    assert len(set(addresses)) == 4


def test_damaged_notebook_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "00_broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    with pytest.raises(runner.RunInputError, match="00_broken.ipynb: not a readable notebook"):
        runner.run_notebooks(MONTH, runner.discover_notebooks(tmp_path), parameters=PARAMS, reports_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_check_month() -> None:
    assert runner.check_month("2026-01") == "2026-01"
    for bad in ("2026-13", "2026-1", "26-01", "2026/01", None):
        with pytest.raises(runner.RunInputError, match="YYYY-MM"):
            runner.check_month(bad)


# --------------------------------------------------------------------------- headlines


def test_headline_validates_figures() -> None:
    ok = publish.headline_payload("T", [{"label": "a", "value": "1", "raw": float("nan"), "status": "dark_red"}])
    assert ok["figures"][0]["raw"] is None and ok["figures"][0]["note"] == ""
    bad_cases = [
        [{"label": "a", "value": 1}],  # value not formatted
        [{"label": "a", "value": "1", "status": "amber"}],
        [{"label": "a", "value": "1", "raw": "12"}],
        [{"label": "a", "value": "1", "colour": "red"}],
        {"label": "a", "value": "1"},
    ]
    for figures in bad_cases:
        with pytest.raises(publish.HeadlineError):
            publish.headline_payload("T", figures)
    with pytest.raises(publish.HeadlineError, match="title"):
        publish.headline_payload(" ", [])


def test_headline_displays_table_and_payload_in_one_bundle(monkeypatch) -> None:
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    cards.headline("Month <x>", [{"label": "Sales & returns", "value": "1.2 M", "raw": 1.2e6, "status": "red"}])
    ((bundle, raw),) = shown
    assert raw is True
    assert set(bundle) == {"text/plain", "text/html", publish.HEADLINE_MIME}
    assert "Month &lt;x&gt;" in bundle["text/html"] and "Sales &amp; returns" in bundle["text/html"]
    assert "Sales & returns: 1.2 M [■ red]" in bundle["text/plain"]
    assert bundle[publish.HEADLINE_MIME]["figures"][0]["raw"] == 1.2e6
    json.dumps(bundle[publish.HEADLINE_MIME])  # JSON-serialisable


def test_read_headlines_skips_malformed_payloads() -> None:
    nb = nbformat.v4.new_notebook()
    good = publish.headline_payload("Good", [{"label": "a", "value": "1"}], primary=True)
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={publish.HEADLINE_MIME: good, "text/plain": "t"}),
        nbformat.v4.new_output("display_data", data={publish.HEADLINE_MIME: {"title": "Bad", "figures": [{}]}}),
        nbformat.v4.new_output("stream", name="stdout", text="hello"),
    ]
    nb.cells.append(cell)
    assert runner.read_headlines(nb) == [good]


def test_index_counts_each_status_apart(tmp_path: Path) -> None:
    """The index shows the flag counts a retrospective summary holds, every status under its own
    word: red 6 and dark red 32 stay "6 red" and "32 dark red", never "38 red"; ahead is not green."""
    summary = {
        "month": {"dark_red": 32, "red": 6, "yellow": 3, "green": 9, "ahead": 22, "no_target": 0},
        "ytd": {"dark_red": 19, "red": 6, "yellow": 11, "green": 20, "ahead": 17, "no_target": 0},
    }
    block = publish.headline_payload(
        "Retrospective 2026-10",
        [*publish.flag_count_figures(summary), {"label": "Region East", "value": "112 %", "status": "ahead"}],
        primary=True,
    )
    result = runner.NotebookResult(name="04_retrospective", status="ok", title="Retrospective", headlines=[block])
    run_info = {"month": MONTH, "finished": "2026-11-02T08:00:00", "duration_s": 1.0, "git": None, "plan": None}
    page = runner.write_month_index(tmp_path, run_info, [result], []).read_text(encoding="utf-8")
    assert "32 dark red / 6 red / 3 yellow / 9 green / 22 ahead" in page
    assert "19 dark red / 6 red / 11 yellow / 20 green / 17 ahead" in page
    assert not re.search(r"\b(38|25) red\b", page)
    style = publish.status_style()
    assert style["ahead"][0] in page and "★ ahead" in page  # its own colour and word


# --------------------------------------------------------------------------- full runs (kernels)


def test_run_publishes_notebooks_html_index_and_run_json(notebooks: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    lines: list[str] = []
    sources = [{"table": "orders", "file": "orders.csv", "sha256": "ab" * 32, "rows": 3}]
    result = runner.run_notebooks(
        MONTH,
        runner.discover_notebooks(notebooks),
        parameters=PARAMS,
        reports_dir=reports,
        sources=sources,
        progress=lines.append,
    )
    month_dir = reports / MONTH
    assert result.report_dir == month_dir and result.index == month_dir / "index.html"
    assert sorted(p.name for p in month_dir.iterdir()) == [
        "00_check.html",
        "00_check.ipynb",
        "01_only_month.html",
        "01_only_month.ipynb",
        "flags <1>.csv",  # written by the notebook into its output_dir
        "index.html",
        "run.json",
    ]
    # One progress line per notebook, with its elapsed seconds.
    progress = [line for line in lines if re.match(r"\[\d/2\]", line)]
    assert len(progress) == 2 and all(re.search(r"ok\s+\d+\.\d s$", line) for line in progress)

    # Parameters: each notebook receives only what its parameters cell declares.
    def injected(name: str) -> str:
        nb = nbformat.read(month_dir / f"{name}.ipynb", as_version=4)
        cells = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(cells) == 1
        return cells[0].source

    assert "data/dir-marker" in injected("00_check") and "config_path" in injected("00_check")
    only_month = injected("01_only_month")
    assert MONTH in only_month and "data_dir" not in only_month and "config_path" not in only_month
    assert "output_dir" in only_month and "output_dir" not in injected("00_check")
    executed = nbformat.read(month_dir / "00_check.ipynb", as_version=4)
    assert any(
        f"month={MONTH} data=data/dir-marker" in o.get("text", "") for c in executed.cells for o in c.get("outputs", [])
    )

    # run.json
    info = json.loads((month_dir / "run.json").read_text(encoding="utf-8"))
    assert info["month"] == MONTH and info["status"] == "ok"
    assert info["parameters"]["data_dir"] == "data/dir-marker" and info["parameters"]["jobs"] == 1
    assert info["inputs"] == sources
    for package in ("python", "pandas", "numpy", "statsforecast", "papermill", "salesplan"):
        assert info["versions"][package], package
    assert [n["name"] for n in info["notebooks"]] == ["00_check", "01_only_month"]
    for nb in info["notebooks"]:
        assert nb["status"] == "ok" and nb["duration_s"] > 0 and nb["started"].startswith("20")
    assert info["notebooks"][1]["parameters"]["month"] == MONTH
    assert set(info["notebooks"][1]["parameters"]) == {"month", "output_dir"}
    assert info["duration_s"] >= sum(n["duration_s"] for n in info["notebooks"])

    # HTML: outputs shown, code and parameter cells hidden, no raw headline JSON.
    page = (month_dir / "00_check.html").read_text(encoding="utf-8")
    assert f"month={MONTH}" in page
    assert "CODE_MARKER" not in page and "import headline" not in page
    assert 'data_dir = "data/raw"' not in page  # the parameters cell
    assert 'data_dir = "data/dir-marker"' not in page  # the injected-parameters cell
    assert publish.HEADLINE_MIME not in page and '"figures": [' not in page  # no raw headline JSON
    assert "Data &lt;check&gt;" in page

    # Index: primary block first, every link resolves, data escaped, other months listed.
    index = (month_dir / "index.html").read_text(encoding="utf-8")
    assert MONTH in index.split("</title>")[0]
    assert index.index("Data &lt;check&gt;") < index.index("<h2>Notebooks</h2>") < index.index("Secondary")
    assert "Region &lt;b&gt;" in index and "<b>" not in index
    links = re.findall(r'href="([^"]+)"', index)
    assert 'href="flags%20%3C1%3E.csv"' in index and ">flags &lt;1&gt;.csv<" in index
    for name in ("00_check.html", "00_check.ipynb", "01_only_month.html", "01_only_month.ipynb", "run.json"):
        assert name in links
    for link in links:
        assert (month_dir / unquote(link)).resolve().exists(), link
    top = (reports / "index.html").read_text(encoding="utf-8")
    assert f'href="{MONTH}/index.html"' in top

    # A second month links back to the first; no build or lock leftovers.
    runner.run_notebooks(
        "2026-11",
        runner.select_notebooks(runner.discover_notebooks(notebooks), "01"),
        parameters={**PARAMS, "month": "2026-11"},
        reports_dir=reports,
        progress=None,
    )
    assert f'href="../{MONTH}/index.html"' in (reports / "2026-11" / "index.html").read_text(encoding="utf-8")
    top = (reports / "index.html").read_text(encoding="utf-8")
    assert top.index("2026-11/index.html") < top.index(f"{MONTH}/index.html")
    assert sorted(p.name for p in reports.iterdir()) == ["2026-10", "2026-11", "index.html"]


def test_failed_run_leaves_previous_report_byte_identical(tmp_path: Path) -> None:
    folder = tmp_path / "notebooks"
    make_notebook(folder / "00_ok.ipynb", "month = None", ["print('fine')"])
    make_notebook(folder / "01_fails.ipynb", "month = None", ["x = 1", "value = int('abc')  # parse\nprint(value)"])
    make_notebook(folder / "02_later.ipynb", "month = None", ["print('never')"])
    reports = tmp_path / "reports"
    previous = reports / MONTH
    previous.mkdir(parents=True)
    (previous / "index.html").write_text("<html>previous report</html>", encoding="utf-8")
    (previous / "00_ok.html").write_bytes(b"\x00\x01 old bytes")
    before = tree_digest(previous)

    with pytest.raises(runner.NotebookFailedError) as info:
        runner.run_notebooks(
            MONTH, runner.discover_notebooks(folder), parameters=PARAMS, reports_dir=reports, progress=None
        )
    message = str(info.value)
    assert info.value.exit_code == 1 and info.value.notebook == "01_fails"
    assert "01_fails.ipynb" in message
    assert re.search(r"cell \d+ \(\"value = int\('abc'\)  # parse\"|cell \d+ \('value = int", message), message
    assert "ValueError: invalid literal for int()" in message
    assert "Not run: 02_later" in message
    failed = reports / f"{MONTH}.failed"
    assert str(failed / "01_fails.ipynb") in message
    assert (failed / "01_fails.ipynb").exists() and not (failed / "02_later.ipynb").exists()
    failed_info = json.loads((failed / "run.json").read_text(encoding="utf-8"))
    assert [n["status"] for n in failed_info["notebooks"]] == ["ok", "failed", "not_run"]
    assert failed_info["notebooks"][1]["error"]["ename"] == "ValueError"

    assert tree_digest(previous) == before
    assert sorted(p.name for p in reports.iterdir()) == [MONTH, f"{MONTH}.failed"]  # no build or lock leftovers


def test_parallel_jobs_run_every_notebook(notebooks: Path, tmp_path: Path) -> None:
    result = runner.run_notebooks(
        MONTH,
        runner.discover_notebooks(notebooks),
        parameters=PARAMS,
        reports_dir=tmp_path / "r",
        jobs=2,
        progress=None,
    )
    assert [(n.name, n.status) for n in result.notebooks] == [("00_check", "ok"), ("01_only_month", "ok")]
    assert (result.report_dir / "01_only_month.html").exists()


# --------------------------------------------------------------------------- lock and recovery


def test_second_run_of_the_same_month_is_refused(notebooks: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    with runner.run_lock(reports, MONTH):
        with pytest.raises(runner.LockError) as info:
            runner.run_notebooks(MONTH, runner.discover_notebooks(notebooks), parameters=PARAMS, reports_dir=reports)
        assert info.value.exit_code == 3
        assert re.match(rf"another run of {MONTH} is in progress \(pid {os.getpid()}, started 20\d\d-", str(info.value))
        # Another month is not blocked.
        with runner.run_lock(reports, "2026-09"):
            pass
    assert not (reports / MONTH).exists()
    assert not list(reports.glob(".tmp-*"))
    # Released: the month can be locked again, and the lock file is gone.
    with runner.run_lock(reports, MONTH):
        pass
    assert not (reports / f".{MONTH}.lock").exists()


def test_stale_lock_file_of_a_dead_run_is_taken_over(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / f".{MONTH}.lock").write_text("999999\n2026-01-01T00:00:00+00:00\n")
    with runner.run_lock(reports, MONTH) as path:
        assert path.read_text().split("\n")[0] == str(os.getpid())


def test_recover_restores_the_backup_left_by_a_crash_between_renames(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    backup = reports / f".old-{MONTH}-4242"
    backup.mkdir(parents=True)
    (backup / "index.html").write_text("old")
    (reports / f".tmp-{MONTH}-4242").mkdir()
    runner.folders._recover(reports, MONTH)
    assert (reports / MONTH / "index.html").read_text() == "old"
    assert sorted(p.name for p in reports.iterdir()) == [MONTH]


def test_swap_replaces_the_old_report(tmp_path: Path) -> None:
    final, build = tmp_path / MONTH, tmp_path / "build"
    final.mkdir()
    (final / "a").write_text("old")
    build.mkdir()
    (build / "a").write_text("new")
    runner.folders._swap_in(build, final)
    assert (final / "a").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == [MONTH]


def test_reports_index_lists_only_complete_months(tmp_path: Path) -> None:
    for name in ("2026-09", "2026-10", "2026-10.failed", ".tmp-2026-11-1", "notes"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text("x")
    (tmp_path / "2026-08").mkdir()  # no index: incomplete
    assert runner.report_months(tmp_path) == ["2026-10", "2026-09"]
    page = runner.write_reports_index(tmp_path).read_text(encoding="utf-8")
    assert re.findall(r'href="([^"]+)"', page) == ["2026-10/index.html", "2026-09/index.html"]


def test_a_dying_kernel_fails_the_run_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "notebooks"
    make_notebook(folder / "00_dies.ipynb", "month = None", ["x = 1", "import os; os._exit(1)  # dies here", "y = 2"])
    reports = tmp_path / "reports"
    # The cell the kernel died in is named: cells 0 markdown, 1 parameters, 2 injected, 3 x = 1.
    expected = r"notebook 00_dies.ipynb died in cell 4 \('import os; os._exit\(1\)  # dies here'\): DeadKernelError"
    with pytest.raises(runner.NotebookFailedError, match=expected):
        runner.run_notebooks(
            MONTH, runner.discover_notebooks(folder), parameters=PARAMS, reports_dir=reports, progress=None
        )
    assert sorted(p.name for p in reports.iterdir()) == [f"{MONTH}.failed"]


def test_lock_held_by_another_process_names_its_pid(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from salesplan.run import run_lock\n"
            f"with run_lock({str(reports)!r}, {MONTH!r}):\n"
            "    print('locked', flush=True)\n"
            "    sys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        expected = rf"another run of {MONTH} is in progress \(pid {holder.pid},"
        with pytest.raises(runner.LockError, match=expected), runner.run_lock(reports, MONTH):
            pass
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0
    with runner.run_lock(reports, MONTH):  # released when the holder finished
        pass


def test_a_run_killed_midway_leaves_the_previous_report_and_the_next_run_starts_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "notebooks"
    make_notebook(
        folder / "00_slow.ipynb", "month = None", ["print('started', flush=True)\nimport time\ntime.sleep(20)"]
    )
    reports = tmp_path / "reports"
    previous = reports / MONTH
    previous.mkdir(parents=True)
    (previous / "index.html").write_text("previous", encoding="utf-8")
    before = tree_digest(previous)
    script = (
        "from salesplan import run as runner\n"
        f"runner.run_notebooks({MONTH!r}, runner.discover_notebooks({str(folder)!r}), parameters={{}}, "
        f"reports_dir={str(reports)!r})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True)
    sockets = Path(tempfile.gettempdir()) / f"{runner.SOCKETS_PREFIX}{proc.pid}-"
    try:
        assert proc.stdout.readline().startswith("Running 1 notebook")
        assert list(reports.glob(f".tmp-{MONTH}-*"))  # building aside
        deadline = time.monotonic() + 60
        while not list(sockets.parent.glob(sockets.name + "*/*")) and time.monotonic() < deadline:
            time.sleep(0.1)  # until the kernel is starting
    finally:
        # As a crash would. A kernel already started exits by itself when its parent dies (ipykernel).
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert tree_digest(previous) == before
    assert list(sockets.parent.glob(sockets.name + "*"))  # the killed run's kernel sockets, left behind

    make_notebook(folder / "00_slow.ipynb", "month = None", ["print('quick')"])
    runner.run_notebooks(MONTH, runner.discover_notebooks(folder), parameters={}, reports_dir=reports, progress=None)
    assert sorted(p.name for p in reports.iterdir()) == [MONTH, "index.html"]
    assert not list(sockets.parent.glob(sockets.name + "*"))
    assert (previous / "00_slow.html").exists()


def test_plan_record_without_a_plan_says_so_in_run_json_and_on_the_index(tmp_path: Path) -> None:
    from salesplan.plans import resolve_plan

    raw = tmp_path / "raw"
    raw.mkdir()
    record = runner.plan_record(resolve_plan(2026, raw), MONTH)
    assert record["text"].startswith("No plan for 2026") and not record["has_plan"]
    assert [m["plan"] for m in record["months"]] == ["no plan"] * 12
    assert record["month"]["words"] == "no plan"
    run_info = {"month": MONTH, "finished": "2026-11-02T08:00:00", "duration_s": 1.0, "git": None, "plan": record}
    page = runner.write_month_index(tmp_path, run_info, [], []).read_text(encoding="utf-8")
    assert "No plan for 2026" in page
