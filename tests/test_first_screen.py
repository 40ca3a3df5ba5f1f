"""The answer on the first screen, and notebooks that autosave leaves clean.

Rules checked on the committed notebooks:

- A pack notebook opens on its title, its parameters, its setup collapsed (cell metadata
  ``jupyter.source_hidden``, which JupyterLab honours) and then its headline card: every code
  cell before the headline is collapsed, and the headline's own code too (the card is the answer).
- Right after the headline a markdown note says that the saved outputs are the bundled sample
  company's; it is tagged ``remove_cell``, so a published page never shows it.
- Test-only markers are cell tags nbval reads (``nbval-check-output``), never ``# NBVAL_*``
  comments in the code a reader sees; every cell that was compared is still compared.
- No tracked notebook carries live widget state (``metadata.widgets``) or widget-view outputs,
  which JupyterLab writes back on autosave after a what-if slider moved.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import find_comment_markers, find_metadata_tags

from salesplan import run as runner
from salesplan.config import PROJECT_ROOT

NOTEBOOKS = PROJECT_ROOT / "notebooks"
PACK = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted((NOTEBOOKS / "workshop").glob("[0-9][0-9]_*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CHECK_TAG = "nbval-check-output"
# The cells nbval compared when the markers were comments; a notebook may add checks, not lose them.
CHECKED_AT_LEAST = {
    "00_data_check": 6,
    "01_review": 4,
    "02_targets": 4,
    "03_forecast": 2,
    "04_retrospective": 8,
    "05_commissions": 2,
}


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _ids(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


def _hidden(cell: nbformat.NotebookNode) -> bool:
    return cell.metadata.get("jupyter", {}).get("source_hidden") is True


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.metadata.get("tags", []))


def _headline_index(nb: nbformat.NotebookNode) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "headline(" in c.source)


def _checked(nb: nbformat.NotebookNode) -> list[int]:
    """Indices of the code cells whose output nbval compares under --nbval-lax (tags or comments)."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            options = dict(find_metadata_tags(cell.metadata)) | dict(find_comment_markers(cell.source))
            if options.get("check"):
                found.append(i)
    return found


def test_the_pack_is_there() -> None:
    assert [p.stem for p in PACK] == list(CHECKED_AT_LEAST)
    assert len(EXERCISES) == 5


@pytest.mark.parametrize("path", PACK, ids=_ids)
def test_the_headline_follows_the_parameters_and_the_collapsed_setup(path: Path) -> None:
    nb = _read(path)
    head = _headline_index(nb)
    params = next(i for i, c in enumerate(nb.cells) if "parameters" in _tags(c))
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "open_workbook(" in c.source)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert params == 1 and setup == 2, "title, parameters, setup"
    assert _hidden(nb.cells[setup]), f"{path.name}: the setup cell opens collapsed"
    assert not _hidden(nb.cells[params]), f"{path.name}: the parameters stay in sight"
    # Between the parameters and the card only collapsed code: one line each on screen.
    between = nb.cells[params + 1 : head + 1]
    assert all(c.cell_type == "code" and _hidden(c) for c in between), path.name
    assert head <= 4, f"{path.name}: the headline is cell {head}"


@pytest.mark.parametrize("path", PACK, ids=_ids)
def test_a_note_under_the_card_says_the_saved_outputs_are_the_sample_companys(path: Path) -> None:
    nb = _read(path)
    notes = [i for i, c in enumerate(nb.cells) if "sample-note" in _tags(c)]
    assert notes == [_headline_index(nb) + 1], path.name
    note = nb.cells[notes[0]]
    assert note.cell_type == "markdown" and "sample company" in note.source
    assert set(runner.HTML_REMOVE_TAGS) & set(_tags(note)), "the published page leaves the note out"


@pytest.mark.parametrize("path", PACK + EXERCISES, ids=_ids)
def test_test_markers_are_tags_not_code(path: Path) -> None:
    nb = _read(path)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and re.search(r"#\s*NBVAL_", c.source)]
    assert not code, f"{path.name}: cells {code} show a # NBVAL_ comment to the reader"
    tagged = [i for i, c in enumerate(nb.cells) if CHECK_TAG in _tags(c)]
    # nbval itself reads the tag as "compare this cell's output".
    assert tagged and tagged == _checked(nb), path.name


@pytest.mark.parametrize("path", PACK, ids=_ids)
def test_every_cell_compared_before_is_compared_still(path: Path) -> None:
    assert len(_checked(_read(path))) >= CHECKED_AT_LEAST[path.stem]


@pytest.mark.parametrize("path", EXERCISES, ids=_ids)
def test_an_exercise_compares_the_same_cells_as_its_solution(path: Path) -> None:
    solution = path.parent / "solutions" / path.name
    exercise, answered = _read(path), _read(solution)
    assert len(exercise.cells) == len(answered.cells)
    assert _checked(exercise) == _checked(answered), path.name


def test_a_page_never_shows_the_markers_or_the_note(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": runner.KERNEL_NAME, "display_name": "x", "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell("# Page\n\nProse."))
    note = nbformat.v4.new_markdown_cell("The outputs saved with this notebook show the bundled sample company.")
    note.metadata["tags"] = ["sample-note", "remove_cell"]
    checked = nbformat.v4.new_code_cell("print('figure 42')")
    checked.metadata["tags"] = [CHECK_TAG]
    checked.metadata["jupyter"] = {"source_hidden": True}
    checked.outputs = [nbformat.v4.new_output("stream", name="stdout", text="figure 42\n")]
    nb.cells += [note, checked]
    page = tmp_path / "page.html"
    runner.export_html(nb, page, "Page")
    text = re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))
    assert "figure 42" in text and "Prose." in text
    assert "sample company" not in text
    assert "nbval" not in text.lower()


def _tracked_notebooks() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "*.ipynb"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):  # an export without .git: the notebooks folder
        return sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    return [PROJECT_ROOT / name for name in listed]


def _widget_state(path: Path) -> list[str]:
    """What live widget state a saved notebook carries: ``metadata.widgets`` and widget-view outputs."""
    nb = _read(path)
    found = ["metadata.widgets"] if "widgets" in nb.metadata else []
    for i, cell in enumerate(nb.cells):
        if any(WIDGET_VIEW in out.get("data", {}) for out in cell.get("outputs", [])):
            found.append(f"cell {i}: a widget-view output")
    return found


def test_no_tracked_notebook_carries_widget_state() -> None:
    paths = _tracked_notebooks()
    assert {p.name for p in EXERCISES} <= {p.name for p in paths}
    problems = [f"{_ids(path)}: {what}" for path in paths for what in _widget_state(path)]
    assert not problems, "\n".join(problems)


def test_the_widget_check_sees_a_saved_slider(tmp_path: Path) -> None:
    # What JupyterLab writes after a what-if slider moved: the rule above must catch both parts.
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    static = nbformat.v4.new_code_cell("ws.whatif_multiplier()")
    static.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": "the default state"})]
    live = nbformat.v4.new_code_cell("ws.whatif_multiplier()")
    live.outputs = [nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "abc", "version_major": 2}})]
    nb.cells += [static, live]
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    assert _widget_state(path) == ["metadata.widgets", "cell 1: a widget-view output"]
