"""Parameters explicit and recorded, one kernel named everywhere, JupyterLab on the whole project.

A hand-built pack of tiny notebooks (as in test_runner.py) with declared defaults in its
pack.yaml: a what-if saved in a notebook and one given with ``-p`` are recorded in run.json with
their source and stated in the page's header; ``--strict`` refuses the saved one before
anything runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from salesplan import cli
from salesplan import run as runner
from salesplan.config import PROJECT_ROOT

MONTH = "2026-10"
PACK = """\
defaults:
  month: null
  data_dir: data/raw
  plan_version: null
notebooks:
  - name: 00_targets
    defaults: {scenario: base}
  - name: 01_review
    defaults: {level: 1}
  - name: 02_plain
"""


def make_notebook(path: Path, parameters: str, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": runner.KERNEL_NAME, "display_name": "x", "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell(f"# {path.stem}\n\nProse."))
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    nb.cells.extend(nbformat.v4.new_code_cell(src) for src in cells)
    nbformat.write(nb, path)
    return path


@pytest.fixture()
def pack_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    # A what-if saved in the notebook (the pack declares "base").
    make_notebook(folder / "00_targets.ipynb", 'month = None\nscenario = "stretch"', ["print(scenario)"])
    make_notebook(folder / "01_review.ipynb", "month = None\nlevel = 1\nplan_version = None", ["print(level)"])
    make_notebook(folder / "02_plain.ipynb", 'month = None\ndata_dir = "data/raw"', ["print(month)"])
    (folder / "pack.yaml").write_text(PACK, encoding="utf-8")
    return folder


def test_template_changes_compare_values_with_the_declared_defaults(pack_dir: Path) -> None:
    pack = {e.name: e for e in runner.load_pack(pack_dir)}
    assert pack["00_targets"].defaults == {
        "month": None,
        "data_dir": "data/raw",
        "plan_version": None,
        "scenario": "base",
    }
    changes = runner.check_templates(pack.values())
    assert list(changes) == ["00_targets"]
    assert "scenario = 'stretch'" in changes["00_targets"][0] and "'base'" in changes["00_targets"][0]
    # Same value, other quotes: no change; a parameter the pack does not declare: a change.
    make_notebook(pack_dir / "00_targets.ipynb", "month = None\nscenario = 'base'\nextra = 3", ["pass"])
    assert runner.template_changes(pack["00_targets"]) == ["parameter extra (default 3) is not declared in pack.yaml"]
    # A pack that declares no defaults checks nothing.
    assert runner.template_changes(runner.PackEntry(pack_dir / "00_targets.ipynb")) == []


def test_a_run_records_every_parameter_and_states_what_ifs_on_the_page(pack_dir: Path, tmp_path: Path) -> None:
    said: list[str] = []
    reports = tmp_path / "reports"
    runner.run_notebooks(
        MONTH,
        runner.load_pack(pack_dir),
        parameters={"month": MONTH, "data_dir": "data/other", "plan_version": None},
        user_parameters={"level": 3},
        reports_dir=reports,
        progress=said.append,
    )
    info = json.loads((reports / MONTH / "run.json").read_text(encoding="utf-8"))
    values = {nb["name"]: nb["parameter_values"] for nb in info["notebooks"]}
    assert values["00_targets"]["scenario"] == {
        "value": "stretch",
        "source": "notebook default",
        "default": "base",
        "what_if": True,
    }
    assert values["00_targets"]["month"] == {"value": MONTH, "source": "run", "default": None, "what_if": False}
    assert values["01_review"]["level"] == {"value": 3, "source": "-p/-f", "default": 1, "what_if": True}
    assert values["01_review"]["plan_version"]["source"] == "notebook default"
    assert not any(v["what_if"] for v in values["02_plain"].values())
    assert list(info["template_changes"]) == ["00_targets"] and "stretch" in info["template_changes"]["00_targets"][0]
    assert any("00_targets: differs from the pack's declared defaults" in line for line in said)

    def page(name: str) -> str:
        text = (reports / MONTH / f"{name}.html").read_text(encoding="utf-8")
        return re.sub(r"<[^>]+>", "", text)

    assert "scenario: stretch — a what-if, not the plan (saved in the notebook; the default is base)" in page(
        "00_targets"
    )
    assert "level: 3 — a what-if, not the plan (set for this run; the default is 1)" in page("01_review")
    assert "what-if" not in page("02_plain")
    # The statement sits in the header: right after the title cell of the published notebook.
    executed = nbformat.read(reports / MONTH / "00_targets.ipynb", as_version=4)
    assert runner.WHAT_IF_TAG in executed.cells[1].metadata["tags"]


def test_strict_refuses_a_changed_template_before_anything_runs(pack_dir: Path, tmp_path: Path, capsys) -> None:
    reports = tmp_path / "reports"
    with pytest.raises(runner.TemplateChangedError) as info:
        runner.run_notebooks(
            MONTH, runner.load_pack(pack_dir), parameters={"month": MONTH}, reports_dir=reports, strict=True
        )
    assert info.value.exit_code == 2
    assert "00_targets.ipynb: scenario = 'stretch'" in str(info.value)
    assert not reports.exists()
    # The command refuses before reading any data (the data folder does not even exist).
    code = cli.main(
        ["run", "--strict", "--notebooks", str(pack_dir), "--reports", str(reports), "--data", str(tmp_path / "no")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "00_targets.ipynb" in err and "scenario = 'stretch'" in err and "-p NAME VALUE" in err
    assert not reports.exists()


def test_what_if_values_are_escaped_on_the_page() -> None:
    note = runner.what_if_note({"note": {"value": "<script>*x*", "source": "-p/-f", "default": "", "what_if": True}})
    assert note is not None and "<script>" not in note and "&lt;script&gt;\\*x\\*" in note


# --------------------------------------------------------------------------- the project


def test_the_project_notebooks_keep_the_declared_defaults() -> None:
    pack = runner.load_pack()
    assert all(entry.defaults is not None for entry in pack)
    assert [change for entry in pack for change in runner.template_changes(entry)] == []


def test_template_notebooks_with_edited_code_are_named(tmp_path: Path) -> None:
    """A template whose code differs from its committed version is noticed, cell by cell; its
    prose and its parameters cell (checked against the declared defaults) are not."""
    import subprocess

    repo = tmp_path / "project"
    (repo / "notebooks").mkdir(parents=True)
    path = make_notebook(repo / "notebooks" / "00_targets.ipynb", "month = None", ["a = 1", "print(a)"])
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "templates"], check=True)
    assert runner.edited_cells(path, repo) == []
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = "# 00_targets\n\nProse, reworded."  # prose
    nb.cells[1].source = "month = '2026-10'"  # the parameters cell
    nbformat.write(nb, path)
    assert runner.edited_cells(path, repo) == []
    nb.cells[3].source = "print(a * 2)"
    nbformat.write(nb, path)
    (change,) = runner.edited_cells(path, repo)
    assert change.startswith("code cell(s) 2 differ from the committed notebook")
    assert runner.edited_cells(tmp_path / "elsewhere.ipynb", repo) == []  # outside the checkout


def test_every_notebook_and_the_makefile_name_the_projects_kernel() -> None:
    notebooks = sorted((PROJECT_ROOT / "notebooks").rglob("*.ipynb"))
    assert len(notebooks) >= 6
    for path in notebooks:
        spec = nbformat.read(path, as_version=4).metadata["kernelspec"]
        assert (spec["name"], spec["display_name"]) == (runner.KERNEL_NAME, runner.KERNEL_DISPLAY_NAME), path
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert f"KERNEL := {runner.KERNEL_NAME}\n" in makefile
    assert "--kernel $(KERNEL)" in makefile and "--nbval-kernel-name $(KERNEL)" in makefile
    # The run uses it, and it starts this environment's Python.
    assert Path(runner.check_kernel()).name == runner.KERNEL_NAME


def test_lab_roots_at_the_project_and_allows_root_only_as_root() -> None:
    as_user, as_root = cli.lab_arguments(uid=1000), cli.lab_arguments(uid=0)
    assert f"--ServerApp.root_dir={PROJECT_ROOT}" in as_user
    assert "--LabApp.default_url=/lab/tree/notebooks" in as_user
    assert f"--MultiKernelManager.default_kernel_name={runner.KERNEL_NAME}" in as_user
    assert "--ContentsManager.hide_globs=solutions" in as_user and "--ContentsManager.hide_globs=__pycache__" in as_user
    assert "--allow-root" not in as_user and as_root == [*as_user, "--allow-root"]
